//! Organizations of a region and their institution codes.

use crate::validation::Invalid;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The kinds of organization that care for a patient together (DOMAIN.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    Hospital,
    Clinic,
    VisitingNurseStation,
    CareFacility,
    CareManagerOffice,
    Pharmacy,
    SupportCentre,
    MedicalAssociation,
}

impl OrgKind {
    pub const ALL: [OrgKind; 8] = [
        OrgKind::Hospital,
        OrgKind::Clinic,
        OrgKind::VisitingNurseStation,
        OrgKind::CareFacility,
        OrgKind::CareManagerOffice,
        OrgKind::Pharmacy,
        OrgKind::SupportCentre,
        OrgKind::MedicalAssociation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::Hospital => "hospital",
            OrgKind::Clinic => "clinic",
            OrgKind::VisitingNurseStation => "visiting_nurse_station",
            OrgKind::CareFacility => "care_facility",
            OrgKind::CareManagerOffice => "care_manager_office",
            OrgKind::Pharmacy => "pharmacy",
            OrgKind::SupportCentre => "support_centre",
            OrgKind::MedicalAssociation => "medical_association",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL.into_iter().find(|k| k.as_str() == s.trim()).ok_or_else(|| Invalid::one("kind", "err-org-kind"))
    }
}

impl fmt::Display for OrgKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A 10-digit code: 2-digit prefecture (01-47), 1-digit fee-schedule number
/// (1 medical, 3 dental, 4 pharmacy, 6 visiting nursing; 7 for long-term-care
/// providers), then 7 digits. Codes under the health-insurance fee schedules end in a
/// check digit computed (Luhn, weights 2-1 from the right) over all ten digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InstitutionCode(String);

impl InstitutionCode {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let s: String = crate::kana::fold_width(raw.trim()).chars().filter(|c| *c != '-' && *c != ' ').collect();
        let bad = || Invalid::one("code", "err-institution-code");
        if s.len() != 10 || !s.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
        let pref = digits.first().copied().unwrap_or(0) * 10 + digits.get(1).copied().unwrap_or(0);
        if !(1..=47).contains(&pref) {
            return Err(bad());
        }
        let schedule = digits.get(2).copied().unwrap_or(0);
        if matches!(schedule, 1 | 3 | 4 | 6) && !luhn_valid(&digits) {
            return Err(bad());
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The check digit that makes the first nine digits a valid code (for seeding).
    pub fn check_digit(first_nine: &str) -> Option<u32> {
        let mut d: Vec<u32> = first_nine.chars().map(|c| c.to_digit(10)).collect::<Option<_>>()?;
        if d.len() != 9 {
            return None;
        }
        d.push(0);
        (0..10).find(|c| {
            if let Some(last) = d.last_mut() {
                *last = *c;
            }
            luhn_valid(&d)
        })
    }
}

fn luhn_valid(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                let x = d * 2;
                x / 10 + x % 10
            } else {
                *d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

impl TryFrom<String> for InstitutionCode {
    type Error = Invalid;
    fn try_from(s: String) -> Result<Self, Invalid> {
        Self::parse(&s)
    }
}

impl From<InstitutionCode> for String {
    fn from(c: InstitutionCode) -> String {
        c.0
    }
}

impl fmt::Display for InstitutionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an organization can do for a patient at home; the directory and the
/// home-physician proposal read these.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub home_visits: bool,
    pub support_24h: bool,
    pub palliative_care: bool,
    pub opioid_dispensing: bool,
    pub accepts_new_patients: bool,
}

/// Organization approval by the network operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgStatus {
    Pending,
    Approved,
    Suspended,
}

impl OrgStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrgStatus::Pending => "pending",
            OrgStatus::Approved => "approved",
            OrgStatus::Suspended => "suspended",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "approved" => Some(Self::Approved),
            "suspended" => Some(Self::Suspended),
            _ => None,
        }
    }
}

/// Latitude and longitude in degrees (WGS84), validated to the ranges Japan could need.
pub fn parse_coordinates(lat: &str, lon: &str) -> Result<Option<(f64, f64)>, Invalid> {
    let (lat, lon) = (crate::kana::fold_width(lat.trim()), crate::kana::fold_width(lon.trim()));
    if lat.is_empty() && lon.is_empty() {
        return Ok(None);
    }
    let la: f64 = lat.parse().map_err(|_| Invalid::one("lat", "err-coordinates"))?;
    let lo: f64 = lon.parse().map_err(|_| Invalid::one("lon", "err-coordinates"))?;
    if !(-90.0..=90.0).contains(&la) || !(-180.0..=180.0).contains(&lo) {
        return Err(Invalid::one("lat", "err-coordinates"));
    }
    Ok(Some((la, lo)))
}

/// A location typed as latitude and longitude: both empty is no location; otherwise
/// both must be numbers in range (an error on `field`).
pub fn parse_location(field: &'static str, lat: &str, lon: &str) -> Result<Option<(f64, f64)>, Invalid> {
    match (lat.trim(), lon.trim()) {
        ("", "") => Ok(None),
        (a, b) => match (a.parse::<f64>(), b.parse::<f64>()) {
            (Ok(lat), Ok(lon)) if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) => {
                Ok(Some((lat, lon)))
            }
            _ => Err(Invalid::one(field, "err-location")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_example_code_is_valid() {
        assert!(InstitutionCode::parse("0110113719").is_ok());
        assert!(InstitutionCode::parse("０１１０１１３７１９").is_ok());
        assert!(InstitutionCode::parse("0110113718").is_err());
    }

    #[test]
    fn malformed_codes_are_refused() {
        for bad in ["", "123", "01101137190", "011011371a", "4810113719", "0010113719"] {
            assert!(InstitutionCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn check_digit_completes_a_code() {
        let d = InstitutionCode::check_digit("061012345").unwrap();
        assert!(InstitutionCode::parse(&format!("061012345{d}")).is_ok());
    }

    #[test]
    fn long_term_care_codes_have_no_check_digit() {
        assert!(InstitutionCode::parse("0670100123").is_ok());
    }

    #[test]
    fn kinds_round_trip() {
        for k in OrgKind::ALL {
            assert_eq!(OrgKind::parse(k.as_str()).unwrap(), k);
        }
        assert!(OrgKind::parse("spa").is_err());
    }
}
