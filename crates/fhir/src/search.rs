//! FHIR R4 search parameters: the query string of `GET [base]/[type]?...` turned into a
//! typed [`SearchRequest`], against the table of parameters the resource type supports.
//!
//! What this module owns, following the R4 search page (3.1.1):
//! - the query string: `&`-separated, percent-decoded, `+` as a space; a parameter with
//!   an empty value is ignored; repeating a parameter ANDs it, a comma inside one value
//!   ORs (`\,` `\|` `\$` `\\` escape);
//! - modifiers, each only for the types the spec allows it on and only if the table does;
//!   an unsupported modifier is always an error (the spec says servers SHALL reject it);
//! - typed values: token `system|code`, `|code`, `system|`, `code`; references
//!   `Patient/123`, `123`, `Patient/123/_history/2`, absolute URLs; dates with prefixes
//!   and partial precision as a half-open range `[start, end)`; numbers and quantities
//!   with prefixes and implicit precision;
//! - the result parameters `_count`, `_offset`, `_sort`, `_include`, `_revinclude`,
//!   `_summary`, `_total`, `_elements`, `_format`, `_pretty`;
//! - unknown parameters: collected in [`SearchRequest::unknown`] with
//!   [`Handling::Lenient`] (report them with [`SearchRequest::warnings`] and leave them
//!   out of the self link, [`SearchRequest::to_query`]), an error with
//!   [`Handling::Strict`] (`Prefer: handling=strict`).
//!
//! Diagnostics are English and quote at most a short excerpt of what was sent.

use crate::outcome::{Issue, IssueType, excerpt, operation_outcome};
use serde_json::Value;
use std::fmt::Write as _;
use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// A longer query string is refused (`too-costly`) before it is looked at.
pub const MAX_QUERY_BYTES: usize = 16 * 1024;
/// At most this many parameters (`&`-separated pieces) in one search.
pub const MAX_PARAMS: usize = 100;
/// At most this many comma-separated values in one parameter.
pub const MAX_VALUES: usize = 100;

// ----------------------------------------------------------------------------------
// The parameter table

/// The type of a search parameter (R4 SearchParamType; composite and special are not
/// supported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamType {
    Number,
    Date,
    String,
    Token,
    Reference,
    Quantity,
    Uri,
}

impl ParamType {
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::Number => "number",
            ParamType::Date => "date",
            ParamType::String => "string",
            ParamType::Token => "token",
            ParamType::Reference => "reference",
            ParamType::Quantity => "quantity",
            ParamType::Uri => "uri",
        }
    }

    /// The modifiers R4 defines for this type (of those this parser knows). A reference
    /// also takes a resource type as modifier (`subject:Patient`), see
    /// [`ParamDef::targets`].
    pub const fn valid_modifiers(self) -> &'static [Modifier] {
        match self {
            ParamType::String => &[Modifier::Exact, Modifier::Contains, Modifier::Missing],
            ParamType::Token => &[Modifier::Text, Modifier::Not, Modifier::Above, Modifier::Below, Modifier::Missing],
            ParamType::Reference => &[Modifier::Identifier, Modifier::Above, Modifier::Below, Modifier::Missing],
            ParamType::Uri => &[Modifier::Above, Modifier::Below, Modifier::Missing],
            ParamType::Number | ParamType::Date | ParamType::Quantity => &[Modifier::Missing],
        }
    }
}

/// A search modifier (`name:modifier=value`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Modifier {
    Exact,
    Contains,
    Missing,
    Text,
    Not,
    Identifier,
    Above,
    Below,
}

impl Modifier {
    pub const ALL: [Modifier; 8] = [
        Modifier::Exact,
        Modifier::Contains,
        Modifier::Missing,
        Modifier::Text,
        Modifier::Not,
        Modifier::Identifier,
        Modifier::Above,
        Modifier::Below,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Modifier::Exact => "exact",
            Modifier::Contains => "contains",
            Modifier::Missing => "missing",
            Modifier::Text => "text",
            Modifier::Not => "not",
            Modifier::Identifier => "identifier",
            Modifier::Above => "above",
            Modifier::Below => "below",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// Other R4 modifiers: known, so the error says "not supported" rather than "unknown".
const OTHER_R4_MODIFIERS: &[&str] = &["in", "not-in", "of-type", "iterate"];

/// One supported search parameter of a resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamDef {
    pub name: &'static str,
    pub kind: ParamType,
    /// The modifiers this server supports on it (a subset of
    /// [`ParamType::valid_modifiers`]; others listed here are still refused).
    pub modifiers: &'static [Modifier],
    /// For a reference: the resource types it may point to, which are also accepted as
    /// type modifiers (`subject:Patient`) and `_include` targets. Empty: any type.
    pub targets: &'static [&'static str],
}

impl ParamDef {
    /// A parameter with every modifier R4 allows for its type.
    pub const fn new(name: &'static str, kind: ParamType) -> Self {
        Self { name, kind, modifiers: kind.valid_modifiers(), targets: &[] }
    }
    pub const fn with_modifiers(self, modifiers: &'static [Modifier]) -> Self {
        Self { modifiers, ..self }
    }
    pub const fn with_targets(self, targets: &'static [&'static str]) -> Self {
        Self { targets, ..self }
    }
}

/// What the search is against: the resource type, its parameters and the
/// `_revinclude`s it allows (`(source type, reference parameter)`).
#[derive(Debug, Clone, Copy)]
pub struct SearchSpec<'a> {
    pub resource_type: &'a str,
    pub params: &'a [ParamDef],
    pub revinclude: &'a [(&'a str, &'a str)],
}

impl SearchSpec<'_> {
    fn param(&self, name: &str) -> Option<&ParamDef> {
        self.params.iter().find(|p| p.name == name)
    }
}

use Modifier as M;
use ParamType as T;

