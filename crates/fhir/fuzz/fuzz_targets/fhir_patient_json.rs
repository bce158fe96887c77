//! The body of `POST`/`PUT [base]/Patient`: JSON parsed, read as a JP Core Patient, and
//! either handed on to the registration form or turned into an OperationOutcome. A
//! refusal must carry at least one error; an acceptance must carry none. Any panic is a
//! bug.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tsunagu_fhir::outcome::{Severity, has_errors};
use tsunagu_fhir::patient_in::parse_patient_json;

fuzz_target!(|bytes: &[u8]| {
    match parse_patient_json(bytes) {
        Ok(patient) => {
            assert!(patient.warnings.iter().all(|w| w.severity == Severity::Warning));
            assert!(!patient.family_kanji.is_empty());
            let _ = patient.to_form(Some("1311234567"));
            for id in &patient.identifiers {
                let _ = id.institution_code();
            }
        }
        Err(e) => {
            assert!(has_errors(&e.issues), "refused without an error: {e:?}");
            let _ = e.to_outcome();
        }
    }
});
