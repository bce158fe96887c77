//! Full-text search of chart entries: a tantivy index of the current version of every
//! entry, for finding a word in the notes of the patients a person may see.
//!
//! Japanese has no spaces between words and clinical terms are often two kanji (褥瘡,
//! 疼痛, 浮腫), so the text is cut into overlapping character bigrams after a light
//! normalization (full-width ASCII to ASCII, half-width katakana to full-width, hiragana
//! to katakana, lower case). A query word is cut the same way and must match as a run of
//! consecutive bigrams (a phrase query), that is as a substring of the note; several
//! words must all match. A word of one character cannot be looked up this way and is
//! refused with [`SearchError::QueryTooShort`].
//!
//! The index is derived data: the chart in the database is the record. The index knows
//! nothing about who may read what; callers filter by patient (see
//! [`SearchIndex::search_patients`]) and check the policy again on what they show.
//!
//! A tantivy commit costs several milliseconds of CPU (a new segment, its term
//! dictionary), far more than writing the note itself. So [`SearchIndex::index_entry`]
//! only queues the entry, and the queue is committed when it is needed: by the next
//! search, before it looks (so a note is findable by every search that starts after its
//! write returned), and otherwise by [`flush_periodically`] once a second, or when the
//! index is dropped. Everything queued in between shares one commit. Entries queued but
//! not committed when the process dies are caught up at the next start, like entries
//! whose write committed just before a crash (the server rebuilds an index that holds
//! fewer entries than the database).

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
use std::time::Duration;
use tantivy::collector::TopDocs;
use tantivy::directory::MmapDirectory;
use tantivy::query::{BooleanQuery, Occur, PhraseQuery, Query, TermQuery, TermSetQuery};
use tantivy::schema::{Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value};
use tantivy::tokenizer::{TextAnalyzer, Token, TokenStream, Tokenizer};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term, doc};
use tsunagu_domain::kana;

/// The shortest query word, in characters (one bigram).
pub const MIN_QUERY_CHARS: usize = 2;
/// The longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// Words of a query beyond this many are refused.
pub const MAX_QUERY_WORDS: usize = 10;

/// The tokenizer's name is part of the schema: change it whenever the normalization or
/// the bigrams change, so that an index built by an older program is found incompatible
/// and rebuilt rather than silently missing words.
const TOKENIZER: &str = "tsunagu_ja_bigram_v1";
/// Indexing memory of a server's writer (one indexing thread).
const WRITER_HEAP: usize = 50_000_000;
/// The smallest budget tantivy accepts; enough for the in-memory indexes of tests.
const WRITER_HEAP_IN_MEMORY: usize = 15_000_000;

/// Characters of context shown before the first match in a snippet, and the snippet's
/// whole length.
const SNIPPET_BEFORE: usize = 30;
const SNIPPET_CHARS: usize = 120;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// A word of the query is shorter than [`MIN_QUERY_CHARS`], or the query is empty.
    #[error("each search word needs at least {MIN_QUERY_CHARS} characters")]
    QueryTooShort,
    /// The query is longer than [`MAX_QUERY_CHARS`] or has more than [`MAX_QUERY_WORDS`] words.
    #[error("the search is too long")]
    QueryTooLong,
    /// Another writer (another process) holds the index directory.
    #[error("the search index is in use by another process (is the server running?)")]
    Locked,
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index directory: {0}")]
    Io(#[from] std::io::Error),
}

impl SearchError {
    /// True for errors in what the person typed (shown as a message, not a failure).
    pub fn is_query_error(&self) -> bool {
        matches!(self, SearchError::QueryTooShort | SearchError::QueryTooLong)
    }
}

pub type Result<T, E = SearchError> = std::result::Result<T, E>;

/// The patients with a term in the index's patient field, across its segments.
fn patients_in(reader: &IndexReader, field: Field) -> Result<HashSet<String>> {
    let mut out = HashSet::new();
    for segment in reader.searcher().segment_readers() {
        let inverted = segment.inverted_index(field)?;
        let mut terms = inverted.terms().stream()?;
        while terms.advance() {
            if let Ok(p) = std::str::from_utf8(terms.key()) {
                out.insert(p.to_string());
            }
        }
    }
    Ok(out)
}

/// What the index keeps of one entry: its current version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedEntry {
    pub patient_id: String,
    pub entry_id: String,
    pub version_id: String,
    pub kind: String,
    pub recorded_at: String,
    pub text: String,
}

/// One matching entry, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub patient_id: String,
    pub entry_id: String,
    pub version_id: String,
    pub kind: String,
    pub recorded_at: String,
    pub score: f32,
    /// A window of the text around the first match, HTML-escaped, with every match
    /// in the window wrapped in `<mark>`. Safe to insert into a page as is.
    pub snippet: String,
}

