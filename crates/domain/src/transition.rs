//! From hospital to home (DOMAIN.md §6, issue #5): the stages a transition case moves
//! through, the inpatients flagged as candidates, the discharge checklist, the ranked
//! proposal of home physicians, and the fiscal year the hospital counts its discharges in.
//!
//! Everything here is pure: the store keeps the case, the web layer shows it, and a person
//! always makes the decision the ranking only proposes.

use crate::{Invalid, OrgId};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use time::{Date, Duration, Month};

/// Where a transition case is. It only moves forward: a step back (a cancelled
/// conference, a postponed discharge) is recorded as a reschedule or as a new case, so
/// the history of the case never has to be rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitionStage {
    /// Discharge decided; the checklist is being worked through.
    Planning,
    /// 退院カンファレンス has a date.
    ConferenceScheduled,
    ConferenceHeld,
    /// The patient left the hospital for home.
    DischargedHome,
    /// The community team has taken over (first home visit done).
    InHomeCare,
    /// Closed, with an [`EndReason`] kept beside it.
    Ended,
}

impl TransitionStage {
    pub const ALL: [TransitionStage; 6] = [
        TransitionStage::Planning,
        TransitionStage::ConferenceScheduled,
        TransitionStage::ConferenceHeld,
        TransitionStage::DischargedHome,
        TransitionStage::InHomeCare,
        TransitionStage::Ended,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            TransitionStage::Planning => "planning",
            TransitionStage::ConferenceScheduled => "conference_scheduled",
            TransitionStage::ConferenceHeld => "conference_held",
            TransitionStage::DischargedHome => "discharged_home",
            TransitionStage::InHomeCare => "in_home_care",
            TransitionStage::Ended => "ended",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| Invalid::one("stage", "err-transition-stage"))
    }
}

/// Why a transition case ended. Not every case ends at home: a patient may die or be
/// readmitted before discharge, or go to another region or a facility.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    Death,
    Readmission,
    Transfer,
    Other,
}

impl EndReason {
    pub const ALL: [EndReason; 4] = [EndReason::Death, EndReason::Readmission, EndReason::Transfer, EndReason::Other];
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Death => "death",
            EndReason::Readmission => "readmission",
            EndReason::Transfer => "transfer",
            EndReason::Other => "other",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| Invalid::one("end_reason", "err-end-reason"))
    }
}

/// What can happen to a transition case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitionEvent {
    /// Set (or move) the conference date.
    ScheduleConference,
    HoldConference,
    Discharge,
    StartHomeCare,
    End(EndReason),
}

impl TransitionEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            TransitionEvent::ScheduleConference => "schedule_conference",
            TransitionEvent::HoldConference => "hold_conference",
            TransitionEvent::Discharge => "discharge",
            TransitionEvent::StartHomeCare => "start_home_care",
            TransitionEvent::End(_) => "end",
        }
    }
}

/// The state machine: the stage after `event`, or an error on the `stage` field when it
/// may not happen. Only forward moves: a conference may be rescheduled until it is held;
/// discharge requires the conference held, because meeting the community team before the
/// patient leaves is the point of the workflow; and a case may end from any open stage
/// (death or readmission do not wait for the plan).
pub fn next_stage(stage: TransitionStage, event: TransitionEvent) -> Result<TransitionStage, Invalid> {
    use TransitionEvent as E;
    use TransitionStage as S;
    match (stage, event) {
        (S::Planning | S::ConferenceScheduled, E::ScheduleConference) => Ok(S::ConferenceScheduled),
        (S::ConferenceScheduled, E::HoldConference) => Ok(S::ConferenceHeld),
        (S::ConferenceHeld, E::Discharge) => Ok(S::DischargedHome),
        (S::DischargedHome, E::StartHomeCare) => Ok(S::InHomeCare),
        // Listed, not `_`, so a new stage has to decide whether it can end.
        (S::Planning | S::ConferenceScheduled | S::ConferenceHeld | S::DischargedHome | S::InHomeCare, E::End(_)) => {
            Ok(S::Ended)
        }
        _ => Err(Invalid::one("stage", "err-transition-stage")),
    }
}

/// An inpatient on the hospital's list of those who could go home (DOMAIN.md §6.1). The
/// list is a working tool, so any stage may follow any other; a case opens from `Ready`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateStage {
    Flagged,
    Assessing,
    Ready,
    /// Not now (too ill, family not ready, waiting for a treatment); kept with the why.
    NotNow,
}

impl CandidateStage {
    pub const ALL: [CandidateStage; 4] =
        [CandidateStage::Flagged, CandidateStage::Assessing, CandidateStage::Ready, CandidateStage::NotNow];
    pub fn as_str(self) -> &'static str {
        match self {
            CandidateStage::Flagged => "flagged",
            CandidateStage::Assessing => "assessing",
            CandidateStage::Ready => "ready",
            CandidateStage::NotNow => "not_now",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| Invalid::one("stage", "err-candidate-stage"))
    }
}

