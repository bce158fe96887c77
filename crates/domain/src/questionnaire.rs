//! Questionnaires as data (DOMAIN.md §8): an instrument is a definition (items, answer
//! scales, who answers it, how it is scored) that an administrator loads from a file,
//! not code. Every version loaded is kept, and each response names the version it
//! answered, so a reworded item never changes what an old answer meant.
//!
//! The instruments shipped with tsunagu (`instruments/*.json`) are worded by us after
//! the published structure of the bereaved-family and professional-difficulty surveys;
//! no copyrighted item text is reproduced.

use crate::validation::Invalid;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Who answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rater {
    Patient,
    Staff,
    Family,
    Professional,
}

/// How an item is answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Scale {
    /// A whole number from `min` to `max`; `labels` name some points (e.g. the ends).
    Rating {
        min: i64,
        max: i64,
        #[serde(default)]
        labels: Vec<PointLabel>,
    },
    /// Free text, up to `max_chars`.
    Text { max_chars: usize },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointLabel {
    pub value: i64,
    pub ja: String,
    pub en: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub key: String,
    pub ja: String,
    pub en: String,
    pub scale: Scale,
    #[serde(default)]
    pub required: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scoring {
    /// The sum of the rating items answered.
    Sum,
    /// No total: items are reported one by one.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instrument {
    /// Stable id, e.g. "bereaved-family-evaluation".
    pub id: String,
    /// Raised whenever the wording or the scales change.
    pub version: i64,
    pub title_ja: String,
    pub title_en: String,
    pub rater: Rater,
    pub scoring: Scoring,
    pub items: Vec<Item>,
}

/// One answer: a rating or a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Answer {
    Rating(i64),
    Text(String),
}

pub type Answers = BTreeMap<String, Answer>;

impl Instrument {
    /// Parse and check a definition file.
    pub fn from_json(s: &str) -> Result<Self, Invalid> {
        let i: Instrument = serde_json::from_str(s).map_err(|_| Invalid::one("file", "err-instrument-format"))?;
        i.check()
    }

    fn check(self) -> Result<Self, Invalid> {
        let mut inv = Invalid::default();
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 64
            && self.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok || self.version < 1 || self.items.is_empty() {
            inv.push("file", "err-instrument-format");
        }
        let mut keys: Vec<&str> = self.items.iter().map(|i| i.key.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        if keys.len() != self.items.len() {
            inv.push("file", "err-instrument-format");
        }
        for item in &self.items {
            match &item.scale {
                Scale::Rating { min, max, .. } if min >= max => inv.push("file", "err-instrument-format"),
                Scale::Text { max_chars } if *max_chars == 0 => inv.push("file", "err-instrument-format"),
                _ => {}
            }
        }
        inv.into_result().map(|()| self)
    }

    /// Read a submitted form (`item key` → raw text) into answers: ratings within their
    /// scale, texts within their length, required items present. Unknown keys are
    /// ignored (a form field such as the CSRF token).
    pub fn answers_from(&self, raw: &[(String, String)]) -> Result<Answers, Invalid> {
        let mut inv = Invalid::default();
        let mut out = Answers::new();
        for item in &self.items {
            let given = raw.iter().find(|(k, _)| *k == item.key).map(|(_, v)| v.trim()).filter(|v| !v.is_empty());
            match (given, &item.scale) {
                (None, _) if item.required => inv.push("answers", "err-answer-required"),
                (None, _) => {}
                (Some(v), Scale::Rating { min, max, .. }) => match v.parse::<i64>() {
                    Ok(n) if (*min..=*max).contains(&n) => {
                        out.insert(item.key.clone(), Answer::Rating(n));
                    }
                    _ => inv.push("answers", "err-answer-scale"),
                },
                (Some(v), Scale::Text { max_chars }) => {
                    if v.chars().count() > *max_chars {
                        inv.push("answers", "err-too-long");
                    } else {
                        out.insert(item.key.clone(), Answer::Text(v.replace("\r\n", "\n")));
                    }
                }
            }
        }
        inv.into_result().map(|()| out)
    }

    /// The total, when the instrument is scored by sum.
    pub fn score(&self, answers: &Answers) -> Option<i64> {
        match self.scoring {
            Scoring::None => None,
            Scoring::Sum => Some(
                answers
                    .values()
                    .map(|a| match a {
                        Answer::Rating(n) => *n,
                        Answer::Text(_) => 0,
                    })
                    .sum(),
            ),
        }
    }
}

/// The instruments tsunagu ships, as their definition files.
pub const SHIPPED: [&str; 4] = [
    include_str!("../instruments/bereaved-family-evaluation.json"),
    include_str!("../instruments/professional-difficulties.json"),
    include_str!("../instruments/symptom-rating-patient.json"),
    include_str!("../instruments/palliative-problems-staff.json"),
];

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_shipped_instruments_load() {
        for s in SHIPPED {
            let i = Instrument::from_json(s).unwrap();
            assert!(i.items.len() >= 5, "{}", i.id);
            assert!(i.items.iter().all(|it| !it.ja.is_empty() && !it.en.is_empty()));
        }
    }

    #[test]
    fn answers_are_checked_against_the_definition() {
        let i = Instrument::from_json(SHIPPED[0]).unwrap();
        let rating = i.items.iter().find(|it| matches!(it.scale, Scale::Rating { .. })).unwrap();
        let Scale::Rating { min, max, .. } = rating.scale else { panic!("a rating item") };
        let mut all: Vec<(String, String)> = i
            .items
            .iter()
            .map(|it| {
                (
                    it.key.clone(),
                    if matches!(it.scale, Scale::Rating { .. }) {
                        max.to_string()
                    } else {
                        "ありがとうございました".into()
                    },
                )
            })
            .collect();
        let a = i.answers_from(&all).unwrap();
        assert_eq!(a.len(), i.items.len());
        if i.scoring == Scoring::Sum {
            assert!(i.score(&a).unwrap() > 0);
        }
        // Out of the scale: refused.
        for (k, v) in all.iter_mut() {
            if *k == rating.key {
                *v = (max + 1).to_string();
            }
        }
        assert_eq!(i.answers_from(&all).unwrap_err().0[0].key, "err-answer-scale");
        assert!(i.answers_from(&pairs(&[(rating.key.as_str(), &(min - 1).to_string())])).is_err());
        // A required item missing: refused.
        if i.items.iter().any(|it| it.required) {
            assert_eq!(i.answers_from(&[]).unwrap_err().0[0].key, "err-answer-required");
        }
    }

    #[test]
    fn broken_definitions_are_refused() {
        assert!(Instrument::from_json("{").is_err());
        let mut i = Instrument::from_json(SHIPPED[1]).unwrap();
        i.items.push(i.items[0].clone());
        assert!(Instrument::from_json(&serde_json::to_string(&i).unwrap()).is_err(), "duplicate item keys");
        let mut i = Instrument::from_json(SHIPPED[1]).unwrap();
        i.id = "Bad Id".into();
        assert!(Instrument::from_json(&serde_json::to_string(&i).unwrap()).is_err());
    }
}
