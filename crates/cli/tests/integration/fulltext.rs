//! Full-text search of notes (issue 3): a two-kanji word written on a chart through the
//! page form is found at once by the team and never by anyone outside it, whose page
//! shows no trace of the patient; a correction replaces the old text; every search is
//! one `fulltext.search` audit record listing the patients shown. `tsunagu reindex`
//! rebuilds the index from the database, and a server with an empty index rebuilds it
//! by itself.

use crate::harness::*;
use std::sync::Arc;
use std::time::Duration;
use tsunagu_domain::PatientId;
use tsunagu_search::SearchIndex;

/// 褥瘡 (pressure ulcer), percent-encoded.
const JOKUSO: &str = "%E8%A4%A5%E7%98%A1";

fn search_path(q: &str) -> String {
    format!("/search?q={}", urlencode(q))
}

/// The entry ids a search page links to, in order.
fn entry_links(body: &str, patient: &str) -> Vec<String> {
    let marker = format!("/patients/{patient}#entry-");
    body.match_indices(&marker)
        .filter_map(|(i, _)| {
            let rest = &body[i + marker.len()..];
            rest.split('"').next().map(str::to_string)
        })
        .collect()
}

/// The one `fulltext.search` audit record of a request, and the patients it lists.
async fn search_audit(app: &TestApp, r: &Resp) -> Vec<String> {
    let rows: Vec<_> =
        app.audit_of_request(&r.request_id()).await.into_iter().filter(|a| a.action == "fulltext.search").collect();
    assert_eq!(rows.len(), 1, "one fulltext.search record per search: {rows:?}");
    assert_eq!(rows[0].outcome, "allowed");
    let detail: serde_json::Value = serde_json::from_str(&rows[0].detail).unwrap();
    detail["shown"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_note_is_found_by_the_team_and_never_by_outsiders() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let yamada_s = yamada.to_string();
    let sato = app.signin(SATO).await;

    // sato writes a SOAP note on 山田 花子's chart through the page form.
    let assessment = "仙骨部に2×3cmの褥瘡（d2）。体圧分散マットレスを継続。";
    let r = sato
        .post(
            &format!("/patients/{yamada}/entries"),
            &[("kind", "progress_note"), ("assessment", assessment), ("plan", "ポリウレタンフィルムで保護")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);

    // The nav links to the search page, in both languages.
    let page = sato.get("/search").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("href=\"/search\""), "{}", page.body);
    assert!(page.text().contains(&msg("ja", "nav-fulltext")));
    assert!(page.text().contains(&msg("ja", "fulltext-title")));

    // sato finds it at once, with the patient's name, the kind, the author and the word marked.
    let r = sato.get(&format!("/search?q={JOKUSO}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.assert_no_leak("search page");
    let links = entry_links(&r.body, &yamada_s);
    assert_eq!(links.len(), 1, "one hit on 山田 花子's chart: {}", r.body);
    let entry = links[0].clone();
    assert!(r.body.contains("山田 花子"), "{}", r.body);
    assert!(r.body.contains("<mark>褥瘡</mark>"), "{}", r.body);
    assert!(r.text().contains(&msg("ja", "entry-kind-progress-note")));
    assert!(r.body.contains("佐藤"), "the author is shown: {}", r.body);
    assert!(r.body.contains(&format!("/patients/{yamada}/entries/{entry}")), "{}", r.body);
    assert_eq!(search_audit(&app, &r).await, vec![yamada_s.clone()]);
    // The audit does not keep what was typed.
    let rows = app.audit_of_request(&r.request_id()).await;
    assert!(rows.iter().all(|a| !a.detail.contains("褥瘡") && !a.target.contains("褥瘡")), "{rows:?}");

    // suzuki (the home physician, on the team) finds it too.
    let suzuki = app.signin(SUZUKI).await;
    let r = suzuki.get(&format!("/search?q={JOKUSO}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(entry_links(&r.body, &yamada_s), vec![entry.clone()], "{}", r.body);
    assert_eq!(search_audit(&app, &r).await, vec![yamada_s.clone()]);

    // kobayashi (海辺クリニック, not on any demo team) registers a patient of his own and
    // writes the same word there.
    let kobayashi = app.signin(KOBAYASHI).await;
    let r = kobayashi
        .post(
            "/patients",
            &[
                ("family_name", "海野"),
                ("given_name", "波子"),
                ("family_kana", "ウミノ"),
                ("given_kana", "ナミコ"),
                ("sex", "female"),
                ("birth_date", "1941-02-03"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let umino = r.location().strip_prefix("/patients/").unwrap().to_string();
    umino.parse::<PatientId>().unwrap();
    let r = kobayashi
        .post(&format!("/patients/{umino}/entries"), &[("kind", "nursing_record"), ("text", "踵に褥瘡あり。")])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);

    // kobayashi finds his own patient and nothing of 山田 花子: not her name, not her id,
    // not a count that would give her away.
    let r = kobayashi.get(&format!("/search?q={JOKUSO}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(entry_links(&r.body, &umino).len(), 1, "{}", r.body);
    for trace in [yamada_s.as_str(), "山田", "ヤマダ", entry.as_str(), "仙骨部"] {
        assert!(!r.body.contains(trace), "the outsider's page shows {trace:?}:\n{}", r.body);
    }
    assert!(r.text().contains(&msg("ja", "fulltext-count").replace("{ $count }", "1")), "{}", r.body);
    assert_eq!(search_audit(&app, &r).await, vec![umino.clone()]);

    // And sato, for whom 海野 波子 is out of reach, never sees her note though it matches.
    let r = sato.get(&format!("/search?q={JOKUSO}")).await;
    assert!(!r.body.contains(&umino) && !r.body.contains("海野"), "{}", r.body);
    assert_eq!(entry_links(&r.body, &yamada_s), vec![entry.clone()]);
    assert_eq!(search_audit(&app, &r).await, vec![yamada_s.clone()]);
    // A word only the outsider's note has: nothing, and the same page as any miss.
    let r = sato.get(&search_path("踵に褥瘡")).await;
    assert!(!r.body.contains(&umino), "{}", r.body);
    assert!(r.text().contains(&msg("ja", "fulltext-none")), "{}", r.body);
    assert!(search_audit(&app, &r).await.is_empty());

    // A correction replaces the old text in the index.
    let r = sato
        .post(
            &format!("/patients/{yamada}/entries/{entry}/correct"),
            &[
                ("version_id", entry.as_str()),
                ("reason", "部位の誤記"),
                ("assessment", "右踵部に発赤のみ、褥瘡なし。"),
                ("plan", "ポリウレタンフィルムで保護"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = sato.get(&search_path("仙骨部")).await;
    assert!(entry_links(&r.body, &yamada_s).is_empty(), "the corrected-away text is not found: {}", r.body);
    let r = sato.get(&search_path("右踵部 発赤")).await;
    assert_eq!(entry_links(&r.body, &yamada_s), vec![entry.clone()], "{}", r.body);
    assert!(r.text().contains(&msg("ja", "entry-corrected").replace("{ $version }", "2")), "{}", r.body);

    // A note written through the API is indexed too.
    let token = app.token_for(SUZUKI).await;
    let r = Resp::of(
        app.bare_client()
            .post(app.at(&format!("/api/v1/patients/{yamada}/entries")))
            .bearer_auth(&token)
            .json(&serde_json::json!({"body": {"kind": "nursing_record", "text": "疼痛増強、レスキュー2回。"}}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = sato.get(&search_path("疼痛")).await;
    assert_eq!(entry_links(&r.body, &yamada_s).len(), 1, "{}", r.body);
    // Hiragana finds katakana.
    let r = sato.get(&search_path("れすきゅー")).await;
    assert_eq!(entry_links(&r.body, &yamada_s).len(), 1, "{}", r.body);

    // One character: a message, no search, no audit record.
    let r = sato.get(&search_path("痛")).await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains(&msg("ja", "fulltext-too-short")), "{}", r.body);
    assert!(app.audit_of_request(&r.request_id()).await.iter().all(|a| a.action != "fulltext.search"));
    sato.set_lang("en").await;
    let r = sato.get(&search_path("痛")).await;
    assert!(r.text().contains(&msg("en", "fulltext-too-short")), "{}", r.body);
    let r = sato.get(&format!("/search?q={JOKUSO}")).await;
    assert!(r.text().contains(&msg("en", "nav-fulltext")), "{}", r.body);

    // Signed out: the sign-in page, nothing searched.
    let r = Resp::of(app.bare_client().get(app.at(&format!("/search?q={JOKUSO}"))).send().await.unwrap()).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(!r.body.contains("山田"));

    app.finish().await;
}

/// `GET /api/v1/search` as `token` with `q`, in `lang`.
async fn api_search(app: &TestApp, token: &str, q: &str, lang: &str) -> Resp {
    Resp::of(
        app.bare_client()
            .get(app.at(&format!("/api/v1/search?q={}", urlencode(q))))
            .bearer_auth(token)
            .header("accept-language", lang)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_api_searches_notes_behind_the_same_door() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let yamada_s = yamada.to_string();
    let suzuki = app.token_for(SUZUKI).await;
    let r = Resp::of(
        app.bare_client()
            .post(app.at(&format!("/api/v1/patients/{yamada}/entries")))
            .bearer_auth(&suzuki)
            .json(&serde_json::json!({"body": {"kind": "nursing_record", "text": "仙骨部に褥瘡、体圧分散を継続。"}}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let entry = r.json()["id"].as_str().or(r.json()["entry_id"].as_str()).unwrap().to_string();

    // A team member finds the note, with the patient, the entry and the word marked,
    // and the search is one audit record listing the patient shown.
    let sato = app.token_for(SATO).await;
    let r = api_search(&app, &sato, "褥瘡", "ja").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let hits = r.json()["hits"].as_array().unwrap().clone();
    assert_eq!(hits.len(), 1, "{}", r.body);
    assert_eq!(hits[0]["patient"]["id"], yamada_s.as_str());
    assert_eq!(hits[0]["patient"]["family_name"], "山田");
    assert_eq!(hits[0]["entry"]["entry_id"], entry.as_str(), "{}", r.body);
    assert!(hits[0]["snippet"].as_str().unwrap().contains("<mark>褥瘡</mark>"), "{}", r.body);
    assert_eq!(search_audit(&app, &r).await, vec![yamada_s.clone()]);
    // Hiragana finds katakana, every word must appear.
    let r = api_search(&app, &sato, "たいあつ 褥瘡", "ja").await;
    assert_eq!(r.json()["hits"].as_array().map(Vec::len), Some(0), "体圧 is kanji, not kana: {}", r.body);
    let r = api_search(&app, &sato, "体圧 褥瘡", "ja").await;
    assert_eq!(r.json()["hits"].as_array().map(Vec::len), Some(1), "{}", r.body);

    // An organization outside the team finds nothing and sees no trace of the patient.
    let kobayashi = app.token_for(KOBAYASHI).await;
    let r = api_search(&app, &kobayashi, "褥瘡", "ja").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["hits"], serde_json::json!([]));
    for trace in [yamada_s.as_str(), "山田", "仙骨部", entry.as_str()] {
        assert!(!r.body.contains(trace), "the outsider's answer shows {trace:?}: {}", r.body);
    }
    assert!(search_audit(&app, &r).await.is_empty());

    // The owner brings that organization onto the team: its very next search finds the
    // note (what it may read is not served from before the change).
    let umibe = app.org_of(KOBAYASHI).await;
    let sato_page = app.signin(SATO).await;
    let r = sato_page
        .post(
            &format!("/patients/{yamada}/team"),
            &[("org", umibe.id.to_string().as_str()), ("role", "home_physician")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = api_search(&app, &kobayashi, "褥瘡", "ja").await;
    assert_eq!(r.json()["hits"].as_array().map(Vec::len), Some(1), "found right after joining the team: {}", r.body);
    assert_eq!(search_audit(&app, &r).await, vec![yamada_s.clone()]);

    // Words that cannot be searched: a problem naming q, in the caller's language, and
    // nothing searched or recorded.
    for (q, key) in
        [("痛", "fulltext-too-short"), ("   ", "fulltext-too-short"), (&"褥瘡 ".repeat(11), "fulltext-too-long")]
    {
        for lang in ["ja", "en"] {
            let r = api_search(&app, &sato, q, lang).await;
            assert_eq!(r.status, 422, "{q:?}: {}", r.body);
            assert_eq!(r.header("content-type"), "application/problem+json", "{}", r.body);
            assert_eq!(r.json()["errors"][0]["field"], "q", "{}", r.body);
            assert_eq!(r.json()["errors"][0]["message"], msg(lang, key), "{}", r.body);
            assert!(app.audit_of_request(&r.request_id()).await.iter().all(|a| a.action != "fulltext.search"));
        }
    }
    // Without a token: 401, nothing searched.
    let r = Resp::of(app.bare_client().get(app.at("/api/v1/search?q=%E8%A4%A5%E7%98%A1")).send().await.unwrap()).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(!r.body.contains("山田"));

    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reindex_rebuilds_the_index_from_the_database() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let sato = app.signin(SATO).await;
    let r = sato
        .post(
            &format!("/patients/{yamada}/entries"),
            &[("kind", "progress_note"), ("assessment", "褥瘡の再評価、DESIGN-R 8点。")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let entries = app.store.system_count_current_entries().await.unwrap();
    assert!(entries > 1, "the demo charts have entries");

    // The real binary, with the index in a data directory of its own.
    let data = tempfile::tempdir().unwrap();
    let data_arg = data.path().to_str().unwrap();
    for _ in 0..2 {
        let out = app.cli(&["--data", data_arg, "reindex"]).await;
        assert!(out.status.success(), "reindex: {}", stderr(&out));
        assert!(stdout(&out).contains(&format!("reindexed {entries} entries")), "{}", stdout(&out));
    }
    {
        // Run twice, the index holds each entry once.
        let index = SearchIndex::open(&data.path().join("search-index")).unwrap();
        assert_eq!(index.num_docs(), u64::try_from(entries).unwrap());
        let hits = index.search("DESIGN-R 8点", 10).unwrap();
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].patient_id, yamada.to_string());
        assert!(!index.search("褥瘡", 100).unwrap().is_empty());
    }

    // A server whose index is empty rebuilds it in the background.
    let index = Arc::new(SearchIndex::in_memory().unwrap());
    tsunagu_cli::reindex::rebuild_in_background_if_behind(app.store.clone(), index.clone());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while index.num_docs() < u64::try_from(entries).unwrap() {
        assert!(std::time::Instant::now() < deadline, "the background rebuild did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(index.search("DESIGN-R 8点", 10).unwrap().len(), 1);

    // An index that missed an entry (the server died between the commit and indexing
    // it) is caught up at the next start, not only an empty one.
    let hit = index.search("DESIGN-R 8点", 10).unwrap().remove(0);
    index.remove_entry(&hit.entry_id).unwrap();
    index.commit().unwrap();
    assert!(index.search("DESIGN-R 8点", 10).unwrap().is_empty());
    tsunagu_cli::reindex::rebuild_in_background_if_behind(app.store.clone(), index.clone());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while index.search("DESIGN-R 8点", 10).unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline, "the missed entry was not indexed again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(index.num_docs(), u64::try_from(entries).unwrap());

    // While a process holds the index, reindex says so and changes nothing.
    let held = SearchIndex::open(&data.path().join("search-index")).unwrap();
    let out = app.cli(&["--data", data_arg, "reindex"]).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("in use"), "{}", stderr(&out));
    drop(held);

    app.finish().await;
}