#[derive(Clone, Copy)]
struct Fields {
    patient_id: Field,
    entry_id: Field,
    version_id: Field,
    kind: Field,
    recorded_at: Field,
    text: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text_options = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let fields = Fields {
        patient_id: b.add_text_field("patient_id", STRING | STORED),
        entry_id: b.add_text_field("entry_id", STRING | STORED),
        version_id: b.add_text_field("version_id", STRING | STORED),
        kind: b.add_text_field("kind", STRING | STORED),
        recorded_at: b.add_text_field("recorded_at", STORED),
        text: b.add_text_field("text", text_options),
    };
    (b.build(), fields)
}

/// The full-text index. Share it behind an `Arc`; every method takes `&self`. The
/// methods block (disk I/O): call them from `spawn_blocking` in async code.
pub struct SearchIndex {
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    /// Entries waiting for the next commit (see [`SearchIndex::index_entry`]).
    pending: Mutex<Pending>,
    /// Every patient with an entry in the index (a superset: a patient whose entries
    /// were all removed may stay). A search's patient filter keeps only these: an
    /// organization may reach tens of thousands of registered patients, most without a
    /// note, and a term set of tens of thousands built on every search cost more than
    /// the search itself (bench/results/scale.md).
    indexed: RwLock<HashSet<String>>,
    /// A rebuild is under way: flushes wait for its finish (see [`SearchIndex::begin_rebuild`]).
    rebuilding: AtomicBool,
    fields: Fields,
}

/// The queue of entries waiting for a commit. Each entry queued gets a ticket; a flush
/// takes the whole queue and, once its commit is visible to searches, marks every
/// ticket it took as settled. Tickets are settled in order.
#[derive(Default)]
struct Pending {
    entries: Vec<IndexedEntry>,
    /// The last ticket given.
    issued: u64,
    /// Every ticket up to this one is committed and visible (or its commit failed and
    /// was logged: the entries are then missing until the next start catches them up).
    settled: u64,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex").field("docs", &self.num_docs()).finish()
    }
}

fn writer_error(e: tantivy::TantivyError) -> SearchError {
    match e {
        tantivy::TantivyError::LockFailure(..) => SearchError::Locked,
        other => SearchError::Index(other),
    }
}