/// Patient search as the FHIR API is expected to offer it (JP Core Patient's
/// parameters that the registry can answer). Adjust together with the API.
pub const PATIENT_PARAMS: &[ParamDef] = &[
    ParamDef::new("_id", T::Token).with_modifiers(&[]),
    ParamDef::new("_lastUpdated", T::Date),
    ParamDef::new("identifier", T::Token).with_modifiers(&[M::Missing]),
    ParamDef::new("name", T::String),
    ParamDef::new("family", T::String),
    ParamDef::new("given", T::String),
    ParamDef::new("birthdate", T::Date),
    ParamDef::new("gender", T::Token).with_modifiers(&[M::Not, M::Missing]),
    ParamDef::new("phone", T::Token).with_modifiers(&[M::Missing]),
    ParamDef::new("address", T::String),
    ParamDef::new("address-postalcode", T::String),
    ParamDef::new("active", T::Token).with_modifiers(&[M::Not, M::Missing]),
    ParamDef::new("organization", T::Reference)
        .with_modifiers(&[M::Identifier, M::Missing])
        .with_targets(&["Organization"]),
];

pub const PATIENT_REVINCLUDE: &[(&str, &str)] = &[("Observation", "patient"), ("Observation", "subject")];

/// Observation search as the FHIR API is expected to offer it.
pub const OBSERVATION_PARAMS: &[ParamDef] = &[
    ParamDef::new("_id", T::Token).with_modifiers(&[]),
    ParamDef::new("_lastUpdated", T::Date),
    ParamDef::new("patient", T::Reference).with_modifiers(&[M::Identifier, M::Missing]).with_targets(&["Patient"]),
    ParamDef::new("subject", T::Reference)
        .with_modifiers(&[M::Identifier, M::Missing])
        .with_targets(&["Patient", "Group", "Device", "Location"]),
    ParamDef::new("encounter", T::Reference).with_modifiers(&[M::Missing]).with_targets(&["Encounter"]),
    ParamDef::new("performer", T::Reference).with_modifiers(&[M::Missing]).with_targets(&[
        "Practitioner",
        "PractitionerRole",
        "Organization",
        "CareTeam",
        "Patient",
        "RelatedPerson",
    ]),
    ParamDef::new("code", T::Token).with_modifiers(&[M::Text, M::Not, M::Missing]),
    ParamDef::new("category", T::Token).with_modifiers(&[M::Text, M::Not, M::Missing]),
    ParamDef::new("status", T::Token).with_modifiers(&[M::Not, M::Missing]),
    ParamDef::new("date", T::Date),
    ParamDef::new("value-quantity", T::Quantity),
    ParamDef::new("value-string", T::String),
    ParamDef::new("identifier", T::Token).with_modifiers(&[M::Missing]),
    ParamDef::new("based-on", T::Reference).with_modifiers(&[M::Missing]).with_targets(&["ServiceRequest", "CarePlan"]),
    ParamDef::new("method", T::Token),
    ParamDef::new("derived-from", T::Uri),
];

// ----------------------------------------------------------------------------------
// Handling of unknown parameters

/// What to do with unknown or unsupported parameters (R4 3.1.1.4.1, `Prefer: handling`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Handling {
    /// Ignore them, report them in a warning and leave them out of the self link.
    #[default]
    Lenient,
    /// Refuse the search, naming the parameter.
    Strict,
}

/// `handling=strict` or `handling=lenient` from a `Prefer` header (RFC 7240:
/// comma-separated preferences, case-insensitive names, optional quotes and `;`
/// parameters). Absent or anything else: lenient, the spec's default.
pub fn parse_prefer_handling(header: Option<&str>) -> Handling {
    let Some(h) = header else { return Handling::Lenient };
    let mut found = Handling::Lenient;
    for pref in h.split(',') {
        let head = pref.split(';').next().unwrap_or("");
        let Some((name, value)) = head.split_once('=') else { continue };
        if !name.trim().eq_ignore_ascii_case("handling") {
            continue;
        }
        let v = value.trim().trim_matches('"').trim();
        if v.eq_ignore_ascii_case("strict") {
            found = Handling::Strict;
        } else if v.eq_ignore_ascii_case("lenient") {
            found = Handling::Lenient;
        }
    }
    found
}

/// How a search is to be parsed: the caller's policy and clock.
#[derive(Debug, Clone, Copy)]
pub struct SearchOptions {
    pub handling: Handling,
    /// `_count` above this is lowered to it.
    pub max_count: u32,
    /// The offset of a date or dateTime given without one (the spec: the server's
    /// local time zone).
    pub local_offset: UtcOffset,
    /// Now, for the `ap` (approximately) prefix on dates: the spec recommends 10% of the
    /// gap between now and the date.
    pub now: OffsetDateTime,
}

impl SearchOptions {
    /// Japan Standard Time (+09:00) as the local offset.
    pub fn new(handling: Handling, max_count: u32, now: OffsetDateTime) -> Self {
        let local_offset = UtcOffset::from_hms(9, 0, 0).unwrap_or(UtcOffset::UTC);
        Self { handling, max_count, local_offset, now }
    }
}

// ----------------------------------------------------------------------------------
// The result

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchRequest {
    /// Every parameter occurrence, in order; each is ANDed with the others.
    pub params: Vec<SearchParam>,
    /// `_count`, lowered to [`SearchOptions::max_count`].
    pub count: Option<u32>,
    /// `_offset`: how many matches to skip (for paging links).
    pub offset: Option<u32>,
    pub sort: Vec<SortKey>,
    pub include: Vec<Include>,
    pub revinclude: Vec<Include>,
    pub summary: Option<Summary>,
    pub total: Option<Total>,
    /// `_elements`: element names; empty when not asked.
    pub elements: Vec<String>,
    /// `_format` as given (the caller decides whether it can serve it).
    pub format: Option<String>,
    pub pretty: Option<bool>,
    /// What was ignored (lenient handling): parameter names as sent (`foo`,
    /// `subject.name`), or `_sort=x`, `_include=X:y`, `_revinclude=X:y` for the ignored
    /// part of a result parameter. Each quoted at most [`crate::outcome::EXCERPT_CHARS`].
    pub unknown: Vec<String>,
}

