//! An incoming JP Core Patient (`POST`/`PUT [base]/Patient`), read into [`PatientIn`]:
//! the plain values the registry keeps. Structure is checked strictly and every problem
//! is reported at once, each with the FHIRPath of the element (`Patient.name[1].family`),
//! so a client sees all it has to fix in one OperationOutcome.
//!
//! JP Core conventions read here (and written for the letters by `resources.rs`):
//! - names repeat, each marked with the extension `iso21090-EN-representation`:
//!   `IDE` kanji, `SYL` kana (`ABC` alphabetic is accepted and not kept). A single name
//!   without the extension is the kanji name; with several names, unmarked ones are
//!   ignored with a warning. Names whose `use` is old, maiden, nickname, anonymous or
//!   temp are never chosen;
//! - kana is accepted in katakana or hiragana, full or half width, and converted to
//!   full-width katakana (as the registration form does, `tsunagu_domain::kana`);
//! - an institution's own patient number is an identifier whose system is
//!   `urn:oid:1.2.392.100495.20.3.51.1` followed by the 10-digit medical institution
//!   code, the value being the local number.
//!
//! Required for us (not by FHIR): a kanji family name, `gender` and a full `birthDate`.
//! Elements of Patient that the registry does not keep are accepted and left alone (the
//! caller may keep the whole JSON); unknown elements are errors; `modifierExtension`
//! and `implicitRules` are refused, as FHIR requires of a system that does not
//! understand them.

use crate::outcome::{Issue, IssueType, Severity, excerpt, operation_outcome};
use crate::resources::{NAME_REPRESENTATION, PATIENT_ID_OID, split_name};
use crate::search::is_id;
use serde_json::{Map, Value};
use time::{Date, Month};
use tsunagu_domain::kana;
use tsunagu_domain::patient::{PatientForm, Sex};

/// Longest name part kept (the registration form's limit).
pub const MAX_NAME_CHARS: usize = 50;
/// Longest other string kept.
pub const MAX_TEXT_CHARS: usize = 200;
/// A resource with more problems than this is reported with the first ones only.
pub const MAX_ISSUES: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identifier {
    pub system: String,
    pub value: String,
}

