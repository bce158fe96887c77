//! OperationOutcome (FHIR R4 4.0.1): what the REST API answers when something is wrong,
//! and the warnings it attaches to a search. This module owns the issue vocabulary
//! (severity, IssueType codes) and the JSON; the parsers elsewhere in the crate report
//! their problems as [`Issue`]s so that several can be returned at once.

use crate::narrative::xhtml;
use serde_json::{Value, json};

/// `OperationOutcome.issue.severity` (required binding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    Fatal,
    Error,
    Warning,
    Information,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Fatal => "fatal",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Information => "information",
        }
    }
}

/// `OperationOutcome.issue.code`: the IssueType value set of R4 (required binding),
/// every code of it, so a caller never has to invent one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IssueType {
    Invalid,
    Structure,
    Required,
    Value,
    Invariant,
    Security,
    Login,
    Unknown,
    Expired,
    Forbidden,
    Suppressed,
    Processing,
    NotSupported,
    Duplicate,
    MultipleMatches,
    NotFound,
    Deleted,
    TooLong,
    CodeInvalid,
    Extension,
    TooCostly,
    BusinessRule,
    Conflict,
    Transient,
    LockError,
    NoStore,
    Exception,
    Timeout,
    Incomplete,
    Throttled,
    Informational,
}

impl IssueType {
    pub const ALL: [IssueType; 31] = [
        IssueType::Invalid,
        IssueType::Structure,
        IssueType::Required,
        IssueType::Value,
        IssueType::Invariant,
        IssueType::Security,
        IssueType::Login,
        IssueType::Unknown,
        IssueType::Expired,
        IssueType::Forbidden,
        IssueType::Suppressed,
        IssueType::Processing,
        IssueType::NotSupported,
        IssueType::Duplicate,
        IssueType::MultipleMatches,
        IssueType::NotFound,
        IssueType::Deleted,
        IssueType::TooLong,
        IssueType::CodeInvalid,
        IssueType::Extension,
        IssueType::TooCostly,
        IssueType::BusinessRule,
        IssueType::Conflict,
        IssueType::Transient,
        IssueType::LockError,
        IssueType::NoStore,
        IssueType::Exception,
        IssueType::Timeout,
        IssueType::Incomplete,
        IssueType::Throttled,
        IssueType::Informational,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IssueType::Invalid => "invalid",
            IssueType::Structure => "structure",
            IssueType::Required => "required",
            IssueType::Value => "value",
            IssueType::Invariant => "invariant",
            IssueType::Security => "security",
            IssueType::Login => "login",
            IssueType::Unknown => "unknown",
            IssueType::Expired => "expired",
            IssueType::Forbidden => "forbidden",
            IssueType::Suppressed => "suppressed",
            IssueType::Processing => "processing",
            IssueType::NotSupported => "not-supported",
            IssueType::Duplicate => "duplicate",
            IssueType::MultipleMatches => "multiple-matches",
            IssueType::NotFound => "not-found",
            IssueType::Deleted => "deleted",
            IssueType::TooLong => "too-long",
            IssueType::CodeInvalid => "code-invalid",
            IssueType::Extension => "extension",
            IssueType::TooCostly => "too-costly",
            IssueType::BusinessRule => "business-rule",
            IssueType::Conflict => "conflict",
            IssueType::Transient => "transient",
            IssueType::LockError => "lock-error",
            IssueType::NoStore => "no-store",
            IssueType::Exception => "exception",
            IssueType::Timeout => "timeout",
            IssueType::Incomplete => "incomplete",
            IssueType::Throttled => "throttled",
            IssueType::Informational => "informational",
        }
    }
}

/// One `OperationOutcome.issue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub severity: Severity,
    pub code: IssueType,
    /// Plain English for the developer of the client; never patient data, never more
    /// than a short excerpt of what the client sent (see [`excerpt`]).
    pub diagnostics: String,
    /// FHIRPath of the element concerned (`Patient.name[1].family`), if any.
    pub expression: Vec<String>,
}

impl Issue {
    pub fn new(severity: Severity, code: IssueType, diagnostics: impl Into<String>) -> Self {
        Self { severity, code, diagnostics: diagnostics.into(), expression: Vec::new() }
    }
    pub fn error(code: IssueType, diagnostics: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, diagnostics)
    }
    pub fn warning(code: IssueType, diagnostics: impl Into<String>) -> Self {
        Self::new(Severity::Warning, code, diagnostics)
    }
    pub fn information(code: IssueType, diagnostics: impl Into<String>) -> Self {
        Self::new(Severity::Information, code, diagnostics)
    }
    pub fn at(mut self, expression: impl Into<String>) -> Self {
        self.expression.push(expression.into());
        self
    }

    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "severity": self.severity.as_str(),
            "code": self.code.as_str(),
        });
        if let Value::Object(m) = &mut v {
            if !self.diagnostics.is_empty() {
                m.insert("diagnostics".into(), json!(self.diagnostics));
            }
            if !self.expression.is_empty() {
                m.insert("expression".into(), json!(self.expression));
            }
        }
        v
    }
}

