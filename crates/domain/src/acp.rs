//! Advance care planning (DOMAIN.md §7) and the death record (§8): what the patient
//! wishes, kept as dated versions (wishes change, and the history matters), and the
//! comparison the region reports: did the patient die where they last said they wanted
//! to, before they died?

use crate::validation::Invalid;
use serde::{Deserialize, Serialize};
use time::Date;

/// A place of care or of death.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    Home,
    Hospital,
    PalliativeCareUnit,
    CareFacility,
    Undecided,
}

impl Place {
    pub const ALL: [Place; 5] =
        [Place::Home, Place::Hospital, Place::PalliativeCareUnit, Place::CareFacility, Place::Undecided];
    pub fn as_str(self) -> &'static str {
        match self {
            Place::Home => "home",
            Place::Hospital => "hospital",
            Place::PalliativeCareUnit => "palliative_care_unit",
            Place::CareFacility => "care_facility",
            Place::Undecided => "undecided",
        }
    }
    pub fn parse(field: &'static str, s: &str) -> Result<Self, Invalid> {
        Self::ALL.into_iter().find(|p| p.as_str() == s.trim()).ok_or_else(|| Invalid::one(field, "err-place"))
    }
}

/// The resuscitation decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resuscitation {
    /// Attempt cardiopulmonary resuscitation.
    Attempt,
    /// Do not attempt resuscitation (DNAR).
    Dnar,
    Undecided,
}

impl Resuscitation {
    pub const ALL: [Resuscitation; 3] = [Resuscitation::Attempt, Resuscitation::Dnar, Resuscitation::Undecided];
    pub fn as_str(self) -> &'static str {
        match self {
            Resuscitation::Attempt => "attempt",
            Resuscitation::Dnar => "dnar",
            Resuscitation::Undecided => "undecided",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| Invalid::one("resuscitation", "err-resuscitation"))
    }
}

/// One conversation's record of the patient's wishes. Each change is a new version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcpRecord {
    /// The day of the conversation (not of typing it in).
    pub discussed_on: Date,
    pub patient_present: bool,
    pub family_present: bool,
    pub preferred_place_of_care: Place,
    pub preferred_place_of_death: Place,
    pub resuscitation: Resuscitation,
    #[serde(default)]
    pub ceiling_of_treatment: String,
    #[serde(default)]
    pub surrogate: String,
    #[serde(default)]
    pub what_matters: String,
    #[serde(default)]
    pub key_contacts: String,
    /// How the conversation went, in the recorder's words.
    #[serde(default)]
    pub note: String,
}

impl AcpRecord {
    /// Text fields within their limits, and a conversation not in the future.
    pub fn check(self, today: Date) -> Result<Self, Invalid> {
        let mut inv = Invalid::default();
        if self.discussed_on > today {
            inv.push("discussed_on", "err-date-future");
        }
        for (field, text) in [
            ("ceiling_of_treatment", &self.ceiling_of_treatment),
            ("surrogate", &self.surrogate),
            ("what_matters", &self.what_matters),
            ("key_contacts", &self.key_contacts),
            ("note", &self.note),
        ] {
            if text.chars().count() > 2000 {
                inv.push(field, "err-too-long");
            }
        }
        if !self.patient_present && !self.family_present {
            // A wish recorded with neither the patient nor the family is hearsay.
            inv.push("present", "err-acp-nobody-present");
        }
        inv.into_result().map(|()| self)
    }
}

/// Where a patient died.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeathRecord {
    pub died_on: Date,
    /// Never `Undecided`.
    pub place: Place,
    /// Who of the team was there (free text: "訪問看護師 高橋、在宅医 鈴木").
    #[serde(default)]
    pub team_present: String,
}

impl DeathRecord {
    pub fn check(self, today: Date) -> Result<Self, Invalid> {
        let mut inv = Invalid::default();
        if self.died_on > today {
            inv.push("died_on", "err-date-future");
        }
        if self.place == Place::Undecided {
            inv.push("place", "err-place");
        }
        if self.team_present.chars().count() > 500 {
            inv.push("team_present", "err-too-long");
        }
        inv.into_result().map(|()| self)
    }
}

/// The wish in force at death: of the versions (in the order they were recorded),
/// the latest conversation held on or before the day of death; a later one (a
/// conversation recorded after the death, a correction of the date) does not count.
/// Between conversations on the same day, the one recorded last.
pub fn in_force_at(versions: &[AcpRecord], died_on: Date) -> Option<&AcpRecord> {
    versions
        .iter()
        .enumerate()
        .filter(|(_, v)| v.discussed_on <= died_on)
        .max_by_key(|(i, v)| (v.discussed_on, *i))
        .map(|(_, v)| v)
}