impl Identifier {
    /// The 10-digit medical institution code when this is an institution's own patient
    /// number (JP Core: the system is the patient-id OID followed by the code).
    pub fn institution_code(&self) -> Option<&str> {
        self.system.strip_prefix(PATIENT_ID_OID).filter(|c| c.len() == 10 && c.bytes().all(|b| b.is_ascii_digit()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddressIn {
    pub text: Option<String>,
    pub postal_code: Option<String>,
    pub lines: Vec<String>,
    pub city: Option<String>,
    pub state: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientIn {
    /// `Patient.id`, when the client sent one (an update names it in the URL too).
    pub id: Option<String>,
    /// `Patient.meta.versionId`, when sent.
    pub version_id: Option<String>,
    pub identifiers: Vec<Identifier>,
    pub family_kanji: String,
    pub given_kanji: Option<String>,
    /// Full-width katakana.
    pub family_kana: Option<String>,
    /// Full-width katakana.
    pub given_kana: Option<String>,
    pub gender: Sex,
    pub birth_date: Date,
    /// The first current address (`use` not `old`).
    pub address: Option<AddressIn>,
    /// The first current telecom with `system` phone.
    pub phone: Option<String>,
    pub active: Option<bool>,
    /// What was accepted but not kept (extra names, addresses, phones, a deceased flag):
    /// warnings for the response's OperationOutcome.
    pub warnings: Vec<Issue>,
}

impl PatientIn {
    /// The registration form the domain checks (`NewPatient::parse`), for the shared
    /// rules (dates not in the future, postal codes, lengths). `institution_code` picks
    /// the identifier that becomes the local patient number.
    pub fn to_form(&self, institution_code: Option<&str>) -> PatientForm {
        let address = self.address.as_ref().and_then(|a| {
            a.text.clone().or_else(|| {
                let parts: Vec<&str> =
                    a.state.iter().chain(a.city.iter()).chain(a.lines.iter()).map(String::as_str).collect();
                (!parts.is_empty()).then(|| parts.concat())
            })
        });
        PatientForm {
            family_name: self.family_kanji.clone(),
            given_name: self.given_kanji.clone().unwrap_or_default(),
            family_kana: self.family_kana.clone().unwrap_or_default(),
            given_kana: self.given_kana.clone().unwrap_or_default(),
            sex: self.gender.as_str().to_string(),
            birth_date: format!(
                "{:04}-{:02}-{:02}",
                self.birth_date.year(),
                u8::from(self.birth_date.month()),
                self.birth_date.day()
            ),
            postal_code: self.address.as_ref().and_then(|a| a.postal_code.clone()).unwrap_or_default(),
            address: address.unwrap_or_default(),
            phone: self.phone.clone().unwrap_or_default(),
            local_id: institution_code
                .and_then(|code| self.identifiers.iter().find(|i| i.institution_code() == Some(code)))
                .map(|i| i.value.clone())
                .unwrap_or_default(),
        }
    }
}

/// The FHIRPath of the Patient element a registration-form field comes from, to place a
/// domain validation error (`tsunagu_domain::validation::Invalid`) in an OperationOutcome.
pub fn expression_for_form_field(field: &str) -> Option<&'static str> {
    Some(match field {
        "family_name" | "given_name" | "family_kana" | "given_kana" => "Patient.name",
        "sex" => "Patient.gender",
        "birth_date" => "Patient.birthDate",
        "postal_code" | "address" => "Patient.address",
        "phone" => "Patient.telecom",
        "local_id" => "Patient.identifier",
        _ => return None,
    })
}

/// Every problem found, errors first-found first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the Patient resource is not acceptable: {}", summary(.issues))]
pub struct PatientInError {
    pub issues: Vec<Issue>,
}

fn summary(issues: &[Issue]) -> String {
    match issues {
        [] => "no details".into(),
        [one] => one.diagnostics.clone(),
        [first, rest @ ..] => format!("{} (and {} more)", first.diagnostics, rest.len()),
    }
}

impl PatientInError {
    /// The OperationOutcome to answer with (HTTP 400, or 422 for business rules).
    pub fn to_outcome(&self) -> Value {
        operation_outcome(&self.issues)
    }
}

/// Read a Patient from the request body.
pub fn parse_patient_json(body: &[u8]) -> Result<PatientIn, PatientInError> {
    let v = json_body(body).map_err(|issues| PatientInError { issues })?;
    parse_patient(&v)
}

/// A request body as JSON, or the one issue saying where it stops being JSON (shared
/// by the readers of incoming resources).
pub(crate) fn json_body(body: &[u8]) -> Result<Value, Vec<Issue>> {
    serde_json::from_slice::<Value>(body).map_err(|e| {
        vec![Issue::error(
            IssueType::Structure,
            format!("the body is not valid JSON (line {}, column {})", e.line(), e.column()),
        )]
    })
}

/// Read a Patient resource.
pub fn parse_patient(v: &Value) -> Result<PatientIn, PatientInError> {
    let mut c = Ctx::default();
    let patient = read(&mut c, v);
    let (patient, warnings) = c.finish(patient).map_err(|issues| PatientInError { issues })?;
    Ok(PatientIn { warnings, ..patient })
}

/// The problems found while reading a resource (shared with the other readers of
/// incoming resources).
#[derive(Default)]
pub(crate) struct Ctx {
    pub(crate) issues: Vec<Issue>,
}

impl Ctx {
    /// What was read, with the warnings, if no error was found; else the errors (or,
    /// when nothing could be read and no error says why, every issue).
    pub(crate) fn finish<T>(self, read: Option<T>) -> Result<(T, Vec<Issue>), Vec<Issue>> {
        let errors: Vec<Issue> =
            self.issues.iter().filter(|i| matches!(i.severity, Severity::Error | Severity::Fatal)).cloned().collect();
        match read {
            Some(value) if errors.is_empty() => Ok((value, self.issues)),
            _ => Err(if errors.is_empty() { self.issues } else { errors }),
        }
    }

    pub(crate) fn push(&mut self, issue: Issue) {
        if self.issues.len() < MAX_ISSUES {
            self.issues.push(issue);
        } else if self.issues.len() == MAX_ISSUES {
            self.issues.push(Issue::error(
                IssueType::TooCostly,
                format!("more than {MAX_ISSUES} problems; only the first are reported"),
            ));
        }
    }
    pub(crate) fn error(&mut self, code: IssueType, path: &str, msg: impl Into<String>) {
        self.push(Issue::error(code, format!("{path}: {}", msg.into())).at(path));
    }
    pub(crate) fn warn(&mut self, code: IssueType, path: &str, msg: impl Into<String>) {
        self.push(Issue::warning(code, format!("{path}: {}", msg.into())).at(path));
    }
}

pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn object<'a>(c: &mut Ctx, v: &'a Value, path: &str) -> Option<&'a Map<String, Value>> {
    match v {
        Value::Object(m) if m.is_empty() => {
            c.error(IssueType::Structure, path, "an object must not be empty in FHIR JSON");
            None
        }
        Value::Object(m) => Some(m),
        other => {
            c.error(IssueType::Structure, path, format!("must be an object, not {}", json_type(other)));
            None
        }
    }
}

/// The items of an array element (FHIR JSON: a repeating element is always an array,
/// never empty).
pub(crate) fn array<'a>(c: &mut Ctx, v: &'a Value, path: &str) -> &'a [Value] {
    match v {
        Value::Array(a) if a.is_empty() => {
            c.error(IssueType::Structure, path, "an array must not be empty in FHIR JSON");
            &[]
        }
        Value::Array(a) => a,
        other => {
            c.error(IssueType::Structure, path, format!("must be an array, not {}", json_type(other)));
            &[]
        }
    }
}