/// One occurrence of a search parameter: its values are ORed.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchParam {
    pub name: String,
    pub kind: ParamType,
    pub modifier: Option<Modifier>,
    /// A reference's type modifier (`subject:Patient`).
    pub target_type: Option<String>,
    pub values: Vec<SearchValue>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SearchValue {
    /// A token; also the value of `:not`, `:above`, `:below` on tokens and of
    /// `:identifier` on references.
    Token(Token),
    /// `:text` on a token.
    Text(String),
    /// A string parameter (`:exact` / `:contains` in [`SearchParam::modifier`]).
    String(String),
    Uri(String),
    Reference(Reference),
    Date(DateParam),
    Number(NumberParam),
    Quantity(QuantityParam),
    /// `:missing=true|false`.
    Missing(bool),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSystem {
    /// `code`: any system.
    Any,
    /// `|code`: the code without a system.
    NoSystem,
    /// `system|code` or `system|`.
    Is(String),
}

impl TokenSystem {
    /// Whether a code stored under `system` can match. Everything this server stores
    /// has a system, so `|code` (no system) matches nothing.
    pub fn admits(&self, system: &str) -> bool {
        match self {
            TokenSystem::Any => true,
            TokenSystem::Is(s) => s == system,
            TokenSystem::NoSystem => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub system: TokenSystem,
    /// `None` for `system|` (any code in the system).
    pub code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// `Patient/123`, `123` (type from the modifier or unknown), `Patient/123/_history/2`.
    Local { resource_type: Option<String>, id: String, version: Option<String> },
    /// An absolute URL (the caller decides whether it is on this server).
    Absolute(String),
}

/// The comparison prefix of a number, date or quantity (R4 3.1.1.5.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prefix {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Sa,
    Eb,
    Ap,
}

impl Prefix {
    pub const ALL: [Prefix; 9] =
        [Prefix::Eq, Prefix::Ne, Prefix::Gt, Prefix::Lt, Prefix::Ge, Prefix::Le, Prefix::Sa, Prefix::Eb, Prefix::Ap];

    pub fn as_str(self) -> &'static str {
        match self {
            Prefix::Eq => "eq",
            Prefix::Ne => "ne",
            Prefix::Gt => "gt",
            Prefix::Lt => "lt",
            Prefix::Ge => "ge",
            Prefix::Le => "le",
            Prefix::Sa => "sa",
            Prefix::Eb => "eb",
            Prefix::Ap => "ap",
        }
    }

    /// The prefix at the start of a value, and the rest; `eq` when there is none.
    fn split(s: &str) -> (Prefix, &str) {
        if let (Some(head), Some(rest)) = (s.get(..2), s.get(2..))
            && let Some(p) = Self::ALL.into_iter().find(|p| p.as_str() == head)
        {
            return (p, rest);
        }
        (Prefix::Eq, s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DatePrecision {
    Year,
    Month,
    Day,
    Minute,
    Second,
    /// Fractional seconds, `n` digits (1..=9).
    Fraction(u8),
}

/// A half-open time range `[start, end)`: what a value with its precision covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
}

impl DateRange {
    /// The range a stored instant covers at second precision.
    pub fn second(at: OffsetDateTime) -> Option<Self> {
        Some(Self { start: at, end: at.checked_add(Duration::SECOND)? })
    }
}

/// A date value: prefix, the precision it was given in, and its implicit range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateParam {
    pub prefix: Prefix,
    pub precision: DatePrecision,
    /// The implicit range of the value as given: `2020` is
    /// `[2020-01-01T00:00, 2021-01-01T00:00)` in the local offset.
    pub range: DateRange,
    /// For `ap` only: the range widened by 10% of the gap between now and the value
    /// (at least the value's own range). Equal to `range` for other prefixes.
    pub approx: DateRange,
    /// The value as given, without the prefix (for the self link).
    pub text: String,
}

impl DateParam {
    /// Whether a resource whose element covers `target` matches, by the R4 rules:
    /// `eq` the value's range contains the target; `ne` it does not; `gt` the range
    /// above the value overlaps the target; `lt` the range below does; `ge`/`le` as
    /// `gt`/`lt` or `eq`; `sa` the target starts after the value's range ends; `eb` it
    /// ends before the value's range starts; `ap` it overlaps the approximate range.
    pub fn matches(&self, target: &DateRange) -> bool {
        let DateRange { start: s, end: e } = self.range;
        let contains = s <= target.start && target.end <= e;
        let above = target.end > e;
        let below = target.start < s;
        match self.prefix {
            Prefix::Eq => contains,
            Prefix::Ne => !contains,
            Prefix::Gt => above,
            Prefix::Lt => below,
            Prefix::Ge => above || contains,
            Prefix::Le => below || contains,
            Prefix::Sa => target.start >= e,
            Prefix::Eb => target.end <= s,
            Prefix::Ap => target.start < self.approx.end && target.end > self.approx.start,
        }
    }
}

/// A number value with its implicit precision range (`100` is `[99.5, 100.5)`).
#[derive(Debug, Clone, PartialEq)]
pub struct NumberParam {
    pub prefix: Prefix,
    pub value: f64,
    pub low: f64,
    pub high: f64,
    /// As given, without the prefix.
    pub text: String,
}

impl NumberParam {
    /// Whether a stored number matches: `eq`/`ne` use the implicit precision range, the
    /// ordering prefixes the exact value (`sa` as `gt`, `eb` as `lt`), `ap` within 10%.
    pub fn matches(&self, target: f64) -> bool {
        let v = self.value;
        match self.prefix {
            Prefix::Eq => self.low <= target && target < self.high,
            Prefix::Ne => !(self.low <= target && target < self.high),
            Prefix::Gt | Prefix::Sa => target > v,
            Prefix::Lt | Prefix::Eb => target < v,
            Prefix::Ge => target >= v,
            Prefix::Le => target <= v,
            Prefix::Ap => {
                let margin = (v.abs() * 0.1).max((self.high - self.low) / 2.0);
                (target - v).abs() <= margin
            }
        }
    }
}

/// `[prefix]number[|system|code]`.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantityParam {
    pub number: NumberParam,
    pub system: Option<String>,
    pub code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    pub name: String,
    pub descending: bool,
}

/// `_include=Source:param[:Target]` (or `_revinclude`), `:iterate` when asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    pub source: String,
    pub param: String,
    pub target: Option<String>,
    pub iterate: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Summary {
    True,
    Text,
    Data,
    Count,
    False,
}

impl Summary {
    pub fn as_str(self) -> &'static str {
        match self {
            Summary::True => "true",
            Summary::Text => "text",
            Summary::Data => "data",
            Summary::Count => "count",
            Summary::False => "false",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Total {
    None,
    Estimate,
    Accurate,
}

impl Total {
    pub fn as_str(self) -> &'static str {
        match self {
            Total::None => "none",
            Total::Estimate => "estimate",
            Total::Accurate => "accurate",
        }
    }
}

// ----------------------------------------------------------------------------------
// Errors

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    /// Strict handling: a parameter (or `_sort` key, `_include`) this server does not support.
    #[error("search parameter '{name}' is not supported by this server")]
    UnknownParameter { name: String },
    #[error("search parameter '{name}': modifier ':{modifier}' {reason}")]
    BadModifier { name: String, modifier: String, reason: String },
    #[error("search parameter '{name}': invalid value '{value}': {reason}")]
    InvalidValue { name: String, value: String, reason: String },
    #[error("search parameter '{name}' may be given only once")]
    Repeated { name: String },
    #[error("the query string is malformed: {0}")]
    Malformed(String),
    #[error("the search is too large: {0}")]
    TooCostly(String),
}

impl SearchError {
    fn unknown(name: &str) -> Self {
        Self::UnknownParameter { name: excerpt(name) }
    }
    fn modifier(name: &str, modifier: &str, reason: impl Into<String>) -> Self {
        Self::BadModifier { name: excerpt(name), modifier: excerpt(modifier), reason: reason.into() }
    }
    fn value(name: &str, value: &str, reason: impl Into<String>) -> Self {
        Self::InvalidValue { name: excerpt(name), value: excerpt(value), reason: reason.into() }
    }

    /// The parameter concerned, if one is.
    pub fn parameter(&self) -> Option<&str> {
        match self {
            SearchError::UnknownParameter { name }
            | SearchError::BadModifier { name, .. }
            | SearchError::InvalidValue { name, .. }
            | SearchError::Repeated { name } => Some(name),
            SearchError::Malformed(_) | SearchError::TooCostly(_) => None,
        }
    }

    pub fn to_issue(&self) -> Issue {
        let code = match self {
            SearchError::UnknownParameter { .. } | SearchError::BadModifier { .. } => IssueType::NotSupported,
            SearchError::TooCostly(_) => IssueType::TooCostly,
            _ => IssueType::Invalid,
        };
        Issue::error(code, self.to_string())
    }

    /// The OperationOutcome of a refused search (HTTP 400).
    pub fn to_outcome(&self) -> Value {
        operation_outcome(&[self.to_issue()])
    }
}

// ----------------------------------------------------------------------------------
// Parsing

/// Parse a search query string (with or without the leading `?`).
pub fn parse_search(query: &str, spec: &SearchSpec<'_>, opts: &SearchOptions) -> Result<SearchRequest, SearchError> {
    let query = query.strip_prefix('?').unwrap_or(query);
    if query.len() > MAX_QUERY_BYTES {
        return Err(SearchError::TooCostly(format!("the query string is longer than {MAX_QUERY_BYTES} bytes")));
    }
    let mut req = SearchRequest::default();
    let mut seen_single: Vec<&'static str> = Vec::new();
    for (n, piece) in query.split('&').filter(|p| !p.is_empty()).enumerate() {
        if n >= MAX_PARAMS {
            return Err(SearchError::TooCostly(format!("more than {MAX_PARAMS} parameters")));
        }
        let (raw_key, raw_value) = piece.split_once('=').unwrap_or((piece, ""));
        let key = percent_decode(raw_key).ok_or_else(|| {
            SearchError::Malformed(format!(
                "the parameter name '{}' is not valid percent-encoded UTF-8",
                excerpt(raw_key)
            ))
        })?;
        let value = percent_decode(raw_value)
            .ok_or_else(|| SearchError::value(&key, raw_value, "not valid percent-encoded UTF-8"))?;
        // R4: a parameter without a value is ignored.
        if value.is_empty() {
            continue;
        }
        let (name, modifier) = match key.split_once(':') {
            Some((n, m)) => (n, Some(m)),
            None => (key.as_str(), None),
        };
        if let Some(single) = single_valued(name) {
            if seen_single.contains(&single) {
                return Err(SearchError::Repeated { name: single.to_string() });
            }
            seen_single.push(single);
        }
        match name {
            "_count" | "_offset" | "_sort" | "_summary" | "_total" | "_elements" | "_format" | "_pretty" => {
                if let Some(m) = modifier {
                    return Err(SearchError::modifier(&key, m, "is not allowed on a result parameter"));
                }
                result_param(&mut req, name, &value, spec, opts)?;
            }
            "_include" | "_revinclude" => {
                let iterate = match modifier {
                    None => false,
                    Some("iterate" | "recurse") => true,
                    Some(m) => return Err(SearchError::modifier(&key, m, "is not known (only :iterate)")),
                };
                include(&mut req, name == "_revinclude", iterate, &value, spec, opts)?;
            }
            _ => match spec.param(name) {
                // Chained parameters (`subject.name`, `subject:Patient.name`), `_has` and
                // every other name not in the table.
                Some(def) if !modifier.is_some_and(|m| m.contains('.')) => {
                    req.params.push(search_param(def, &key, modifier, &value, opts)?);
                }
                _ => ignore(&mut req, &key, opts)?,
            },
        }
    }
    // The server must accept its own self link: percent-encoding can make it longer
    // than the query it came from (non-ASCII sent raw, escapes), so a search whose link
    // would be refused is refused now.
    if req.to_query().len() > MAX_QUERY_BYTES {
        return Err(SearchError::TooCostly(format!("the search would not fit in a link of {MAX_QUERY_BYTES} bytes")));
    }
    Ok(req)
}

/// The canonical name of a result parameter that may appear only once.
fn single_valued(name: &str) -> Option<&'static str> {
    ["_count", "_offset", "_sort", "_summary", "_total", "_elements", "_format", "_pretty"]
        .into_iter()
        .find(|n| *n == name)
}