/// Who at the hospital answers for a checklist task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerRole {
    /// 主治医
    Attending,
    /// 病棟看護師 (often the discharge-planning nurse)
    WardNurse,
    /// 医療ソーシャルワーカー
    Msw,
    /// 薬剤師
    Pharmacist,
    /// 地域連携室
    LiaisonOffice,
}

impl OwnerRole {
    pub const ALL: [OwnerRole; 5] =
        [OwnerRole::Attending, OwnerRole::WardNurse, OwnerRole::Msw, OwnerRole::Pharmacist, OwnerRole::LiaisonOffice];
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerRole::Attending => "attending",
            OwnerRole::WardNurse => "ward_nurse",
            OwnerRole::Msw => "msw",
            OwnerRole::Pharmacist => "pharmacist",
            OwnerRole::LiaisonOffice => "liaison_office",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| Invalid::one("owner_role", "err-owner-role"))
    }
}

/// One task of the discharge checklist as a template: the case copies it with a real
/// owner and a due date counted back from the planned discharge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TaskTemplate {
    /// Catalogue key of the task's label (and its stable name in the store).
    pub key: &'static str,
    pub owner_role: OwnerRole,
    /// Days before the planned discharge the task is due; 0 is the discharge day.
    pub due_days_before_discharge: i64,
}

/// The checklist a new case starts with (DOMAIN.md §6.2). The offsets follow what has
/// to be in place before what: the home physician first, because the visiting-nurse
/// instruction, the pharmacy and the opioid plan depend on who will prescribe at home;
/// the papers that travel with the patient on the day itself.
pub const DEFAULT_CHECKLIST: &[TaskTemplate] = &[
    TaskTemplate { key: "task-home-physician", owner_role: OwnerRole::LiaisonOffice, due_days_before_discharge: 7 },
    TaskTemplate { key: "task-visiting-nurse", owner_role: OwnerRole::WardNurse, due_days_before_discharge: 5 },
    // Care-insurance services take time to arrange, so the care manager is asked early.
    TaskTemplate { key: "task-care-manager", owner_role: OwnerRole::Msw, due_days_before_discharge: 7 },
    TaskTemplate { key: "task-pharmacy", owner_role: OwnerRole::Pharmacist, due_days_before_discharge: 3 },
    // A bed or oxygen must be at home before the patient is.
    TaskTemplate { key: "task-equipment", owner_role: OwnerRole::Msw, due_days_before_discharge: 3 },
    // The pharmacy needs the regimen in time to stock opioids, which it may not hold.
    TaskTemplate { key: "task-opioid-plan", owner_role: OwnerRole::Attending, due_days_before_discharge: 3 },
    TaskTemplate { key: "task-family-capacity", owner_role: OwnerRole::WardNurse, due_days_before_discharge: 5 },
    TaskTemplate { key: "task-night-contact", owner_role: OwnerRole::WardNurse, due_days_before_discharge: 1 },
    TaskTemplate { key: "task-discharge-summary", owner_role: OwnerRole::Attending, due_days_before_discharge: 0 },
    TaskTemplate { key: "task-conference-sheet", owner_role: OwnerRole::LiaisonOffice, due_days_before_discharge: 0 },
];

/// When a task is due for a discharge planned on `discharge_planned`. Saturates at the
/// ends of the calendar rather than panicking on an absurd offset.
pub fn due_date(discharge_planned: Date, t: &TaskTemplate) -> Date {
    // `Duration::days` itself panics past ~10^14 days; anything beyond the calendar's
    // whole span (under 7.4 million days) lands on its first or last day the same way.
    const CALENDAR_SPAN_DAYS: i64 = 8_000_000;
    let days = t.due_days_before_discharge.clamp(-CALENDAR_SPAN_DAYS, CALENDAR_SPAN_DAYS);
    discharge_planned.saturating_sub(Duration::days(days))
}

/// A clinic that could become the patient's home physician, with what the ranking
/// weighs. Gathered by the caller from the directory, the chart and referral history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhysicianCandidate {
    pub org_id: OrgId,
    pub name: String,
    /// First date the patient saw this clinic, from the chart and referral history.
    pub seen_before: Option<Date>,
    /// From the patient's home; `None` when either location is unknown. Negative or
    /// non-finite values are treated as unknown.
    pub distance_km: Option<f64>,
    pub wished_by_patient_or_family: bool,
    pub support_24h: bool,
    pub palliative_care: bool,
    pub accepts_new_patients: bool,
    pub home_visits: bool,
}