pub(crate) fn string<'a>(c: &mut Ctx, v: &'a Value, path: &str, max_chars: usize) -> Option<&'a str> {
    match v {
        Value::String(s) if s.trim().is_empty() => {
            c.error(IssueType::Value, path, "must not be empty or blank");
            None
        }
        Value::String(s) if s.chars().count() > max_chars => {
            c.error(IssueType::TooLong, path, format!("longer than {max_chars} characters"));
            None
        }
        Value::String(s) if s.chars().any(|ch| ch.is_control() && !matches!(ch, '\n' | '\r' | '\t')) => {
            c.error(IssueType::Value, path, "contains control characters");
            None
        }
        Value::String(s) => Some(s.trim()),
        other => {
            c.error(IssueType::Structure, path, format!("must be a string, not {}", json_type(other)));
            None
        }
    }
}

fn boolean(c: &mut Ctx, v: &Value, path: &str) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        other => {
            c.error(IssueType::Structure, path, format!("must be a boolean, not {}", json_type(other)));
            None
        }
    }
}

/// A code from a fixed set.
pub(crate) fn code<'a>(c: &mut Ctx, v: &'a Value, path: &str, allowed: &[&str]) -> Option<&'a str> {
    let s = string(c, v, path, 64)?;
    if allowed.contains(&s) {
        Some(s)
    } else {
        c.error(IssueType::CodeInvalid, path, format!("'{}' is not one of {}", excerpt(s), allowed.join(", ")));
        None
    }
}

/// Unknown members are errors. `_name` (a primitive's id/extension) is accepted for each
/// allowed name; `id` and `extension` are accepted everywhere, `modifierExtension`
/// nowhere.
pub(crate) fn check_members(c: &mut Ctx, m: &Map<String, Value>, path: &str, allowed: &[&str]) {
    for (k, v) in m {
        let base = k.strip_prefix('_').unwrap_or(k);
        if k == "modifierExtension" {
            c.error(
                IssueType::NotSupported,
                &format!("{path}.modifierExtension"),
                "modifier extensions are not understood by this server, so the resource is refused",
            );
        } else if k == "extension" {
            extensions(c, v, &format!("{path}.extension"));
        } else if k == "id" && path.contains('.') {
            string(c, v, &format!("{path}.id"), 64);
        } else if !allowed.contains(&base) {
            c.error(IssueType::Structure, &format!("{path}.{}", excerpt(k)), "is not an element of this type");
        } else if k.starts_with('_') {
            // The id/extension of a primitive: an object, or an array of them (or null)
            // for a repeating one.
            match v {
                Value::Object(_) => {}
                Value::Array(items) if items.iter().all(|i| i.is_object() || i.is_null()) => {}
                other => c.error(
                    IssueType::Structure,
                    &format!("{path}.{k}"),
                    format!("must be an object, not {}", json_type(other)),
                ),
            }
        }
    }
}

