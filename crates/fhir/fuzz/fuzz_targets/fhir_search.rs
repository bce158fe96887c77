//! The query string of a FHIR search, as a client sends it: parsed against the Patient
//! and Observation parameter tables with both handlings. A parsed search must render a
//! self link that parses back to the same request; a refused one must turn into an
//! OperationOutcome. The same bytes also go through the header parsers (`Prefer`,
//! `If-Match`) and, when short, the date parser. Any panic or failed assertion is a bug.

#![no_main]

use libfuzzer_sys::fuzz_target;
use time::{OffsetDateTime, UtcOffset};
use tsunagu_fhir::etag::{format_etag, parse_if_match};
use tsunagu_fhir::search::{
    Handling, OBSERVATION_PARAMS, PATIENT_PARAMS, PATIENT_REVINCLUDE, SearchOptions, SearchSpec, parse_date_range,
    parse_prefer_handling, parse_search,
};

fuzz_target!(|bytes: &[u8]| {
    let text = String::from_utf8_lossy(bytes);
    let now = OffsetDateTime::from_unix_timestamp(1_796_000_000).unwrap();
    let specs = [
        SearchSpec { resource_type: "Patient", params: PATIENT_PARAMS, revinclude: PATIENT_REVINCLUDE },
        SearchSpec { resource_type: "Observation", params: OBSERVATION_PARAMS, revinclude: &[] },
    ];
    for spec in &specs {
        for handling in [Handling::Lenient, Handling::Strict] {
            let opts = SearchOptions::new(handling, 100, now);
            match parse_search(&text, spec, &opts) {
                Ok(mut request) => {
                    if handling == Handling::Strict {
                        assert!(request.unknown.is_empty(), "strict handling ignored {:?}", request.unknown);
                    }
                    let _ = request.warnings();
                    request.unknown.clear();
                    let link = request.to_query();
                    let strict = SearchOptions::new(Handling::Strict, 100, now);
                    let again = parse_search(&link, spec, &strict);
                    if again.as_ref() != Ok(&request) {
                        // Short: a failing input can be kilobytes long.
                        let head: String = link.chars().take(300).collect();
                        panic!(
                            "the self link ({} bytes, {head:?}...) parses to {:?}",
                            link.len(),
                            again.map(|r| r.params.len())
                        );
                    }
                }
                Err(e) => {
                    assert!(e.to_string().chars().count() < 600, "diagnostic too long: {e}");
                    let _ = e.to_outcome();
                }
            }
        }
    }
    let _ = parse_prefer_handling(Some(&text));
    if let Ok(v) = parse_if_match(&text) {
        assert_eq!(parse_if_match(&format_etag(v)), Ok(v));
    }
    if text.len() <= 48 {
        let _ = parse_date_range(&text, UtcOffset::UTC);
    }
});
