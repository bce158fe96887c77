//! Advance care planning and the death record (issue #6, acceptance 1; DOMAIN.md §7-§8):
//! each change of the wishes is a new dated version and the history stays; the death
//! record is compared with the wish in force before death, whichever order things were
//! written in; the database refuses to rewrite either.

use crate::harness::*;
use time::Duration;

fn wish<'a>(version: &'a str, on: &'a str, place_of_death: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("version", version),
        ("discussed_on", on),
        ("patient_present", "on"),
        ("family_present", "on"),
        ("preferred_place_of_care", "home"),
        ("preferred_place_of_death", place_of_death),
        ("resuscitation", "dnar"),
        ("ceiling_of_treatment", "点滴と酸素まで。挿管はしない。"),
        ("surrogate", "長男 山田 一郎"),
        ("what_matters", "孫の顔を見ること"),
        ("key_contacts", "長男 090-3412-7781"),
        ("note", "本人・長男と面談"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wishes_keep_every_version_and_the_death_is_compared_with_the_one_in_force() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let suzuki = app.signin(SUZUKI).await;
    let acp = format!("/patients/{yamada}/acp");

    // Three conversations: home, then the palliative care unit, then home again.
    for (v, on, place) in
        [("0", "2026-09-01", "home"), ("1", "2026-10-15", "palliative_care_unit"), ("2", "2026-11-10", "home")]
    {
        let r = suzuki.post(&acp, &wish(v, on, place)).await;
        assert_eq!(r.status, 303, "version after {v}: {}", r.body);
    }
    let page = suzuki.get(&acp).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body.matches("data-version=").count(), 3, "three versions kept");
    assert!(page.text().contains(&msg("ja", "field-preferred-place-of-death")));
    // A change made from an old version is refused and changes nothing.
    let r = suzuki.post(&acp, &wish("1", "2026-11-12", "hospital")).await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains(&msg("ja", "err-stale-version")));
    // Nobody present, or a conversation in the future: refused with the reason.
    let mut nobody = wish("3", "2026-11-12", "hospital");
    nobody.retain(|(k, _)| *k != "patient_present" && *k != "family_present");
    let r = suzuki.post(&acp, &nobody).await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains(&msg("ja", "err-acp-nobody-present")));
    let r = suzuki.post(&acp, &wish("3", "2026-12-01", "hospital")).await;
    assert!(r.text().contains(&msg("ja", "err-date-future")));
    let mut c = app.raw_conn().await;
    let n: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM acp_versions WHERE patient_id = $1")
        .bind(yamada.to_string())
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(n.0, 3);

    // She died on 2026-11-05 in the palliative care unit: the wish in force then was the
    // October one (the November conversation came after), so it matched.
    let r = suzuki
        .post(
            &format!("/patients/{yamada}/death"),
            &[("version", "0"), ("died_on", "2026-11-05"), ("place", "palliative_care_unit"), ("team_present", "")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = suzuki.get(&acp).await;
    assert!(page.text().contains(&msg("ja", "death-matched")), "{}", page.body);

    // The date was wrong: she died on 2026-11-12, after the last conversation (home).
    // A correction needs a reason, and is a new version.
    let r = suzuki
        .post(
            &format!("/patients/{yamada}/death"),
            &[
                ("version", "1"),
                ("died_on", "2026-11-12"),
                ("place", "palliative_care_unit"),
                ("team_present", ""),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains(&msg("ja", "err-correction-reason")));
    let r = suzuki
        .post(
            &format!("/patients/{yamada}/death"),
            &[
                ("version", "1"),
                ("died_on", "2026-11-12"),
                ("place", "palliative_care_unit"),
                ("team_present", "訪問看護師 高橋"),
                ("reason", "死亡日の誤記"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = suzuki.get(&acp).await;
    assert!(page.text().contains(&msg("ja", "death-not-matched")), "{}", page.body);
    let deaths: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM death_records WHERE patient_id = $1")
        .bind(yamada.to_string())
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(deaths.0, 2, "the first record is kept");

    // Another member of the team reads it; every write is audited; nothing is rewritten.
    let takahashi = app.signin(TAKAHASHI).await;
    assert!(takahashi.get(&acp).await.text().contains("孫の顔を見ること"));
    let rows = app.store.audit_recent(None, 200).await.unwrap();
    let mine = |a: &str| {
        rows.iter().filter(|r| r.action == a && r.patient_id.as_deref() == Some(yamada.to_string().as_str())).count()
    };
    assert_eq!(mine("acp.record"), 3);
    assert_eq!(mine("death.record"), 2);
    for sql in ["UPDATE acp_versions SET body = '{}'", "DELETE FROM acp_versions", "DELETE FROM death_records"] {
        assert!(sqlx::query(sql).execute(&mut c).await.is_err(), "{sql} is refused");
    }
    // An outsider cannot record anything.
    let kobayashi = app.signin(KOBAYASHI).await;
    assert_eq!(kobayashi.post(&acp, &wish("3", "2026-11-20", "hospital")).await.status, 404);
    app.clock.advance(Duration::minutes(1));
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_urgent_care_summary_has_what_the_night_needs_on_one_page() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let suzuki = app.signin(SUZUKI).await;
    let r = suzuki.post(&format!("/patients/{yamada}/acp"), &wish("0", "2026-11-10", "home")).await;
    assert_eq!(r.status, 303);

    let page = suzuki.get(&format!("/patients/{yamada}/urgent")).await;
    assert_eq!(page.status, 200);
    let text = page.text();
    for expected in [
        "山田",
        &msg("ja", "resuscitation-dnar"),
        "挿管はしない",
        "ロキソプロフェン", // allergy, from the hospital's referral
        "膵頭部癌",         // diagnosis, from the same letter
        "090-4512-7730",    // the home-care clinic's night line
        "山田 一郎",        // the key person
    ] {
        assert!(text.contains(expected), "the summary lacks {expected}");
    }
    let rows = app.audit_of_request(&page.request_id()).await;
    assert!(rows.iter().any(|a| a.action == "urgent.read" && a.outcome == "allowed"));

    let pdf = suzuki.client.get(app.at(&format!("/patients/{yamada}/urgent.pdf"))).send().await.unwrap();
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let text = pdftotext(&pdf.bytes().await.unwrap()).replace(' ', "");
    for expected in ["緊急時サマリー", "山田", "DNAR", "090-4512-7730", "ロキソプロフェン"] {
        assert!(text.contains(expected), "the PDF lacks {expected}:\n{text}");
    }
    // Outside the team: the same answer as for a patient who does not exist.
    let kobayashi = app.signin(KOBAYASHI).await;
    assert_eq!(kobayashi.get(&format!("/patients/{yamada}/urgent")).await.status, 404);
    app.finish().await;
}