/// `extension`: an array of objects, each with a `url`. Returns `(url, extension)` pairs.
fn extensions<'a>(c: &mut Ctx, v: &'a Value, path: &str) -> Vec<(usize, &'a str, &'a Map<String, Value>)> {
    let mut out = Vec::new();
    for (i, e) in array(c, v, path).iter().enumerate() {
        let p = format!("{path}[{i}]");
        let Some(m) = object(c, e, &p) else { continue };
        match m.get("url") {
            Some(u) => {
                if let Some(url) = string(c, u, &format!("{p}.url"), 1024) {
                    out.push((i, url, m));
                }
            }
            None => c.error(IssueType::Required, &format!("{p}.url"), "an extension needs a url"),
        }
        if m.contains_key("modifierExtension") {
            c.error(
                IssueType::NotSupported,
                &format!("{p}.modifierExtension"),
                "modifier extensions are not understood",
            );
        }
    }
    out
}

const PATIENT_ELEMENTS: &[&str] = &[
    "resourceType",
    "id",
    "meta",
    "implicitRules",
    "language",
    "text",
    "contained",
    "extension",
    "modifierExtension",
    "identifier",
    "active",
    "name",
    "telecom",
    "gender",
    "birthDate",
    "deceasedBoolean",
    "deceasedDateTime",
    "address",
    "maritalStatus",
    "multipleBirthBoolean",
    "multipleBirthInteger",
    "photo",
    "contact",
    "communication",
    "generalPractitioner",
    "managingOrganization",
    "link",
];

fn read(c: &mut Ctx, v: &Value) -> Option<PatientIn> {
    let Value::Object(root) = v else {
        c.error(IssueType::Structure, "Patient", format!("a resource must be a JSON object, not {}", json_type(v)));
        return None;
    };
    match root.get("resourceType") {
        Some(Value::String(t)) if t == "Patient" => {}
        Some(Value::String(t)) => {
            c.push(Issue::error(IssueType::Invalid, format!("resourceType is '{}', expected 'Patient'", excerpt(t))));
            return None;
        }
        Some(other) => {
            c.push(Issue::error(
                IssueType::Structure,
                format!("resourceType must be a string, not {}", json_type(other)),
            ));
            return None;
        }
        None => {
            c.push(Issue::error(IssueType::Required, "resourceType is missing (expected 'Patient')"));
            return None;
        }
    }
    check_members(c, root, "Patient", PATIENT_ELEMENTS);
    if root.contains_key("implicitRules") {
        c.error(IssueType::NotSupported, "Patient.implicitRules", "implicit rules are not understood by this server");
    }

    let id = root.get("id").and_then(|v| string(c, v, "Patient.id", 64)).and_then(|s| {
        if is_id(s) {
            Some(s.to_string())
        } else {
            c.error(IssueType::Value, "Patient.id", "an id is 1 to 64 letters, digits, '-' and '.'");
            None
        }
    });
    let version_id = root.get("meta").and_then(|m| meta(c, m));
    let identifiers = root.get("identifier").map(|v| identifiers(c, v)).unwrap_or_default();
    let names = root.get("name").map(|v| names(c, v));
    let gender = match root.get("gender") {
        Some(v) => {
            code(c, v, "Patient.gender", &["male", "female", "other", "unknown"]).and_then(|g| Sex::parse(g).ok())
        }
        None => {
            c.error(IssueType::Required, "Patient.gender", "is required");
            None
        }
    };
    let birth_date = match root.get("birthDate") {
        Some(v) => string(c, v, "Patient.birthDate", 64).and_then(|s| {
            let d = full_date(s);
            if d.is_none() {
                c.error(
                    IssueType::Value,
                    "Patient.birthDate",
                    format!("'{}' is not a full date YYYY-MM-DD", excerpt(s)),
                );
            }
            d
        }),
        None => {
            c.error(IssueType::Required, "Patient.birthDate", "is required");
            None
        }
    };
    let address = root.get("address").and_then(|v| address(c, v));
    let phone = root.get("telecom").and_then(|v| phone(c, v));
    let active = root.get("active").and_then(|v| boolean(c, v, "Patient.active"));
    if let Some(v) = root.get("deceasedBoolean")
        && boolean(c, v, "Patient.deceasedBoolean") == Some(true)
    {
        c.warn(IssueType::Informational, "Patient.deceasedBoolean", "is not kept by this server");
    }
    if let Some(v) = root.get("deceasedDateTime")
        && string(c, v, "Patient.deceasedDateTime", 64).is_some()
    {
        c.warn(IssueType::Informational, "Patient.deceasedDateTime", "is not kept by this server");
    }
    let names = match names {
        Some(n) => n,
        None => {
            c.error(IssueType::Required, "Patient.name", "a kanji name is required");
            None
        }
    };
    let (family_kanji, given_kanji, family_kana, given_kana) = names?;
    Some(PatientIn {
        id,
        version_id,
        identifiers,
        family_kanji,
        given_kanji,
        family_kana,
        given_kana,
        gender: gender?,
        birth_date: birth_date?,
        address,
        phone,
        active,
        warnings: Vec::new(),
    })
}

