//! Message catalogues (Fluent, `locales/{ja,en}/main.ftl`): Japanese by default,
//! English on request. Every user-facing string comes from here.

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, langid};
use fluent_templates::{Loader, static_loader};
use std::borrow::Cow;
use std::collections::HashMap;
use time::Date;

static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "ja",
        // Without this, Fluent wraps arguments in invisible isolation marks.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

static JA: LanguageIdentifier = langid!("ja");
static EN: LanguageIdentifier = langid!("en");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    #[default]
    Ja,
    En,
}

impl Locale {
    pub fn code(self) -> &'static str {
        match self {
            Locale::Ja => "ja",
            Locale::En => "en",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ja" | "ja-jp" => Some(Locale::Ja),
            "en" | "en-us" | "en-gb" => Some(Locale::En),
            _ => None,
        }
    }
    fn id(self) -> &'static LanguageIdentifier {
        match self {
            Locale::Ja => &JA,
            Locale::En => &EN,
        }
    }
}

/// The translator handed to every template.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tr {
    pub locale: Locale,
}

impl Tr {
    pub fn new(locale: Locale) -> Self {
        Self { locale }
    }

    pub fn lang(&self) -> &'static str {
        self.locale.code()
    }

    pub fn is_ja(&self) -> bool {
        self.locale == Locale::Ja
    }

    /// The message for `key`; a missing key shows itself, so a gap is visible in review
    /// (and the catalogue test fails first).
    pub fn t(&self, key: &str) -> String {
        LOCALES.try_lookup(self.locale.id(), key).unwrap_or_else(|| key.to_string())
    }

    /// The message for `key` with one named argument.
    pub fn t1(&self, key: &str, name: &str, value: &str) -> String {
        self.tn(key, &[(name, value)])
    }

    /// The message for `key` with named arguments.
    pub fn tn(&self, key: &str, named: &[(&str, &str)]) -> String {
        let mut args: HashMap<Cow<'static, str>, FluentValue<'_>> = HashMap::new();
        for (name, value) in named {
            args.insert(Cow::Owned((*name).to_string()), FluentValue::from((*value).to_string()));
        }
        LOCALES.try_lookup_with_args(self.locale.id(), key, &args).unwrap_or_else(|| key.to_string())
    }

    /// A label of an enum value: `prefix-value` with underscores as hyphens.
    pub fn label(&self, prefix: &str, value: &str) -> String {
        self.t(&format!("{prefix}-{}", value.replace('_', "-")))
    }

    /// A date as people read it: 2026年11月24日 / 2026-11-24.
    pub fn date(&self, d: &Date) -> String {
        match self.locale {
            Locale::Ja => format!("{}年{}月{}日", d.year(), u8::from(d.month()), d.day()),
            Locale::En => d.to_string(),
        }
    }

    /// A birth date with the Japanese era, as Japanese forms show it.
    pub fn birth_date(&self, d: &Date) -> String {
        match self.locale {
            Locale::Ja => format!("{}（{}）", tsunagu_domain::era::format_ja(*d), d),
            Locale::En => format!("{} ({})", d, tsunagu_domain::era::format_en(*d)),
        }
    }

    /// The time of day (Japan time) of a stored timestamp, `HH:MM`.
    pub fn time(&self, ts: &str) -> String {
        match time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339) {
            Ok(t) => {
                let j = t.to_offset(time::macros::offset!(+9));
                format!("{:02}:{:02}", j.hour(), j.minute())
            }
            Err(_) => ts.to_string(),
        }
    }

    /// A stored RFC 3339 UTC timestamp shown in Japan time, to the minute.
    pub fn datetime(&self, ts: &str) -> String {
        match time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339) {
            Ok(t) => {
                let j = t.to_offset(time::macros::offset!(+9));
                format!("{:04}-{:02}-{:02} {:02}:{:02}", j.year(), u8::from(j.month()), j.day(), j.hour(), j.minute())
            }
            Err(_) => ts.to_string(),
        }
    }
}