fn ignore(req: &mut SearchRequest, what: &str, opts: &SearchOptions) -> Result<(), SearchError> {
    match opts.handling {
        Handling::Strict => Err(SearchError::unknown(what)),
        Handling::Lenient => {
            req.unknown.push(excerpt(what));
            Ok(())
        }
    }
}

fn result_param(
    req: &mut SearchRequest,
    name: &str,
    value: &str,
    spec: &SearchSpec<'_>,
    opts: &SearchOptions,
) -> Result<(), SearchError> {
    let bad = |reason: &str| SearchError::value(name, value, reason);
    match name {
        "_count" => {
            req.count = Some(parse_count(value).ok_or_else(|| bad("expected a whole number"))?.min(opts.max_count))
        }
        "_offset" => req.offset = Some(parse_count(value).ok_or_else(|| bad("expected a whole number"))?),
        "_sort" => {
            for item in value.split(',') {
                let (descending, key) = match item.strip_prefix('-') {
                    Some(k) => (true, k),
                    None => (false, item),
                };
                if !is_param_name(key) {
                    return Err(bad(
                        "expected a comma-separated list of parameter names, each optionally prefixed by '-'",
                    ));
                }
                if spec.param(key).is_some() {
                    req.sort.push(SortKey { name: key.to_string(), descending });
                } else {
                    ignore(req, &format!("_sort={key}"), opts)?;
                }
            }
        }
        "_summary" => {
            let s = [Summary::True, Summary::Text, Summary::Data, Summary::Count, Summary::False]
                .into_iter()
                .find(|s| s.as_str() == value)
                .ok_or_else(|| bad("expected one of true, text, data, count, false"))?;
            req.summary = Some(s);
        }
        "_total" => {
            let t = [Total::None, Total::Estimate, Total::Accurate]
                .into_iter()
                .find(|t| t.as_str() == value)
                .ok_or_else(|| bad("expected one of none, estimate, accurate"))?;
            req.total = Some(t);
        }
        "_elements" => {
            for e in value.split(',') {
                if !is_element_name(e) {
                    return Err(bad("expected a comma-separated list of element names"));
                }
                req.elements.push(e.to_string());
            }
        }
        "_format" => req.format = Some(value.to_string()),
        "_pretty" => {
            req.pretty = Some(match value {
                "true" => true,
                "false" => false,
                _ => return Err(bad("expected true or false")),
            });
        }
        _ => {}
    }
    Ok(())
}