/// Why a candidate is where it is in the list, shown to the person who decides.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Reason {
    /// The patient first saw this clinic on that date.
    SeenBefore(Date),
    /// Distance from the patient's home, rounded to 0.1 km.
    DistanceKm(f64),
    DistanceUnknown,
    Wished,
    Support24h,
    PalliativeExperience,
    /// Stated even for a clinic the patient saw before (which ranks as if accepting):
    /// the person deciding should confirm the clinic will take the patient back.
    NotAcceptingNewPatients,
    NoHomeVisits,
}

/// One line of the proposal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub candidate: PhysicianCandidate,
    /// 1-based.
    pub rank: usize,
    pub reasons: Vec<Reason>,
}

/// Distance in tenths of a kilometre, the precision the ranking compares at: a few
/// hundred metres make no difference to a home physician's round, and comparing rounded
/// values lets the softer criteria decide between clinics that are equally near.
fn distance_tenths(km: Option<f64>) -> Option<u64> {
    match km {
        // `as` saturates; the range check keeps it honest for absurd values anyway.
        Some(d) if d.is_finite() && d >= 0.0 => Some((d * 10.0).round() as u64),
        _ => None,
    }
}

/// The sort key, compared field by field in declaration order (derived `Ord`). Each
/// `bool` is phrased so that `false` is the better value and sorts first.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct RankKey<'a> {
    no_home_visits: bool,
    not_seen_before: bool,
    /// Among clinics seen before, the longest relationship first.
    first_seen: Option<Date>,
    /// Only for clinics not seen before: a returning patient is not a new patient.
    new_patient_refused: bool,
    distance_unknown: bool,
    distance_tenths: Option<u64>,
    not_wished: bool,
    no_support_24h: bool,
    no_palliative: bool,
    name: &'a str,
    /// Last resort, so two clinics of the same name still order the same way whatever
    /// order the caller passed them in.
    org_id: OrgId,
}

fn rank_key(c: &PhysicianCandidate) -> RankKey<'_> {
    let tenths = distance_tenths(c.distance_km);
    RankKey {
        no_home_visits: !c.home_visits,
        not_seen_before: c.seen_before.is_none(),
        first_seen: c.seen_before,
        new_patient_refused: c.seen_before.is_none() && !c.accepts_new_patients,
        distance_unknown: tenths.is_none(),
        distance_tenths: tenths,
        not_wished: !c.wished_by_patient_or_family,
        no_support_24h: !c.support_24h,
        no_palliative: !c.palliative_care,
        name: &c.name,
        org_id: c.org_id,
    }
}

fn compare_candidates(a: &PhysicianCandidate, b: &PhysicianCandidate) -> Ordering {
    rank_key(a).cmp(&rank_key(b))
}

fn reasons(c: &PhysicianCandidate) -> Vec<Reason> {
    let mut out = Vec::new();
    if let Some(d) = c.seen_before {
        out.push(Reason::SeenBefore(d));
    }
    if c.wished_by_patient_or_family {
        out.push(Reason::Wished);
    }
    out.push(match distance_tenths(c.distance_km) {
        Some(t) => Reason::DistanceKm(t as f64 / 10.0),
        None => Reason::DistanceUnknown,
    });
    if c.support_24h {
        out.push(Reason::Support24h);
    }
    if c.palliative_care {
        out.push(Reason::PalliativeExperience);
    }
    if !c.accepts_new_patients {
        out.push(Reason::NotAcceptingNewPatients);
    }
    if !c.home_visits {
        out.push(Reason::NoHomeVisits);
    }
    out
}

/// Rank the clinics that could become the patient's home physician (DOMAIN.md §6.3).
/// Nobody is left out: a person confirms the choice, and seeing why a clinic is low
/// (no home visits, not accepting) is part of the answer.
///
/// The order, each criterion deciding only between candidates equal on all before it:
/// 1. clinics that make home visits before those that do not;
/// 2. clinics the patient saw before first, the earliest first visit first (continuity
///    of care outweighs distance);
/// 3. among clinics not seen before, those accepting new patients first (a clinic the
///    patient saw before counts as accepting: the patient is not new to it);
/// 4. distance from the patient's home, nearest first, compared at 0.1 km; unknown
///    distance after every known one;
/// 5. wished by the patient or family first;
/// 6. 24-hour support first;
/// 7. palliative care experience first;
/// 8. name, in byte order; then the organization id, so the order is total and does not
///    depend on the order of the input.
///
/// Reasons list, in this fixed order, every one that applies: seen before, wished,
/// distance (or unknown), 24-hour support, palliative experience, not accepting new
/// patients, no home visits.
pub fn rank_home_physicians(candidates: Vec<PhysicianCandidate>) -> Vec<Proposal> {
    let mut candidates = candidates;
    candidates.sort_by(compare_candidates);
    candidates
        .into_iter()
        .enumerate()
        .map(|(i, candidate)| Proposal { rank: i + 1, reasons: reasons(&candidate), candidate })
        .collect()
}