impl SearchIndex {
    /// Open the index in `dir`, creating the directory and an empty index if missing.
    /// An index built with another schema (an older or newer program) is derived data:
    /// it is emptied and recreated, and [`SearchIndex::num_docs`] is then 0 so that the
    /// caller rebuilds it. Fails with [`SearchError::Locked`] when another process
    /// writes to the directory.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let (schema, fields) = schema();
        let existing = {
            let d = MmapDirectory::open(dir).map_err(|e| SearchError::Index(e.into()))?;
            Index::exists(&d).map_err(|e| SearchError::Index(e.into()))?
        };
        if existing {
            let d = MmapDirectory::open(dir).map_err(|e| SearchError::Index(e.into()))?;
            let old = Index::open(d)?;
            if old.schema() != schema {
                // Take the old index's lock first, so that a running server's index is
                // never pulled from under it.
                let w: IndexWriter = old.writer_with_num_threads(1, WRITER_HEAP_IN_MEMORY).map_err(writer_error)?;
                drop(w);
                drop(old);
                tracing::warn!(dir = %dir.display(), "the search index was built by another version; recreating it");
                for e in std::fs::read_dir(dir)? {
                    let p = e?.path();
                    if p.is_dir() { std::fs::remove_dir_all(&p)? } else { std::fs::remove_file(&p)? }
                }
            }
        }
        let d = MmapDirectory::open(dir).map_err(|e| SearchError::Index(e.into()))?;
        let index = Index::open_or_create(d, schema)?;
        Self::with_index(index, fields, WRITER_HEAP)
    }

    /// An index in memory (tests, and servers that rebuild at every start).
    pub fn in_memory() -> Result<Self> {
        let (schema, fields) = schema();
        Self::with_index(Index::create_in_ram(schema), fields, WRITER_HEAP_IN_MEMORY)
    }

    fn with_index(index: Index, fields: Fields, heap: usize) -> Result<Self> {
        index.tokenizers().register(TOKENIZER, TextAnalyzer::from(JaBigram));
        let writer = index.writer_with_num_threads(1, heap).map_err(writer_error)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let indexed = RwLock::new(patients_in(&reader, fields.patient_id)?);
        Ok(SearchIndex {
            reader,
            writer: Mutex::new(writer),
            pending: Mutex::new(Pending::default()),
            indexed,
            rebuilding: AtomicBool::new(false),
            fields,
        })
    }

    fn writer(&self) -> MutexGuard<'_, IndexWriter> {
        // A panic while holding the lock leaves nothing half-done that the next
        // commit or rollback would not settle.
        self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn document(&self, e: &IndexedEntry) -> TantivyDocument {
        let f = self.fields;
        doc!(
            f.patient_id => e.patient_id.as_str(),
            f.entry_id => e.entry_id.as_str(),
            f.version_id => e.version_id.as_str(),
            f.kind => e.kind.as_str(),
            f.recorded_at => e.recorded_at.as_str(),
            f.text => e.text.as_str(),
        )
    }

    /// Queue the current version of an entry for the index, replacing any earlier
    /// version of the same entry (a correction) at the next commit. An entry marked
    /// "entered in error" stays in the index: it is still part of the chart, shown
    /// struck through. Cheap (no I/O): the commit is left to the next search, the
    /// periodic flush, or dropping the index.
    pub fn index_entry(&self, e: &IndexedEntry) {
        // Before the entry can be committed, so that the set is never short of what a
        // search can find.
        self.note_patients(std::iter::once(e.patient_id.as_str()));
        let mut p = self.pending();
        p.entries.push(e.clone());
        p.issued += 1;
    }

    /// Commit every entry queued before this call and make it visible to searches.
    /// Entries queued by many writers share one commit; a caller that finds its entries
    /// committed by another's flush meanwhile returns at once.
    pub fn flush(&self) -> Result<()> {
        let wanted = {
            let p = self.pending();
            if p.settled >= p.issued {
                return Ok(());
            }
            p.issued
        };
        let w = self.writer();
        if self.rebuilding.load(Ordering::SeqCst) {
            // Committing now would publish the rebuild's progress; its finish commits
            // the queue.
            return Ok(());
        }
        if self.pending().settled >= wanted {
            // Another caller's commit, finished while we waited for the writer, held them.
            return Ok(());
        }
        self.commit_with(w)
    }

    /// Under the writer: take the queue, commit it with whatever else the writer holds,
    /// reload the reader, and only then mark the queue's tickets settled, so that a
    /// search that sees them settled sees their entries.
    fn commit_with(&self, mut w: MutexGuard<'_, IndexWriter>) -> Result<()> {
        let (entries, upto) = {
            let mut p = self.pending();
            (std::mem::take(&mut p.entries), p.issued)
        };
        let result: Result<()> = (|| {
            for e in &entries {
                w.delete_term(Term::from_field_text(self.fields.entry_id, &e.entry_id));
                w.add_document(self.document(e))?;
            }
            w.commit()?;
            self.reader.reload()?;
            Ok(())
        })();
        if let Err(err) = &result {
            // Nothing half-added stays for the next commit to publish.
            let _ = w.rollback();
            tracing::error!(error = %err, entries = entries.len(),
                "committing queued entries to the search index failed; they are indexed again at the next start");
        }
        self.pending().settled = upto;
        result
    }

    /// Remember that these patients have entries in the index (before the commit that
    /// holds them, so that the set is never short of what a search can find).
    fn note_patients<'a>(&self, patients: impl Iterator<Item = &'a str>) {
        let mut set = self.indexed.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        for p in patients {
            if !set.contains(p) {
                set.insert(p.to_string());
            }
        }
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Remove an entry from the index (all its versions) and commit. The chart never
    /// deletes an entry; this exists for tools that repair the index.
    pub fn remove_entry(&self, entry_id: &str) -> Result<()> {
        let mut w = self.writer();
        w.delete_term(Term::from_field_text(self.fields.entry_id, entry_id));
        w.commit()?;
        drop(w);
        self.reader.reload()?;
        Ok(())
    }

    /// Commit whatever is queued or added (a rebuild's progress, a removal) and make it
    /// visible to searches.
    pub fn commit(&self) -> Result<()> {
        self.commit_with(self.writer())
    }

    /// Entries in the index (as of the last commit).
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Start replacing the whole index. Searches see the old index until
    /// [`Rebuild::finish`]; a rebuild dropped unfinished is rolled back. Entries written
    /// meanwhile are queued and committed with the rebuild (a flush before then would
    /// publish a half-built index), so searches during a rebuild do not see them yet;
    /// `tsunagu reindex` runs while the server is stopped, and a server rebuilds only an
    /// index that was behind the database anyway.
    pub fn begin_rebuild(&self) -> Result<Rebuild<'_>> {
        // What was queued before is in the database the rebuild reads; committing it
        // now keeps it from landing after the rebuild's deletion.
        self.flush()?;
        let w = self.writer();
        w.delete_all_documents()?;
        self.rebuilding.store(true, Ordering::SeqCst);
        drop(w);
        Ok(Rebuild { index: self, added: 0, finished: false })
    }

    /// Replace the whole index with `entries` (current versions only) and commit.
    /// Returns how many were indexed.
    pub fn rebuild<I: IntoIterator<Item = IndexedEntry>>(&self, entries: I) -> Result<usize> {
        let mut r = self.begin_rebuild()?;
        let batch: Vec<IndexedEntry> = entries.into_iter().collect();
        r.add(&batch)?;
        r.finish()
    }

    /// Search every patient's entries (system use and tests; people search through
    /// [`SearchIndex::search_patients`]).
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<Hit>> {
        let words = query_words(query)?;
        self.flush_before_search();
        self.run(&words, None, limit)
    }

    /// Search the entries of the given patients only, best first. The query is checked
    /// even when `patients` is empty, so that a person without patients gets the same
    /// message for a one-character word as anyone.
    pub fn search_patients(&self, query: &str, patients: &[String], limit: usize) -> Result<Vec<Hit>> {
        let words = query_words(query)?;
        self.flush_before_search();
        // Only patients with entries can match; the others would only swell the filter.
        let with_entries: Vec<String> = {
            let set = self.indexed.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            patients.iter().filter(|p| set.contains(*p)).cloned().collect()
        };
        if with_entries.is_empty() {
            return Ok(Vec::new());
        }
        self.run(&words, Some(&with_entries), limit)
    }

    /// Make the entries queued so far findable. A failed commit is logged (by
    /// [`SearchIndex::flush`]'s commit) and the search goes on over what is committed:
    /// better a search that misses the newest notes than no search.
    fn flush_before_search(&self) {
        let _ = self.flush();
    }

    fn run(&self, words: &[Vec<char>], patients: Option<&[String]>, limit: usize) -> Result<Vec<Hit>> {
        if limit == 0 || words.is_empty() {
            return Ok(Vec::new());
        }
        let f = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for w in words {
            let terms: Vec<Term> =
                bigrams(w).into_iter().map(|(_, text)| Term::from_field_text(f.text, &text)).collect();
            let q: Box<dyn Query> = match terms.len() {
                0 => return Err(SearchError::QueryTooShort),
                1 => Box::new(TermQuery::new(
                    terms.into_iter().next().ok_or(SearchError::QueryTooShort)?,
                    IndexRecordOption::WithFreqs,
                )),
                _ => Box::new(PhraseQuery::new(terms)),
            };
            clauses.push((Occur::Must, q));
        }
        if let Some(p) = patients {
            let set = TermSetQuery::new(p.iter().map(|id| Term::from_field_text(f.patient_id, id)));
            clauses.push((Occur::Must, Box::new(set)));
        }
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(limit).order_by_score())?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let d: TantivyDocument = searcher.doc(addr)?;
            let get = |field: Field| d.get_first(field).and_then(|v| v.as_str()).unwrap_or("").to_string();
            let text = get(f.text);
            hits.push(Hit {
                patient_id: get(f.patient_id),
                entry_id: get(f.entry_id),
                version_id: get(f.version_id),
                kind: get(f.kind),
                recorded_at: get(f.recorded_at),
                score,
                snippet: snippet(&text, words),
            });
        }
        Ok(hits)
    }
}

