//! One file of an SS-MIX2 storage, as the importer reads it: decoded with detection and with
//! each character set forced, parsed, and every typed extractor run. Also the free-standing
//! parsers (timestamps, reference ranges) on the same input. Any panic is a bug.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tsunagu_hl7::decode::{Charset, decode, decode_as};
use tsunagu_hl7::model::ReferenceRange;
use tsunagu_hl7::{Hl7Timestamp, parse};

fuzz_target!(|bytes: &[u8]| {
    for charset in [Charset::Iso2022Jp, Charset::ShiftJis, Charset::Utf8] {
        for decoded in [decode(bytes, charset), decode_as(bytes, charset)] {
            let Ok(text) = decoded else { continue };
            if let Ok(message) = parse(&text) {
                let _ = message.header();
                let _ = message.patient();
                let _ = message.lab_results();
                let _ = message.prescriptions();
                for segment in message.segments() {
                    for n in 0..segment.field_count().saturating_add(1) {
                        let _ = segment.get(n, 1, 1, 1);
                    }
                }
            }
            if text.len() < 64 {
                let _ = Hl7Timestamp::parse(&text);
                let _ = ReferenceRange::parse(&text);
            }
        }
    }
});
