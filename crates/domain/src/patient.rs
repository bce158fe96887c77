//! The patient registry's values: names in kanji and kana, sex, birth date, contacts.

use crate::kana;
use crate::validation::{Invalid, optional_phone, optional_text, required_text};
use serde::{Deserialize, Serialize};
use time::Date;

/// Administrative sex as recorded at registration (the FHIR value set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
    Other,
    Unknown,
}

impl Sex {
    pub const ALL: [Sex; 4] = [Sex::Male, Sex::Female, Sex::Other, Sex::Unknown];
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
            Sex::Other => "other",
            Sex::Unknown => "unknown",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL.into_iter().find(|x| x.as_str() == s.trim()).ok_or_else(|| Invalid::one("sex", "err-sex"))
    }
}

/// A birth date: a real calendar date, not in the future, not before 1880.
pub fn parse_birth_date(raw: &str, today: Date) -> Result<Date, Invalid> {
    let s = kana::fold_width(raw.trim()).replace('/', "-");
    if s.is_empty() {
        return Err(Invalid::one("birth_date", "err-required"));
    }
    let date = parse_iso_date(&s).ok_or_else(|| Invalid::one("birth_date", "err-date"))?;
    if date > today {
        return Err(Invalid::one("birth_date", "err-birth-date-future"));
    }
    if date.year() < 1880 {
        return Err(Invalid::one("birth_date", "err-date"));
    }
    Ok(date)
}

/// YYYY-MM-DD (month and day may have one digit).
pub fn parse_iso_date(s: &str) -> Option<Date> {
    let mut it = s.split('-');
    let y: i32 = it.next()?.parse().ok()?;
    let m: u8 = it.next()?.parse().ok()?;
    let d: u8 = it.next()?.parse().ok()?;
    if it.next().is_some() {
        return None;
    }
    Date::from_calendar_date(y, time::Month::try_from(m).ok()?, d).ok()
}

/// The registration form as typed, before it is trusted.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PatientForm {
    #[serde(default)]
    pub family_name: String,
    #[serde(default)]
    pub given_name: String,
    #[serde(default)]
    pub family_kana: String,
    #[serde(default)]
    pub given_kana: String,
    #[serde(default)]
    pub sex: String,
    #[serde(default)]
    pub birth_date: String,
    #[serde(default)]
    pub postal_code: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub local_id: String,
}

/// A patient ready to register: every field checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewPatient {
    pub family_name: String,
    pub given_name: String,
    pub family_kana: String,
    pub given_kana: String,
    pub sex: Sex,
    pub birth_date: Date,
    pub postal_code: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub local_id: Option<String>,
}

impl NewPatient {
    /// Search key over the whole kana name, see [`kana::search_key`].
    pub fn kana_key(&self) -> String {
        kana::search_key(&format!("{}{}", self.family_kana, self.given_kana))
    }
    /// Search key over the kanji name (spaces removed, widths folded).
    pub fn name_key(&self) -> String {
        kana::search_key(&format!("{}{}", self.family_name, self.given_name))
    }

    pub fn parse(f: &PatientForm, today: Date) -> Result<Self, Invalid> {
        let mut inv = Invalid::default();
        let family_name = inv.merge(required_text("family_name", &f.family_name, 50));
        let given_name = inv.merge(required_text("given_name", &f.given_name, 50));
        let family_kana = inv.merge(parse_kana("family_kana", &f.family_kana));
        let given_kana = inv.merge(parse_kana("given_kana", &f.given_kana));
        let sex = inv.merge(Sex::parse(&f.sex));
        let birth_date = inv.merge(parse_birth_date(&f.birth_date, today));
        let postal_code = inv.merge(parse_postal_code(&f.postal_code));
        let address = inv.merge(optional_text("address", &f.address, 200));
        let phone = inv.merge(optional_phone("phone", &f.phone));
        let local_id = inv.merge(parse_local_id(&f.local_id));
        match (family_name, given_name, family_kana, given_kana, sex, birth_date, postal_code, address, phone, local_id)
        {
            (
                Some(family_name),
                Some(given_name),
                Some(family_kana),
                Some(given_kana),
                Some(sex),
                Some(birth_date),
                Some(postal_code),
                Some(address),
                Some(phone),
                Some(local_id),
            ) if inv.is_empty() => Ok(Self {
                family_name,
                given_name,
                family_kana,
                given_kana,
                sex,
                birth_date,
                postal_code,
                address,
                phone,
                local_id,
            }),
            _ => Err(inv),
        }
    }
}

/// A kana name part: required, only kana, stored as full-width katakana.
pub fn parse_kana(field: &'static str, raw: &str) -> Result<String, Invalid> {
    if raw.trim().is_empty() {
        return Err(Invalid::one(field, "err-kana-required"));
    }
    if !kana::is_kana_text(raw) {
        return Err(Invalid::one(field, "err-kana"));
    }
    let n = kana::normalize_kana_name(raw);
    if n.chars().count() > 50 {
        return Err(Invalid::one(field, "err-too-long"));
    }
    Ok(n)
}

/// Japanese postal code: 7 digits, shown as 123-4567.
pub fn parse_postal_code(raw: &str) -> Result<Option<String>, Invalid> {
    let s: String = kana::fold_width(raw.trim()).chars().filter(|c| *c != '-' && *c != '〒').collect();
    if s.is_empty() {
        return Ok(None);
    }
    if s.len() != 7 || !s.chars().all(|c| c.is_ascii_digit()) {
        return Err(Invalid::one("postal_code", "err-postal-code"));
    }
    Ok(Some(format!("{}-{}", s.get(..3).unwrap_or(""), s.get(3..).unwrap_or(""))))
}

