//! The region's palliative-care programme (DOMAIN.md §8): the specialist palliative care
//! a patient received (the OPTIM process measures), and the activities the region runs
//! under the four pillars, with attendance by profession and organization, and the action
//! plans of each fiscal year.

use crate::OrgId;
use crate::person::Profession;
use crate::validation::{Invalid, required_text};
use serde::{Deserialize, Serialize};
use time::Date;

/// A contact with specialist palliative care, counted on the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactKind {
    /// The hospital palliative care team saw the patient (a consultation).
    PalliativeTeamConsult,
    /// A visit to a palliative care outpatient clinic.
    PalliativeOutpatientVisit,
    /// A home visit by a physician or nurse for palliative care.
    HomeVisit,
}

impl ContactKind {
    pub const ALL: [ContactKind; 3] =
        [ContactKind::PalliativeTeamConsult, ContactKind::PalliativeOutpatientVisit, ContactKind::HomeVisit];
    pub fn as_str(self) -> &'static str {
        match self {
            ContactKind::PalliativeTeamConsult => "palliative_team_consult",
            ContactKind::PalliativeOutpatientVisit => "palliative_outpatient_visit",
            ContactKind::HomeVisit => "home_visit",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL.into_iter().find(|k| k.as_str() == s.trim()).ok_or_else(|| Invalid::one("kind", "err-invalid-choice"))
    }
}

/// One contact as entered: what, on which day, and a short note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CareContact {
    pub kind: ContactKind,
    pub occurred_on: Date,
    pub note: String,
}

impl CareContact {
    pub fn check(self, today: Date) -> Result<Self, Invalid> {
        let mut inv = Invalid::default();
        if self.occurred_on > today {
            inv.push("occurred_on", "err-date-future");
        }
        if self.note.chars().count() > 500 {
            inv.push("note", "err-too-long");
        }
        inv.into_result().map(|()| self)
    }
}

/// The four pillars of a regional palliative care programme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pillar {
    Education,
    PublicAwareness,
    RegionalCooperation,
    SpecialistPalliativeCare,
}

impl Pillar {
    pub const ALL: [Pillar; 4] =
        [Pillar::Education, Pillar::PublicAwareness, Pillar::RegionalCooperation, Pillar::SpecialistPalliativeCare];
    pub fn as_str(self) -> &'static str {
        match self {
            Pillar::Education => "education",
            Pillar::PublicAwareness => "public_awareness",
            Pillar::RegionalCooperation => "regional_cooperation",
            Pillar::SpecialistPalliativeCare => "specialist_palliative_care",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s.trim())
            .ok_or_else(|| Invalid::one("pillar", "err-invalid-choice"))
    }
}

/// A training session (a lecture, a workshop, a public talk) or a meeting (a regional
/// case conference, a steering committee).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    Session,
    Meeting,
}

impl ActivityKind {
    pub const ALL: [ActivityKind; 2] = [ActivityKind::Session, ActivityKind::Meeting];
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityKind::Session => "session",
            ActivityKind::Meeting => "meeting",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| Invalid::one("activity_kind", "err-invalid-choice"))
    }
}

/// How many of one profession from one organization attended. The organization is
/// `None` for attendees from outside the network (citizens at a public talk, say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attendance {
    pub profession: Option<Profession>,
    pub org: Option<OrgId>,
    pub count: i64,
}

/// A session or meeting as entered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    pub pillar: Pillar,
    pub kind: ActivityKind,
    pub held_on: Date,
    pub topic: String,
    pub attendance: Vec<Attendance>,
}

impl Activity {
    /// A topic, a day not in the future, and attendance lines that each count someone,
    /// without the same profession and organization twice.
    pub fn check(self, today: Date) -> Result<Self, Invalid> {
        let mut inv = Invalid::default();
        let topic = inv.merge(required_text("topic", &self.topic, 200));
        if self.held_on > today {
            inv.push("held_on", "err-date-future");
        }
        for (i, a) in self.attendance.iter().enumerate() {
            if !(1..=10_000).contains(&a.count) {
                inv.push("attendance", "err-attendance-count");
            }
            if self.attendance.iter().take(i).any(|b| b.profession == a.profession && b.org == a.org) {
                inv.push("attendance", "err-attendance-twice");
            }
        }
        inv.into_result()?;
        Ok(Activity { topic: topic.unwrap_or_default(), ..self })
    }

    pub fn attendees(&self) -> i64 {
        self.attendance.iter().map(|a| a.count).sum()
    }
}

/// Where an action plan stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    Planned,
    InProgress,
    Done,
    Dropped,
}

