//! Entity tags of FHIR versions: the server sends `ETag: W/"3"` for version 3 and a
//! client updating version-aware sends it back in `If-Match`. FHIR uses weak tags
//! (`W/`), but clients and proxies also send the strong form (`"3"`) and some send the
//! bare number; all name the same version here.

use crate::outcome::{Issue, IssueType, excerpt};

/// The `ETag` header value for a version: `W/"3"`.
pub fn format_etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EtagError {
    #[error("the If-Match header is empty")]
    Empty,
    #[error("If-Match: * is not supported here; send the version as W/\"n\"")]
    Wildcard,
    #[error("If-Match must name exactly one version, not a list")]
    Multiple,
    #[error("If-Match '{0}' is not an entity tag of the form W/\"n\"")]
    Malformed(String),
    #[error("If-Match '{0}' does not name a version number")]
    NotAVersion(String),
}

impl EtagError {
    pub fn to_issue(&self) -> Issue {
        Issue::error(IssueType::Invalid, self.to_string())
    }
}

/// The version named by one entity tag: `W/"3"`, `"3"` or `3`.
pub fn parse_etag(tag: &str) -> Result<u64, EtagError> {
    let t = tag.trim();
    if t.is_empty() {
        return Err(EtagError::Empty);
    }
    let unweak = t.strip_prefix("W/").or_else(|| t.strip_prefix("w/")).unwrap_or(t);
    let inner = match (unweak.strip_prefix('"'), unweak.ends_with('"')) {
        (Some(rest), true) => rest.strip_suffix('"').ok_or_else(|| EtagError::Malformed(excerpt(t)))?,
        (None, false) if unweak.len() == t.len() => unweak,
        _ => return Err(EtagError::Malformed(excerpt(t))),
    };
    if inner.is_empty() || inner.len() > 20 || !inner.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EtagError::NotAVersion(excerpt(t)));
    }
    inner.parse().map_err(|_| EtagError::NotAVersion(excerpt(t)))
}

/// The version an `If-Match` header requires. `*` and lists are refused: a FHIR update
/// is made against one version.
pub fn parse_if_match(header: &str) -> Result<u64, EtagError> {
    let h = header.trim();
    if h == "*" {
        return Err(EtagError::Wildcard);
    }
    if h.contains(',') {
        return Err(EtagError::Multiple);
    }
    parse_etag(h)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_weak() {
        assert_eq!(format_etag(3), "W/\"3\"");
    }

    #[test]
    fn parses_the_forms_clients_send() {
        assert_eq!(parse_if_match("W/\"3\""), Ok(3));
        assert_eq!(parse_if_match("  W/\"12\"  "), Ok(12));
        assert_eq!(parse_if_match("\"3\""), Ok(3));
        assert_eq!(parse_if_match("3"), Ok(3));
        assert_eq!(parse_if_match("w/\"4\""), Ok(4));
        assert_eq!(parse_if_match("W/\"18446744073709551615\""), Ok(u64::MAX));
    }

    #[test]
    fn refuses_the_rest() {
        assert_eq!(parse_if_match(""), Err(EtagError::Empty));
        assert_eq!(parse_if_match("*"), Err(EtagError::Wildcard));
        assert_eq!(parse_if_match("W/\"1\", W/\"2\""), Err(EtagError::Multiple));
        assert!(matches!(parse_if_match("W/\"3"), Err(EtagError::Malformed(_))));
        assert!(matches!(parse_if_match("W/3"), Err(EtagError::Malformed(_))));
        assert!(matches!(parse_if_match("\"3"), Err(EtagError::Malformed(_))));
        assert!(matches!(parse_if_match("3\""), Err(EtagError::Malformed(_))));
        assert!(matches!(parse_if_match("\""), Err(EtagError::Malformed(_))));
        assert!(matches!(parse_if_match("W/\"\""), Err(EtagError::NotAVersion(_))));
        assert!(matches!(parse_if_match("W/\"abc\""), Err(EtagError::NotAVersion(_))));
        assert!(matches!(parse_if_match("W/\"-1\""), Err(EtagError::NotAVersion(_))));
        assert!(matches!(parse_if_match("W/\"+1\""), Err(EtagError::NotAVersion(_))));
        assert!(matches!(parse_if_match("W/\"18446744073709551616\""), Err(EtagError::NotAVersion(_))));
        let long = format!("W/\"{}\"", "9".repeat(5000));
        let e = parse_if_match(&long).unwrap_err().to_string();
        assert!(e.len() < 200, "diagnostic echoes huge input: {e}");
    }

    proptest! {
        #[test]
        fn round_trip(v in any::<u64>()) {
            prop_assert_eq!(parse_if_match(&format_etag(v)), Ok(v));
        }

        #[test]
        fn never_panics(s in ".{0,40}") {
            let _ = parse_if_match(&s);
        }
    }
}