/// A non-negative whole number; one too large for `u32` saturates (it is clamped anyway).
fn parse_count(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.parse::<u32>().unwrap_or(u32::MAX))
}

fn include(
    req: &mut SearchRequest,
    rev: bool,
    iterate: bool,
    value: &str,
    spec: &SearchSpec<'_>,
    opts: &SearchOptions,
) -> Result<(), SearchError> {
    let name = if rev { "_revinclude" } else { "_include" };
    let parts: Vec<&str> = value.split(':').collect();
    let (source, param, target) = match parts.as_slice() {
        [s, p] => (*s, *p, None),
        [s, p, t] => (*s, *p, Some(*t)),
        ["*"] => return ignore(req, &format!("{name}=*"), opts),
        _ => return Err(SearchError::value(name, value, "expected SourceType:parameter[:TargetType]")),
    };
    if !is_resource_type(source) || !is_param_name(param) || target.is_some_and(|t| !is_resource_type(t)) {
        return Err(SearchError::value(name, value, "expected SourceType:parameter[:TargetType]"));
    }
    let supported = if rev {
        spec.revinclude.iter().any(|(s, p)| *s == source && *p == param)
    } else {
        source == spec.resource_type
            && spec.param(param).is_some_and(|d| {
                d.kind == ParamType::Reference && target.is_none_or(|t| d.targets.is_empty() || d.targets.contains(&t))
            })
    };
    if !supported {
        return ignore(req, &format!("{name}={value}"), opts);
    }
    let inc = Include { source: source.into(), param: param.into(), target: target.map(Into::into), iterate };
    if rev {
        req.revinclude.push(inc)
    } else {
        req.include.push(inc)
    }
    Ok(())
}

