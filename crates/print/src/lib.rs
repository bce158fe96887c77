//! Printable documents as PDF: a referral letter (診療情報提供書), a visiting-nurse
//! instruction (訪問看護指示書), a reply (返書), later a discharge-conference sheet, laid
//! out in the usual Japanese letter form on A4 by typst, with IPAex Gothic embedded:
//! the binary needs no system font and fetches nothing, at build or at run time.
//!
//! Why a leaf crate: typst is the slowest compile of the workspace (minutes from
//! clean), so it sits here alone, depending on none of our crates. An edit to the
//! domain, the store or the web layer never recompiles it, and it knows nothing of
//! patients or letters, only of a [`PrintDoc`]: a title, the addressee and sender
//! blocks, a table about the patient and titled sections. The caller turns its own
//! types into one.
//!
//! The text reaches typst as JSON through `sys.inputs`, never spliced into typst
//! source: whatever a doctor types (`#`, `$`, `*`, `]`, `\`) prints as typed.

use std::sync::OnceLock;

use typst::diag::SourceDiagnostic;
use typst::ecow::EcoVec;
use typst::foundations::{Dict, IntoValue};
use typst_as_lib::{TypstAsLibError, TypstEngine, TypstTemplateMainFile};
use typst_layout::PagedDocument;

/// The layout, in typst markup; it reads everything it prints from `sys.inputs.doc`.
const TEMPLATE: &str = include_str!("letter.typ");
/// IPAex Gothic 00401 (IPA Font License v1.0, see `fonts/LICENSE-ipaexg.txt`); the only
/// font the engine knows, so a machine without fonts prints the same letter.
const FONT: &[u8] = include_bytes!("../fonts/ipaexg.ttf");

/// A document laid out in the usual Japanese letter form on A4.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PrintDoc {
    /// Centred and large, e.g. "診療情報提供書".
    pub title: String,
    /// Already formatted, e.g. "令和8年11月24日"; top right.
    pub date: String,
    /// Top left, one line each: the organization, then e.g. "鈴木 一郎 先生 御侍史".
    pub addressee: Vec<String>,
    /// Right-aligned, one line each: organization, address, phone, "医師 佐藤 花子".
    pub sender: Vec<String>,
    /// A bordered two-column table of label and value (氏名, フリガナ, 生年月日, 性別, 住所).
    pub patient: Vec<(String, String)>,
    /// (heading, body), each a bordered box with the heading as a band above the body.
    /// The body is plain text whose line ends are kept; a body that is empty (or only
    /// white space) leaves its section out. A long body continues on the next page
    /// under its heading repeated.
    pub sections: Vec<(String, String)>,
    /// Small text at the bottom left of every page; the page number "n / N" is added
    /// at the bottom right.
    pub footer: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    /// Typst could not lay the document out (a template error: no user text can cause
    /// one, since it never reaches typst as source).
    #[error("the document could not be laid out: {0}")]
    Compile(String),
    /// The laid-out document could not be written as PDF.
    #[error("the PDF could not be written: {0}")]
    Pdf(String),
}

/// The template parsed and the font loaded once per process. The engine is `Sync` and
/// typst keeps its caches behind locks, so one engine serves every thread at once.
/// After each render typst's memo cache is emptied (typst-as-lib's default), so no
/// patient's text stays in memory after the render that printed it.
fn engine() -> &'static TypstEngine<TypstTemplateMainFile> {
    static ENGINE: OnceLock<TypstEngine<TypstTemplateMainFile>> = OnceLock::new();
    ENGINE.get_or_init(|| TypstEngine::builder().main_file(TEMPLATE).fonts([FONT]).build())
}

/// Lays `doc` out and writes it as PDF, with the used glyphs of the font embedded.
///
/// Takes some tens of milliseconds of CPU and blocks: async callers run it with
/// `tokio::task::spawn_blocking`. Safe to call from several threads at once.
pub fn render_pdf(doc: &PrintDoc) -> Result<Vec<u8>, PrintError> {
    let json = serde_json::to_string(doc).map_err(|e| PrintError::Compile(e.to_string()))?;
    let mut inputs = Dict::new();
    inputs.insert("doc".into(), json.into_value());
    let document: PagedDocument =
        engine().compile_with_input(inputs).output.map_err(|e| PrintError::Compile(describe_engine(e)))?;
    typst_pdf::pdf(&document, &typst_pdf::PdfOptions::default()).map_err(|e| PrintError::Pdf(describe(&e)))
}

fn describe_engine(error: TypstAsLibError) -> String {
    match error {
        TypstAsLibError::TypstSource(diagnostics) => describe(&diagnostics),
        other => other.to_string(),
    }
}

/// Typst's diagnostics as one line for the log: the messages and hints, no source.
fn describe(diagnostics: &EcoVec<SourceDiagnostic>) -> String {
    let parts: Vec<String> = diagnostics
        .iter()
        .map(|d| {
            let hints: Vec<&str> = d.hints.iter().map(|h| h.v.as_str()).collect();
            if hints.is_empty() { d.message.to_string() } else { format!("{} ({})", d.message, hints.join("; ")) }
        })
        .collect();
    parts.join("; ")
}

#[cfg(test)]
mod tests;
