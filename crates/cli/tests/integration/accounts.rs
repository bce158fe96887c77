//! Account lifecycle (issue #8, MHLW guideline: no dormant accounts): an organization
//! administrator sees which active accounts have not been used for 90 days.

use crate::harness::*;
use time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_unused_for_ninety_days_are_shown_to_the_administrator() {
    let app = TestApp::start().await;
    let admin = app.signin(SUZUKI).await;
    let page = admin.get("/admin/org").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("id=\"staff-unused\""), "a new region has no dormant accounts");

    // 91 days on, only the administrator has signed in since.
    app.clock.advance(Duration::days(91));
    let admin = app.signin(SUZUKI).await;
    let page = admin.get("/admin/org").await;
    assert!(page.body.contains("id=\"staff-unused\""), "{}", page.body);
    let row = |name: &str| page.body.split("<tr>").find(|r| r.contains(name)).unwrap_or_default().to_string();
    assert!(row("井上 千尋").contains(&msg("ja", "staff-unused")), "the nurse has not signed in for 91 days");
    assert!(!row("鈴木 誠").contains(&msg("ja", "staff-unused")), "the administrator just signed in");

    // Suspending an account ends its sessions and revokes its tokens at once; and a
    // suspended account is no longer listed as unused (it has been dealt with).
    let kimura = app.user("kimura@midori.example.jp").await;
    assert!(row_of(&page.body, "木村 大輔").contains(&msg("ja", "staff-unused")));
    let dentist = app.signin("kimura@midori.example.jp").await;
    let token = app.token_for("kimura@midori.example.jp").await;
    assert_eq!(dentist.get("/patients").await.status, 200);
    let r = admin.post(&format!("/admin/staff/{}/status", kimura.id), &[("active", "0")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let after = dentist.get("/patients").await;
    assert_eq!(after.status, 303, "the suspended person's session still works");
    assert!(after.location().starts_with("/signin"));
    let api = Resp::of(app.bare_client().get(app.at("/api/v1/me")).bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!(api.status, 401, "the suspended person's token still works");
    let inoue = app.user("inoue@midori.example.jp").await;
    let r = admin.post(&format!("/admin/staff/{}/status", inoue.id), &[("active", "0")]).await;
    assert_eq!(r.status, 303);
    let page = admin.get("/admin/org").await;
    assert!(!row_of(&page.body, "井上 千尋").contains(&msg("ja", "staff-unused")));
    app.finish().await;
}

fn row_of(body: &str, name: &str) -> String {
    body.split("<tr>").find(|r| r.contains(name)).unwrap_or_default().to_string()
}

/// Expired sessions and sign-in failures that no longer count are removed, and nothing
/// else: a live session keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn housekeeping_removes_only_what_has_expired() {
    let app = TestApp::start().await;
    let old = app.signin(SATO).await;
    let _ = app
        .bare_client()
        .post(app.at("/signin"))
        .form(&[("email", SUZUKI), ("password", "wrong password")])
        .send()
        .await
        .unwrap();
    let count = |sql: &'static str| {
        let app = &app;
        async move {
            let mut c = app.raw_conn().await;
            sqlx::query_as::<_, (i64,)>(sql).fetch_one(&mut c).await.unwrap().0
        }
    };
    // One failure counts against the account and one against the address.
    let recorded = count("SELECT COUNT(*) FROM signin_failures").await;
    assert_eq!(recorded, 2);
    let window = time::Duration::minutes(15);
    assert_eq!(app.store.purge_expired(window).await.unwrap(), (0, 0), "nothing has expired yet");

    // 13 hours on: the first session is past its absolute limit (12 h), the failure is
    // long out of its window; a session started now stays.
    app.clock.advance(Duration::hours(13));
    let fresh = app.signin(TAKAHASHI).await;
    let (sessions, failures) = app.store.purge_expired(window).await.unwrap();
    assert_eq!((sessions, failures), (1, 2));
    assert_eq!(count("SELECT COUNT(*) FROM signin_failures").await, 0);
    assert_eq!(fresh.get("/patients").await.status, 200);
    assert_eq!(old.get("/patients").await.status, 303);
    app.finish().await;
}
