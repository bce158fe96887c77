//! What the chart accepts (DOMAIN.md §5): vital signs within bedside ranges with the
//! blood pressure in order, notes that say something; bad input comes back on the
//! page with the message in the user's language, status 422 and nothing written.
//! Opioids on a medication list are flagged from the drug name.

use crate::chart::{Api, article, assert_saved};
use crate::harness::*;
use serde_json::json;

/// A form as (name, value) pairs.
type Form = Vec<(&'static str, &'static str)>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_entries_come_back_with_the_message_and_write_nothing() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let chart = format!("/patients/{yamada}");
    let entries_path = format!("{chart}/entries");
    let takahashi = app.signin(TAKAHASHI).await;
    let api = Api::new(&app, TAKAHASHI).await;
    // The chart may already hold entries (the demo course): ours come after them.
    let initial = api.entries(yamada).await.len();
    app.clock.advance(time::Duration::minutes(1));
    let vitals = |extra: &[(&'static str, &'static str)]| {
        let mut f = vec![("kind", "vital_signs"), ("pulse_bpm", "80"), ("spo2", "96")];
        f.extend_from_slice(extra);
        f
    };

    // (what, form, field label key, message key, a typed value the form must keep)
    let cases: Vec<(&str, Form, &str, &str, &str)> = vec![
        (
            "temperature 368 (36.8 without the point)",
            vitals(&[("temperature_c", "368")]),
            "field-temperature-c",
            "err-out-of-range",
            "value=\"368\"",
        ),
        (
            "diastolic not below systolic",
            vitals(&[("temperature_c", "36.8"), ("bp_systolic", "120"), ("bp_diastolic", "130")]),
            "field-bp-diastolic",
            "err-bp-order",
            "value=\"130\"",
        ),
        (
            "diastolic equal to systolic",
            vitals(&[("bp_systolic", "110"), ("bp_diastolic", "110")]),
            "field-bp-diastolic",
            "err-bp-order",
            "value=\"110\"",
        ),
        (
            "an empty SOAP note",
            vec![
                ("kind", "progress_note"),
                ("subjective", "  "),
                ("objective", ""),
                ("assessment", "\u{3000}"),
                ("plan", ""),
                ("text", " \n "),
            ],
            "field-text",
            "err-note-empty",
            "",
        ),
        (
            "an empty nursing record",
            vec![("kind", "nursing_record"), ("text", "   ")],
            "field-text",
            "err-required",
            "",
        ),
    ];
    for (what, form, label, key, kept) in &cases {
        let before = api.entries(yamada).await.len();
        let r = takahashi.post(&entries_path, form).await;
        assert_eq!(r.status, 422, "{what}: {}", r.body);
        assert!(r.header("content-type").starts_with("text/html"), "{what}");
        let text = r.text();
        assert!(text.contains("id=\"form-errors\""), "{what}: the page lists the errors");
        assert!(text.contains(&msg("ja", key)), "{what}: no {key} message:\n{}", r.body);
        assert!(text.contains(&format!("<strong>{}</strong>", msg("ja", label))), "{what}: the field is named");
        assert!(r.body.contains(kept), "{what}: the form keeps what was typed ({kept})");
        r.assert_no_leak(what);
        assert_eq!(api.entries(yamada).await.len(), before, "{what}: something was written");
    }

    // In English after the switch.
    takahashi.set_lang("en").await;
    let r = takahashi.post(&entries_path, &vitals(&[("temperature_c", "368")])).await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains(&msg("en", "err-out-of-range")), "{}", r.body);
    assert!(!r.text().contains(&msg("ja", "err-out-of-range")));
    takahashi.set_lang("ja").await;

    // The API says the same as a problem, and writes nothing either.
    let r = api
        .post(
            &format!("/api/v1{chart}/entries"),
            &json!({"body": {"kind": "vital_signs", "temperature_c": 368.0, "bp_systolic": 120, "bp_diastolic": 130}}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.header("content-type").starts_with("application/problem+json"));
    let errors = r.json()["errors"].clone();
    let has = |field: &str, key: &str| {
        errors.as_array().unwrap().iter().any(|e| e["field"] == field && e["message"] == msg("ja", key).as_str())
    };
    assert!(has("temperature_c", "err-out-of-range") && has("bp_diastolic", "err-bp-order"), "{errors}");
    assert_eq!(api.entries(yamada).await.len(), initial, "nothing was written by any bad input");

    // The edges of the ranges are accepted, in full-width digits too.
    let r = takahashi
        .post(&entries_path, &vitals(&[("temperature_c", "４３"), ("bp_systolic", "90"), ("bp_diastolic", "89")]))
        .await;
    assert_saved(&r, yamada, "vitals at the edges of the ranges");
    let newest = &api.entries(yamada).await[0];
    assert_eq!(newest["author_id"], app.user(TAKAHASHI).await.id.to_string());
    assert_eq!(newest["body"]["temperature_c"], 43.0);
    app.clock.advance(time::Duration::minutes(1));

    // A medication list: the opioid is flagged from its name, the laxative is not.
    let r = takahashi
        .post(
            &entries_path,
            &[
                ("kind", "medication_list"),
                ("drug_0", "オキシコンチンTR錠 10mg"),
                ("dose_0", "1錠"),
                ("route_0", "経口"),
                ("frequency_0", "1日2回 12時間毎"),
                ("start_0", "2026-11-20"),
                ("drug_1", "酸化マグネシウム錠 330mg"),
                ("dose_1", "2錠"),
                ("route_1", "経口"),
                ("frequency_1", "1日3回 毎食後"),
            ],
        )
        .await;
    assert_saved(&r, yamada, "the medication list");
    let entries = api.entries(yamada).await;
    let meds = &entries[0];
    assert_eq!(meds["kind"], "medication_list");
    let items = meds["body"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "empty rows are not items: {items:?}");
    assert_eq!((items[0]["opioid"].as_bool(), items[1]["opioid"].as_bool()), (Some(true), Some(false)), "{items:?}");
    let page = takahashi.get(&chart).await;
    let card = article(&page.body, meds["entry_id"].as_str().unwrap());
    let tag = format!("<span class=\"tag opioid-tag\">{}</span>", msg("ja", "med-opioid"));
    let row_of = |drug: &str| {
        let at = card.find(drug).unwrap_or_else(|| panic!("{drug} is not shown:\n{card}"));
        let start = card[..at].rfind("<tr").unwrap();
        card[start..at + card[at..].find("</tr>").unwrap()].to_string()
    };
    assert!(row_of("オキシコンチンTR錠").contains(&tag), "the opioid is tagged:\n{card}");
    assert!(!row_of("酸化マグネシウム錠").contains("opioid"), "the laxative is not:\n{card}");

    // A medication list with no drug at all is refused like the rest.
    let before = api.entries(yamada).await.len();
    let r = takahashi.post(&entries_path, &[("kind", "medication_list"), ("dose_0", "1錠")]).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(api.entries(yamada).await.len(), before);
    app.finish().await;
}
