//! The patient registry (DOMAIN.md §3): search in any kana script or width, partial
//! names, birth date and local id; only patients within reach are found; duplicates are
//! flagged; a taken local id is a named conflict; the registering organization owns
//! the new chart and is on its team.

use crate::harness::*;

/// Build a query string (values percent-encoded).
fn query(params: &[(&str, &str)]) -> String {
    params.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect::<Vec<_>>().join("&")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_hanako_in_any_kana_for_her_team_only() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let link = format!("href=\"/patients/{yamada}\"");
    let sato = app.signin(SATO).await;
    let kobayashi = app.signin(KOBAYASHI).await;

    let searches: &[&[(&str, &str)]] = &[
        &[("q", "ﾔﾏﾀﾞ")],
        &[("q", "やまだ")],
        &[("q", "ヤマダ")],
        &[("q", "まだ")],
        &[("q", "ﾔﾏﾀﾞ ﾊﾅｺ")],
        &[("q", "山田")],
        &[("q", "やまだ"), ("birth_date", "1940-03-02")],
        &[("birth_date", "1940-03-02")],
        &[("local_id", "H-000123")],
    ];
    for params in searches {
        let qs = query(params);
        for path in [format!("/patients?{qs}"), format!("/patients/search?{qs}")] {
            let r = sato.get(&path).await;
            assert_eq!(r.status, 200, "{path}");
            assert!(r.body.contains(&link), "sato: {path} does not find 山田 花子");
            assert!(r.body.contains("花子"), "{path}");
            let r = kobayashi.get(&path).await;
            assert_eq!(r.status, 200, "{path}");
            assert!(!r.body.contains(&link) && !r.body.contains("花子"), "the outsider finds 山田 花子 with {path}");
            assert!(r.text().contains(&msg("ja", "search-none")), "{path}");
        }
    }
    // The search is not "everything matches": a wrong birth date finds nothing.
    let r = sato.get(&format!("/patients?{}", query(&[("q", "やまだ"), ("birth_date", "1941-03-02")]))).await;
    assert!(!r.body.contains(&link));
    assert!(r.text().contains(&msg("ja", "search-none")));
    // Nor can the outsider find her through the API.
    let token = app.token_for(KOBAYASHI).await;
    let r = Resp::of(
        app.bare_client()
            .get(app.at(&format!("/api/v1/patients?{}", query(&[("q", "ﾔﾏﾀﾞ")]))))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["patients"], serde_json::json!([]));
    app.finish().await;
}

fn hanako_again(confirm: bool) -> Vec<(&'static str, &'static str)> {
    let mut f = vec![
        ("family_name", "山田"),
        ("given_name", "花子"),
        ("family_kana", "やまだ"),
        ("given_kana", "はなこ"),
        ("sex", "female"),
        ("birth_date", "1940-03-02"),
        ("local_id", "H-000123"),
    ];
    if confirm {
        f.push(("confirm_new", "on"));
    }
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_flags_duplicates_names_conflicts_and_owns_the_chart() {
    let app = TestApp::start().await;
    let before = app.counts().await;
    let yamada = app.patient_id("ヤマダ").await;
    let sato = app.signin(SATO).await;

    // The same name and birth date: a warning with the existing chart, nothing created.
    let r = sato.post("/patients", &hanako_again(false)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("id=\"duplicates\""), "{}", r.body);
    assert!(r.text().contains(&msg("ja", "patient-duplicates-title")));
    assert!(r.body.contains(&format!("/patients/{yamada}")));
    assert_eq!(app.counts().await, before);

    // Confirmed as a different person, but the local id is taken: 409 naming it.
    let r = sato.post("/patients", &hanako_again(true)).await;
    assert_eq!(r.status, 409, "{}", r.body);
    let text = r.text();
    assert!(text.contains(&msg("ja", "err-local-id-taken")), "{}", r.body);
    assert!(text.contains(&msg("ja", "field-local-id")), "{}", r.body);
    assert!(r.body.contains("value=\"H-000123\""), "the form keeps the id");
    r.assert_no_leak("local id conflict");
    assert_eq!(app.counts().await, before);

    // A new patient: 303 to the chart, owned by the hospital, which is on the team.
    let form = [
        ("family_name", "海野"),
        ("given_name", "次郎"),
        ("family_kana", "ｳﾐﾉ"),
        ("given_kana", "じろう"),
        ("sex", "male"),
        ("birth_date", "1950-05-05"),
        ("postal_code", "997-0035"),
        ("address", "つなぐ市本町1-2-3"),
        ("phone", "0235-22-1234"),
        ("local_id", "H-999999"),
    ];
    let r = sato.post("/patients", &form).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.location();
    let id = location.strip_prefix("/patients/").expect("redirect to the patient page");
    assert!(id.parse::<tsunagu_domain::PatientId>().is_ok(), "{location}");
    assert_eq!(app.counts().await.2, before.2 + 1);

    let page = sato.get(&location).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("海野"));
    let team = section(&page.body, "team");
    let hospital = app.org_of(SATO).await.name;
    assert!(team.contains(&hospital), "the team lists the registering organization {hospital}:\n{team}");
    assert!(team.contains(&msg("ja", "role-owner")), "{team}");
    // Kana is stored in one form, so the new patient is found in another.
    let r = sato.get("/patients?q=%E3%81%86%E3%81%BF%E3%81%AE").await; // うみの
    assert!(r.body.contains(&location), "{}", r.body);
    // And nobody else sees it.
    let suzuki = app.signin(SUZUKI).await;
    assert_eq!(suzuki.get(&location).await.status, 404);
    app.finish().await;
}

/// The HTML of `<section ... id="NAME">` up to its end.
fn section<'a>(body: &'a str, name: &str) -> &'a str {
    let start = body.find(&format!("id=\"{name}\"")).unwrap_or_else(|| panic!("no section {name}"));
    let end = body[start..].find("</section>").map_or(body.len(), |e| start + e);
    &body[start..end]
}