/// How long a queued entry waits for its commit at most when nobody searches.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// Commit the queue of `index` every `every` on a thread of its own, until the index is
/// dropped (the thread holds it weakly). A server calls this once.
pub fn flush_periodically(index: &Arc<SearchIndex>, every: Duration) -> std::io::Result<()> {
    let weak: Weak<SearchIndex> = Arc::downgrade(index);
    std::thread::Builder::new().name("search-flush".into()).spawn(move || {
        loop {
            std::thread::sleep(every);
            let Some(index) = weak.upgrade() else { return };
            // Errors are logged by the commit; the next tick tries what comes next.
            let _ = index.flush();
        }
    })?;
    Ok(())
}

impl Drop for SearchIndex {
    /// A clean shutdown loses nothing queued.
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::warn!(error = %e, "committing the search index at shutdown failed");
        }
    }
}

/// A rebuild in progress (see [`SearchIndex::begin_rebuild`]).
pub struct Rebuild<'a> {
    index: &'a SearchIndex,
    added: usize,
    finished: bool,
}

impl Rebuild<'_> {
    /// Add a batch of current versions. Each replaces what the index holds for the
    /// same entry, so that an entry a concurrent write indexed meanwhile is not doubled.
    pub fn add(&mut self, batch: &[IndexedEntry]) -> Result<()> {
        let w = self.index.writer();
        self.index.note_patients(batch.iter().map(|e| e.patient_id.as_str()));
        for e in batch {
            w.delete_term(Term::from_field_text(self.index.fields.entry_id, &e.entry_id));
            w.add_document(self.index.document(e))?;
        }
        self.added += batch.len();
        Ok(())
    }

    pub fn added(&self) -> usize {
        self.added
    }

    /// Commit the new index and make it visible. Returns how many entries it holds.
    pub fn finish(mut self) -> Result<usize> {
        self.finished = true;
        let w = self.index.writer();
        self.index.rebuilding.store(false, Ordering::SeqCst);
        self.index.commit_with(w)?;
        Ok(self.added)
    }
}

