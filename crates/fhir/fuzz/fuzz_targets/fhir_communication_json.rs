//! The body of `POST [base]/Communication`: JSON parsed and read as a message to a
//! patient's team. A refusal must carry at least one error and no warning-only list; an
//! acceptance a patient id, a non-blank text within the chart's limit and only warnings.
//! Any panic is a bug.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tsunagu_fhir::communication_in::{MAX_MESSAGE_CHARS, parse_communication_json};
use tsunagu_fhir::outcome::{Severity, has_errors, operation_outcome};

fuzz_target!(|bytes: &[u8]| {
    match parse_communication_json(bytes) {
        Ok(m) => {
            assert!(m.warnings.iter().all(|w| w.severity == Severity::Warning), "{:?}", m.warnings);
            assert!(!m.patient_id.is_empty());
            assert!(!m.text.trim().is_empty());
            assert!(m.text.chars().count() <= MAX_MESSAGE_CHARS);
        }
        Err(e) => {
            assert!(has_errors(&e.issues), "refused without an error: {e:?}");
            let _ = operation_outcome(&e.issues);
        }
    }
});