impl PlanStatus {
    pub const ALL: [PlanStatus; 4] =
        [PlanStatus::Planned, PlanStatus::InProgress, PlanStatus::Done, PlanStatus::Dropped];
    pub fn as_str(self) -> &'static str {
        match self {
            PlanStatus::Planned => "planned",
            PlanStatus::InProgress => "in_progress",
            PlanStatus::Done => "done",
            PlanStatus::Dropped => "dropped",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s.trim())
            .ok_or_else(|| Invalid::one("status", "err-invalid-choice"))
    }
}

/// One version of an action plan of a fiscal year. A change of status or due date is a
/// new version; the history stays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionPlan {
    pub fiscal_year: i32,
    pub pillar: Pillar,
    pub title: String,
    /// Who is responsible, in words ("事務局 佐藤", "緩和ケアチーム").
    pub owner: String,
    pub due_on: Date,
    pub status: PlanStatus,
}

impl ActionPlan {
    pub fn check(self) -> Result<Self, Invalid> {
        let mut inv = Invalid::default();
        let title = inv.merge(required_text("title", &self.title, 200));
        let owner = inv.merge(required_text("owner", &self.owner, 100));
        if !(2000..=2100).contains(&self.fiscal_year) {
            inv.push("fiscal_year", "err-invalid-choice");
        }
        inv.into_result()?;
        Ok(ActionPlan { title: title.unwrap_or_default(), owner: owner.unwrap_or_default(), ..self })
    }
}

/// Parse the attendance lines of a form: (profession code or empty, organization id or
/// empty, count or empty); a line with no count is left out.
pub fn attendance_lines(lines: &[(String, String, String)]) -> Result<Vec<Attendance>, Invalid> {
    let mut out = Vec::new();
    for (profession, org, count) in lines {
        if count.trim().is_empty() {
            continue;
        }
        let count: i64 = count.trim().parse().map_err(|_| Invalid::one("attendance", "err-attendance-count"))?;
        let profession = match profession.trim() {
            "" => None,
            p => Some(Profession::parse(p).map_err(|_| Invalid::one("attendance", "err-invalid-choice"))?),
        };
        let org = match org.trim() {
            "" => None,
            o => Some(o.parse::<OrgId>().map_err(|_| Invalid::one("attendance", "err-invalid-choice"))?),
        };
        out.push(Attendance { profession, org, count });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::date;

    fn activity(attendance: Vec<Attendance>) -> Activity {
        Activity {
            pillar: Pillar::Education,
            kind: ActivityKind::Session,
            held_on: date!(2026 - 10 - 01),
            topic: " 疼痛緩和の基本 ".into(),
            attendance,
        }
    }

    #[test]
    fn an_activity_needs_a_topic_a_past_day_and_attendance_counted_once() {
        let nurses = Attendance { profession: Some(Profession::Nurse), org: None, count: 12 };
        let ok = activity(vec![nurses]).check(date!(2026 - 11 - 30)).unwrap();
        assert_eq!((ok.topic.as_str(), ok.attendees()), ("疼痛緩和の基本", 12));

        let err = activity(vec![nurses, nurses]).check(date!(2026 - 11 - 30)).unwrap_err();
        assert!(err.0.iter().any(|e| e.key == "err-attendance-twice"));
        let none = Attendance { count: 0, ..nurses };
        assert!(activity(vec![none]).check(date!(2026 - 11 - 30)).is_err());
        assert!(activity(vec![]).check(date!(2026 - 09 - 30)).is_err(), "held after today");
        let blank = Activity { topic: "  ".into(), ..activity(vec![]) };
        assert!(blank.check(date!(2026 - 11 - 30)).is_err());
    }

    #[test]
    fn choices_parse_from_their_codes_only() {
        assert_eq!(ContactKind::parse("home_visit").unwrap(), ContactKind::HomeVisit);
        assert_eq!(Pillar::parse("public_awareness").unwrap(), Pillar::PublicAwareness);
        assert_eq!(PlanStatus::parse("in_progress").unwrap(), PlanStatus::InProgress);
        assert!(ContactKind::parse("HomeVisit").is_err());
        assert!(Pillar::parse("").is_err());
    }

    #[test]
    fn a_contact_is_not_in_the_future() {
        let c = CareContact { kind: ContactKind::HomeVisit, occurred_on: date!(2026 - 12 - 01), note: String::new() };
        assert!(c.clone().check(date!(2026 - 11 - 30)).is_err());
        assert!(c.check(date!(2026 - 12 - 01)).is_ok());
    }
}
