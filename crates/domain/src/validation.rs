//! Validation errors carry a field name and a message key from the UI catalogue, so
//! every layer can report them in the user's language without knowing the language.

use serde::Serialize;

/// One invalid field: `field` names the form/JSON field, `key` the catalogue message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: &'static str,
    pub key: &'static str,
}

impl FieldError {
    pub const fn new(field: &'static str, key: &'static str) -> Self {
        Self { field, key }
    }
}

/// A set of invalid fields; a value that produced one was not built.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, thiserror::Error)]
#[error("invalid input: {}", .0.iter().map(|e| e.field).collect::<Vec<_>>().join(", "))]
pub struct Invalid(pub Vec<FieldError>);

impl Invalid {
    pub fn one(field: &'static str, key: &'static str) -> Self {
        Self(vec![FieldError::new(field, key)])
    }
    pub fn push(&mut self, field: &'static str, key: &'static str) {
        self.0.push(FieldError::new(field, key));
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Ok(()) when nothing was pushed.
    pub fn into_result(self) -> Result<(), Invalid> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
    pub fn merge<T>(&mut self, r: Result<T, Invalid>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.extend(e.0);
                None
            }
        }
    }
}

/// Trim, and refuse empty or over-long text.
pub fn required_text(field: &'static str, raw: &str, max_chars: usize) -> Result<String, Invalid> {
    let t = raw.trim();
    if t.is_empty() {
        return Err(Invalid::one(field, "err-required"));
    }
    if t.chars().count() > max_chars {
        return Err(Invalid::one(field, "err-too-long"));
    }
    Ok(t.to_string())
}

/// Trim; empty becomes None; refuse over-long text.
pub fn optional_text(field: &'static str, raw: &str, max_chars: usize) -> Result<Option<String>, Invalid> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if t.chars().count() > max_chars {
        return Err(Invalid::one(field, "err-too-long"));
    }
    Ok(Some(t.to_string()))
}

/// Phone numbers as people write them in Japan: digits with optional hyphens,
/// brackets or spaces, a leading + allowed; 10 to 11 digits (or up to 15 with +).
pub fn optional_phone(field: &'static str, raw: &str) -> Result<Option<String>, Invalid> {
    let t = crate::kana::fold_width(raw.trim());
    if t.is_empty() {
        return Ok(None);
    }
    let ok_chars = t
        .chars()
        .enumerate()
        .all(|(i, c)| c.is_ascii_digit() || matches!(c, '-' | ' ' | '(' | ')') || (i == 0 && c == '+'));
    let digits = t.chars().filter(char::is_ascii_digit).count();
    if !ok_chars || !(10..=15).contains(&digits) {
        return Err(Invalid::one(field, "err-phone"));
    }
    Ok(Some(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_accepts_japanese_forms() {
        assert_eq!(optional_phone("p", "0235-22-1234").unwrap().as_deref(), Some("0235-22-1234"));
        assert_eq!(optional_phone("p", "０９０１２３４５６７８").unwrap().as_deref(), Some("09012345678"));
        assert_eq!(optional_phone("p", "").unwrap(), None);
        assert!(optional_phone("p", "12-34").is_err());
        assert!(optional_phone("p", "0235-22-12a4").is_err());
    }

    #[test]
    fn required_text_trims_and_limits() {
        assert_eq!(required_text("f", "  山田 ", 10).unwrap(), "山田");
        assert_eq!(required_text("f", "   ", 10).unwrap_err().0[0].key, "err-required");
        assert_eq!(required_text("f", "あいうえおか", 5).unwrap_err().0[0].key, "err-too-long");
    }
}
