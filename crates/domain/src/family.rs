//! Patients and families taking part (issue #10): what a family member writes in the
//! home diary, when a rating alerts the team, what a team member schedules as a visit,
//! and which events people may choose to hear about by e-mail.

use crate::person::Profession;
use crate::validation::{Invalid, optional_text, required_text};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// The rating at or above which a diary entry alerts the team, unless the region
/// configures another.
pub const DEFAULT_ALERT_THRESHOLD: i64 = 7;

/// Longest a diary entry may look back: older events are told to the team directly.
const DIARY_LOOKBACK_DAYS: i64 = 7;
/// Clock skew tolerated between a phone and the server.
const FUTURE_SKEW_MINUTES: i64 = 10;

/// One diary entry as the family wrote it. Ratings are 0 (none) to 10 (worst
/// imaginable), as in ESAS-r.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiaryInput {
    pub observed_at: OffsetDateTime,
    pub pain: Option<i64>,
    pub breathlessness: Option<i64>,
    /// Trouble sleeping.
    pub sleep: Option<i64>,
    /// A rescue dose taken (e.g. オキノーム散 5mg) and when.
    pub rescue_drug: Option<String>,
    pub rescue_at: Option<OffsetDateTime>,
    pub note: String,
}

impl DiaryInput {
    /// Refuse what cannot be a diary entry: ratings outside 0-10, a time in the future
    /// or more than a week ago, a rescue dose without its time (or the reverse), an
    /// entry saying nothing.
    pub fn check(mut self, now: OffsetDateTime) -> Result<Self, Invalid> {
        let mut inv = Invalid::default();
        for (field, v) in [("pain", self.pain), ("breathlessness", self.breathlessness), ("sleep", self.sleep)] {
            if v.is_some_and(|v| !(0..=10).contains(&v)) {
                inv.push(field, "err-rating");
            }
        }
        let window = |field: &'static str, at: OffsetDateTime, inv: &mut Invalid| {
            if at > now + Duration::minutes(FUTURE_SKEW_MINUTES) {
                inv.push(field, "err-date-future");
            } else if at < now - Duration::days(DIARY_LOOKBACK_DAYS) {
                inv.push(field, "err-diary-too-old");
            }
        };
        window("observed_at", self.observed_at, &mut inv);
        self.rescue_drug =
            inv.merge(optional_text("rescue_drug", self.rescue_drug.as_deref().unwrap_or(""), 100)).flatten();
        match (&self.rescue_drug, self.rescue_at) {
            (Some(_), Some(at)) => window("rescue_at", at, &mut inv),
            (Some(_), None) => inv.push("rescue_at", "err-rescue-time"),
            (None, Some(_)) => inv.push("rescue_drug", "err-rescue-drug"),
            (None, None) => {}
        }
        self.note = self.note.trim().to_string();
        if self.note.chars().count() > 2000 {
            inv.push("note", "err-too-long");
        }
        let says_something = self.pain.is_some()
            || self.breathlessness.is_some()
            || self.sleep.is_some()
            || self.rescue_drug.is_some()
            || !self.note.is_empty();
        if inv.is_empty() && !says_something {
            inv.push("pain", "err-diary-empty");
        }
        inv.into_result().map(|()| self)
    }

    /// Whether a rating reached `threshold`. A rescue dose alone does not alert: it is
    /// what the plan expects; the team sees it on the chart.
    pub fn alerts(&self, threshold: i64) -> bool {
        [self.pain, self.breathlessness, self.sleep].into_iter().flatten().any(|v| v >= threshold)
    }
}

/// Who a family account is to the patient, as the team writes it (本人, 長女, 夫 ...).
pub fn relation(raw: &str) -> Result<String, Invalid> {
    required_text("relation", raw, 30)
}

/// A family account's sign-in name: 4-100 characters without spaces (an e-mail
/// address or any name the family chooses).
pub fn login(raw: &str) -> Result<String, Invalid> {
    let t = raw.trim();
    let n = t.chars().count();
    if n == 0 {
        return Err(Invalid::one("login", "err-required"));
    }
    if !(4..=100).contains(&n) || t.chars().any(char::is_whitespace) {
        return Err(Invalid::one("login", "err-login"));
    }
    Ok(t.to_lowercase())
}

/// A visit the team schedules at the patient's home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitInput {
    pub starts_at: OffsetDateTime,
    pub profession: Profession,
    pub note: String,
}

impl VisitInput {
    pub fn check(mut self, now: OffsetDateTime) -> Result<Self, Invalid> {
        let mut inv = Invalid::default();
        // A visit is planned ahead, or recorded the same day at the latest.
        if self.starts_at < now - Duration::days(1) {
            inv.push("starts_at", "err-visit-past");
        }
        if self.starts_at > now + Duration::days(366) {
            inv.push("starts_at", "err-visit-far");
        }
        self.note = self.note.trim().to_string();
        if self.note.chars().count() > 200 {
            inv.push("note", "err-too-long");
        }
        inv.into_result().map(|()| self)
    }
}