impl Drop for Rebuild<'_> {
    fn drop(&mut self) {
        if !self.finished {
            let mut w = self.index.writer();
            self.index.rebuilding.store(false, Ordering::SeqCst);
            // The queue is not in the writer (flushes waited), so it survives the rollback.
            if let Err(e) = w.rollback() {
                tracing::warn!(error = %e, "rolling back an unfinished search index rebuild failed");
            }
        }
    }
}

// --- normalization and bigrams ---------------------------------------------------------

/// Width folding and kana to katakana, the same rules as the patient registry's search.
fn fold_char(c: char) -> char {
    kana::to_katakana(kana::fold_char(c))
}

/// One character of normalized text with the byte range of the original it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NormChar {
    c: char,
    from: usize,
    to: usize,
}

/// Normalize for matching: widths folded, kana to katakana (a separate voiced mark
/// joined to its kana), lower case. Keeps where each character came from, for
/// highlighting the original text.
fn normalize(text: &str) -> Vec<NormChar> {
    let mut out: Vec<NormChar> = Vec::with_capacity(text.len() / 2);
    for (i, c) in text.char_indices() {
        let end = i + c.len_utf8();
        let mark = kana::voicing_mark(c);
        if let Some(semi) = mark
            && let Some(prev) = out.last_mut()
            && let Some(m) = kana::with_mark(prev.c, semi)
        {
            prev.c = m;
            prev.to = end;
            continue;
        }
        for l in fold_char(c).to_lowercase() {
            out.push(NormChar { c: l, from: i, to: end });
        }
    }
    out
}

/// The bigrams of normalized text with their positions (the index of their first
/// character). Bigrams across whitespace are left out; positions still count them, so
/// that consecutive bigrams have consecutive positions.
fn bigrams(chars: &[char]) -> Vec<(usize, String)> {
    chars
        .windows(2)
        .enumerate()
        .filter_map(|(i, w)| match w {
            [a, b] if !a.is_whitespace() && !b.is_whitespace() => Some((i, [*a, *b].iter().collect())),
            _ => None,
        })
        .collect()
}

/// Split a query into normalized words; each must have at least two characters.
fn query_words(query: &str) -> Result<Vec<Vec<char>>> {
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(SearchError::QueryTooLong);
    }
    let norm: Vec<char> = normalize(query).into_iter().map(|n| n.c).collect();
    let words: Vec<Vec<char>> =
        norm.split(|c| c.is_whitespace()).filter(|w| !w.is_empty()).map(<[char]>::to_vec).collect();
    if words.is_empty() || words.iter().any(|w| w.len() < MIN_QUERY_CHARS) {
        return Err(SearchError::QueryTooShort);
    }
    if words.len() > MAX_QUERY_WORDS {
        return Err(SearchError::QueryTooLong);
    }
    Ok(words)
}

/// The tokenizer of the text field: normalized character bigrams with positions and
/// the byte offsets of the original text.
#[derive(Clone, Copy, Debug, Default)]
struct JaBigram;

struct BigramStream {
    tokens: Vec<Token>,
    next: usize,
    current: Token,
}

impl Tokenizer for JaBigram {
    type TokenStream<'a> = BigramStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> BigramStream {
        let norm = normalize(text);
        let chars: Vec<char> = norm.iter().map(|n| n.c).collect();
        let tokens = bigrams(&chars)
            .into_iter()
            .filter_map(|(i, t)| {
                let (a, b) = (norm.get(i)?, norm.get(i + 1)?);
                Some(Token { offset_from: a.from, offset_to: b.to, position: i, text: t, position_length: 1 })
            })
            .collect();
        BigramStream { tokens, next: 0, current: Token::default() }
    }
}

impl TokenStream for BigramStream {
    fn advance(&mut self) -> bool {
        match self.tokens.get_mut(self.next) {
            Some(t) => {
                self.current = std::mem::take(t);
                self.next += 1;
                true
            }
            None => false,
        }
    }

    fn token(&self) -> &Token {
        &self.current
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.current
    }
}

// --- snippets --------------------------------------------------------------------------

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\r' | '\t' => out.push(' '),
            _ => out.push(c),
        }
    }
}

