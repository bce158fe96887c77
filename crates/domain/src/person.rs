//! Professions and the people who sign in.

use crate::validation::Invalid;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profession {
    Physician,
    Dentist,
    Nurse,
    Pharmacist,
    CareManager,
    MedicalSocialWorker,
    PhysicalTherapist,
    OccupationalTherapist,
    SpeechTherapist,
    Dietitian,
    CareWorker,
    Clerk,
}

impl Profession {
    pub const ALL: [Profession; 12] = [
        Profession::Physician,
        Profession::Dentist,
        Profession::Nurse,
        Profession::Pharmacist,
        Profession::CareManager,
        Profession::MedicalSocialWorker,
        Profession::PhysicalTherapist,
        Profession::OccupationalTherapist,
        Profession::SpeechTherapist,
        Profession::Dietitian,
        Profession::CareWorker,
        Profession::Clerk,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Profession::Physician => "physician",
            Profession::Dentist => "dentist",
            Profession::Nurse => "nurse",
            Profession::Pharmacist => "pharmacist",
            Profession::CareManager => "care_manager",
            Profession::MedicalSocialWorker => "msw",
            Profession::PhysicalTherapist => "physical_therapist",
            Profession::OccupationalTherapist => "occupational_therapist",
            Profession::SpeechTherapist => "speech_therapist",
            Profession::Dietitian => "dietitian",
            Profession::CareWorker => "care_worker",
            Profession::Clerk => "clerk",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s.trim())
            .ok_or_else(|| Invalid::one("profession", "err-profession"))
    }
}

/// An e-mail address used as the sign-in name; stored lower-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let s = crate::kana::fold_width(raw.trim()).to_lowercase();
        let bad = || Invalid::one("email", "err-email");
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        if local.is_empty()
            || domain.is_empty()
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || s.len() > 254
            || s.chars().any(|c| c.is_whitespace() || c.is_control() || !c.is_ascii())
            || domain.contains('@')
        {
            return Err(bad());
        }
        Ok(Self(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The minimum the MHLW guideline asks of a password we store (hashed): length.
pub fn check_new_password(pw: &str) -> Result<(), Invalid> {
    let n = pw.chars().count();
    if n < 10 {
        return Err(Invalid::one("password", "err-password-short"));
    }
    if n > 256 {
        return Err(Invalid::one("password", "err-too-long"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn professions_round_trip_and_unknown_is_refused() {
        for p in Profession::ALL {
            assert_eq!(Profession::parse(p.as_str()).unwrap(), p);
        }
        assert_eq!(Profession::parse("wizard").unwrap_err().0[0].key, "err-profession");
    }

    #[test]
    fn emails() {
        assert_eq!(Email::parse(" Dr.Sato@Example.JP ").unwrap().as_str(), "dr.sato@example.jp");
        for bad in ["", "a", "a@b", "@b.jp", "a b@c.jp", "a@.jp", "a@b.jp."] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}
