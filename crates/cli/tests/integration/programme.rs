//! DOMAIN.md §8: specialist palliative care on the chart, symptom assessments entered in
//! error, the region's sessions, meetings and action plans, the professionals' survey,
//! and the dashboard's figures for them, counted independently from the tables.

use crate::harness::*;
use time::{Date, Duration};
use tsunagu_domain::transition::{fiscal_year, fiscal_year_range};

/// Contacts of each kind counted straight from the tables for one fiscal year, those
/// marked in error left out: (consults, outpatient visits, home visits).
async fn contacts_counted(app: &TestApp, fy: i32) -> Vec<String> {
    let (start, end) = fiscal_year_range(fy);
    let mut c = app.raw_conn().await;
    let mut out = Vec::new();
    for kind in ["palliative_team_consult", "palliative_outpatient_visit", "home_visit"] {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM care_contacts c WHERE c.kind = $1 AND c.occurred_on >= $2 AND c.occurred_on < $3 \
             AND c.id NOT IN (SELECT contact_id FROM care_contact_marks)",
        )
        .bind(kind)
        .bind(start.to_string())
        .bind(end.to_string())
        .fetch_one(&mut c)
        .await
        .unwrap();
        out.push(n.to_string());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn specialist_palliative_care_is_recorded_on_the_chart_and_counted_for_two_years() {
    let app = TestApp::start().await;
    let today = app.store.clock().today_jst();
    let fy = fiscal_year(today);
    let (this_start, _) = fiscal_year_range(fy);
    let last_year: Date = this_start - Duration::days(30);
    let yamada = app.patient_id("ヤマダ").await;
    let takahashi = app.signin(TAKAHASHI).await;
    let url = format!("/patients/{yamada}/palliative-care");

    let page = takahashi.get(&url).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains(&msg("ja", "contacts-title")));

    let today_s = today.to_string();
    let last_s = last_year.to_string();
    for (kind, on) in [
        ("home_visit", today_s.as_str()),
        ("home_visit", last_s.as_str()),
        ("palliative_team_consult", today_s.as_str()),
    ] {
        let r = takahashi.post(&url, &[("kind", kind), ("occurred_on", on), ("note", "定期訪問")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
    }
    // In the future, or an unknown kind: refused with the reason, nothing stored.
    let tomorrow = (today + Duration::days(1)).to_string();
    let r = takahashi.post(&url, &[("kind", "home_visit"), ("occurred_on", tomorrow.as_str())]).await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains(&msg("ja", "err-date-future")));
    let r = takahashi.post(&url, &[("kind", "telepathy"), ("occurred_on", today_s.as_str())]).await;
    assert_eq!(r.status, 422);

    // The consult was a mistake: marked with a reason, still shown, no longer counted.
    let mut c = app.raw_conn().await;
    let (consult,): (String,) = sqlx::query_as(
        "SELECT id FROM care_contacts WHERE patient_id = $1 AND kind = 'palliative_team_consult' AND note = '定期訪問'",
    )
    .bind(yamada.to_string())
    .fetch_one(&mut c)
    .await
    .unwrap();
    let mark = format!("{url}/{consult}/in-error");
    assert_eq!(takahashi.post(&mark, &[("reason", "")]).await.status, 422, "a mark needs a reason");
    assert_eq!(takahashi.post(&mark, &[("reason", "別の患者の記録")]).await.status, 303);
    let again = takahashi.post(&mark, &[("reason", "二度目")]).await;
    assert_eq!(again.status, 422);
    assert!(again.text().contains(&msg("ja", "err-entry-in-error")));
    let page = takahashi.get(&url).await;
    assert!(page.body.contains("class=\"in-error\""));
    assert!(page.text().contains("別の患者の記録"));
    assert!(sqlx::query("DELETE FROM care_contacts").execute(&mut c).await.is_err(), "append-only");
    assert!(sqlx::query("UPDATE care_contact_marks SET reason = 'x'").execute(&mut c).await.is_err());

    // The dashboard for this year and the last equals the tables' own count.
    let operator = app.signin(OPERATOR).await;
    for year in [fy, fy - 1] {
        let d = operator.get(&format!("/dashboard?fy={year}")).await;
        assert_eq!(d.status, 200);
        let shown: Vec<String> = (0..3).map(|i| fig(&d.body, &format!("contacts-{i}"))).collect();
        assert_eq!(shown, contacts_counted(&app, year).await, "FY{year}");
    }
    let now = operator.get(&format!("/dashboard?fy={fy}")).await;
    let (patients,): (i64,) = sqlx::query_as(
        "SELECT COUNT(DISTINCT patient_id) FROM care_contacts WHERE occurred_on >= $1 AND occurred_on < $2 \
         AND id NOT IN (SELECT contact_id FROM care_contact_marks)",
    )
    .bind(this_start.to_string())
    .bind(fiscal_year_range(fy).1.to_string())
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!(fig(&now.body, "specialist-patients"), patients.to_string());
    assert!(now.body.contains("data-plot=\"specialist\""));
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assessment_in_error_leaves_the_trend_and_the_figures_but_stays_listed() {
    let app = TestApp::start().await;
    let today = app.store.clock().today_jst();
    let yamada = app.patient_id("ヤマダ").await;
    let takahashi = app.signin(TAKAHASHI).await;
    let at = |days: i64| format!("{}T10:00", today - Duration::days(days));
    let staff = |at: String, v: &'static str| {
        let mut f: Vec<(String, String)> = vec![
            ("instrument".into(), "palliative-problems-staff".into()),
            ("assessed_at".into(), at),
            ("pain".into(), v.into()),
            ("other_symptoms".into(), v.into()),
        ];
        for k in ["patient_anxiety", "family_anxiety", "information", "practical", "communication"] {
            f.push((k.into(), "1".into()));
        }
        f
    };
    for (days, v) in [(9, "4"), (2, "0"), (1, "3")] {
        let f = staff(at(days), v);
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(takahashi.post(&format!("/patients/{yamada}/symptoms"), &f).await.status, 303);
    }
    let page_url = format!("/patients/{yamada}/symptoms?instrument=palliative-problems-staff");
    let pain = |body: &str| {
        body.split("data-item=\"pain\"").nth(1).unwrap().split("</figure>").next().unwrap().matches("<circle").count()
    };
    assert_eq!(pain(&takahashi.get(&page_url).await.body), 3);

    let mut c = app.raw_conn().await;
    let (wrong,): (String,) =
        sqlx::query_as("SELECT id FROM symptom_assessments WHERE patient_id = $1 AND assessed_at = $2")
            .bind(yamada.to_string())
            .bind(at(1))
            .fetch_one(&mut c)
            .await
            .unwrap();
    let r = takahashi
        .post(
            &format!("/patients/{yamada}/symptoms/{wrong}/in-error"),
            &[("instrument", "palliative-problems-staff"), ("reason", "別の患者の評価")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = takahashi.get(&page_url).await;
    assert_eq!(pain(&page.body), 2, "left out of the trend");
    assert!(page.text().contains("別の患者の評価"), "still listed, with the reason");
    assert!(page.body.contains(&format!("data-assessment=\"{wrong}\" class=\"in-error\"")));
    // An outsider cannot mark one: the same answer as for a missing patient.
    let kobayashi = app.signin(KOBAYASHI).await;
    let r = kobayashi.post(&format!("/patients/{yamada}/symptoms/{wrong}/in-error"), &[("reason", "x")]).await;
    assert_eq!(r.status, 404);
    assert!(sqlx::query("DELETE FROM assessment_marks").execute(&mut c).await.is_err(), "append-only");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_programme_keeps_activities_with_attendance_and_plans_as_versions() {
    let app = TestApp::start().await;
    let today = app.store.clock().today_jst();
    let fy = fiscal_year(today);
    let hospital = app.org_of(SATO).await.id.to_string();
    let station = app.org_of(TAKAHASHI).await.id.to_string();
    let operator = app.signin(OPERATOR).await;
    let page = operator.get("/programme").await;
    assert_eq!(page.status, 200);
    let before = fig(&operator.get(&format!("/dashboard?fy={fy}")).await.body, "attendees-0");

    let on = today.to_string();
    let activity = [
        ("pillar", "education"),
        ("activity_kind", "session"),
        ("held_on", on.as_str()),
        ("topic", "せん妄への対応"),
        ("profession_0", "nurse"),
        ("org_0", station.as_str()),
        ("count_0", "7"),
        ("profession_1", "physician"),
        ("org_1", hospital.as_str()),
        ("count_1", "3"),
        ("profession_2", ""),
        ("org_2", ""),
        ("count_2", ""),
    ];
    let r = operator.post("/programme/activities", &activity).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = operator.get(&format!("/programme?fy={fy}")).await;
    assert!(page.text().contains("せん妄への対応"));

    // Attendance counted per pillar on the dashboard, equal to the table's sum.
    let (start, end) = fiscal_year_range(fy);
    let mut c = app.raw_conn().await;
    let counted = |pillar: &'static str| {
        sqlx::query_as::<_, (Option<i64>,)>(
            "SELECT CAST(SUM(t.attendees) AS BIGINT) FROM programme_attendance t JOIN programme_activities a ON a.id = t.activity_id \
             WHERE a.pillar = $1 AND a.held_on >= $2 AND a.held_on < $3 \
             AND a.id NOT IN (SELECT activity_id FROM programme_activity_marks)",
        )
        .bind(pillar)
        .bind(start.to_string())
        .bind(end.to_string())
    };
    let (education,) = counted("education").fetch_one(&mut c).await.unwrap();
    let d = operator.get(&format!("/dashboard?fy={fy}")).await;
    assert_eq!(fig(&d.body, "attendees-0"), education.unwrap_or(0).to_string());
    assert_eq!(fig(&d.body, "attendees-0").parse::<i64>().unwrap(), before.parse::<i64>().unwrap() + 10);

    // Refused: the same line twice, a count of zero, no topic; nothing stored.
    let (n0,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM programme_activities").fetch_one(&mut c).await.unwrap();
    let mut twice = activity.to_vec();
    twice[7] = ("profession_1", "nurse");
    twice[8] = ("org_1", station.as_str());
    let r = operator.post("/programme/activities", &twice).await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains(&msg("ja", "err-attendance-twice")));
    let mut zero = activity.to_vec();
    zero[6] = ("count_0", "0");
    assert_eq!(operator.post("/programme/activities", &zero).await.status, 422);
    let mut untitled = activity.to_vec();
    untitled[3] = ("topic", " ");
    assert_eq!(operator.post("/programme/activities", &untitled).await.status, 422);
    let (n1,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM programme_activities").fetch_one(&mut c).await.unwrap();
    assert_eq!(n0, n1);

    // A nurse who administers nothing reads the programme but records nothing.
    let nurse = app.signin("yamazaki@station.example.jp").await;
    assert_eq!(nurse.get("/programme").await.status, 200);
    assert_eq!(nurse.post("/programme/activities", &activity).await.status, 403);

    // In error: marked by the operator, left out of the figures.
    let (id,): (String,) = sqlx::query_as("SELECT id FROM programme_activities WHERE topic = 'せん妄への対応'")
        .fetch_one(&mut c)
        .await
        .unwrap();
    // Another organization's administrator may not mark the operator's activity.
    let takahashi = app.signin(TAKAHASHI).await;
    assert_eq!(
        takahashi.post(&format!("/programme/activities/{id}/in-error"), &[("reason", "重複")]).await.status,
        403
    );
    let r = operator.post(&format!("/programme/activities/{id}/in-error"), &[("reason", "重複登録")]).await;
    assert_eq!(r.status, 303);
    let d = operator.get(&format!("/dashboard?fy={fy}")).await;
    assert_eq!(fig(&d.body, "attendees-0"), before);

    // Action plans: a new plan, then a new version; a stale version is refused.
    let due = (today + Duration::days(60)).to_string();
    let fy_s = fy.to_string();
    let plan = |status: &'static str, version: &'static str| {
        vec![
            ("fiscal_year", fy_s.clone()),
            ("pillar", "regional_cooperation".to_string()),
            ("title", "夜間の連絡網を全事業所で共有".to_string()),
            ("owner", "事務局 斎藤".to_string()),
            ("due_on", due.clone()),
            ("status", status.to_string()),
            ("version", version.to_string()),
        ]
    };
    let new = plan("planned", "0");
    let new: Vec<(&str, &str)> = new.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(operator.post("/programme/plans", &new).await.status, 303);
    assert_eq!(takahashi.post("/programme/plans", &new).await.status, 403, "the operator keeps the plans");
    let (plan_id,): (String,) =
        sqlx::query_as("SELECT id FROM action_plan_versions WHERE title = '夜間の連絡網を全事業所で共有'")
            .fetch_one(&mut c)
            .await
            .unwrap();
    let done = plan("done", "1");
    let done: Vec<(&str, &str)> = done.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(operator.post(&format!("/programme/plans/{plan_id}"), &done).await.status, 303);
    let stale = plan("dropped", "1");
    let stale: Vec<(&str, &str)> = stale.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = operator.post(&format!("/programme/plans/{plan_id}"), &stale).await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains(&msg("ja", "err-stale-version")));
    let versions: Vec<(i64, String)> =
        sqlx::query_as("SELECT version, status FROM action_plan_versions WHERE id = $1 ORDER BY version")
            .bind(&plan_id)
            .fetch_all(&mut c)
            .await
            .unwrap();
    assert_eq!(versions, vec![(1, "planned".to_string()), (2, "done".to_string())]);
    let page = operator.get(&format!("/programme?fy={fy}")).await;
    let card = page.body.split(&format!("data-plan=\"{plan_id}\"")).nth(1).unwrap().split("</article>").next().unwrap();
    assert!(card.contains("data-status=\"done\""), "{card}");
    assert!(sqlx::query("DELETE FROM action_plan_versions").execute(&mut c).await.is_err(), "append-only");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_professionals_survey_is_sent_by_an_administrator_and_answered_once_through_its_link() {
    let app = TestApp::start().await;
    let takahashi = app.signin(TAKAHASHI).await;
    let page = takahashi.get("/surveys").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("value=\"professional-difficulties\""));
    assert!(!page.body.contains("value=\"bereaved-family-evaluation\""), "family surveys are sent from a chart");

    let r = takahashi
        .post(
            "/surveys",
            &[("instrument", "professional-difficulties"), ("recipient", "看護師 山崎"), ("valid_days", "14")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = link_token(&r.body);

    // Only administrators send them, and each sees only the own organization's.
    let nurse = app.signin("yamazaki@station.example.jp").await;
    assert_eq!(nurse.get("/surveys").await.status, 403);
    let sato = app.signin(SATO).await;
    assert!(!sato.get("/surveys").await.text().contains("看護師 山崎"));
    let operator = app.signin(OPERATOR).await;
    assert!(operator.get("/surveys").await.text().contains("看護師 山崎"));

    // The link opens without an account; the instrument's items are all answered.
    let anon = app.bare_client();
    let open = Resp::of(anon.get(app.at(&format!("/s/{token}"))).send().await.unwrap()).await;
    assert_eq!(open.status, 200);
    let instrument =
        app.store.instruments().await.unwrap().into_iter().find(|i| i.id == "professional-difficulties").unwrap();
    let mut form: Vec<(String, String)> = Vec::new();
    for it in &instrument.items {
        match &it.scale {
            tsunagu_domain::questionnaire::Scale::Rating { min, .. } => form.push((it.key.clone(), min.to_string())),
            tsunagu_domain::questionnaire::Scale::Text { .. } => form.push((it.key.clone(), "特になし".into())),
        }
    }
    let answered = Resp::of(anon.post(app.at(&format!("/s/{token}"))).form(&form).send().await.unwrap()).await;
    assert_eq!(answered.status, 200, "{}", answered.body);
    assert!(answered.text().contains(&msg("ja", "survey-thanks")));
    let again = Resp::of(anon.post(app.at(&format!("/s/{token}"))).form(&form).send().await.unwrap()).await;
    assert_eq!(again.status, 410);
    let list = takahashi.get("/surveys").await;
    assert!(list.body.contains("data-status=\"answered\""));

    // Revoking a link another organization sent: as if it did not exist.
    let id = list.body.split("data-invitation=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    assert_eq!(sato.post(&format!("/surveys/{id}/revoke"), &[]).await.status, 404);
    app.finish().await;
}