fn search_param(
    def: &ParamDef,
    key: &str,
    modifier: Option<&str>,
    value: &str,
    opts: &SearchOptions,
) -> Result<SearchParam, SearchError> {
    let mut target_type = None;
    let modifier = match modifier {
        None => None,
        Some(m) => match Modifier::parse(m) {
            Some(known) if !def.kind.valid_modifiers().contains(&known) => {
                return Err(SearchError::modifier(
                    key,
                    m,
                    format!("is not valid for a {} parameter", def.kind.as_str()),
                ));
            }
            Some(known) if !def.modifiers.contains(&known) => {
                return Err(SearchError::modifier(key, m, "is not supported on this parameter"));
            }
            Some(known) => Some(known),
            None if def.kind == ParamType::Reference && is_resource_type(m) => {
                if !def.targets.is_empty() && !def.targets.contains(&m) {
                    return Err(SearchError::modifier(key, m, "is not a resource type this parameter refers to"));
                }
                target_type = Some(m.to_string());
                None
            }
            None if OTHER_R4_MODIFIERS.contains(&m) => {
                return Err(SearchError::modifier(key, m, "is not supported"));
            }
            None => return Err(SearchError::modifier(key, m, "is not a known modifier")),
        },
    };
    let items = split_unescaped(value, ',');
    if items.len() > MAX_VALUES {
        return Err(SearchError::TooCostly(format!("more than {MAX_VALUES} values for '{}'", excerpt(key))));
    }
    let mut values = Vec::with_capacity(items.len());
    for item in items {
        let bad = |reason: &str| SearchError::value(key, item, reason);
        if item.is_empty() {
            return Err(bad("empty value in a comma-separated list"));
        }
        let v = match (def.kind, modifier) {
            (_, Some(Modifier::Missing)) => match item {
                "true" => SearchValue::Missing(true),
                "false" => SearchValue::Missing(false),
                _ => return Err(bad(":missing takes true or false")),
            },
            (ParamType::Token, Some(Modifier::Text)) => SearchValue::Text(unescape(item)),
            (ParamType::Token, _) | (ParamType::Reference, Some(Modifier::Identifier)) => SearchValue::Token(
                parse_token(item).ok_or_else(|| bad("expected code, system|code, |code or system|"))?,
            ),
            (ParamType::String, _) => SearchValue::String(unescape(item)),
            (ParamType::Uri, _) => {
                let u = unescape(item);
                if u.chars().any(char::is_whitespace) {
                    return Err(bad("a URI cannot contain spaces"));
                }
                SearchValue::Uri(u)
            }
            (ParamType::Reference, _) => {
                SearchValue::Reference(parse_reference(item, def, target_type.as_deref()).map_err(bad)?)
            }
            (ParamType::Date, _) => {
                let (prefix, rest) = Prefix::split(item);
                SearchValue::Date(parse_date_param(prefix, rest, opts).map_err(bad)?)
            }
            (ParamType::Number, _) => {
                let (prefix, rest) = Prefix::split(item);
                SearchValue::Number(parse_number(prefix, rest).map_err(bad)?)
            }
            (ParamType::Quantity, _) => {
                let (prefix, rest) = Prefix::split(item);
                SearchValue::Quantity(parse_quantity(prefix, rest).map_err(bad)?)
            }
        };
        values.push(v);
    }
    Ok(SearchParam { name: def.name.to_string(), kind: def.kind, modifier, target_type, values })
}

fn parse_token(item: &str) -> Option<Token> {
    let parts = split_unescaped(item, '|');
    let t = match parts.as_slice() {
        [code] => Token { system: TokenSystem::Any, code: Some(unescape(code)) },
        ["", ""] => return None,
        ["", code] => Token { system: TokenSystem::NoSystem, code: Some(unescape(code)) },
        [system, ""] => Token { system: TokenSystem::Is(unescape(system)), code: None },
        [system, code] => Token { system: TokenSystem::Is(unescape(system)), code: Some(unescape(code)) },
        _ => return None,
    };
    Some(t)
}

fn parse_reference(item: &str, def: &ParamDef, type_modifier: Option<&str>) -> Result<Reference, &'static str> {
    let s = unescape(item);
    if has_scheme(&s) {
        if s.chars().any(char::is_whitespace) {
            return Err("a URL cannot contain spaces");
        }
        return Ok(Reference::Absolute(s));
    }
    let parts: Vec<&str> = s.split('/').collect();
    let (ty, id, version) = match parts.as_slice() {
        [id] => (None, *id, None),
        [ty, id] => (Some(*ty), *id, None),
        [ty, id, "_history", v] => (Some(*ty), *id, Some(*v)),
        _ => return Err("expected an id, Type/id, Type/id/_history/version or an absolute URL"),
    };
    if ty.is_some_and(|t| !is_resource_type(t)) {
        return Err("expected a resource type before '/'");
    }
    if !is_id(id) || version.is_some_and(|v| !is_id(v)) {
        return Err("an id is 1 to 64 letters, digits, '-' and '.'");
    }
    if let (Some(t), Some(m)) = (ty, type_modifier)
        && t != m
    {
        return Err("the resource type differs from the type modifier");
    }
    let resource_type = ty.or(type_modifier);
    if let Some(t) = resource_type
        && !def.targets.is_empty()
        && !def.targets.contains(&t)
    {
        return Err("this parameter does not refer to that resource type");
    }
    Ok(Reference::Local {
        resource_type: resource_type.map(Into::into),
        id: id.into(),
        version: version.map(Into::into),
    })
}

fn parse_date_param(prefix: Prefix, text: &str, opts: &SearchOptions) -> Result<DateParam, &'static str> {
    // A literal `+` in a query string is a space; clients forget to encode the `+` of an
    // offset (`2020-01-01T10:00:00+09:00`), so a space there is read as `+`.
    let text = text.replace(' ', "+");
    let (precision, range) = parse_date_range(&text, opts.local_offset)?;
    let approx = if prefix == Prefix::Ap {
        let gap = (opts.now - range.start).abs() / 10;
        DateRange {
            start: range.start.checked_sub(gap).unwrap_or(range.start),
            end: range.end.checked_add(gap).unwrap_or(range.end),
        }
    } else {
        range
    };
    Ok(DateParam { prefix, precision, range, approx, text })
}

