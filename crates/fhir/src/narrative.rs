//! Section narratives: XHTML built from plain text, escaped.

use crate::{SECTION_SYSTEM, set};
use serde_json::{Value, json};

/// XML-escape text and keep its line breaks.
pub fn xhtml(text: &str) -> String {
    let body = text
        .trim()
        .lines()
        .map(|l| {
            l.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
                .replace('\'', "&#39;")
        })
        .collect::<Vec<_>>()
        .join("<br/>");
    format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">{body}</div>")
}

/// A coded section, or `None` when it would have neither text nor entries.
pub fn section(code: &str, title: &str, text: &str, entries: Vec<Value>) -> Option<Value> {
    if text.trim().is_empty() && entries.is_empty() {
        return None;
    }
    let mut s = json!({
        "title": title,
        "code": { "coding": [ { "system": SECTION_SYSTEM, "code": code, "display": format!("{title}セクション") } ] },
    });
    if !text.trim().is_empty() {
        set(&mut s, "text", json!({ "status": "additional", "div": xhtml(text) }));
    }
    if !entries.is_empty() {
        set(&mut s, "entry", Value::Array(entries));
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn text_is_escaped_and_lines_kept() {
        assert_eq!(
            xhtml("<script>&\n二行目"),
            "<div xmlns=\"http://www.w3.org/1999/xhtml\">&lt;script&gt;&amp;<br/>二行目</div>"
        );
    }

    #[test]
    fn an_empty_section_is_not_made() {
        assert!(section("370", "既往歴", "  ", vec![]).is_none());
        assert!(section("370", "既往歴", "なし", vec![]).is_some());
    }
}