/// Did the patient die at the preferred place? `None` when no wish was recorded before
/// death, or the wish was undecided: the region reports those apart, not as misses.
pub fn died_where_wished(versions: &[AcpRecord], death: &DeathRecord) -> Option<bool> {
    let wish = in_force_at(versions, death.died_on)?.preferred_place_of_death;
    if wish == Place::Undecided { None } else { Some(wish == death.place) }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use time::macros::date;

    fn wish(on: Date, death: Place) -> AcpRecord {
        AcpRecord {
            discussed_on: on,
            patient_present: true,
            family_present: false,
            preferred_place_of_care: Place::Home,
            preferred_place_of_death: death,
            resuscitation: Resuscitation::Dnar,
            ceiling_of_treatment: String::new(),
            surrogate: String::new(),
            what_matters: String::new(),
            key_contacts: String::new(),
            note: String::new(),
        }
    }

    fn death(on: Date, place: Place) -> DeathRecord {
        DeathRecord { died_on: on, place, team_present: String::new() }
    }

    #[test]
    fn the_wish_in_force_is_the_last_conversation_on_or_before_the_death() {
        let v = vec![
            wish(date!(2026 - 09 - 01), Place::Home),
            wish(date!(2026 - 10 - 15), Place::PalliativeCareUnit),
            // Recorded after the death (a late entry): does not count.
            wish(date!(2026 - 11 - 05), Place::Hospital),
        ];
        let d = death(date!(2026 - 11 - 01), Place::PalliativeCareUnit);
        assert_eq!(in_force_at(&v, d.died_on).unwrap().preferred_place_of_death, Place::PalliativeCareUnit);
        assert_eq!(died_where_wished(&v, &d), Some(true));
        // Dying at home, against the wish then in force, is a miss, even though an
        // older wish was home.
        assert_eq!(died_where_wished(&v, &death(date!(2026 - 11 - 01), Place::Home)), Some(false));
        // Before the second conversation, the first was in force.
        assert_eq!(died_where_wished(&v, &death(date!(2026 - 10 - 14), Place::Home)), Some(true));
        // On the day of a conversation, that conversation counts.
        assert_eq!(died_where_wished(&v, &death(date!(2026 - 10 - 15), Place::Home)), Some(false));
        // Before any conversation: nothing to compare with.
        assert_eq!(died_where_wished(&v, &death(date!(2026 - 08 - 31), Place::Home)), None);
    }

    #[test]
    fn versions_entered_out_of_order_still_pick_the_latest_conversation() {
        let v = vec![wish(date!(2026 - 10 - 15), Place::Home), wish(date!(2026 - 09 - 01), Place::Hospital)];
        assert_eq!(in_force_at(&v, date!(2026 - 11 - 01)).unwrap().preferred_place_of_death, Place::Home);
        // Two conversations on one day: the one recorded last.
        let v = vec![wish(date!(2026 - 10 - 15), Place::Home), wish(date!(2026 - 10 - 15), Place::Hospital)];
        assert_eq!(in_force_at(&v, date!(2026 - 10 - 15)).unwrap().preferred_place_of_death, Place::Hospital);
    }

    #[test]
    fn an_undecided_wish_is_neither_a_match_nor_a_miss() {
        let v = vec![wish(date!(2026 - 09 - 01), Place::Undecided)];
        assert_eq!(died_where_wished(&v, &death(date!(2026 - 11 - 01), Place::Home)), None);
    }

    #[test]
    fn records_are_checked() {
        let today = date!(2026 - 11 - 24);
        assert!(wish(date!(2026 - 11 - 25), Place::Home).check(today).is_err(), "a conversation in the future");
        let mut nobody = wish(today, Place::Home);
        nobody.patient_present = false;
        assert_eq!(nobody.check(today).unwrap_err().0[0].key, "err-acp-nobody-present");
        assert!(death(today, Place::Undecided).check(today).is_err());
        assert!(death(date!(2026 - 11 - 25), Place::Home).check(today).is_err());
        assert!(death(today, Place::Home).check(today).is_ok());
        for p in Place::ALL {
            assert_eq!(Place::parse("place", p.as_str()).unwrap(), p);
        }
        assert!(Resuscitation::parse("full").is_err());
    }
}