/// A FHIR date or dateTime, possibly partial (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`,
/// `YYYY-MM-DDThh:mm[:ss[.f{1,9}]][Z|(+|-)hh:mm]`), as the range it covers.
/// Without an offset the local one is used.
pub fn parse_date_range(s: &str, local: UtcOffset) -> Result<(DatePrecision, DateRange), &'static str> {
    const SHAPE: &str = "expected YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss][Z|+hh:mm]";
    const RANGE: &str = "the date is outside the supported range (0001 to 9998)";
    let b = s.as_bytes();
    let at = |i: usize| b.get(i).copied();
    if !s.is_ascii() || s.len() > 40 {
        return Err(SHAPE);
    }
    let year = digits(s, 0, 4).ok_or(SHAPE)?;
    if year == 0 {
        return Err("year 0000 does not exist");
    }
    let year = i32::try_from(year).map_err(|_| SHAPE)?;
    let midnight = |d: Date| PrimitiveDateTime::new(d, Time::MIDNIGHT).assume_offset(local);
    let first_of = |y: i32, m: Month| Date::from_calendar_date(y, m, 1).map_err(|_| RANGE);
    if b.len() == 4 {
        let start = first_of(year, Month::January)?;
        let end = first_of(year + 1, Month::January)?;
        return Ok((DatePrecision::Year, DateRange { start: midnight(start), end: midnight(end) }));
    }
    if at(4) != Some(b'-') {
        return Err(SHAPE);
    }
    let month = digits(s, 5, 2).and_then(|m| Month::try_from(u8::try_from(m).ok()?).ok()).ok_or("no such month")?;
    if b.len() == 7 {
        let start = first_of(year, month)?;
        let end =
            if month == Month::December { first_of(year + 1, Month::January)? } else { first_of(year, month.next())? };
        return Ok((DatePrecision::Month, DateRange { start: midnight(start), end: midnight(end) }));
    }
    if at(7) != Some(b'-') {
        return Err(SHAPE);
    }
    let day = digits(s, 8, 2).ok_or(SHAPE)?;
    let date =
        u8::try_from(day).ok().and_then(|d| Date::from_calendar_date(year, month, d).ok()).ok_or("no such day")?;
    if b.len() == 10 {
        let end = date.next_day().ok_or(RANGE)?;
        return Ok((DatePrecision::Day, DateRange { start: midnight(date), end: midnight(end) }));
    }
    if at(10) != Some(b'T') || at(13) != Some(b':') {
        return Err(SHAPE);
    }
    let hour = digits(s, 11, 2).ok_or(SHAPE)?;
    let minute = digits(s, 14, 2).ok_or(SHAPE)?;
    let mut pos = 16;
    let mut precision = DatePrecision::Minute;
    let mut second = 0;
    let mut nano = 0u32;
    if at(pos) == Some(b':') {
        second = digits(s, 17, 2).ok_or(SHAPE)?;
        pos = 19;
        precision = DatePrecision::Second;
        if at(pos) == Some(b'.') {
            let frac: &str = s.get(pos + 1..).unwrap_or("");
            let n = frac.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 || n > 9 {
                return Err("fractional seconds take 1 to 9 digits");
            }
            let digits_str = frac.get(..n).ok_or(SHAPE)?;
            let value: u32 = digits_str.parse().map_err(|_| SHAPE)?;
            nano = value * 10u32.pow(9 - n as u32);
            precision = DatePrecision::Fraction(n as u8);
            pos += 1 + n;
        }
    }
    let time = Time::from_hms_nano(
        u8::try_from(hour).map_err(|_| SHAPE)?,
        u8::try_from(minute).map_err(|_| SHAPE)?,
        u8::try_from(second).map_err(|_| SHAPE)?,
        nano,
    )
    .map_err(|_| "no such time of day")?;
    let offset = match s.get(pos..).unwrap_or("") {
        "" => local,
        "Z" => UtcOffset::UTC,
        tz => {
            let sign: i8 = match tz.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return Err(SHAPE),
            };
            if tz.len() != 6 || tz.as_bytes().get(3) != Some(&b':') {
                return Err(SHAPE);
            }
            let h = digits(tz, 1, 2).ok_or(SHAPE)?;
            let m = digits(tz, 4, 2).ok_or(SHAPE)?;
            if h > 14 || m > 59 {
                return Err("no such time zone offset");
            }
            let (h, m) = (i8::try_from(h).map_err(|_| SHAPE)?, i8::try_from(m).map_err(|_| SHAPE)?);
            UtcOffset::from_hms(sign * h, sign * m, 0).map_err(|_| "no such time zone offset")?
        }
    };
    let step = match precision {
        DatePrecision::Minute => Duration::MINUTE,
        DatePrecision::Fraction(n) => Duration::nanoseconds(10i64.pow(9 - u32::from(n))),
        _ => Duration::SECOND,
    };
    let start = PrimitiveDateTime::new(date, time).assume_offset(offset);
    let end = start.checked_add(step).ok_or(RANGE)?;
    Ok((precision, DateRange { start, end }))
}

/// `len` ASCII digits at `from`, as a number.
fn digits(s: &str, from: usize, len: usize) -> Option<u32> {
    let t = s.get(from..from + len)?;
    if !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

fn parse_number(prefix: Prefix, text: &str) -> Result<NumberParam, &'static str> {
    const SHAPE: &str = "expected a decimal number such as 100, -0.5 or 1.2e3";
    if text.is_empty() || text.len() > 64 {
        return Err(SHAPE);
    }
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (text.get(..i).unwrap_or(""), Some(text.get(i + 1..).unwrap_or(""))),
        None => (text, None),
    };
    let unsigned = mantissa.strip_prefix('-').unwrap_or(mantissa);
    let (int, frac) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || frac.is_some_and(|f| !all_digits(f)) {
        return Err(SHAPE);
    }
    let exp: i32 = match exponent {
        None => 0,
        Some(e) => {
            let digits_part = e.strip_prefix(['+', '-']).unwrap_or(e);
            if !all_digits(digits_part) || digits_part.len() > 3 {
                return Err(SHAPE);
            }
            e.parse().map_err(|_| SHAPE)?
        }
    };
    let value: f64 = text.parse().map_err(|_| SHAPE)?;
    // Implicit precision: half a unit in the last digit given (R4 3.1.1.5.6); `1e2`
    // therefore covers [50, 150).
    let decimals = i32::try_from(frac.map_or(0, str::len)).map_err(|_| SHAPE)?;
    let half = 10f64.powi(exp - decimals) / 2.0;
    let (low, high) = (value - half, value + half);
    if !value.is_finite() || !low.is_finite() || !high.is_finite() {
        return Err("the number is too large");
    }
    Ok(NumberParam { prefix, value, low, high, text: text.to_string() })
}

fn parse_quantity(prefix: Prefix, text: &str) -> Result<QuantityParam, &'static str> {
    let parts = split_unescaped(text, '|');
    let (number, system, code) = match parts.as_slice() {
        [n] => (*n, None, None),
        [n, s, c] => (*n, Some(*s).filter(|s| !s.is_empty()), Some(*c).filter(|c| !c.is_empty())),
        _ => return Err("expected number, number|system|code or number||code"),
    };
    Ok(QuantityParam { number: parse_number(prefix, number)?, system: system.map(unescape), code: code.map(unescape) })
}

