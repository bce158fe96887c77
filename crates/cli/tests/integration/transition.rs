//! From hospital to home (issue #5, DOMAIN.md §6), driven through the pages as the
//! hospital's staff do it: flag a candidate, open the case when discharge is decided,
//! take the ranked proposal, hold the conference with its sheet, discharge; afterwards
//! the home physician, visiting nurse and care manager are on the team and read the
//! sheet and the summary. Checklist tasks past due reach their owner's inbox, and done
//! and reopened are events that keep who and when.

use crate::harness::*;
use time::Duration;
use tsunagu_domain::PatientId;
use tsunagu_domain::patient::TeamRole;
use tsunagu_domain::policy::ChartAction;
use tsunagu_store::AuditCtx;

const HAYASHI: &str = "hayashi@sakura.example.jp";
const ITO: &str = "ito@hidamari.example.jp";

/// A new inpatient of the hospital, with consent to share, no one else on the team.
async fn new_inpatient(sato: &Session) -> PatientId {
    let r = sato
        .post(
            "/patients",
            &[
                ("family_name", "退院"),
                ("given_name", "太郎"),
                ("family_kana", "タイイン"),
                ("given_kana", "タロウ"),
                ("sex", "male"),
                ("birth_date", "1941-06-15"),
                ("postal_code", "997-0015"),
                ("address", "山形県つなぐ市末広町2-1"),
                ("phone", ""),
                ("local_id", "H-777001"),
                ("confirm_new", "on"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let pid: PatientId = r.location().trim_start_matches("/patients/").parse().unwrap();
    let r = sato
        .post(&format!("/patients/{pid}/consent"), &[("status", "given"), ("obtained_by", "本人"), ("note", "")])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    pid
}

fn ids_in_order(body: &str, attr: &str) -> Vec<String> {
    body.split(&format!("{attr}=\"")).skip(1).map(|s| s.split('"').next().unwrap().to_string()).collect()
}

/// The current fiscal year's column of the figures page: (stat, value).
async fn fy_stats(s: &Session) -> Vec<(String, i64)> {
    let page = s.get("/transitions/stats").await;
    assert_eq!(page.status, 200);
    ["candidates", "cases", "conferences", "discharges"]
        .iter()
        .map(|stat| {
            let first = page.body.split(&format!("data-stat=\"{stat}\">")).nth(1).unwrap();
            (stat.to_string(), first.split('<').next().unwrap().parse().unwrap())
        })
        .collect()
}

async fn actions(app: &TestApp, pid: PatientId) -> Vec<String> {
    app.store
        .audit_recent(None, 500)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.patient_id.as_deref() == Some(pid.to_string().as_str()) && a.outcome == "allowed")
        .map(|a| a.action)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_candidate_to_home_the_community_team_receives_the_chart() {
    let app = TestApp::start().await;
    let sato = app.signin(SATO).await;
    let pid = new_inpatient(&sato).await;
    let chart = format!("/patients/{pid}/transition");
    let before = fy_stats(&sato).await;
    let sakura = app.org_of(HAYASHI).await.id;
    let midori = app.org_of(SUZUKI).await.id;
    let station = app.org_of(TAKAHASHI).await.id;
    let hidamari = app.org_of(ITO).await.id;

    // The patient saw さくら内科医院 before this admission (it was on the team, then left).
    let g = app
        .store
        .open_chart(&app.principal(SATO).await, pid, ChartAction::Govern, "test", &AuditCtx::default())
        .await
        .unwrap();
    let member = app.store.add_team_member(&g, sakura, TeamRole::HomePhysician, &AuditCtx::default()).await.unwrap();
    app.store.end_team_membership(&g, &member, "入院", &AuditCtx::default()).await.unwrap();
    assert_eq!(app.signin(HAYASHI).await.get(&format!("/patients/{pid}")).await.status, 404, "not on the team now");

    // Flag, then update: two versions.
    let r = sato
        .post(
            &format!("{chart}/candidate"),
            &[
                ("ward", "5階東"),
                ("stage", "assessing"),
                ("reason", "疼痛が落ち着き、本人が帰宅を希望"),
                ("barriers", ""),
                ("owner", ""),
                ("review_date", "2026-11-27"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = sato
        .post(
            &format!("{chart}/candidate"),
            &[
                ("version", "1"),
                ("ward", "5階東"),
                ("stage", "ready"),
                ("reason", "疼痛が落ち着き、本人が帰宅を希望"),
                ("barriers", "妻が高齢で介護力が限られる"),
                ("owner", ""),
                ("review_date", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    // A stale version is refused and changes nothing.
    let r = sato
        .post(
            &format!("{chart}/candidate"),
            &[
                ("version", "1"),
                ("ward", "6階西"),
                ("stage", "not_now"),
                ("reason", "x"),
                ("barriers", ""),
                ("owner", ""),
                ("review_date", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains(&msg("ja", "err-stale-version")));
    let list = sato.get("/transitions?ward=5階東&stage=ready").await;
    assert!(list.text().contains("退院 太郎") && list.text().contains("妻が高齢で介護力が限られる"), "{}", list.body);
    assert!(!sato.get("/transitions?stage=not_now").await.text().contains("退院 太郎"), "filtered by stage");

    // Discharge decided. The home is next to みどり在宅クリニック.
    let r = sato
        .post(
            &format!("{chart}/case"),
            &[
                ("planned_discharge", "2026-12-04"),
                ("home_lat", "38.7320"),
                ("home_lon", "139.8318"),
                ("wishes", "自宅で過ごしたい"),
                ("wished_org", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let again = sato.post(&format!("{chart}/case"), &[("planned_discharge", "2026-12-05")]).await;
    assert_eq!(again.status, 422, "one open case at a time");

    // The proposal: the clinic seen before first, then by distance from home.
    let page = sato.get(&chart).await;
    assert_eq!(page.status, 200);
    let proposal = page.body.split("id=\"proposal-list\"").nth(1).unwrap().split("</table>").next().unwrap();
    let order = ids_in_order(proposal, "data-org");
    assert_eq!(order.first().unwrap(), &sakura.to_string(), "seen before comes first");
    assert_eq!(order.get(1).unwrap(), &midori.to_string(), "then the nearest");
    assert!(proposal.contains(&msg("ja", "reason-24h")), "the reasons are shown");
    assert!(!proposal.contains(&msg("ja", "reason-wished")), "no clinic was asked for by name");
    let case_id = page.body.split("name=\"case\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();

    // Discharging or holding the conference before their time is refused.
    let r =
        sato.post(&format!("{chart}/discharge"), &[("case", &case_id), ("diagnoses", "膵癌"), ("summary", "x")]).await;
    assert_eq!(r.status, 422);
    let r = sato.post(&format!("{chart}/move"), &[("case", &case_id), ("event", "hold_conference")]).await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains(&msg("ja", "err-transition-stage")));

    // A person confirms each choice.
    for (role, org) in [("home_physician", sakura), ("visiting_nurse", station), ("care_manager", hidamari)] {
        let r = sato
            .post(&format!("{chart}/choose"), &[("case", &case_id), ("role", role), ("org", &org.to_string())])
            .await;
        assert_eq!(r.status, 303, "{role}: {}", r.body);
    }
    // A pharmacy cannot be the home physician.
    let aoba = app.org_of("watanabe@aoba.example.jp").await.id.to_string();
    let r =
        sato.post(&format!("{chart}/choose"), &[("case", &case_id), ("role", "home_physician"), ("org", &aoba)]).await;
    assert_eq!(r.status, 422);

    // The conference: scheduled, the sheet written, then held.
    let r = sato
        .post(
            &format!("{chart}/conference"),
            &[
                ("case", &case_id),
                ("scheduled_at", "2026-12-01T14:00"),
                ("place", "5階東カンファレンス室"),
                ("participants", "主治医、病棟看護師、在宅医、訪問看護師、ケアマネジャー、本人、妻"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = sato.post(&format!("{chart}/move"), &[("case", &case_id), ("event", "hold_conference")]).await;
    assert_eq!(r.status, 422, "not held without who came, roles and the night plan");
    assert!(r.text().contains(&msg("ja", "err-sheet-present-required")));
    let sheet = [
        ("case", case_id.as_str()),
        ("version", "0"),
        ("present", "佐藤医師、林医師（さくら内科医院）、高橋看護師、伊藤ケアマネジャー、本人、妻"),
        ("roles_after_discharge", "訪問診療 週1回（林医師）、訪問看護 週3回"),
        ("patient_wishes", "最期まで自宅で過ごしたい"),
        ("family_wishes", "夜間の急変時の対応が不安"),
        ("medical_status", "膵癌、肝転移。疼痛はオキシコドンで安定"),
        ("symptom_plan", "疼痛増強時はレスキューを使用し訪問看護に連絡"),
        ("medications_devices", "オキシコドン徐放錠 10mg 1日2回\n在宅酸素"),
        ("night_plan", "夜間はつなぐ訪問看護ステーション（0235-00-0000）へ"),
        ("next_visits", "退院翌日に訪問診療、訪問看護"),
    ];
    let r = sato.post(&format!("{chart}/sheet"), &sheet).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let pdf = sato.client.get(app.at(&format!("{chart}/sheet.pdf"))).send().await.unwrap();
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    // The title is letter-spaced on the page.
    let text = pdftotext(&pdf.bytes().await.unwrap()).replace(' ', "");
    for expected in ["退院前カンファレンス記録", "退院", "太郎", "最期まで自宅で過ごしたい", "夜間の対応と連絡先"]
    {
        assert!(text.contains(expected), "the sheet PDF lacks {expected}:\n{text}");
    }
    let r = sato.post(&format!("{chart}/move"), &[("case", &case_id), ("event", "hold_conference")]).await;
    assert_eq!(r.status, 303, "{}", r.body);

    // Discharge: a missing summary is named and nothing is sent.
    let r =
        sato.post(&format!("{chart}/discharge"), &[("case", &case_id), ("diagnoses", "膵癌"), ("summary", " ")]).await;
    assert_eq!(r.status, 422);
    assert_eq!(app.signin(TAKAHASHI).await.get(&format!("/patients/{pid}")).await.status, 404);
    let r = sato
        .post(
            &format!("{chart}/discharge"),
            &[
                ("case", &case_id),
                ("diagnoses", "膵癌（肝転移）"),
                ("summary", "化学療法は終了。疼痛コントロール良好で自宅退院となった。"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);

    // The community team is on the chart and reads the sheet and the summary.
    for email in [HAYASHI, TAKAHASHI, ITO] {
        let s = app.signin(email).await;
        let p = s.get(&format!("/patients/{pid}")).await;
        assert_eq!(p.status, 200, "{email} reads the chart");
        let letters = s.get(&format!("/patients/{pid}/letters")).await;
        assert!(letters.text().contains("つなぐ市立総合病院"), "{email} has the referral");
        let t = s.get(&format!("/patients/{pid}/timeline")).await.text();
        assert!(
            t.contains("退院前カンファレンス記録") && t.contains("退院時サマリー"),
            "{email} sees both documents: {t}"
        );
    }
    let page = sato.get(&chart).await;
    assert!(page.body.contains("stage-discharged_home"), "the case is discharged home");
    let r = sato.post(&format!("{chart}/move"), &[("case", &case_id), ("event", "start_home_care")]).await;
    assert_eq!(r.status, 303);

    // Every step is in the audit chain under the patient.
    let acts = actions(&app, pid).await;
    for a in [
        "candidate.flag",
        "candidate.update",
        "transition.open",
        "transition.choose_home_physician",
        "transition.choose_visiting_nurse",
        "transition.choose_care_manager",
        "transition.schedule_conference",
        "conference.sheet",
        "transition.hold_conference",
        "letter.send",
        "transition.discharge",
        "transition.start_home_care",
    ] {
        assert!(acts.iter().any(|x| x == a), "{a} is audited: {acts:?}");
    }
    assert_eq!(acts.iter().filter(|a| *a == "letter.send").count(), 3, "three referral letters");

    // The year's figures count it: one more candidate, case, conference and discharge
    // (the demo region has its own).
    let after = fy_stats(&sato).await;
    for stat in ["candidates", "cases", "conferences", "discharges"] {
        let (b, a) = (before.iter().find(|s| s.0 == stat).unwrap().1, after.iter().find(|s| s.0 == stat).unwrap().1);
        assert_eq!(a, b + 1, "{stat}: {b} then {a}");
    }
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_tasks_reach_their_owner_and_done_and_reopened_are_kept() {
    let app = TestApp::start().await;
    let sato = app.signin(SATO).await;
    let pid = new_inpatient(&sato).await;
    let chart = format!("/patients/{pid}/transition");
    // Discharge in three days: the tasks due a week before are already late.
    let r = sato.post(&format!("{chart}/case"), &[("planned_discharge", "2026-11-27")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let inbox = sato.get("/inbox").await;
    let overdue =
        inbox.body.split("id=\"inbox-overdue\"").nth(1).expect("an overdue list").split("</section>").next().unwrap();
    assert!(overdue.contains(&msg("ja", "task-home-physician")), "{overdue}");
    assert!(!overdue.contains(&msg("ja", "task-conference-sheet")), "due on the day of discharge: not late yet");
    // Nobody else's inbox shows them.
    assert!(!app.signin("tanaka@hospital.example.jp").await.get("/inbox").await.body.contains("inbox-overdue"));

    let page = sato.get(&chart).await;
    let task = page
        .body
        .split("data-task=\"task-home-physician\"")
        .next()
        .unwrap()
        .rsplit("id=\"task-")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    app.clock.advance(Duration::minutes(5));
    let r = sato.post(&format!("{chart}/tasks/{task}"), &[("action", "done")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(!sato.get("/inbox").await.body.contains(&msg("ja", "task-home-physician")), "done: off the inbox");
    // Done twice is refused; it can only be reopened, as a new event.
    let r = sato.post(&format!("{chart}/tasks/{task}"), &[("action", "done")]).await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains(&msg("ja", "err-task-done")));
    let r = sato.post(&format!("{chart}/tasks/{task}"), &[("action", "reopen")]).await;
    assert_eq!(r.status, 303);
    assert!(sato.get("/inbox").await.body.contains(&msg("ja", "task-home-physician")), "reopened: back on the inbox");

    let mut c = app.raw_conn().await;
    let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT e.seq, e.kind, e.at, u.email FROM task_events e JOIN users u ON u.id = e.by_user WHERE e.task_id = $1 ORDER BY e.seq",
    )
    .bind(&task)
    .fetch_all(&mut c)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].1.as_str(), rows[0].3.as_str()), ("done", SATO));
    assert_eq!(rows[1].1, "reopen");
    assert!(rows[0].2.as_str() >= "2026-11-24T01:05", "when it was done: {}", rows[0].2);
    // The database itself refuses to rewrite or remove the history.
    for sql in ["UPDATE task_events SET kind = 'done'", "DELETE FROM task_events", "DELETE FROM transition_events"] {
        assert!(sqlx::query(sql).execute(&mut c).await.is_err(), "{sql} is refused");
    }
    // Handing a task on moves it to the new owner's inbox.
    let tanaka = app.user("tanaka@hospital.example.jp").await.id.to_string();
    let r = sato.post(&format!("{chart}/tasks/{task}"), &[("action", "assign"), ("owner", &tanaka)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(!sato.get("/inbox").await.body.contains(&msg("ja", "task-home-physician")));
    assert!(
        app.signin("tanaka@hospital.example.jp")
            .await
            .get("/inbox")
            .await
            .body
            .contains(&msg("ja", "task-home-physician"))
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_answers_who_can_take_this_patient_nearest_first() {
    let app = TestApp::start().await;
    let ikeda = app.signin("ikeda@renkei.example.jp").await;
    let midori = app.org_of(SUZUKI).await.id.to_string();
    let sakura = app.org_of(HAYASHI).await.id.to_string();
    let umibe = app.org_of(KOBAYASHI).await.id.to_string();

    // Clinics making home visits, nearest to a home by さくら内科医院 first.
    let r = ikeda.get("/directory?kind=clinic&cap=home_visits&lat=38.7460&lon=139.8400").await;
    assert_eq!(r.status, 200);
    let order = ids_in_order(&r.body, "data-org");
    assert_eq!(order, vec![sakura.clone(), midori.clone()], "海辺クリニック makes no home visits");
    // With 24-hour support required, only みどり remains.
    let r = ikeda.get("/directory?kind=clinic&cap=home_visits&cap=support_24h").await;
    assert_eq!(ids_in_order(&r.body, "data-org"), vec![midori.clone()]);

    // 海辺クリニック's administrator starts home visits and says where; the directory shows it.
    let kobayashi = app.signin(KOBAYASHI).await;
    let r = kobayashi
        .post(
            "/admin/org",
            &[
                ("phone", "0235-35-2288"),
                ("night_phone", ""),
                ("address", "山形県つなぐ市みなと町3-9"),
                ("lat", "38.7588"),
                ("lon", "139.8042"),
                ("visiting_area", "みなと町・浜中地区"),
                ("home_visits", "on"),
                ("accepts_new_patients", "on"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = ikeda.get("/directory?kind=clinic&cap=home_visits&lat=38.7590&lon=139.8040").await;
    let order = ids_in_order(&r.body, "data-org");
    assert_eq!(order.first(), Some(&umibe), "now the nearest clinic with home visits");
    assert!(r.text().contains("みなと町・浜中地区"));
    // A location out of range is refused with the field named, and changes nothing.
    let r = kobayashi
        .post(
            "/admin/org",
            &[
                ("phone", ""),
                ("night_phone", ""),
                ("address", ""),
                ("lat", "138.7"),
                ("lon", "39.8"),
                ("visiting_area", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains(&msg("ja", "err-location")));
    assert_eq!(app.org_of(KOBAYASHI).await.lat, Some(38.7588));
    app.finish().await;
}