/// Great-circle distance in km between two (latitude, longitude) points in degrees
/// (haversine, mean earth radius 6371.0 km). Straight-line, not road distance: enough to
/// rank clinics, and it needs no map service.
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    const EARTH_RADIUS_KM: f64 = 6371.0;
    let (lat1, lon1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lon2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    // Rounding can push h a hair above 1 for antipodal points; sqrt of 1 - h would be NaN.
    let h = h.clamp(0.0, 1.0);
    2.0 * EARTH_RADIUS_KM * h.sqrt().atan2((1.0 - h).sqrt())
}

/// The Japanese fiscal year (年度) a date falls in: April to March, named by the year it
/// starts in. Hospitals and municipalities count discharges and deaths at home by it.
pub fn fiscal_year(d: Date) -> i32 {
    if d.month() >= Month::April { d.year() } else { d.year() - 1 }
}

/// The days of fiscal year `fy`: April 1 (inclusive) to the next April 1 (exclusive),
/// ready for a `start <= d && d < end` query. Years beyond the calendar's range are
/// clamped to its first or last day rather than panicking.
pub fn fiscal_year_range(fy: i32) -> (Date, Date) {
    let april_first =
        |y: i32| Date::from_calendar_date(y, Month::April, 1).unwrap_or(if y < 0 { Date::MIN } else { Date::MAX });
    (april_first(fy), april_first(fy.saturating_add(1)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use time::macros::date;
    use uuid::Uuid;

    // ---- stages -------------------------------------------------------------------

    fn all_events() -> Vec<TransitionEvent> {
        let mut v = vec![
            TransitionEvent::ScheduleConference,
            TransitionEvent::HoldConference,
            TransitionEvent::Discharge,
            TransitionEvent::StartHomeCare,
        ];
        v.extend(EndReason::ALL.into_iter().map(TransitionEvent::End));
        v
    }

    /// The whole table, written out independently of `next_stage`.
    fn expected(stage: TransitionStage, event: TransitionEvent) -> Option<TransitionStage> {
        use TransitionEvent as E;
        use TransitionStage as S;
        match (stage, event) {
            (S::Planning, E::ScheduleConference) => Some(S::ConferenceScheduled),
            (S::ConferenceScheduled, E::ScheduleConference) => Some(S::ConferenceScheduled),
            (S::ConferenceScheduled, E::HoldConference) => Some(S::ConferenceHeld),
            (S::ConferenceHeld, E::Discharge) => Some(S::DischargedHome),
            (S::DischargedHome, E::StartHomeCare) => Some(S::InHomeCare),
            (S::Ended, _) => None,
            (_, E::End(_)) => Some(S::Ended),
            _ => None,
        }
    }

    #[test]
    fn every_stage_and_event_follows_the_table() {
        let mut allowed = 0;
        for s in TransitionStage::ALL {
            for e in all_events() {
                let got = next_stage(s, e);
                match expected(s, e) {
                    Some(to) => {
                        assert_eq!(got, Ok(to), "{} + {}", s.as_str(), e.as_str());
                        allowed += 1;
                    }
                    None => {
                        let err = got.unwrap_err();
                        assert_eq!(err.0.len(), 1);
                        assert_eq!(err.0[0].field, "stage");
                        assert_eq!(err.0[0].key, "err-transition-stage");
                    }
                }
            }
        }
        // 5 forward moves + 4 end reasons from each of the 5 open stages.
        assert_eq!(allowed, 5 + 4 * 5);
    }

    #[test]
    fn allowed_moves_and_one_refusal_per_stage() {
        use TransitionEvent as E;
        use TransitionStage as S;
        assert_eq!(next_stage(S::Planning, E::ScheduleConference), Ok(S::ConferenceScheduled));
        assert!(next_stage(S::Planning, E::Discharge).is_err(), "no discharge without a conference");
        assert_eq!(next_stage(S::ConferenceScheduled, E::ScheduleConference), Ok(S::ConferenceScheduled));
        assert_eq!(next_stage(S::ConferenceScheduled, E::HoldConference), Ok(S::ConferenceHeld));
        assert!(next_stage(S::ConferenceScheduled, E::Discharge).is_err(), "the conference must be held");
        assert_eq!(next_stage(S::ConferenceHeld, E::Discharge), Ok(S::DischargedHome));
        assert!(next_stage(S::ConferenceHeld, E::ScheduleConference).is_err(), "no going back");
        assert_eq!(next_stage(S::DischargedHome, E::StartHomeCare), Ok(S::InHomeCare));
        assert!(next_stage(S::DischargedHome, E::Discharge).is_err());
        assert_eq!(next_stage(S::InHomeCare, E::End(EndReason::Death)), Ok(S::Ended));
        assert!(next_stage(S::InHomeCare, E::StartHomeCare).is_err());
        assert!(next_stage(S::Ended, E::End(EndReason::Other)).is_err(), "ends once");
        assert!(next_stage(S::Ended, E::ScheduleConference).is_err());
        // Death or readmission before discharge.
        assert_eq!(next_stage(S::Planning, E::End(EndReason::Death)), Ok(S::Ended));
        assert_eq!(next_stage(S::ConferenceHeld, E::End(EndReason::Readmission)), Ok(S::Ended));
    }

    #[test]
    fn enums_round_trip_through_their_names() {
        for s in TransitionStage::ALL {
            assert_eq!(TransitionStage::parse(s.as_str()), Ok(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{}\"", s.as_str()));
        }
        for r in EndReason::ALL {
            assert_eq!(EndReason::parse(r.as_str()), Ok(r));
        }
        for c in CandidateStage::ALL {
            assert_eq!(CandidateStage::parse(c.as_str()), Ok(c));
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{}\"", c.as_str()));
        }
        for o in OwnerRole::ALL {
            assert_eq!(OwnerRole::parse(o.as_str()), Ok(o));
        }
        assert_eq!(TransitionStage::parse(" in_home_care "), Ok(TransitionStage::InHomeCare));
        assert_eq!(TransitionStage::parse("home").unwrap_err().0[0].key, "err-transition-stage");
        assert_eq!(EndReason::parse("").unwrap_err().0[0].key, "err-end-reason");
        assert_eq!(CandidateStage::parse("NotNow").unwrap_err().0[0].key, "err-candidate-stage");
        assert_eq!(OwnerRole::parse("doctor").unwrap_err().0[0].key, "err-owner-role");
        assert_eq!(
            [
                TransitionStage::Planning.as_str(),
                TransitionStage::ConferenceScheduled.as_str(),
                TransitionStage::ConferenceHeld.as_str(),
                TransitionStage::DischargedHome.as_str(),
                TransitionStage::InHomeCare.as_str(),
                TransitionStage::Ended.as_str(),
            ],
            ["planning", "conference_scheduled", "conference_held", "discharged_home", "in_home_care", "ended"]
        );
        assert_eq!(CandidateStage::NotNow.as_str(), "not_now");
        assert_eq!(
            serde_json::to_string(&TransitionEvent::End(EndReason::Readmission)).unwrap(),
            r#"{"end":"readmission"}"#
        );
    }

    // ---- checklist ----------------------------------------------------------------

    #[test]
    fn the_default_checklist_has_the_agreed_keys_once_each() {
        let keys: Vec<&str> = DEFAULT_CHECKLIST.iter().map(|t| t.key).collect();
        assert_eq!(
            keys,
            [
                "task-home-physician",
                "task-visiting-nurse",
                "task-care-manager",
                "task-pharmacy",
                "task-equipment",
                "task-opioid-plan",
                "task-family-capacity",
                "task-night-contact",
                "task-discharge-summary",
                "task-conference-sheet",
            ]
        );
        assert!(DEFAULT_CHECKLIST.iter().all(|t| t.due_days_before_discharge >= 0));
        let home_physician = DEFAULT_CHECKLIST.iter().find(|t| t.key == "task-home-physician").unwrap();
        // Nothing is due before the home physician is chosen: everything else depends on it.
        assert!(
            DEFAULT_CHECKLIST.iter().all(|t| t.due_days_before_discharge <= home_physician.due_days_before_discharge)
        );
    }

    #[test]
    fn due_dates_count_back_from_the_planned_discharge() {
        let discharge = date!(2026 - 03 - 03);
        let t = |key| DEFAULT_CHECKLIST.iter().find(|t| t.key == key).unwrap();
        assert_eq!(due_date(discharge, t("task-home-physician")), date!(2026 - 02 - 24));
        assert_eq!(due_date(discharge, t("task-conference-sheet")), discharge);
        assert_eq!(due_date(discharge, t("task-night-contact")), date!(2026 - 03 - 02));
        let after = TaskTemplate { key: "x", owner_role: OwnerRole::WardNurse, due_days_before_discharge: -2 };
        assert_eq!(due_date(discharge, &after), date!(2026 - 03 - 05));
        let absurd = TaskTemplate { key: "x", owner_role: OwnerRole::Msw, due_days_before_discharge: i64::MAX };
        assert_eq!(due_date(discharge, &absurd), Date::MIN);
        let absurd = TaskTemplate { due_days_before_discharge: i64::MIN, ..absurd };
        assert_eq!(due_date(discharge, &absurd), Date::MAX);
    }

    // ---- ranking ------------------------------------------------------------------

    fn org(n: u128) -> OrgId {
        OrgId(Uuid::from_u128(n))
    }

    /// A clinic that does home visits, accepts new patients, was never seen, no extras.
    fn clinic(n: u128, name: &str, km: Option<f64>) -> PhysicianCandidate {
        PhysicianCandidate {
            org_id: org(n),
            name: name.into(),
            seen_before: None,
            distance_km: km,
            wished_by_patient_or_family: false,
            support_24h: false,
            palliative_care: false,
            accepts_new_patients: true,
            home_visits: true,
        }
    }

    fn names(p: &[Proposal]) -> Vec<&str> {
        p.iter().map(|p| p.candidate.name.as_str()).collect()
    }

    #[test]
    fn the_physician_seen_before_comes_first_even_when_farther() {
        let near = clinic(1, "近いクリニック", Some(0.5));
        let known = PhysicianCandidate {
            seen_before: Some(date!(2019 - 05 - 10)),
            ..clinic(2, "かかりつけ医院", Some(25.0))
        };
        let p = rank_home_physicians(vec![near, known]);
        assert_eq!(names(&p), ["かかりつけ医院", "近いクリニック"]);
    }

    #[test]
    fn among_clinics_seen_before_the_earliest_first_visit_wins() {
        let recent = PhysicianCandidate { seen_before: Some(date!(2025 - 01 - 01)), ..clinic(1, "A", Some(1.0)) };
        let old = PhysicianCandidate { seen_before: Some(date!(2010 - 06 - 01)), ..clinic(2, "B", Some(9.0)) };
        let p = rank_home_physicians(vec![recent, old]);
        assert_eq!(names(&p), ["B", "A"]);
    }

    #[test]
    fn otherwise_nearest_first_and_unknown_distance_last() {
        let p = rank_home_physicians(vec![
            clinic(1, "far", Some(12.0)),
            clinic(2, "unknown", None),
            clinic(3, "near", Some(0.8)),
            clinic(4, "middle", Some(4.3)),
            clinic(5, "nan", Some(f64::NAN)),
            clinic(6, "negative", Some(-1.0)),
        ]);
        assert_eq!(names(&p), ["near", "middle", "far", "nan", "negative", "unknown"]);
    }

    #[test]
    fn unknown_distance_loses_even_to_a_far_clinic_with_every_advantage_on_its_side() {
        let unknown = PhysicianCandidate {
            wished_by_patient_or_family: true,
            support_24h: true,
            palliative_care: true,
            ..clinic(1, "A", None)
        };
        let far = clinic(2, "B", Some(80.0));
        assert_eq!(names(&rank_home_physicians(vec![unknown, far])), ["B", "A"]);
    }

    #[test]
    fn each_tie_break_applies_at_equal_rounded_distance() {
        // 2.04 and 1.96 both round to 2.0 km, so distance does not decide.
        let base = |n, name: &str, km| clinic(n, name, Some(km));

        let wished = PhysicianCandidate { wished_by_patient_or_family: true, ..base(1, "Z", 2.04) };
        let h24 = PhysicianCandidate { support_24h: true, palliative_care: true, ..base(2, "A", 1.96) };
        assert_eq!(names(&rank_home_physicians(vec![h24.clone(), wished.clone()])), ["Z", "A"], "wish first");

        let pall = PhysicianCandidate { palliative_care: true, ..base(3, "A", 1.96) };
        let h24 = PhysicianCandidate { support_24h: true, ..base(4, "Z", 2.04) };
        assert_eq!(names(&rank_home_physicians(vec![pall.clone(), h24])), ["Z", "A"], "24h before palliative");

        let plain = base(5, "A", 1.96);
        let pall = PhysicianCandidate { name: "Z".into(), distance_km: Some(2.04), ..pall };
        assert_eq!(names(&rank_home_physicians(vec![plain, pall])), ["Z", "A"], "palliative before plain");

        // Byte order of the UTF-8 name: hiragana (E3 81..) before katakana (E3 82..) before kanji.
        let p = rank_home_physicians(vec![
            base(6, "山田内科", 2.04),
            base(7, "さくら診療所", 1.96),
            base(8, "アオバ在宅クリニック", 2.0),
        ]);
        assert_eq!(names(&p), ["さくら診療所", "アオバ在宅クリニック", "山田内科"], "name last");

        // A real difference in rounded distance beats every softer criterion.
        let nearer = base(9, "Z", 1.94);
        let p = rank_home_physicians(vec![wished, nearer]);
        assert_eq!(names(&p), ["Z", "Z"]);
        assert_eq!(p[0].candidate.org_id, org(9));
    }

    #[test]
    fn same_name_falls_back_to_the_org_id() {
        let a = clinic(2, "同名", Some(3.0));
        let b = clinic(1, "同名", Some(3.0));
        let p = rank_home_physicians(vec![a.clone(), b.clone()]);
        let q = rank_home_physicians(vec![b, a]);
        assert_eq!(p, q);
        assert_eq!(p[0].candidate.org_id, org(1));
    }

    #[test]
    fn not_accepting_goes_after_accepting_unless_the_patient_was_seen_there() {
        let closed = PhysicianCandidate { accepts_new_patients: false, ..clinic(1, "closed", Some(0.3)) };
        let open_far = clinic(2, "open", Some(30.0));
        assert_eq!(names(&rank_home_physicians(vec![closed.clone(), open_far.clone()])), ["open", "closed"]);

        // The patient is not new to a clinic they saw: it still ranks first.
        let known_closed = PhysicianCandidate { seen_before: Some(date!(2020 - 02 - 02)), ..closed.clone() };
        let p = rank_home_physicians(vec![open_far.clone(), known_closed]);
        assert_eq!(names(&p), ["closed", "open"]);
        assert!(p[0].reasons.contains(&Reason::NotAcceptingNewPatients), "still shown, to be confirmed");

        // Two seen-before clinics: the first visit date decides, not acceptance.
        let known_open = PhysicianCandidate { seen_before: Some(date!(2021 - 01 - 01)), ..open_far };
        let known_closed = PhysicianCandidate { seen_before: Some(date!(2020 - 02 - 02)), ..closed };
        assert_eq!(names(&rank_home_physicians(vec![known_open, known_closed])), ["closed", "open"]);
    }

    #[test]
    fn clinics_without_home_visits_are_kept_but_last() {
        let office = PhysicianCandidate {
            home_visits: false,
            seen_before: Some(date!(2001 - 01 - 01)),
            wished_by_patient_or_family: true,
            ..clinic(1, "外来のみ", Some(0.1))
        };
        let closed = PhysicianCandidate { accepts_new_patients: false, ..clinic(2, "満床", None) };
        let p = rank_home_physicians(vec![office, closed]);
        assert_eq!(names(&p), ["満床", "外来のみ"]);
        assert_eq!(p[1].reasons.last(), Some(&Reason::NoHomeVisits));
    }

    #[test]
    fn reasons_list_everything_that_applies_in_a_fixed_order() {
        let all = PhysicianCandidate {
            seen_before: Some(date!(2018 - 04 - 01)),
            distance_km: Some(3.1234),
            wished_by_patient_or_family: true,
            support_24h: true,
            palliative_care: true,
            accepts_new_patients: false,
            home_visits: false,
            ..clinic(1, "全部", None)
        };
        let p = rank_home_physicians(vec![all]);
        assert_eq!(
            p[0].reasons,
            [
                Reason::SeenBefore(date!(2018 - 04 - 01)),
                Reason::Wished,
                Reason::DistanceKm(3.1),
                Reason::Support24h,
                Reason::PalliativeExperience,
                Reason::NotAcceptingNewPatients,
                Reason::NoHomeVisits,
            ]
        );
        let none = rank_home_physicians(vec![clinic(2, "素", None)]);
        assert_eq!(none[0].reasons, [Reason::DistanceUnknown]);
        let rounded = rank_home_physicians(vec![clinic(3, "丸め", Some(2.96))]);
        assert_eq!(rounded[0].reasons, [Reason::DistanceKm(3.0)]);
        let json = serde_json::to_string(&Reason::SeenBefore(date!(2018 - 04 - 01))).unwrap();
        assert_eq!(json, r#"{"kind":"seen_before","value":"2018-04-01"}"#);
        assert_eq!(serde_json::to_string(&Reason::Support24h).unwrap(), r#"{"kind":"support24h"}"#);
    }

    #[test]
    fn ranks_run_from_one_to_n_and_empty_input_is_empty() {
        assert!(rank_home_physicians(Vec::new()).is_empty());
        let p = rank_home_physicians((1..=5).map(|n| clinic(n, "c", Some(n as f64))).collect());
        assert_eq!(p.iter().map(|p| p.rank).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    }

    #[test]
    fn a_realistic_list() {
        let p = rank_home_physicians(vec![
            PhysicianCandidate { support_24h: true, palliative_care: true, ..clinic(1, "みどり内科", Some(3.2)) },
            PhysicianCandidate {
                seen_before: Some(date!(2015 - 09 - 01)),
                ..clinic(2, "鶴岡ファミリークリニック", Some(11.0))
            },
            PhysicianCandidate { wished_by_patient_or_family: true, ..clinic(3, "庄内在宅診療所", Some(6.7)) },
            PhysicianCandidate { accepts_new_patients: false, ..clinic(4, "さくら医院", Some(1.0)) },
            PhysicianCandidate { home_visits: false, ..clinic(5, "駅前クリニック", Some(0.4)) },
            clinic(6, "住所不明の診療所", None),
        ]);
        assert_eq!(
            names(&p),
            [
                "鶴岡ファミリークリニック",
                "みどり内科",
                "庄内在宅診療所",
                "住所不明の診療所",
                "さくら医院",
                "駅前クリニック"
            ]
        );
    }

    #[test]
    fn haversine_matches_a_known_distance() {
        let tokyo = (35.681236, 139.767125);
        let osaka = (34.702485, 135.495951);
        let d = distance_km(tokyo, osaka);
        assert!((d - 403.0).abs() < 2.0, "{d}");
        assert!((distance_km(osaka, tokyo) - d).abs() < 1e-9, "symmetric");
        assert_eq!(distance_km(tokyo, tokyo), 0.0);
        // Antipodes: half the circumference, and no NaN from rounding.
        let half = distance_km((0.0, 0.0), (0.0, 180.0));
        assert!((half - std::f64::consts::PI * 6371.0).abs() < 1e-6, "{half}");
    }

    // ---- fiscal year --------------------------------------------------------------

    #[test]
    fn fiscal_year_turns_on_april_first() {
        assert_eq!(fiscal_year(date!(2026 - 03 - 31)), 2025);
        assert_eq!(fiscal_year(date!(2026 - 04 - 01)), 2026);
        assert_eq!(fiscal_year(date!(2026 - 01 - 01)), 2025);
        assert_eq!(fiscal_year(date!(2026 - 12 - 31)), 2026);
        assert_eq!(fiscal_year_range(2025), (date!(2025 - 04 - 01), date!(2026 - 04 - 01)));
        let (start, end) = fiscal_year_range(2026);
        for d in [start, date!(2026 - 12 - 31), date!(2027 - 03 - 31)] {
            assert_eq!(fiscal_year(d), 2026);
            assert!(start <= d && d < end);
        }
        assert_eq!(fiscal_year(end), 2027);
        assert_eq!(fiscal_year(start.previous_day().unwrap()), 2025);
        // Outside the calendar's range: clamped, not a panic.
        assert_eq!(fiscal_year_range(i32::MAX), (Date::MAX, Date::MAX));
        assert_eq!(fiscal_year_range(i32::MIN).0, Date::MIN);
    }

    // ---- properties ---------------------------------------------------------------

    use proptest::prelude::*;

    fn candidate_strategy(n: u128) -> impl Strategy<Value = PhysicianCandidate> {
        let names = prop::sample::select(vec!["A", "B", "さくら", "みどり内科", "山田"]);
        let seen = prop::option::of((0i64..4000).prop_map(|d| date!(2010 - 01 - 01) + Duration::days(d)));
        // Few distinct distances, so ties after rounding are common; NaN and negatives too.
        let km = prop_oneof![
            Just(None),
            Just(Some(f64::NAN)),
            Just(Some(-3.0)),
            (0u32..40).prop_map(|t| Some(f64::from(t) / 10.0 + 0.02)),
        ];
        (names, seen, km, any::<[bool; 5]>()).prop_map(move |(name, seen_before, distance_km, b)| PhysicianCandidate {
            org_id: org(n),
            name: name.into(),
            seen_before,
            distance_km,
            wished_by_patient_or_family: b[0],
            support_24h: b[1],
            palliative_care: b[2],
            accepts_new_patients: b[3],
            home_visits: b[4],
        })
    }

    fn candidates_and_a_shuffle() -> impl Strategy<Value = (Vec<PhysicianCandidate>, Vec<PhysicianCandidate>)> {
        (0usize..12)
            .prop_flat_map(|len| (0..len).map(|i| candidate_strategy(i as u128 + 1)).collect::<Vec<_>>())
            .prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle()))
    }

    fn ids(p: &[Proposal]) -> Vec<OrgId> {
        p.iter().map(|p| p.candidate.org_id).collect()
    }

    proptest! {
        #[test]
        fn ranking_is_a_deterministic_permutation((input, shuffled) in candidates_and_a_shuffle()) {
            let a = rank_home_physicians(input.clone());
            let b = rank_home_physicians(shuffled);
            prop_assert_eq!(ids(&a), ids(&b));
            prop_assert_eq!(a.iter().map(|p| p.rank).collect::<Vec<_>>(), (1..=input.len()).collect::<Vec<_>>());
            let mut got = ids(&a);
            got.sort();
            let mut want: Vec<OrgId> = input.iter().map(|c| c.org_id).collect();
            want.sort();
            prop_assert_eq!(got, want);
            for w in a.windows(2) {
                prop_assert!(compare_candidates(&w[0].candidate, &w[1].candidate) == Ordering::Less);
                // Home visits and previous contact dominate everything after them.
                prop_assert!(w[0].candidate.home_visits >= w[1].candidate.home_visits);
                if w[0].candidate.home_visits == w[1].candidate.home_visits {
                    prop_assert!(w[0].candidate.seen_before.is_some() >= w[1].candidate.seen_before.is_some());
                }
            }
        }
    }
}