// ----------------------------------------------------------------------------------
// Lexical helpers

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `application/x-www-form-urlencoded` decoding: `%XX` and `+` as a space; the result
/// must be UTF-8. `None` for a broken escape or bytes that are not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.next().and_then(hex)?;
                let lo = bytes.next().and_then(hex)?;
                out.push(hi << 4 | lo);
            }
            _ => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

/// Split on `sep` where it is not escaped by a backslash; escapes stay in the pieces.
fn split_unescaped(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            parts.push(s.get(start..i).unwrap_or(""));
            start = i + c.len_utf8();
        }
    }
    parts.push(s.get(start..).unwrap_or(""));
    parts
}

/// `\,` `\|` `\$` `\\` to the character; any other backslash stays as it is.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&n) = chars.peek()
            && matches!(n, ',' | '|' | '$' | '\\')
        {
            out.push(n);
            chars.next();
            continue;
        }
        out.push(c);
    }
    out
}

fn is_resource_type(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_uppercase()) && s.len() <= 64 && c.all(|c| c.is_ascii_alphabetic())
}

fn is_param_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && s.len() <= 64
        && c.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn is_element_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic()) && s.len() <= 64 && c.all(|c| c.is_ascii_alphanumeric())
}

/// FHIR `id`: 1 to 64 of `[A-Za-z0-9\-\.]`.
pub fn is_id(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

fn has_scheme(s: &str) -> bool {
    match s.split_once(':') {
        Some((scheme, _)) => {
            let mut c = scheme.chars();
            c.next().is_some_and(|f| f.is_ascii_alphabetic())
                && c.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

// ----------------------------------------------------------------------------------
// Output: warnings and the self link

impl SearchRequest {
    /// One warning per ignored parameter, for the OperationOutcome in the Bundle.
    pub fn warnings(&self) -> Vec<Issue> {
        self.unknown.iter().map(|u| crate::outcome::unknown_param_warning(u)).collect()
    }

    /// The search as the server understood it, as a query string without `?`: what
    /// goes in the Bundle's self link. Ignored parameters are left out. Parsing it again
    /// gives the same request.
    pub fn to_query(&self) -> String {
        let mut q: Vec<String> = Vec::new();
        for p in &self.params {
            let mut key = p.name.clone();
            if let Some(m) = p.modifier {
                key.push(':');
                key.push_str(m.as_str());
            } else if let Some(t) = &p.target_type {
                key.push(':');
                key.push_str(t);
            }
            let values = p.values.iter().map(render_value).collect::<Vec<_>>().join(",");
            q.push(format!("{}={}", encode(&key), encode(&values)));
        }
        if let Some(c) = self.count {
            q.push(format!("_count={c}"));
        }
        if let Some(o) = self.offset {
            q.push(format!("_offset={o}"));
        }
        if !self.sort.is_empty() {
            let keys = self
                .sort
                .iter()
                .map(|k| format!("{}{}", if k.descending { "-" } else { "" }, k.name))
                .collect::<Vec<_>>()
                .join(",");
            q.push(format!("_sort={}", encode(&keys)));
        }
        for (name, list) in [("_include", &self.include), ("_revinclude", &self.revinclude)] {
            for i in list {
                let mut v = format!("{}:{}", i.source, i.param);
                if let Some(t) = &i.target {
                    v.push(':');
                    v.push_str(t);
                }
                q.push(format!("{name}{}={}", if i.iterate { ":iterate" } else { "" }, encode(&v)));
            }
        }
        if let Some(s) = self.summary {
            q.push(format!("_summary={}", s.as_str()));
        }
        if let Some(t) = self.total {
            q.push(format!("_total={}", t.as_str()));
        }
        if !self.elements.is_empty() {
            q.push(format!("_elements={}", encode(&self.elements.join(","))));
        }
        if let Some(f) = &self.format {
            q.push(format!("_format={}", encode(f)));
        }
        if let Some(p) = self.pretty {
            q.push(format!("_pretty={p}"));
        }
        q.join("&")
    }
}

fn render_value(v: &SearchValue) -> String {
    match v {
        SearchValue::Token(t) => render_token(t),
        SearchValue::Text(s) | SearchValue::String(s) | SearchValue::Uri(s) => escape(s),
        SearchValue::Reference(Reference::Absolute(u)) => escape(u),
        SearchValue::Reference(Reference::Local { resource_type, id, version }) => {
            let mut s = String::new();
            if let Some(t) = resource_type {
                let _ = write!(s, "{t}/");
            }
            s.push_str(id);
            if let Some(v) = version {
                let _ = write!(s, "/_history/{v}");
            }
            s
        }
        SearchValue::Date(d) => format!("{}{}", d.prefix.as_str(), d.text),
        SearchValue::Number(n) => format!("{}{}", n.prefix.as_str(), n.text),
        SearchValue::Quantity(q) => {
            let mut s = format!("{}{}", q.number.prefix.as_str(), q.number.text);
            if q.system.is_some() || q.code.is_some() {
                let _ = write!(
                    s,
                    "|{}|{}",
                    escape(q.system.as_deref().unwrap_or("")),
                    escape(q.code.as_deref().unwrap_or(""))
                );
            }
            s
        }
        SearchValue::Missing(b) => b.to_string(),
    }
}

fn render_token(t: &Token) -> String {
    let code = t.code.as_deref().map(escape).unwrap_or_default();
    match &t.system {
        TokenSystem::Any => code,
        TokenSystem::NoSystem => format!("|{code}"),
        TokenSystem::Is(s) => format!("{}|{code}", escape(s)),
    }
}

/// Backslash-escape the characters FHIR search gives a meaning inside a value.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '|' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Percent-encode for a query string (a space as `+`); the separators FHIR reads after
/// decoding (`,` `|` `:` `/`) stay readable.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b',' | b'|' | b':' | b'/') {
            out.push(char::from(b));
        } else if b == b' ' {
            out.push('+');
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
#[path = "search_tests.rs"]
mod tests;
