//! The letter as a FHIR document: its shape pinned by a snapshot, its rules checked
//! here, and its structure checked by an independent validator (PyPI fhir.resources,
//! FHIR R4 models), which `scripts/test` installs and names in TSUNAGU_FHIR_VALIDATOR.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use serde_json::Value;
use std::collections::HashSet;
use std::process::Command;
use tsunagu_domain::letter::{LetterBody, LetterKind};
use tsunagu_domain::patient::Sex;
use tsunagu_fhir::{AttachmentInfo, LetterDocument, OrgInfo, PatientInfo, PersonInfo, letter_bundle};

fn body(kind: LetterKind, fields: &[(&str, &str)]) -> LetterBody {
    let mut b = LetterBody::empty(kind);
    for (k, v) in fields {
        b.set(k, (*v).to_string()).unwrap();
    }
    b
}

fn full_referral() -> LetterBody {
    body(
        LetterKind::Referral,
        &[
            ("purpose", "在宅緩和ケアのお願い"),
            ("diagnoses", "膵頭部癌（肝転移）\n2型糖尿病"),
            ("chief_complaint", "背部痛"),
            ("present_illness", "2026年8月に閉塞性黄疸で発症。"),
            ("past_history", "虫垂炎（20歳）"),
            ("allergies", "ロキソプロフェン（蕁麻疹）"),
            ("infections", "なし"),
            ("family_history", "母: 胃癌"),
            ("social_history", "長男夫婦と同居"),
            ("medications", "オキシコドン徐放錠 10mg 1日2回\nマグミット 330mg 1日3回"),
            ("lab_results", "T-Bil 2.1 mg/dL（11/20）"),
            ("clinical_course", "疼痛はNRS 2〜3で推移。"),
            ("care_policy", "自宅での看取りを希望。"),
            ("devices", "胆管ステント"),
            ("advance_directive", "心肺蘇生を希望しない（11/18 本人・長男と確認）"),
            ("remarks", "<script>alert('x')</script> & よろしくお願いします"),
        ],
    )
}

fn document<'a>(
    body: &'a LetterBody,
    attachments: Vec<AttachmentInfo>,
    in_reply_to: Option<&str>,
) -> LetterDocument<'a> {
    LetterDocument {
        letter_id: "0b0e7c4e-3f4a-4c59-9a59-2c7b9a1d0001".into(),
        version: 2,
        issued_at: "2026-11-24T01:30:00Z".into(),
        body,
        in_reply_to: in_reply_to.map(Into::into),
        patient: PatientInfo {
            id: "5a0c2f4e-1111-4c59-9a59-2c7b9a1d0002".into(),
            family_name: "山田".into(),
            given_name: "花子".into(),
            family_kana: "ヤマダ".into(),
            given_kana: "ハナコ".into(),
            sex: Sex::Female,
            birth_date: "1940-03-02".into(),
            postal_code: Some("998-0044".into()),
            address: Some("山形県つなぐ市中町1-2-3".into()),
            phone: Some("0234-22-0000".into()),
            local_ids: vec![(Some("0610111115".into()), "H-000123".into()), (None, "X-1".into())],
        },
        author: PersonInfo {
            id: "7c1d2e3f-2222-4c59-9a59-2c7b9a1d0003".into(),
            name: "佐藤 健一".into(),
            name_kana: "サトウ ケンイチ".into(),
            profession: "physician".into(),
        },
        author_org: OrgInfo {
            id: "8d2e3f40-3333-4c59-9a59-2c7b9a1d0004".into(),
            name: "つなぐ市立総合病院".into(),
            institution_code: Some("0610111115".into()),
            postal_code: Some("998-0001".into()),
            address: Some("山形県つなぐ市本町1-1".into()),
            phone: Some("0234-22-1111".into()),
        },
        recipient_org: OrgInfo {
            id: "9e3f4051-4444-4c59-9a59-2c7b9a1d0005".into(),
            name: "みどり在宅クリニック".into(),
            institution_code: None,
            postal_code: None,
            address: None,
            phone: None,
        },
        recipient_person: Some("鈴木 誠 先生".into()),
        attachments,
    }
}