fn meta(c: &mut Ctx, v: &Value) -> Option<String> {
    let m = object(c, v, "Patient.meta")?;
    check_members(c, m, "Patient.meta", &["versionId", "lastUpdated", "source", "profile", "security", "tag"]);
    if let Some(p) = m.get("profile") {
        for (i, item) in array(c, p, "Patient.meta.profile").iter().enumerate() {
            string(c, item, &format!("Patient.meta.profile[{i}]"), 1024);
        }
    }
    let v = m.get("versionId")?;
    let s = string(c, v, "Patient.meta.versionId", 64)?;
    if is_id(s) {
        Some(s.to_string())
    } else {
        c.error(IssueType::Value, "Patient.meta.versionId", "a version id is 1 to 64 letters, digits, '-' and '.'");
        None
    }
}

fn identifiers(c: &mut Ctx, v: &Value) -> Vec<Identifier> {
    let mut out: Vec<Identifier> = Vec::new();
    for (i, item) in array(c, v, "Patient.identifier").iter().enumerate() {
        let p = format!("Patient.identifier[{i}]");
        let Some(m) = object(c, item, &p) else { continue };
        check_members(c, m, &p, &["use", "type", "system", "value", "period", "assigner"]);
        if let Some(u) = m.get("use") {
            code(c, u, &format!("{p}.use"), &["usual", "official", "temp", "secondary", "old"]);
        }
        let system = match m.get("system") {
            Some(s) => string(c, s, &format!("{p}.system"), 1024),
            None => {
                c.error(IssueType::Required, &format!("{p}.system"), "an identifier needs a system here");
                None
            }
        };
        let value = match m.get("value") {
            Some(s) => string(c, s, &format!("{p}.value"), MAX_TEXT_CHARS),
            None => {
                c.error(IssueType::Required, &format!("{p}.value"), "an identifier needs a value");
                None
            }
        };
        let (Some(system), Some(value)) = (system, value) else { continue };
        if let Some(rest) = system.strip_prefix(PATIENT_ID_OID)
            && (rest.len() != 10 || !rest.bytes().all(|b| b.is_ascii_digit()))
        {
            c.error(
                IssueType::Value,
                &format!("{p}.system"),
                format!("a patient number's system is {PATIENT_ID_OID} followed by the 10-digit institution code"),
            );
            continue;
        }
        if out.iter().any(|o| o.system == system) {
            c.error(IssueType::Duplicate, &format!("{p}.system"), "another identifier has the same system");
            continue;
        }
        out.push(Identifier { system: system.to_string(), value: value.to_string() });
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Representation {
    Ideographic,
    Syllabic,
    Alphabetic,
}

struct NameIn {
    index: usize,
    representation: Option<Representation>,
    usable: bool,
    /// Problems were reported inside it (so a missing part is not reported again).
    had_errors: bool,
    family: Option<String>,
    given: Option<String>,
    text: Option<String>,
}

type Names = (String, Option<String>, Option<String>, Option<String>);

fn names(c: &mut Ctx, v: &Value) -> Option<Names> {
    let items = array(c, v, "Patient.name");
    if items.is_empty() {
        // Reported by `array`: not an array, or an empty one.
        return None;
    }
    let mut read: Vec<NameIn> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = format!("Patient.name[{i}]");
        let issues_before = c.issues.len();
        let Some(m) = object(c, item, &p) else { continue };
        check_members(c, m, &p, &["use", "text", "family", "given", "prefix", "suffix", "period"]);
        let mut representation = None;
        if let Some(exts) = m.get("extension") {
            // Problems with the array itself were reported by check_members.
            let mut quiet = Ctx::default();
            for (j, url, e) in extensions(&mut quiet, exts, &format!("{p}.extension")) {
                if url != NAME_REPRESENTATION {
                    continue;
                }
                let vp = format!("{p}.extension[{j}].valueCode");
                representation = match e.get("valueCode") {
                    Some(v) => match code(c, v, &vp, &["IDE", "SYL", "ABC"]) {
                        Some("IDE") => Some(Representation::Ideographic),
                        Some("SYL") => Some(Representation::Syllabic),
                        Some(_) => Some(Representation::Alphabetic),
                        None => None,
                    },
                    None => {
                        c.error(IssueType::Required, &vp, "the name representation needs a valueCode");
                        None
                    }
                };
            }
        }
        let usable = match m.get("use") {
            Some(u) => !matches!(
                code(
                    c,
                    u,
                    &format!("{p}.use"),
                    &["usual", "official", "temp", "nickname", "anonymous", "old", "maiden"]
                ),
                Some("temp" | "nickname" | "anonymous" | "old" | "maiden")
            ),
            None => true,
        };
        let family =
            m.get("family").and_then(|f| string(c, f, &format!("{p}.family"), MAX_NAME_CHARS)).map(String::from);
        let given = m.get("given").map(|g| {
            array(c, g, &format!("{p}.given"))
                .iter()
                .enumerate()
                .filter_map(|(k, s)| string(c, s, &format!("{p}.given[{k}]"), MAX_NAME_CHARS))
                .collect::<Vec<_>>()
                .join(" ")
        });
        let text = m.get("text").and_then(|t| string(c, t, &format!("{p}.text"), MAX_TEXT_CHARS)).map(String::from);
        for k in ["prefix", "suffix"] {
            if let Some(a) = m.get(k) {
                for (n, s) in array(c, a, &format!("{p}.{k}")).iter().enumerate() {
                    string(c, s, &format!("{p}.{k}[{n}]"), MAX_NAME_CHARS);
                }
            }
        }
        let had_errors = c.issues.len() > issues_before;
        read.push(NameIn {
            index: i,
            representation,
            usable,
            had_errors,
            family,
            given: given.filter(|g| !g.is_empty()),
            text,
        });
    }

    let single = items.len() == 1;
    let pick = |want: Representation| {
        read.iter().find(|n| {
            n.usable
                && (n.representation == Some(want)
                    || (single && want == Representation::Ideographic && n.representation.is_none()))
        })
    };
    let kanji = pick(Representation::Ideographic);
    let kana = pick(Representation::Syllabic);
    for n in &read {
        let chosen = kanji.is_some_and(|k| k.index == n.index) || kana.is_some_and(|k| k.index == n.index);
        if !chosen && n.representation != Some(Representation::Alphabetic) {
            let why = if n.representation.is_none() {
                "has no iso21090-EN-representation extension (IDE or SYL) and is not kept"
            } else {
                "is not kept (another name of the same representation was taken, or its use is not current)"
            };
            c.warn(IssueType::Informational, &format!("Patient.name[{}]", n.index), why);
        }
    }

    let Some(kanji) = kanji else {
        c.error(
            IssueType::Required,
            "Patient.name",
            "a kanji name is required: a HumanName with extension iso21090-EN-representation valueCode IDE",
        );
        return None;
    };
    let (family_kanji, given_kanji) = parts(kanji);
    let Some(family_kanji) = family_kanji else {
        if kanji.had_errors {
            return None;
        }
        c.error(
            IssueType::Required,
            &format!("Patient.name[{}].family", kanji.index),
            "the kanji family name is required",
        );
        return None;
    };
    let (mut family_kana, mut given_kana) = (None, None);
    if let Some(k) = kana {
        let (f, g) = parts(k);
        family_kana = f.and_then(|f| kana_part(c, &f, &format!("Patient.name[{}].family", k.index)));
        given_kana = g.and_then(|g| kana_part(c, &g, &format!("Patient.name[{}].given", k.index)));
    }
    Some((family_kanji, given_kanji, family_kana, given_kana))
}

/// Family and given of a name; from `text` ("山田 花子") when neither is given.
fn parts(n: &NameIn) -> (Option<String>, Option<String>) {
    if n.family.is_some() || n.given.is_some() {
        return (n.family.clone(), n.given.clone());
    }
    let Some(text) = &n.text else { return (None, None) };
    let (f, g) = split_name(text);
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    (some(f), some(g))
}

/// Kana in either script and width, stored as full-width katakana.
fn kana_part(c: &mut Ctx, raw: &str, path: &str) -> Option<String> {
    if !kana::is_kana_text(raw) {
        c.error(IssueType::Value, path, "a SYL name must be written in kana (katakana or hiragana)");
        return None;
    }
    Some(kana::normalize_kana_name(raw))
}

/// `YYYY-MM-DD`, nothing else (FHIR allows `YYYY` and `YYYY-MM`; the registry needs
/// the day).
fn full_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let t = s.get(r)?;
        t.bytes().all(|b| b.is_ascii_digit()).then(|| t.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if y == 0 {
        return None;
    }
    let month = Month::try_from(u8::try_from(m).ok()?).ok()?;
    Date::from_calendar_date(i32::try_from(y).ok()?, month, u8::try_from(d).ok()?).ok()
}

fn address(c: &mut Ctx, v: &Value) -> Option<AddressIn> {
    let mut chosen: Option<AddressIn> = None;
    for (i, item) in array(c, v, "Patient.address").iter().enumerate() {
        let p = format!("Patient.address[{i}]");
        let Some(m) = object(c, item, &p) else { continue };
        check_members(
            c,
            m,
            &p,
            &["use", "type", "text", "line", "city", "district", "state", "postalCode", "country", "period"],
        );
        let old = m
            .get("use")
            .and_then(|u| code(c, u, &format!("{p}.use"), &["home", "work", "temp", "old", "billing"]))
            .is_some_and(|u| u == "old");
        if let Some(t) = m.get("type") {
            code(c, t, &format!("{p}.type"), &["postal", "physical", "both"]);
        }
        let mut s =
            |k: &str| m.get(k).and_then(|x| string(c, x, &format!("{p}.{k}"), MAX_TEXT_CHARS)).map(String::from);
        let a = AddressIn {
            text: s("text"),
            postal_code: s("postalCode"),
            city: s("city"),
            state: s("state"),
            lines: Vec::new(),
        };
        for k in ["district", "country"] {
            s(k);
        }
        let lines = m
            .get("line")
            .map(|l| {
                array(c, l, &format!("{p}.line"))
                    .iter()
                    .enumerate()
                    .filter_map(|(n, x)| string(c, x, &format!("{p}.line[{n}]"), MAX_TEXT_CHARS).map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let a = AddressIn { lines, ..a };
        if chosen.is_none() && !old {
            chosen = Some(a);
        } else {
            c.warn(IssueType::Informational, &p, "only the first current address is kept");
        }
    }
    chosen
}

fn phone(c: &mut Ctx, v: &Value) -> Option<String> {
    let mut chosen: Option<String> = None;
    for (i, item) in array(c, v, "Patient.telecom").iter().enumerate() {
        let p = format!("Patient.telecom[{i}]");
        let Some(m) = object(c, item, &p) else { continue };
        check_members(c, m, &p, &["system", "value", "use", "rank", "period"]);
        let system = m.get("system").and_then(|s| {
            code(c, s, &format!("{p}.system"), &["phone", "fax", "email", "pager", "url", "sms", "other"])
        });
        let old = m
            .get("use")
            .and_then(|u| code(c, u, &format!("{p}.use"), &["home", "work", "temp", "old", "mobile"]))
            .is_some_and(|u| u == "old");
        if let Some(r) = m.get("rank")
            && r.as_u64().is_none_or(|n| n < 1)
        {
            c.error(IssueType::Structure, &format!("{p}.rank"), "must be a positive integer");
        }
        let value = m.get("value").and_then(|x| string(c, x, &format!("{p}.value"), MAX_TEXT_CHARS));
        if system == Some("phone") && !old {
            match (value, &chosen) {
                (Some(v), None) => chosen = Some(v.to_string()),
                (Some(_), Some(_)) => c.warn(IssueType::Informational, &p, "only the first phone number is kept"),
                (None, _) => {}
            }
        }
    }
    chosen
}

#[cfg(test)]
#[path = "patient_in_tests.rs"]
mod tests;