/// The message keys defined in a catalogue file (for the completeness test and tools).
pub fn catalogue_keys(ftl: &str) -> Vec<String> {
    let mut keys: Vec<String> = ftl
        .lines()
        .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_string()))
        .collect();
    keys.sort();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    const JA_FTL: &str = include_str!("../locales/ja/main.ftl");
    const EN_FTL: &str = include_str!("../locales/en/main.ftl");

    #[test]
    fn both_catalogues_have_the_same_keys() {
        let ja = catalogue_keys(JA_FTL);
        let en = catalogue_keys(EN_FTL);
        let only_ja: Vec<_> = ja.iter().filter(|k| !en.contains(k)).collect();
        let only_en: Vec<_> = en.iter().filter(|k| !ja.contains(k)).collect();
        assert!(only_ja.is_empty() && only_en.is_empty(), "only in ja: {only_ja:?}; only in en: {only_en:?}");
        let mut dedup = ja.clone();
        dedup.dedup();
        assert_eq!(dedup.len(), ja.len(), "a key is defined twice");
        assert!(ja.len() > 50);
    }

    #[test]
    fn every_key_used_in_code_and_templates_exists() {
        // Keys are written as string literals `"xxx-yyy"` passed to t()/t1()/label().
        let ja = catalogue_keys(JA_FTL);
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        let mut missing = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for part in text.split("tr.t(\"").skip(1).chain(text.split("tr.t1(\"").skip(1)) {
                let key = part.split('"').next().unwrap();
                if !ja.iter().any(|k| k == key) {
                    missing.push(key.to_string());
                }
            }
        }
        assert!(missing.is_empty(), "keys used in templates but not in the catalogue: {missing:?}");
    }

    #[test]
    fn every_validation_and_enum_label_exists() {
        let ja = catalogue_keys(JA_FTL);
        let mut needed: Vec<String> = Vec::new();
        for p in tsunagu_domain::person::Profession::ALL {
            needed.push(format!("profession-{}", p.as_str().replace('_', "-")));
        }
        for k in tsunagu_domain::org::OrgKind::ALL {
            needed.push(format!("org-kind-{}", k.as_str().replace('_', "-")));
        }
        for r in tsunagu_domain::patient::TeamRole::ALL {
            needed.push(format!("role-{}", r.as_str().replace('_', "-")));
        }
        for s in tsunagu_domain::patient::Sex::ALL {
            needed.push(format!("sex-{}", s.as_str()));
        }
        for c in ["given", "withdrawn", "not-recorded"] {
            needed.push(format!("consent-{c}"));
        }
        // Everything shown through `Tr::label(prefix, value)`, which turns `_` into `-`.
        let label = |prefix: &str, value: &str| format!("{prefix}-{}", value.replace('_', "-"));
        use tsunagu_domain::{acp, programme};
        needed.extend(acp::Place::ALL.map(|p| label("place", p.as_str())));
        needed.extend(acp::Resuscitation::ALL.map(|r| label("resuscitation", r.as_str())));
        needed.extend(programme::ContactKind::ALL.map(|k| label("contact", k.as_str())));
        needed.extend(programme::Pillar::ALL.map(|p| label("pillar", p.as_str())));
        needed.extend(programme::ActivityKind::ALL.map(|k| label("activity", k.as_str())));
        needed.extend(programme::PlanStatus::ALL.map(|s| label("plan", s.as_str())));
        use tsunagu_domain::{chart, letter, transition};
        needed.extend(chart::EntryKind::ALL.map(|k| label("entry-kind", k.as_str())));
        needed.extend(chart::DocumentType::ALL.map(|d| label("doc-type", d.as_str())));
        needed.extend(letter::LetterState::ALL.map(|l| label("letter-state", l.as_str())));
        needed.extend(transition::CandidateStage::ALL.map(|c| label("candidate-stage", c.as_str())));
        needed.extend(transition::TransitionStage::ALL.map(|t| label("transition-stage", t.as_str())));
        needed.extend(transition::EndReason::ALL.map(|e| label("end-reason", e.as_str())));
        use tsunagu_domain::family::{Frequency, NotificationCategory};
        needed.extend(NotificationCategory::ALL.map(|c| label("notify", c.as_str())));
        needed.extend(Frequency::ALL.map(|f| label("frequency", f.as_str())));
        needed.extend(["open", "accepted", "expired", "revoked"].map(|s| label("family-invitation", s)));
        needed.extend(["pain", "breathlessness", "sleep"].map(|s| label("diary", s)));
        for e in [
            "err-required",
            "err-too-long",
            "err-phone",
            "err-institution-code",
            "err-org-kind",
            "err-profession",
            "err-email",
            "err-password-short",
            "err-sex",
            "err-date",
            "err-birth-date-future",
            "err-kana",
            "err-kana-required",
            "err-postal-code",
            "err-local-id",
            "err-team-role",
            "err-consent-status",
            "err-coordinates",
            "err-local-id-taken",
            "err-email-taken",
            "err-code-taken",
            "err-already-on-team",
            "err-not-on-team",
            "err-owner-stays",
            "err-org-unknown",
            "err-rating",
            "err-diary-too-old",
            "err-rescue-time",
            "err-rescue-drug",
            "err-diary-empty",
            "err-login",
            "err-login-taken",
            "err-password-mismatch",
            "err-visit-past",
            "err-visit-far",
            "err-family-ended",
            "err-already-shared",
            "err-already-marked",
        ] {
            needed.push(e.to_string());
        }
        let missing: Vec<_> = needed.iter().filter(|k| !ja.contains(k)).collect();
        assert!(missing.is_empty(), "{missing:?}");
    }

    #[test]
    fn lookup_and_arguments() {
        let ja = Tr::new(Locale::Ja);
        let en = Tr::new(Locale::En);
        assert_eq!(ja.t("app-name"), "つなぐ");
        assert_eq!(en.t("app-name"), "tsunagu");
        assert!(en.t1("search-count", "count", "3").contains('3'));
        assert!(!en.t1("search-count", "count", "3").contains('\u{2068}'));
        assert_eq!(ja.birth_date(&time::macros::date!(1940 - 03 - 02)), "昭和15年3月2日（1940-03-02）");
    }
}