fn discharge_summary() -> AttachmentInfo {
    AttachmentInfo {
        entry_id: "a1".into(),
        title: "退院時サマリー".into(),
        doc_type: "discharge_summary".into(),
        media_type: "application/pdf".into(),
        size: 1234,
        sha256_hex: "ab".repeat(32),
        url: "https://tsunagu.example.jp/api/v1/patients/5a0c2f4e-1111-4c59-9a59-2c7b9a1d0002/attachments/f1".into(),
        created_at: "2026-11-20T05:00:00Z".into(),
    }
}

fn codes(sections: &Value) -> Vec<String> {
    sections
        .as_array()
        .map(|a| a.iter().map(|s| s["code"]["coding"][0]["code"].as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn structured(b: &Value) -> Value {
    b["entry"][0]["resource"]["section"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"]["coding"][0]["code"] == "300")
        .unwrap()["section"]
        .clone()
}

fn run_validator(bundle: &Value, name: &str) -> std::process::Output {
    let validator = std::env::var("TSUNAGU_FHIR_VALIDATOR").unwrap_or_else(|_| {
        panic!(
            "TSUNAGU_FHIR_VALIDATOR is not set: run scripts/test (or `. scripts/lib/fhir.sh; ensure_fhir_validator`)"
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_vec_pretty(bundle).unwrap()).unwrap();
    let mut parts = validator.split_whitespace();
    Command::new(parts.next().unwrap()).args(parts).arg(&path).output().unwrap()
}

/// The oracle is no rubber stamp: broken documents are refused.
#[test]
fn the_validator_refuses_broken_documents() {
    let b = full_referral();
    let good = letter_bundle(&document(&b, vec![], None));
    let mut bad_gender = good.clone();
    bad_gender["entry"][1]["resource"]["gender"] = "woman".into();
    let mut empty_section = good.clone();
    empty_section["entry"][0]["resource"]["section"][0].as_object_mut().unwrap().remove("text");
    empty_section["entry"][0]["resource"]["section"][0].as_object_mut().unwrap().remove("entry");
    let mut bad_date = good.clone();
    bad_date["entry"][1]["resource"]["birthDate"] = "1940/03/02".into();
    let mut dangling = good.clone();
    dangling["entry"][0]["resource"]["subject"]["reference"] = "urn:uuid:00000000-0000-0000-0000-000000000000".into();
    for (name, bundle) in
        [("bad-gender", bad_gender), ("bad-date", bad_date), ("empty-section", empty_section), ("dangling", dangling)]
    {
        let out = run_validator(&bundle, name);
        assert!(!out.status.success(), "{name} was accepted: {}", String::from_utf8_lossy(&out.stdout));
    }
}

fn validate(bundle: &Value, name: &str) {
    let out = run_validator(bundle, name);
    assert!(
        out.status.success(),
        "{name} refused by the validator:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_full_referral_has_every_section_and_is_pinned() {
    let b = full_referral();
    let bundle = letter_bundle(&document(&b, vec![discharge_summary()], None));
    let comp = &bundle["entry"][0]["resource"];
    assert_eq!(comp["resourceType"], "Composition");
    assert_eq!(comp["type"]["coding"][0]["system"], "http://loinc.org");
    assert_eq!(comp["type"]["coding"][0]["code"], "57133-1");
    assert_eq!(codes(&comp["section"]), ["910", "920", "300", "210", "220"]);
    assert_eq!(
        codes(&structured(&bundle)),
        ["950", "340", "360", "370", "510", "520", "550", "640", "430", "620", "330", "420", "810", "410"]
    );
    insta::assert_json_snapshot!("full_referral", bundle);
}

#[test]
fn optional_sections_are_left_out_when_empty() {
    let b = body(
        LetterKind::Referral,
        &[("purpose", "在宅緩和ケア"), ("diagnoses", "膵癌"), ("present_illness", "黄疸で発症")],
    );
    let bundle = letter_bundle(&document(&b, vec![], None));
    assert_eq!(codes(&bundle["entry"][0]["resource"]["section"]), ["910", "920", "300"]);
    assert_eq!(codes(&structured(&bundle)), ["950", "340", "360"]);
    let kinds: Vec<&str> =
        bundle["entry"].as_array().unwrap().iter().map(|e| e["resource"]["resourceType"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["Composition", "Patient", "Practitioner", "Organization", "Organization", "Condition"]);
}

#[test]
fn text_is_escaped_references_resolve_and_output_is_deterministic() {
    let b = full_referral();
    let one = letter_bundle(&document(&b, vec![discharge_summary()], None));
    let two = letter_bundle(&document(&b, vec![discharge_summary()], None));
    assert_eq!(one, two, "the same letter exports the same bundle");
    let s = one.to_string();
    assert!(!s.contains("<script>"), "narrative is escaped");
    assert!(s.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; よろしく"));
    let urls: HashSet<String> =
        one["entry"].as_array().unwrap().iter().map(|e| e["fullUrl"].as_str().unwrap().to_string()).collect();
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("reference") {
                    out.push(r.clone());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&one, &mut all);
    assert!(all.len() > 10);
    for r in all {
        assert!(urls.contains(&r), "{r} does not resolve");
    }
    // JP Core: kanji and kana names, the institution-scoped patient number.
    let patient = &one["entry"][1]["resource"];
    assert_eq!(patient["name"][0]["extension"][0]["valueCode"], "IDE");
    assert_eq!(patient["name"][1]["extension"][0]["valueCode"], "SYL");
    assert_eq!(patient["name"][1]["family"], "ヤマダ");
    assert_eq!(patient["identifier"][1]["system"], "urn:oid:1.2.392.100495.20.3.51.10610111115");
    assert_eq!(patient["identifier"][1]["value"], "H-000123");
    assert_eq!(
        patient["identifier"].as_array().unwrap().len(),
        2,
        "a local id without an institution code is left out"
    );
    // The discharge summary travels as LOINC 18842-5.
    let docref = one["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["resourceType"] == "DocumentReference")
        .unwrap();
    assert_eq!(docref["type"]["coding"][0]["code"], "18842-5");
}

#[test]
fn every_kind_of_letter_passes_the_independent_validator() {
    let full = full_referral();
    validate(&letter_bundle(&document(&full, vec![discharge_summary()], None)), "full-referral");
    let minimal =
        body(LetterKind::Referral, &[("purpose", "在宅緩和ケア"), ("diagnoses", "膵癌"), ("present_illness", "黄疸")]);
    validate(&letter_bundle(&document(&minimal, vec![], None)), "minimal-referral");
    let reply = body(LetterKind::Reply, &[("body", "ご紹介ありがとうございました。"), ("diagnoses", "膵癌")]);
    let bundle = letter_bundle(&document(&reply, vec![], Some("0b0e7c4e-3f4a-4c59-9a59-2c7b9a1d0009")));
    assert_eq!(bundle["entry"][0]["resource"]["relatesTo"][0]["code"], "appends");
    validate(&bundle, "reply");
    let instruction = body(
        LetterKind::NursingInstruction,
        &[
            ("period_from", "2026-12-01"),
            ("period_to", "2027-05-31"),
            ("diagnoses", "膵癌"),
            ("instructions", "疼痛評価"),
            ("emergency_contact", "0234-22-1234"),
        ],
    );
    let bundle = letter_bundle(&document(&instruction, vec![], None));
    assert_eq!(bundle["entry"][0]["resource"]["type"]["coding"][0]["code"], "18776-5");
    validate(&bundle, "nursing-instruction");
}