/// The OperationOutcome resource for these issues. `issue` is 1..* in FHIR: with no
/// issues the outcome says, as information, that all went well.
pub fn operation_outcome(issues: &[Issue]) -> Value {
    let ok = [Issue::information(IssueType::Informational, "All OK")];
    let issues = if issues.is_empty() { &ok[..] } else { issues };
    // A short generated narrative keeps validators quiet (dom-6) and helps a human
    // reading the raw response.
    let text =
        issues.iter().map(|i| format!("{}: {}", i.severity.as_str(), i.diagnostics)).collect::<Vec<_>>().join("\n");
    json!({
        "resourceType": "OperationOutcome",
        "text": { "status": "generated", "div": xhtml(&text) },
        "issue": issues.iter().map(Issue::to_json).collect::<Vec<_>>(),
    })
}

/// True when any issue is an error or fatal (the request must be refused).
pub fn has_errors(issues: &[Issue]) -> bool {
    issues.iter().any(|i| matches!(i.severity, Severity::Error | Severity::Fatal))
}

/// How much of the client's own input a diagnostic may quote.
pub const EXCERPT_CHARS: usize = 64;

/// A short, printable excerpt of client input for a diagnostic: at most
/// [`EXCERPT_CHARS`] characters, control characters replaced, `…` when cut.
pub fn excerpt(s: &str) -> String {
    let mut out: String = s.chars().take(EXCERPT_CHARS).map(|c| if c.is_control() { '\u{FFFD}' } else { c }).collect();
    if s.chars().nth(EXCERPT_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// `GET [type]/[id]` of something absent (or hidden: not-found and forbidden look the same).
pub fn not_found(resource_type: &str, id: &str) -> Issue {
    Issue::error(IssueType::NotFound, format!("{}/{} is not known", excerpt(resource_type), excerpt(id)))
}

/// A search parameter whose value or modifier cannot be used.
pub fn invalid_param(name: &str, reason: &str) -> Issue {
    Issue::error(IssueType::Invalid, format!("search parameter '{}': {reason}", excerpt(name)))
}

/// A search parameter the server does not know and ignored (lenient handling).
pub fn unknown_param_warning(name: &str) -> Issue {
    Issue::warning(
        IssueType::NotSupported,
        format!("search parameter '{}' is not supported and was ignored", excerpt(name)),
    )
}

/// A version-aware update whose `If-Match` no longer names the current version.
pub fn conflict_version(expected: u64, current: u64) -> Issue {
    Issue::error(
        IssueType::Conflict,
        format!("version conflict: If-Match names version {expected} but the current version is {current}"),
    )
}

/// A resource whose structure is wrong at `expression`.
pub fn structure(expression: &str, diagnostics: impl Into<String>) -> Issue {
    Issue::error(IssueType::Structure, diagnostics).at(expression)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn outcome_has_issues_and_narrative() {
        let o =
            operation_outcome(&[structure("Patient.name[1].family", "must be a string"), unknown_param_warning("foo")]);
        assert_eq!(o["resourceType"], "OperationOutcome");
        assert_eq!(o["issue"][0]["severity"], "error");
        assert_eq!(o["issue"][0]["code"], "structure");
        assert_eq!(o["issue"][0]["expression"][0], "Patient.name[1].family");
        assert_eq!(o["issue"][1]["severity"], "warning");
        assert_eq!(o["issue"][1]["code"], "not-supported");
        assert!(o["issue"][1].get("expression").is_none());
        assert!(o["text"]["div"].as_str().unwrap().starts_with("<div xmlns=\"http://www.w3.org/1999/xhtml\">"));
    }

    #[test]
    fn empty_outcome_is_still_valid() {
        let o = operation_outcome(&[]);
        assert_eq!(o["issue"].as_array().unwrap().len(), 1);
        assert_eq!(o["issue"][0]["severity"], "information");
    }

    #[test]
    fn narrative_escapes() {
        let o = operation_outcome(&[invalid_param("<b>", "bad & wrong")]);
        let div = o["text"]["div"].as_str().unwrap();
        assert!(div.contains("&lt;b&gt;") && div.contains("&amp;"));
    }

    #[test]
    fn helpers() {
        assert_eq!(not_found("Patient", "123").code, IssueType::NotFound);
        let c = conflict_version(2, 3);
        assert_eq!(c.code, IssueType::Conflict);
        assert!(c.diagnostics.contains('2') && c.diagnostics.contains('3'));
        assert_eq!(invalid_param("birthdate", "x").severity, Severity::Error);
        assert!(has_errors(&[c]));
        assert!(!has_errors(&[unknown_param_warning("x")]));
    }

    #[test]
    fn codes_are_the_r4_value_set() {
        let codes: std::collections::HashSet<_> = IssueType::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(codes.len(), 31);
        for c in ["not-found", "too-costly", "business-rule", "lock-error", "multiple-matches", "code-invalid"] {
            assert!(codes.contains(c), "{c}");
        }
    }

    #[test]
    fn excerpt_truncates_and_cleans() {
        let long = "x".repeat(1000);
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 1);
        assert!(e.ends_with('…'));
        assert_eq!(excerpt("a\nb"), "a\u{FFFD}b");
        assert_eq!(excerpt("短い"), "短い");
    }
}