/// Byte ranges of the original text where a query word matches, sorted and merged.
fn match_ranges(text: &str, words: &[Vec<char>]) -> Vec<(usize, usize)> {
    let norm = normalize(text);
    let chars: Vec<char> = norm.iter().map(|n| n.c).collect();
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for w in words {
        if w.is_empty() {
            continue;
        }
        for (i, window) in chars.windows(w.len()).enumerate() {
            if window == w.as_slice()
                && let (Some(a), Some(b)) = (norm.get(i), norm.get(i + w.len() - 1))
            {
                ranges.push((a.from, b.to));
            }
        }
    }
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (a, b) in ranges {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
}

/// A window of `text` around the first match, escaped, with matches in `<mark>`.
fn snippet(text: &str, words: &[Vec<char>]) -> String {
    let ranges = match_ranges(text, words);
    let starts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    let first = ranges.first().map(|r| r.0).unwrap_or(0);
    let first_char = starts.partition_point(|&b| b < first);
    let from_char = first_char.saturating_sub(SNIPPET_BEFORE);
    let to_char = (from_char + SNIPPET_CHARS).min(starts.len());
    let from = starts.get(from_char).copied().unwrap_or(text.len());
    let to = starts.get(to_char).copied().unwrap_or(text.len());
    let mut out = String::new();
    if from > 0 {
        out.push('…');
    }
    let mut at = from;
    for (a, b) in ranges {
        let (a, b) = (a.max(from), b.min(to));
        if a >= b || a < at {
            continue;
        }
        escape_into(&mut out, text.get(at..a).unwrap_or(""));
        out.push_str("<mark>");
        escape_into(&mut out, text.get(a..b).unwrap_or(""));
        out.push_str("</mark>");
        at = b;
    }
    escape_into(&mut out, text.get(at..to).unwrap_or(""));
    if to < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;

    fn entry(patient: &str, entry: &str, version: &str, text: &str) -> IndexedEntry {
        IndexedEntry {
            patient_id: patient.into(),
            entry_id: entry.into(),
            version_id: version.into(),
            kind: "progress_note".into(),
            recorded_at: "2026-11-24T01:00:00.000000Z".into(),
            text: text.into(),
        }
    }

    fn ids(hits: &[Hit]) -> Vec<&str> {
        hits.iter().map(|h| h.entry_id.as_str()).collect()
    }

    fn sample() -> SearchIndex {
        let ix = SearchIndex::in_memory().unwrap();
        ix.index_entry(&entry("p1", "e1", "v1", "仙骨部に褥瘡あり。DESIGN-R 12点。"));
        ix.index_entry(&entry("p1", "e2", "v2", "腰部の疼痛はNRS 3/10、レスキュー1回使用。"));
        ix.index_entry(&entry("p2", "e3", "v3", "ふらつきあり、転倒リスク高い。家族に説明した。"));
        ix
    }

    /// Entries written from many threads at once share commits, and each call returns
    /// only when its entry is findable.
    #[test]
    fn entries_written_at_once_are_each_findable_when_their_call_returns() {
        let ix = std::sync::Arc::new(SearchIndex::in_memory().unwrap());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let ix = ix.clone();
                std::thread::spawn(move || {
                    for i in 0..25 {
                        let id = format!("e{t}x{i:02}y");
                        ix.index_entry(&entry(
                            &format!("p{t}"),
                            &id,
                            &format!("v{t}x{i:02}"),
                            &format!("褥瘡の処置 {id}"),
                        ));
                        let hits = ix.search_patients(&id, &[format!("p{t}")], 10).unwrap();
                        assert_eq!(ids(&hits), [id.as_str()], "{id} is findable when index_entry returns");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(ix.num_docs(), 200);
        assert_eq!(ix.search("褥瘡", 500).unwrap().len(), 200);
    }

    /// Writing queues; the commit waits for a search (or a flush), and the search that
    /// follows a write finds it.
    #[test]
    fn a_queued_entry_is_committed_by_the_next_search() {
        let ix = SearchIndex::in_memory().unwrap();
        ix.index_entry(&entry("p1", "e1", "v1", "仙骨部に褥瘡あり。"));
        ix.index_entry(&entry("p1", "e1", "v1b", "仙骨部に発赤のみ。"));
        assert_eq!(ix.num_docs(), 0, "nothing committed by writing alone");
        assert!(ix.search("褥瘡", 10).unwrap().is_empty(), "the correction queued after replaces the first");
        assert_eq!(ids(&ix.search("発赤", 10).unwrap()), ["e1"]);
        assert_eq!(ix.num_docs(), 1);
    }

    /// With nobody searching, the periodic flush commits the queue; it stops when the
    /// index is dropped.
    #[test]
    fn the_periodic_flush_commits_without_a_search() {
        let ix = Arc::new(SearchIndex::in_memory().unwrap());
        flush_periodically(&ix, Duration::from_millis(20)).unwrap();
        ix.index_entry(&entry("p1", "e1", "v1", "褥瘡"));
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while ix.num_docs() == 0 {
            assert!(std::time::Instant::now() < deadline, "the periodic flush never committed");
            std::thread::sleep(Duration::from_millis(10));
        }
        let weak = Arc::downgrade(&ix);
        drop(ix);
        std::thread::sleep(Duration::from_millis(100));
        assert!(weak.upgrade().is_none(), "the flush thread does not keep the index alive");
    }

    /// A note written while the index is being rebuilt is not lost by the rebuild's
    /// deletion, and a search meanwhile sees the old index whole, not half the new one.
    #[test]
    fn entries_written_during_a_rebuild_are_committed_with_it() {
        let ix = sample();
        let mut r = ix.begin_rebuild().unwrap();
        r.add(&[entry("p1", "e1", "v1", "仙骨部に褥瘡あり。")]).unwrap();
        ix.index_entry(&entry("p3", "e9", "v9", "浮腫が増えた"));
        assert_eq!(ids(&ix.search("疼痛", 10).unwrap()), ["e2"], "the old index, whole");
        assert!(ix.search("浮腫", 10).unwrap().is_empty(), "the new note waits for the rebuild");
        r.finish().unwrap();
        assert_eq!(ids(&ix.search("浮腫", 10).unwrap()), ["e9"]);
        assert_eq!(ids(&ix.search("褥瘡", 10).unwrap()), ["e1"]);
        assert!(ix.search("疼痛", 10).unwrap().is_empty(), "the rebuild replaced the old index");
        // A rollback keeps what was queued meanwhile.
        let r = ix.begin_rebuild().unwrap();
        ix.index_entry(&entry("p3", "e10", "v10", "倦怠感あり"));
        drop(r);
        assert_eq!(ids(&ix.search("倦怠", 10).unwrap()), ["e10"]);
        assert_eq!(ids(&ix.search("浮腫", 10).unwrap()), ["e9"]);
    }

    /// A reopened index knows which patients have entries (the search filter keeps only
    /// those): a patient indexed before the restart is found after it, and a patient
    /// never indexed is not asked about.
    #[test]
    fn a_reopened_index_finds_the_patients_it_holds() {
        let dir = tempfile::tempdir().unwrap();
        {
            let ix = SearchIndex::open(dir.path()).unwrap();
            ix.index_entry(&entry("p1", "e1", "v1", "仙骨部に褥瘡あり。"));
        }
        let ix = SearchIndex::open(dir.path()).unwrap();
        assert_eq!(ids(&ix.search_patients("褥瘡", &["p1".into(), "p2".into()], 10).unwrap()), ["e1"]);
        assert!(ix.search_patients("褥瘡", &["p2".into()], 10).unwrap().is_empty());
        ix.index_entry(&entry("p2", "e2", "v2", "踵に褥瘡。"));
        assert_eq!(ids(&ix.search_patients("踵に", &["p2".into()], 10).unwrap()), ["e2"]);
    }

    #[test]
    fn two_kanji_terms_are_found() {
        let ix = sample();
        assert_eq!(ids(&ix.search("褥瘡", 10).unwrap()), ["e1"]);
        assert_eq!(ids(&ix.search("疼痛", 10).unwrap()), ["e2"]);
        assert!(ix.search("浮腫", 10).unwrap().is_empty());
    }

    #[test]
    fn longer_words_match_as_substrings_not_as_bags_of_bigrams() {
        let ix = SearchIndex::in_memory().unwrap();
        ix.index_entry(&entry("p1", "e1", "v1", "疼痛緩和のため"));
        ix.index_entry(&entry("p1", "e2", "v2", "緩和ケア病棟へ。疼痛なし"));
        assert_eq!(ids(&ix.search("疼痛緩和", 10).unwrap()), ["e1"]);
        let hits = ix.search("疼痛 緩和", 10).unwrap();
        let mut both = ids(&hits);
        both.sort_unstable();
        assert_eq!(both, ["e1", "e2"], "separate words must all match, anywhere");
    }

    #[test]
    fn kana_and_kanji_mixed_text_and_kana_folding() {
        let ix = sample();
        assert_eq!(ids(&ix.search("転倒リスク", 10).unwrap()), ["e3"]);
        assert_eq!(ids(&ix.search("ふらつき", 10).unwrap()), ["e3"]);
        // Katakana, half-width katakana and hiragana find one another.
        assert_eq!(ids(&ix.search("フラツキ", 10).unwrap()), ["e3"]);
        assert_eq!(ids(&ix.search("ﾌﾗﾂｷ", 10).unwrap()), ["e3"]);
        assert_eq!(ids(&ix.search("りすく", 10).unwrap()), ["e3"]);
        assert_eq!(ids(&ix.search("れすきゅー", 10).unwrap()), ["e2"]);
        // A voiced mark typed separately (half-width) joins its kana.
        assert_eq!(ids(&ix.search("ﾚｽｷｭｰ", 10).unwrap()), ["e2"]);
        // Full-width and case-folded ASCII.
        assert_eq!(ids(&ix.search("ｎｒｓ", 10).unwrap()), ["e2"]);
        assert_eq!(ids(&ix.search("design-r", 10).unwrap()), ["e1"]);
    }

    #[test]
    fn a_correction_replaces_the_old_version() {
        let ix = sample();
        ix.index_entry(&entry("p1", "e1", "v1b", "仙骨部に発赤のみ。"));
        assert!(ix.search("褥瘡", 10).unwrap().is_empty(), "the old text is no longer found");
        let hits = ix.search("発赤", 10).unwrap();
        assert_eq!(ids(&hits), ["e1"]);
        assert_eq!(hits[0].version_id, "v1b");
        assert_eq!(ix.num_docs(), 3);
    }

    #[test]
    fn one_character_and_empty_queries_are_refused() {
        let ix = sample();
        for q in ["痛", "", "   ", "褥瘡 痛", "a"] {
            let e = ix.search(q, 10).unwrap_err();
            assert!(matches!(e, SearchError::QueryTooShort), "{q:?}: {e}");
            assert!(e.is_query_error());
        }
        let long = "あ".repeat(MAX_QUERY_CHARS + 1);
        assert!(matches!(ix.search(&long, 10), Err(SearchError::QueryTooLong)));
    }

    #[test]
    fn search_is_limited_to_the_given_patients() {
        let ix = sample();
        ix.index_entry(&entry("p2", "e4", "v4", "踵に褥瘡の疑い"));
        assert_eq!(ids(&ix.search_patients("褥瘡", &["p2".into()], 10).unwrap()), ["e4"]);
        assert!(ix.search_patients("褥瘡", &["p9".into()], 10).unwrap().is_empty());
        assert!(ix.search_patients("褥瘡", &[], 10).unwrap().is_empty());
        assert!(matches!(ix.search_patients("褥", &[], 10), Err(SearchError::QueryTooShort)));
    }

    #[test]
    fn snippets_are_escaped_and_marked() {
        let ix = SearchIndex::in_memory().unwrap();
        let long_before = "経過観察。".repeat(20);
        let text = format!("{long_before}<script>褥瘡</script> & 疼痛\n次回訪問");
        ix.index_entry(&entry("p1", "e1", "v1", &text));
        let s = &ix.search("褥瘡", 10).unwrap()[0].snippet;
        assert!(s.contains("&lt;script&gt;<mark>褥瘡</mark>&lt;/script&gt;"), "{s}");
        assert!(s.starts_with('…'), "a long text is cut before the match: {s}");
        assert!(!s.contains('<') || !s.replace("<mark>", "").replace("</mark>", "").contains('<'), "{s}");
        let s = &ix.search("疼痛 褥瘡", 10).unwrap()[0].snippet;
        assert!(s.contains("<mark>疼痛</mark>") && s.contains("<mark>褥瘡</mark>"), "{s}");
        // Highlighting maps back to the original text (half-width kana here).
        let ix = SearchIndex::in_memory().unwrap();
        ix.index_entry(&entry("p1", "e1", "v1", "ﾚｽｷｭｰ使用"));
        assert_eq!(ix.search("レスキュー", 10).unwrap()[0].snippet, "<mark>ﾚｽｷｭｰ</mark>使用");
    }

    #[test]
    fn rebuild_replaces_everything_and_persists_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        {
            let ix = SearchIndex::open(dir.path()).unwrap();
            ix.index_entry(&entry("p1", "old", "v0", "褥瘡"));
            let n = ix.rebuild(vec![entry("p1", "e1", "v1", "疼痛"), entry("p2", "e2", "v2", "褥瘡の処置")]).unwrap();
            assert_eq!(n, 2);
            assert_eq!(ids(&ix.search("褥瘡", 10).unwrap()), ["e2"]);
            // A second writer on the same directory is refused while the first lives.
            assert!(matches!(SearchIndex::open(dir.path()), Err(SearchError::Locked)));
        }
        let ix = SearchIndex::open(dir.path()).unwrap();
        assert_eq!(ix.num_docs(), 2);
        assert_eq!(ids(&ix.search("疼痛", 10).unwrap()), ["e1"]);
    }

    #[test]
    fn an_index_of_another_schema_is_recreated_empty() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut b = Schema::builder();
            let body = b.add_text_field("body", tantivy::schema::TEXT);
            let index = Index::create_in_dir(dir.path(), b.build()).unwrap();
            let mut w: IndexWriter = index.writer_with_num_threads(1, WRITER_HEAP_IN_MEMORY).unwrap();
            w.add_document(doc!(body => "old")).unwrap();
            w.commit().unwrap();
        }
        let ix = SearchIndex::open(dir.path()).unwrap();
        assert_eq!(ix.num_docs(), 0, "the caller sees an empty index and rebuilds it");
        ix.index_entry(&entry("p1", "e1", "v1", "褥瘡"));
        assert_eq!(ids(&ix.search("褥瘡", 10).unwrap()), ["e1"]);
    }

    #[test]
    fn an_unfinished_rebuild_is_rolled_back() {
        let ix = sample();
        {
            let mut r = ix.begin_rebuild().unwrap();
            r.add(&[entry("p9", "x", "x", "別の文")]).unwrap();
        }
        ix.commit().unwrap();
        assert_eq!(ix.num_docs(), 3);
        assert_eq!(ids(&ix.search("褥瘡", 10).unwrap()), ["e1"]);
    }
}