/// What a person may be told about by e-mail. The mail names the category and holds a
/// link; never clinical content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationCategory {
    /// A referral letter arrived for the person's organization.
    Referral,
    /// Someone named the person (or their organization) in a thread message.
    Mention,
    /// A hospital-to-home task of the organization is past its due date.
    OverdueTask,
    /// A patient's or family's diary rating reached the alert threshold.
    DiaryAlert,
    /// Someone outside the team opened one of the organization's charts in an emergency.
    Emergency,
}

impl NotificationCategory {
    pub const ALL: [NotificationCategory; 5] = [
        NotificationCategory::Referral,
        NotificationCategory::Mention,
        NotificationCategory::OverdueTask,
        NotificationCategory::DiaryAlert,
        NotificationCategory::Emergency,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationCategory::Referral => "referral",
            NotificationCategory::Mention => "mention",
            NotificationCategory::OverdueTask => "overdue_task",
            NotificationCategory::DiaryAlert => "diary_alert",
            NotificationCategory::Emergency => "emergency",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| Invalid::one("category", "err-invalid-choice"))
    }
}

/// How often a person hears about a category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    /// No mail (the inbox still shows it). Mail is opt-in.
    #[default]
    Off,
    /// One mail as soon as it happens.
    Immediate,
    /// One mail a day listing what happened.
    Daily,
}

impl Frequency {
    pub const ALL: [Frequency; 3] = [Frequency::Off, Frequency::Immediate, Frequency::Daily];
    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Off => "off",
            Frequency::Immediate => "immediate",
            Frequency::Daily => "daily",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| Invalid::one("frequency", "err-invalid-choice"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-24 10:00 +9);

    fn entry() -> DiaryInput {
        DiaryInput {
            observed_at: NOW - Duration::hours(1),
            pain: Some(8),
            breathlessness: None,
            sleep: Some(3),
            rescue_drug: Some(" オキノーム散 5mg ".into()),
            rescue_at: Some(NOW - Duration::minutes(30)),
            note: " 夕方から痛い ".into(),
        }
    }

    fn fields(e: Invalid) -> Vec<(&'static str, &'static str)> {
        e.0.into_iter().map(|f| (f.field, f.key)).collect()
    }

    #[test]
    fn a_diary_entry_is_trimmed_and_alerts_at_the_threshold() {
        let e = entry().check(NOW).unwrap();
        assert_eq!(e.rescue_drug.as_deref(), Some("オキノーム散 5mg"));
        assert_eq!(e.note, "夕方から痛い");
        assert!(e.alerts(7) && e.alerts(8) && !e.alerts(9));
        let calm = DiaryInput { pain: Some(6), ..entry() }.check(NOW).unwrap();
        assert!(!calm.alerts(7), "6 and 3 stay under 7");
    }

    #[test]
    fn a_diary_entry_refuses_what_it_cannot_be() {
        let bad = DiaryInput { pain: Some(11), breathlessness: Some(-1), ..entry() };
        assert_eq!(fields(bad.check(NOW).unwrap_err()), vec![("pain", "err-rating"), ("breathlessness", "err-rating")]);
        let future = DiaryInput { observed_at: NOW + Duration::hours(1), ..entry() };
        assert_eq!(fields(future.check(NOW).unwrap_err()), vec![("observed_at", "err-date-future")]);
        let old = DiaryInput { observed_at: NOW - Duration::days(8), ..entry() };
        assert_eq!(fields(old.check(NOW).unwrap_err()), vec![("observed_at", "err-diary-too-old")]);
        let no_time = DiaryInput { rescue_at: None, ..entry() };
        assert_eq!(fields(no_time.check(NOW).unwrap_err()), vec![("rescue_at", "err-rescue-time")]);
        let no_drug = DiaryInput { rescue_drug: Some("  ".into()), ..entry() };
        assert_eq!(fields(no_drug.check(NOW).unwrap_err()), vec![("rescue_drug", "err-rescue-drug")]);
        let empty =
            DiaryInput { pain: None, sleep: None, rescue_drug: None, rescue_at: None, note: " ".into(), ..entry() };
        assert_eq!(fields(empty.check(NOW).unwrap_err()), vec![("pain", "err-diary-empty")]);
    }

    #[test]
    fn logins_and_categories_parse_strictly() {
        assert_eq!(login(" Hanako@Example.JP ").unwrap(), "hanako@example.jp");
        assert_eq!(fields(login("a b c d").unwrap_err()), vec![("login", "err-login")]);
        assert_eq!(fields(login("abc").unwrap_err()), vec![("login", "err-login")]);
        for c in NotificationCategory::ALL {
            assert_eq!(NotificationCategory::parse(c.as_str()).unwrap(), c);
        }
        assert!(Frequency::parse("hourly").is_err());
        assert_eq!(Frequency::default(), Frequency::Off);
    }

    #[test]
    fn a_visit_is_planned_ahead() {
        let v =
            VisitInput { starts_at: NOW + Duration::days(1), profession: Profession::Nurse, note: " 定期 ".into() };
        assert_eq!(v.clone().check(NOW).unwrap().note, "定期");
        let past = VisitInput { starts_at: NOW - Duration::days(2), ..v };
        assert_eq!(fields(past.check(NOW).unwrap_err()), vec![("starts_at", "err-visit-past")]);
    }
}