/// An organization's own patient number (カルテ番号): letters, digits and hyphens.
pub fn parse_local_id(raw: &str) -> Result<Option<String>, Invalid> {
    let s = kana::fold_width(raw.trim());
    if s.is_empty() {
        return Ok(None);
    }
    if s.len() > 40 || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(Invalid::one("local_id", "err-local-id"));
    }
    Ok(Some(s))
}

/// A key person: family member or other contact, with relation and phone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyPerson {
    pub name: String,
    pub relation: String,
    pub phone: Option<String>,
    pub note: Option<String>,
}

impl KeyPerson {
    pub fn parse(name: &str, relation: &str, phone: &str, note: &str) -> Result<Self, Invalid> {
        let mut inv = Invalid::default();
        let name = inv.merge(required_text("name", name, 60));
        let relation = inv.merge(required_text("relation", relation, 30));
        let phone = inv.merge(optional_phone("phone", phone));
        let note = inv.merge(optional_text("note", note, 200));
        match (name, relation, phone, note) {
            (Some(name), Some(relation), Some(phone), Some(note)) if inv.is_empty() => {
                Ok(Self { name, relation, phone, note })
            }
            _ => Err(inv),
        }
    }
}

/// The role an organization plays on a patient's care team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TeamRole {
    /// The registering organization, which owns the chart.
    Owner,
    HospitalAttending,
    HomePhysician,
    VisitingNurse,
    CareManager,
    Pharmacy,
    PalliativeCareTeam,
    CareFacility,
    Dentist,
    Rehabilitation,
    Liaison,
    Other,
}

impl TeamRole {
    pub const ALL: [TeamRole; 12] = [
        TeamRole::Owner,
        TeamRole::HospitalAttending,
        TeamRole::HomePhysician,
        TeamRole::VisitingNurse,
        TeamRole::CareManager,
        TeamRole::Pharmacy,
        TeamRole::PalliativeCareTeam,
        TeamRole::CareFacility,
        TeamRole::Dentist,
        TeamRole::Rehabilitation,
        TeamRole::Liaison,
        TeamRole::Other,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            TeamRole::Owner => "owner",
            TeamRole::HospitalAttending => "hospital_attending",
            TeamRole::HomePhysician => "home_physician",
            TeamRole::VisitingNurse => "visiting_nurse",
            TeamRole::CareManager => "care_manager",
            TeamRole::Pharmacy => "pharmacy",
            TeamRole::PalliativeCareTeam => "palliative_care_team",
            TeamRole::CareFacility => "care_facility",
            TeamRole::Dentist => "dentist",
            TeamRole::Rehabilitation => "rehabilitation",
            TeamRole::Liaison => "liaison",
            TeamRole::Other => "other",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL.into_iter().find(|x| x.as_str() == s.trim()).ok_or_else(|| Invalid::one("role", "err-team-role"))
    }
}

/// The patient's agreement to regional sharing, as last recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentStatus {
    NotRecorded,
    Given,
    Withdrawn,
}

impl ConsentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentStatus::NotRecorded => "not_recorded",
            ConsentStatus::Given => "given",
            ConsentStatus::Withdrawn => "withdrawn",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s.trim() {
            "not_recorded" => Ok(Self::NotRecorded),
            "given" => Ok(Self::Given),
            "withdrawn" => Ok(Self::Withdrawn),
            _ => Err(Invalid::one("status", "err-consent-status")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn form() -> PatientForm {
        PatientForm {
            family_name: "山田".into(),
            given_name: "花子".into(),
            family_kana: "ﾔﾏﾀﾞ".into(),
            given_kana: "はなこ".into(),
            sex: "female".into(),
            birth_date: "1940/3/2".into(),
            postal_code: "９９７００３５".into(),
            address: "山形県鶴岡市馬場町".into(),
            phone: "0235-22-1234".into(),
            local_id: "H-0001".into(),
        }
    }

    #[test]
    fn a_good_form_becomes_a_patient() {
        let p = NewPatient::parse(&form(), date!(2026 - 11 - 24)).unwrap();
        assert_eq!(p.family_kana, "ヤマダ");
        assert_eq!(p.given_kana, "ハナコ");
        assert_eq!(p.birth_date, date!(1940 - 03 - 02));
        assert_eq!(p.postal_code.as_deref(), Some("997-0035"));
        assert_eq!(p.kana_key(), "ヤマダハナコ");
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let f = PatientForm {
            family_kana: "".into(),
            given_kana: "Hanako".into(),
            birth_date: "2030-01-01".into(),
            sex: "x".into(),
            ..form()
        };
        let e = NewPatient::parse(&f, date!(2026 - 11 - 24)).unwrap_err();
        let keys: Vec<_> = e.0.iter().map(|e| (e.field, e.key)).collect();
        assert!(keys.contains(&("family_kana", "err-kana-required")));
        assert!(keys.contains(&("given_kana", "err-kana")));
        assert!(keys.contains(&("birth_date", "err-birth-date-future")));
        assert!(keys.contains(&("sex", "err-sex")));
    }

    #[test]
    fn impossible_dates_are_refused() {
        let today = date!(2026 - 11 - 24);
        assert!(parse_birth_date("1940-02-30", today).is_err());
        assert!(parse_birth_date("yesterday", today).is_err());
        assert!(parse_birth_date("2026-11-24", today).is_ok());
        assert!(parse_birth_date("2026-11-25", today).is_err());
    }
}
