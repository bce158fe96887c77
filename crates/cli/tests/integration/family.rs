//! Patients and families take part (issue #10): invitations that work once, a family
//! account that reaches only its own patient's family pages, the home diary whose
//! alerts reach the team's chart and inbox and (where chosen) their mail without any
//! clinical content, the family thread, shared documents, visits and today's list.

use crate::harness::*;
use std::time::Duration;
use tsunagu_web::{Scope, route_table};

const HANAKO: &str = "hanako@example.jp";
const FAMILY_PASSWORD: &str = "sakura-no-hana-2026";

/// A staff member invites a family member to `patient`'s page; returns the link's
/// secret.
async fn invite(staff: &Session, patient: &str, invitee: &str, relation: &str, days: &str) -> String {
    let r = staff
        .post(
            &format!("/patients/{patient}/family/invitations"),
            &[("invitee", invitee), ("relation", relation), ("valid_days", days)],
        )
        .await;
    assert_eq!(r.status, 200, "invitation:\n{}", r.body);
    let link = r.body.split("id=\"family-link\">").nth(1).expect("the link is shown").split('<').next().unwrap();
    link.rsplit("/f/").next().unwrap().to_string()
}

/// Accept an invitation in a fresh browser; returns the family session.
async fn accept(app: &TestApp, token: &str, login: &str) -> Session {
    let client = app.client();
    let page = Resp::of(client.get(app.at(&format!("/f/{token}"))).send().await.unwrap()).await;
    assert_eq!(page.status, 200, "the invitation opens:\n{}", page.body);
    let r = Resp::of(
        client
            .post(app.at(&format!("/f/{token}")))
            .form(&[
                ("login", login),
                ("display_name", "山田 一郎"),
                ("password", FAMILY_PASSWORD),
                ("password_again", FAMILY_PASSWORD),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 303, "accepting makes the account:\n{}", r.body);
    assert_eq!(r.location(), "/family");
    let cookie = set_cookie_line(&r.headers, "tsunagu-family").expect("a family session cookie");
    let home = Resp::of(client.get(app.at("/family")).send().await.unwrap()).await;
    assert_eq!(home.status, 200, "{}", home.body);
    let csrf = home.csrf().expect("a CSRF token on the family page");
    Session { client, csrf, cookie, base: app.base.clone() }
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    use sqlx::Row;
    let mut c = app.raw_conn().await;
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(&mut c).await.unwrap().try_get::<i64, _>(0).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_works_once_and_not_after_expiry_or_revocation() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await.to_string();
    let nurse = app.signin(TAKAHASHI).await;

    let accounts = count(&app, "SELECT COUNT(*) FROM family_accounts").await;
    let token = invite(&nurse, &yamada, "山田 一郎", "長男", "7").await;
    let family = accept(&app, &token, HANAKO).await;
    let home = family.get("/family").await;
    assert!(home.text().contains("山田 花子"), "the family sees whose page it is:\n{}", home.body);

    // The link is spent: a second use shows nothing and makes nothing.
    let again = app.bare_client();
    let r = Resp::of(again.get(app.at(&format!("/f/{token}"))).send().await.unwrap()).await;
    assert_eq!(r.status, 404);
    assert!(!r.body.contains("山田"));
    let r = Resp::of(
        again
            .post(app.at(&format!("/f/{token}")))
            .form(&[
                ("login", "someone-else"),
                ("display_name", "x"),
                ("password", FAMILY_PASSWORD),
                ("password_again", FAMILY_PASSWORD),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM family_accounts").await, accounts + 1);

    // An expired link and a revoked one change nothing either.
    let expiring = invite(&nurse, &yamada, "山田 三郎", "三男", "1").await;
    let revoked = invite(&nurse, &yamada, "山田 次郎", "次男", "7").await;
    let page = nurse.get(&format!("/patients/{yamada}/family")).await;
    let revoked_id = page
        .body
        .split("data-invitation=\"")
        .skip(1)
        .find(|s| s.contains("山田 次郎"))
        .map(|s| s.split('"').next().unwrap().to_string())
        .expect("the invitation is listed");
    let r = nurse.post(&format!("/patients/{yamada}/family/invitations/{revoked_id}/revoke"), &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    app.clock.advance(time::Duration::days(2));
    for t in [&expiring, &revoked] {
        let c = app.bare_client();
        let r = Resp::of(c.get(app.at(&format!("/f/{t}"))).send().await.unwrap()).await;
        assert_eq!(r.status, 404, "a closed link");
        let r = Resp::of(
            c.post(app.at(&format!("/f/{t}")))
                .form(&[
                    ("login", "late-comer"),
                    ("display_name", "x"),
                    ("password", FAMILY_PASSWORD),
                    ("password_again", FAMILY_PASSWORD),
                ])
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, 404);
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM family_accounts").await, accounts + 1, "closed links made no account");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_family_account_reaches_no_clinical_entry_no_other_patient_and_no_professional_route() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await.to_string();
    let nurse = app.signin(TAKAHASHI).await;
    let doctor = app.signin(SUZUKI).await;

    // A clinical note the family must never see.
    let secret = "予後は週単位と判断";
    let r = doctor
        .post(
            &format!("/patients/{yamada}/entries"),
            &[("kind", "progress_note"), ("assessment", secret), ("text", secret)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);

    let token = invite(&nurse, &yamada, "山田 一郎", "長男", "7").await;
    let family = accept(&app, &token, HANAKO).await;

    // Another patient's family, for the "no other patient" rule: a patient the same
    // station cares for.
    let station = app.org_of(TAKAHASHI).await.id.to_string();
    let (other, other_name) = {
        use sqlx::Row;
        let mut c = app.raw_conn().await;
        let r = sqlx::query(
            "SELECT p.id, p.family_name FROM care_team t JOIN patients p ON p.id = t.patient_id \
             WHERE t.org_id = $1 AND t.ended_at IS NULL AND p.id <> $2 AND p.consent_status = 'given' ORDER BY p.id LIMIT 1",
        )
        .bind(&station)
        .bind(&yamada)
        .fetch_one(&mut c)
        .await
        .unwrap();
        (r.try_get::<String, _>("id").unwrap(), r.try_get::<String, _>("family_name").unwrap())
    };
    let other_token = invite(&nurse, &other, "ほかの家族", "夫", "7").await;
    let other_family = accept(&app, &other_token, "tanaka-family").await;
    let r = other_family
        .post_multipart_with(
            "/family/diary",
            &[("observed_at", "2026-11-24T09:00"), ("pain", "3"), ("note", "ほかの家のメモ")],
            None,
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);

    for path in ["/family", "/family/diary", "/family/messages"] {
        let r = family.get(path).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(!r.text().contains(secret), "{path} shows a clinical entry");
        assert!(
            !r.text().contains(&other_name) && !r.text().contains("ほかの家のメモ"),
            "{path} shows another patient"
        );
        r.assert_no_leak(path);
    }

    // Every professional route: the family's cookies are no session there.
    for route in route_table().iter().filter(|r| !matches!(r.scope, Scope::Public | Scope::Family)) {
        let path = fill_path(route.path, &[("patient", &yamada)], &random_uuid().to_string());
        let what = format!("{} {path} with a family session", route.method);
        let resp = match route.method {
            "GET" => family.get(&path).await,
            "POST" => family.post(&path, &[("body", "x"), ("reason", "x")]).await,
            other => {
                Resp::of(
                    family
                        .client
                        .request(other.parse().unwrap(), app.at(&path))
                        .header("content-type", "application/json")
                        .body("{}")
                        .send()
                        .await
                        .unwrap(),
                )
                .await
            }
        };
        if path.starts_with("/api/") || path.starts_with("/fhir/") {
            assert_eq!(resp.status, 401, "{what}:\n{}", resp.body);
        } else if route.path == "/" {
            // The home page sends everyone to the inbox, which wants a staff session.
            assert_eq!((resp.status, resp.location().as_str()), (303, "/inbox"), "{what}");
            let inbox = family.get("/inbox").await;
            assert_eq!(inbox.status, 303);
            assert!(inbox.location().starts_with("/signin"));
        } else {
            assert_eq!(resp.status, 303, "{what}:\n{}", resp.body);
            assert!(resp.location().starts_with("/signin"), "{what} goes to the staff sign-in: {}", resp.location());
        }
        assert!(!resp.body.contains("山田") && !resp.body.contains("ヤマダ"), "{what} shows the patient");
    }

    // The family session's id presented as a staff session is nothing either.
    let raw = family.cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_string();
    let forged = Resp::of(
        app.bare_client()
            .get(app.at(&format!("/patients/{yamada}")))
            .header("cookie", format!("tsunagu={raw}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(forged.status, 303);

    // A staff session means nothing under /family/.
    let r = nurse.get("/family").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location(), "/family/signin");

    // Every family read is on the patient's audit trail, with the account as actor.
    let reads = count(
        &app,
        &format!(
            "SELECT COUNT(*) FROM audit WHERE patient_id = '{yamada}' AND action LIKE 'family.%' AND target LIKE 'family:%'"
        ),
    )
    .await;
    assert!(reads >= 4, "family reads and the account creation are audited ({reads})");

    // Ending the account ends its session and its sign-in.
    let page = nurse.get(&format!("/patients/{yamada}/family")).await;
    let account = page.body.split("data-account=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let r = nurse.post(&format!("/patients/{yamada}/family/accounts/{account}/end"), &[("reason", "転居")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = family.get("/family").await;
    assert_eq!((r.status, r.location().as_str()), (303, "/family/signin"));
    let r = app
        .bare_client()
        .post(app.at("/family/signin"))
        .form(&[("login", HANAKO), ("password", FAMILY_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    app.finish().await;
}

/// The SMTP server scripts/test starts (aiosmtpd writing a Maildir).
fn smtp() -> (String, u16, std::path::PathBuf) {
    let addr = std::env::var("TSUNAGU_TEST_SMTP")
        .expect("TSUNAGU_TEST_SMTP (host:port of a test SMTP server) is set by scripts/test; run the suite through it");
    let dir = std::env::var("TSUNAGU_TEST_MAILDIR").expect("TSUNAGU_TEST_MAILDIR is set by scripts/test");
    let (host, port) = addr.rsplit_once(':').unwrap();
    (host.to_string(), port.parse().unwrap(), dir.into())
}

/// Messages in the Maildir addressed to `to`, as (subject, body) decoded.
fn mails_to(dir: &std::path::Path, to: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(rd) = std::fs::read_dir(dir.join(sub)) else { continue };
        for e in rd {
            let raw = std::fs::read_to_string(e.unwrap().path()).unwrap_or_default();
            let raw = raw.replace("\r\n", "\n");
            let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
            // Unfold continued header lines (RFC 5322 folding).
            let head = head.replace("\n ", " ").replace("\n\t", " ");
            let head = head.as_str();
            let to_line = head.lines().find(|l| l.to_ascii_lowercase().starts_with("to:")).unwrap_or("");
            if !to_line.contains(to) {
                continue;
            }
            let subject = head.lines().find(|l| l.to_ascii_lowercase().starts_with("subject:")).unwrap_or("");
            out.push((decode_words(subject), decode_body(head, body)));
        }
    }
    out
}

fn b64_bytes(s: &str) -> Vec<u8> {
    use base64::Engine;
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(clean).unwrap()
}

fn b64(s: &str) -> String {
    String::from_utf8(b64_bytes(s)).unwrap()
}

/// RFC 2047 encoded words (`=?utf-8?b?...?=`), as lettre writes subjects; adjacent
/// words are one text.
fn decode_words(line: &str) -> String {
    let mut bytes = Vec::new();
    for w in line.split_whitespace() {
        match w.strip_prefix("=?utf-8?b?").or_else(|| w.strip_prefix("=?UTF-8?B?")) {
            Some(rest) => bytes.extend(b64_bytes(rest.trim_end_matches("?="))),
            None => bytes.extend(w.as_bytes()),
        }
    }
    String::from_utf8(bytes).unwrap()
}

fn decode_body(head: &str, body: &str) -> String {
    if head.to_ascii_lowercase().contains("content-transfer-encoding: base64") { b64(body) } else { body.to_string() }
}

async fn wait_for_mail(dir: &std::path::Path, to: &str, n: usize) -> Vec<(String, String)> {
    for _ in 0..100 {
        let m = mails_to(dir, to);
        if m.len() >= n {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    mails_to(dir, to)
}

/// The app with notification mail sent to the test SMTP server (polled every 200 ms).
async fn app_with_mail() -> (TestApp, std::path::PathBuf) {
    let (host, port, maildir) = smtp();
    let config = tsunagu_web::WebConfig {
        mail: Some(tsunagu_web::MailConfig {
            host,
            port,
            security: tsunagu_web::SmtpSecurity::None,
            username: None,
            password: None,
            from: "tsunagu <noreply@tsunagu.example.jp>".into(),
            public_url: "https://tsunagu.example.jp".into(),
            digest_hour: 8,
            poll: Duration::from_millis(200),
        }),
        ..web_config()
    };
    (TestApp::start_with_config(config).await, maildir)
}

/// Give demo people addresses unique to this run (the Maildir is shared by the suite).
async fn fresh_addresses(app: &TestApp, people: &[&str]) -> Vec<String> {
    let tag = random_uuid().simple().to_string();
    let mut c = app.raw_conn().await;
    let mut out = Vec::new();
    for old in people {
        let new = format!("{tag}-{old}");
        sqlx::query("UPDATE users SET email = $1 WHERE email = $2")
            .bind(&new)
            .bind(*old)
            .execute(&mut c)
            .await
            .unwrap();
        out.push(new);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referrals_mentions_and_emergency_access_are_mailed_to_those_who_chose_them() {
    let (app, maildir) = app_with_mail().await;
    let yamada = app.patient_id("ヤマダ").await;
    let umibe = app.org_of(KOBAYASHI).await.id;
    let nurse_id = app.user(TAKAHASHI).await.id;
    let addrs = fresh_addresses(&app, &[KOBAYASHI, TAKAHASHI, SUZUKI, SATO]).await;
    let (kobayashi_mail, nurse_mail, doctor_mail, sato_mail) = (&addrs[0], &addrs[1], &addrs[2], &addrs[3]);
    for (who, prefs) in [
        (kobayashi_mail, vec![("referral", "immediate")]),
        (nurse_mail, vec![("mention", "immediate"), ("emergency", "immediate")]),
        (doctor_mail, vec![("mention", "immediate"), ("emergency", "off")]),
        (sato_mail, vec![("referral", "immediate"), ("emergency", "daily")]),
    ] {
        let s = app.signin(who).await;
        assert_eq!(s.post("/account/notifications", &prefs).await.status, 303);
    }
    let api = app.bare_client();
    let call = |email: &String, path: String, body: serde_json::Value| {
        let api = api.clone();
        let app = &app;
        let email = email.clone();
        async move {
            let token = app.token_for(&email).await;
            Resp::of(api.post(app.at(&path)).bearer_auth(token).json(&body).send().await.unwrap()).await
        }
    };

    // A referral letter to 海辺クリニック: its doctor hears of it; the writer does not.
    let letter = serde_json::json!({
        "kind": "referral", "to_org": umibe.to_string(), "to_person": "小林 徹 先生", "role": "home_physician",
        "fields": { "purpose": "在宅での緩和ケア継続のお願い", "diagnoses": "膵癌", "present_illness": "閉塞性黄疸で発症" }
    });
    let r = call(sato_mail, format!("/api/v1/patients/{yamada}/letters"), letter).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["letter"]["id"].as_str().unwrap().to_string();
    let r = call(sato_mail, format!("/api/v1/patients/{yamada}/letters/{id}/send"), serde_json::json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let m = wait_for_mail(&maildir, kobayashi_mail, 1).await;
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(m[0].0.contains(&msg("ja", "notify-referral")) && m[0].1.contains("https://tsunagu.example.jp/letters"));
    assert!(!m[0].1.contains("膵癌") && !m[0].1.contains("山田"));

    // A thread message naming the nurse: she hears of it; the writer does not.
    let r = call(
        doctor_mail,
        format!("/api/v1/patients/{yamada}/messages"),
        serde_json::json!({ "text": "高橋さん、今夜の疼痛時指示を確認してください", "mentions": [{ "user": nurse_id }] }),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let m = wait_for_mail(&maildir, nurse_mail, 1).await;
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(m[0].0.contains(&msg("ja", "notify-mention")));
    assert!(m[0].1.contains(&format!("/patients/{yamada}")) && !m[0].1.contains("疼痛"));

    // An emergency access: the team members who chose it at once hear of it at once.
    let kobayashi = app.signin(kobayashi_mail).await;
    let r = kobayashi
        .post(
            "/emergency",
            &[("name", "やまだはなこ"), ("birth_date", "1940-03-02"), ("reason", "救急搬送、意識レベル低下")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let m = wait_for_mail(&maildir, nurse_mail, 2).await;
    assert_eq!(m.len(), 2, "{m:?}");
    assert!(m.iter().any(|(subject, body)| subject.contains(&msg("ja", "notify-emergency")) && !body.contains("救急")));
    // Off means off; daily waits for the morning; the one who opened it is not told.
    assert!(mails_to(&maildir, doctor_mail).is_empty());
    assert!(mails_to(&maildir, sato_mail).is_empty());
    assert_eq!(mails_to(&maildir, kobayashi_mail).len(), 1);
    app.clock.advance(time::Duration::days(1));
    let m = wait_for_mail(&maildir, sato_mail, 1).await;
    assert_eq!(m.len(), 1, "the emergency goes in the hospital physician's digest: {m:?}");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_diary_entry_over_the_threshold_reaches_the_chart_the_inbox_and_a_mail_without_clinical_content() {
    let (app, maildir) = app_with_mail().await;
    let yamada = app.patient_id("ヤマダ").await.to_string();
    let addrs = fresh_addresses(&app, &[TAKAHASHI, SUZUKI, KOBAYASHI]).await;
    let (nurse_mail, doctor_mail, outsider_mail) = (addrs[0].clone(), addrs[1].clone(), addrs[2].clone());
    let nurse = app.signin(&nurse_mail).await;
    let doctor = app.signin(&doctor_mail).await;
    let outsider = app.signin(&outsider_mail).await;
    // The nurse wants diary alerts at once, the home physician once a day; the outsider
    // chose them too but is not on the team.
    for (s, freq) in [(&nurse, "immediate"), (&doctor, "daily"), (&outsider, "immediate")] {
        let r = s.post("/account/notifications", &[("diary_alert", freq), ("mention", "off")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
    }
    assert!(nurse.get("/account/notifications").await.body.contains("id=\"pref-diary_alert-immediate\" checked"));

    let token = invite(&nurse, &yamada, "山田 一郎", "長男", "7").await;
    let family = accept(&app, &token, HANAKO).await;

    // Under the threshold: on the chart, no alert, no mail.
    let r = family
        .post_multipart_with(
            "/family/diary",
            &[("observed_at", "2026-11-24T08:00"), ("pain", "4"), ("sleep", "2")],
            None,
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    // Pain 8 with a rescue dose: an alert.
    let r = family
        .post_multipart_with(
            "/family/diary",
            &[
                ("observed_at", "2026-11-24T09:30"),
                ("pain", "8"),
                ("breathlessness", "3"),
                ("rescue_drug", "オキノーム散 5mg"),
                ("rescue_at", "2026-11-24T09:40"),
                ("note", "夕方から背中が痛い"),
            ],
            None,
        )
        .await;
    assert_eq!((r.status, r.location().as_str()), (303, "/family/diary?saved=1"), "{}", r.body);

    // The chart says so, marked as patient-reported.
    let chart = nurse.get(&format!("/patients/{yamada}")).await;
    assert!(chart.body.contains("id=\"diary-alert-banner\""), "the chart shows the alert");
    assert!(chart.text().contains(&msg("ja", "patient-reported")));
    let team_page = nurse.get(&format!("/patients/{yamada}/family")).await;
    assert!(team_page.text().contains("オキノーム散 5mg") && team_page.text().contains("夕方から背中が痛い"));
    assert_eq!(team_page.body.matches("<span class=\"rating over\">8</span>").count(), 1);
    assert_eq!(team_page.body.matches("class=\" alert\"").count(), 1, "one open alert row");
    // The inbox of every team organization lists it; an outsider's does not.
    for s in [&nurse, &doctor] {
        let inbox = s.get("/inbox").await;
        assert!(inbox.body.contains("id=\"inbox-diary\"") && inbox.text().contains("山田 花子"), "{}", inbox.body);
    }
    assert!(!outsider.get("/inbox").await.body.contains("inbox-diary"));

    // One mail, at once, to the nurse: a category and a link, nothing clinical.
    let mails = wait_for_mail(&maildir, &nurse_mail, 1).await;
    assert_eq!(mails.len(), 1, "exactly one immediate mail: {mails:?}");
    let (subject, body) = &mails[0];
    assert!(subject.contains(&msg("ja", "notify-diary-alert")), "subject: {subject}");
    assert!(body.contains(&format!("https://tsunagu.example.jp/patients/{yamada}/family")), "{body}");
    for clinical in ["山田", "ヤマダ", "花子", "一郎", "オキノーム", "背中", "痛み", "Pain"] {
        assert!(
            !subject.contains(clinical) && !body.contains(clinical),
            "the mail shows {clinical:?}:\n{subject}\n{body}"
        );
    }
    assert!(mails_to(&maildir, &outsider_mail).is_empty(), "no mail outside the team");
    assert!(mails_to(&maildir, &doctor_mail).is_empty(), "the daily digest waits for its hour");

    // Acknowledging clears the nurse's organization's alert, not the clinic's.
    let entry = team_page.body.split("id=\"ack-").nth(1).unwrap().split('"').next().unwrap().to_string();
    let r = nurse.post(&format!("/patients/{yamada}/family/diary/{entry}/acknowledge"), &[]).await;
    assert_eq!(r.status, 303);
    assert!(!nurse.get("/inbox").await.body.contains("inbox-diary"));
    assert!(doctor.get("/inbox").await.body.contains("inbox-diary"));

    // Next morning at 08:00 the home physician gets the day's digest, one mail.
    app.clock.advance(time::Duration::days(1));
    let digest = wait_for_mail(&maildir, &doctor_mail, 1).await;
    assert_eq!(digest.len(), 1, "{digest:?}");
    assert!(digest[0].1.contains(&format!("/patients/{yamada}/family")));
    assert!(!digest[0].1.contains("山田") && !digest[0].1.contains("オキノーム"));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM mail_outbox WHERE sent_at IS NULL").await, 0);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_family_thread_visits_and_shared_documents_reach_the_family_and_nothing_else() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await.to_string();
    let nurse = app.signin(TAKAHASHI).await;
    let token = invite(&nurse, &yamada, "山田 一郎", "長男", "7").await;
    let family = accept(&app, &token, HANAKO).await;

    // The family thread, both ways; apart from the professionals' timeline. (The test
    // clock stands still: time passes before the family writes.)
    app.clock.advance(time::Duration::minutes(5));
    let messages = count(&app, "SELECT COUNT(*) FROM family_messages").await;
    let r = family.post("/family/messages", &[("body", "今夜は眠れそうです")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let inbox = nurse.get("/inbox").await;
    assert!(
        inbox.body.contains(&format!("href=\"/patients/{yamada}/family#thread\" data-family=\"1\"")),
        "the inbox counts the family's message"
    );
    let r = nurse.post(&format!("/patients/{yamada}/family/messages"), &[("body", "明日14時に伺います")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let thread = family.get("/family/messages").await;
    assert!(thread.text().contains("今夜は眠れそうです") && thread.text().contains("明日14時に伺います"));
    let timeline = nurse.get(&format!("/patients/{yamada}/timeline")).await;
    assert!(!timeline.text().contains("今夜は眠れそうです"), "family messages stay off the professionals' thread");
    // An empty message is refused and changes nothing.
    let r = family.post("/family/messages", &[("body", "  ")]).await;
    assert_eq!(r.status, 422);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM family_messages").await, messages + 2);

    // A visit today: on the nurse's list, one tap from the chart, and on the family's page.
    let r = nurse
        .post(
            &format!("/patients/{yamada}/visits"),
            &[("starts_at", "2026-11-24T14:00"), ("profession", "nurse"), ("mine", "on"), ("note", "定期訪問")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let today = nurse.get("/today").await;
    assert!(today.body.contains(&format!("href=\"/patients/{yamada}\"")), "{}", today.body);
    assert!(today.text().contains("14:00") && today.text().contains("山田 花子"));
    let home = family.get("/family").await;
    assert!(home.text().contains("2026-11-24 14:00") && home.text().contains("定期訪問"), "{}", home.body);
    // Night-time contacts come first.
    let team_section = home.body.split("id=\"family-team\"").nth(1).unwrap();
    let first_tel = team_section.split("class=\"tel").nth(1).unwrap();
    assert!(first_tel.starts_with(" night"), "the first number is the night-time one");
    // A visit in the past is refused.
    let r = nurse
        .post(&format!("/patients/{yamada}/visits"), &[("starts_at", "2026-11-01T10:00"), ("profession", "nurse")])
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains(&msg("ja", "err-visit-past")));

    // A shared document: the family downloads it; an unshared one is not there.
    let pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
    for name in ["kaigo-plan.pdf", "naibu-memo.pdf"] {
        let r = nurse
            .post_multipart(
                &format!("/patients/{yamada}/documents"),
                &[("doc_type", "other"), ("title", name)],
                (name, "application/pdf", pdf),
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
    }
    let page = nurse.get(&format!("/patients/{yamada}/family")).await;
    let option = |name: &str| {
        page.body
            .split("<option value=\"")
            .skip(1)
            .find(|s| s.contains(name))
            .map(|s| s.split('"').next().unwrap().to_string())
            .unwrap()
    };
    let (shared, private) = (option("kaigo-plan.pdf"), option("naibu-memo.pdf"));
    let r = nurse.post(&format!("/patients/{yamada}/family/shares"), &[("attachment", &shared)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let home = family.get("/family").await;
    assert!(home.text().contains("kaigo-plan.pdf") && !home.text().contains("naibu-memo.pdf"));
    let got = family.client.get(app.at(&format!("/family/documents/{shared}"))).send().await.unwrap();
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(got.bytes().await.unwrap().as_ref(), pdf);
    assert_eq!(family.get(&format!("/family/documents/{private}")).await.status, 404);

    // Diary records are append-only: a mistake is a mark.
    // A photo with the entry: the family and the team see it; it is kept in the object
    // store with the chart's files (and so in backups).
    let png = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R'];
    let r = family
        .post_multipart_with(
            "/family/diary",
            &[("observed_at", "2026-11-24T09:00"), ("pain", "9")],
            Some(("senaka.png", "image/png", &png)),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let diary = family.get("/family/diary").await;
    let entry = diary.body.split("data-entry=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let got = family.client.get(app.at(&format!("/family/diary/{entry}/photo"))).send().await.unwrap();
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(got.headers()["content-type"], "image/png");
    assert_eq!(got.bytes().await.unwrap().as_ref(), &png);
    let got = nurse.client.get(app.at(&format!("/patients/{yamada}/family/diary/{entry}/photo"))).send().await.unwrap();
    assert_eq!(got.bytes().await.unwrap().as_ref(), &png, "the team sees the family's photo");
    assert!(nurse.get(&format!("/patients/{yamada}/family")).await.body.contains("class=\"diary-photo\""));
    let hashes = app.store.system_attachment_hashes().await.unwrap();
    let png_hash = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(png))
    };
    assert!(hashes.contains(&png_hash), "the photo's bytes are among the files backups copy: {hashes:?}");
    let r = family.post(&format!("/family/diary/{entry}/mistake"), &[("reason", "3の押し間違い")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(family.get("/family/diary").await.text().contains("3の押し間違い"));
    let mut c = app.raw_conn().await;
    assert!(sqlx::query("UPDATE diary_entries SET pain = 3").execute(&mut c).await.is_err());
    assert!(sqlx::query("DELETE FROM family_messages").execute(&mut c).await.is_err());
    // A marked alert is no longer an alert for the team.
    assert!(!nurse.get("/inbox").await.body.contains("inbox-diary"));
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_diary_input_is_refused_in_the_familys_language_and_changes_nothing() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await.to_string();
    let nurse = app.signin(TAKAHASHI).await;
    let token = invite(&nurse, &yamada, "山田 一郎", "長男", "7").await;
    let family = accept(&app, &token, HANAKO).await;
    let entries = count(&app, "SELECT COUNT(*) FROM diary_entries").await;
    for (fields, key) in [
        (vec![("observed_at", "2026-11-24T09:00"), ("pain", "11")], "err-rating"),
        (vec![("observed_at", "2026-11-24T09:00"), ("rescue_drug", "オキノーム散 5mg")], "err-rescue-time"),
        (vec![("observed_at", "2026-11-24T09:00")], "err-diary-empty"),
        (vec![("observed_at", "2026-12-24T09:00"), ("pain", "3")], "err-date-future"),
        (vec![("observed_at", "きのう"), ("pain", "3")], "err-datetime"),
    ] {
        let r = family.post_multipart_with("/family/diary", &fields, None).await;
        assert_eq!(r.status, 422, "{fields:?}");
        assert!(r.text().contains(&msg("ja", key)), "{fields:?} explains {key}:\n{}", r.body);
        r.assert_no_leak("diary");
    }
    // Only a photo is taken as a photo, told from its bytes; a refused entry stores nothing.
    let blobs = app.store.system_attachment_hashes().await.unwrap().len();
    let pdf = b"%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n";
    for (name, bytes) in [("shashin.jpg", &pdf[..]), ("senaka.png", b"not really a png")] {
        let r = family
            .post_multipart_with(
                "/family/diary",
                &[("observed_at", "2026-11-24T09:00"), ("pain", "3")],
                Some((name, "image/jpeg", bytes)),
            )
            .await;
        assert_eq!(r.status, 422, "{name}");
        assert!(r.text().contains(&msg("ja", "err-photo-type")), "{}", r.body);
    }
    assert_eq!(app.store.system_attachment_hashes().await.unwrap().len(), blobs);
    for (fields, key) in [(vec![("observed_at", "2026-11-24T09:00"), ("pain", "12")], "err-rating")] {
        let r = family.post_multipart_with("/family/diary", &fields, None).await;
        assert_eq!(r.status, 422, "{fields:?}");
        assert!(r.text().contains(&msg("ja", key)), "{fields:?} explains {key}:\n{}", r.body);
        r.assert_no_leak("diary");
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM diary_entries").await, entries);
    app.finish().await;
}
