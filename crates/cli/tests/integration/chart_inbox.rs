//! The patient's thread and the inbox (DOMAIN.md §5): a message can name a person or a
//! whole organization of the team; the inbox counts what others wrote since one last
//! opened the chart, and the mentions; opening the chart clears both; one's own writing
//! never counts. An open chart hears of new entries (live update).

use crate::chart::{Api, article, assert_saved, msg_with};
use crate::harness::*;
use serde_json::json;
use tsunagu_domain::PatientId;

fn minute() -> time::Duration {
    time::Duration::minutes(1)
}

/// (unread, mentions) of one patient on the `/inbox` page, from the row's `data-unread`
/// and `data-mentions` (absent when zero); None when the patient is not listed.
fn inbox_page_counts(body: &str, patient: PatientId) -> Option<(i64, i64)> {
    let link = format!("href=\"/patients/{patient}\"");
    let at = body.find(&link)?;
    let start = body[..at].rfind("<tr").expect("an inbox row is a <tr>");
    let end = body[at..].find("</tr>").map_or(body.len(), |e| at + e);
    let row = &body[start..end];
    let attr = |name: &str| -> i64 {
        let marker = format!("{name}=\"");
        match row.find(&marker) {
            Some(i) => {
                let rest = &row[i + marker.len()..];
                rest[..rest.find('"').unwrap()].parse().unwrap_or_else(|e| panic!("{name} in {row}: {e}"))
            }
            None => 0,
        }
    };
    Some((attr("data-unread"), attr("data-mentions")))
}

/// The same counts from `/inbox` and from `/api/v1/inbox`, which must agree.
async fn inbox_counts(app: &TestApp, session: &Session, api: &Api, patient: PatientId, who: &str) -> (i64, i64) {
    let page = session.get("/inbox").await;
    assert_eq!(page.status, 200, "{who}: /inbox");
    let rows = app.audit_of_request(&page.request_id()).await;
    assert!(
        rows.iter().any(|a| a.action == "inbox.read" && a.detail.contains(&patient.to_string())),
        "{who}: the inbox read is audited with the patients shown: {rows:?}"
    );
    let from_page = inbox_page_counts(&page.body, patient).unwrap_or_else(|| panic!("{who}: 山田 is not in /inbox"));
    let r = api.get("/api/v1/inbox").await;
    assert_eq!(r.status, 200, "{who}: /api/v1/inbox");
    let v = r.json();
    let row = v["patients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["patient_id"] == patient.to_string())
        .unwrap_or_else(|| panic!("{who}: 山田 is not in /api/v1/inbox: {v}"))
        .clone();
    let from_api = (row["unread"].as_i64().unwrap(), row["mentions"].as_i64().unwrap());
    assert_eq!(from_page, from_api, "{who}: /inbox and /api/v1/inbox disagree");
    from_page
}

/// The `<option>` of the message form's mention list with this value, and its label.
fn mention_option(page: &str, value: &str) -> String {
    let marker = format!("<option value=\"{value}\">");
    let at = page.find(&marker).unwrap_or_else(|| panic!("no mention option {value} on the patient page"));
    let rest = &page[at + marker.len()..];
    unescape(&rest[..rest.find("</option>").unwrap()])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentions_and_new_entries_reach_the_inbox_until_the_chart_is_opened() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let chart = format!("/patients/{yamada}");
    let suzuki_user = app.user(SUZUKI).await;
    let takahashi_user = app.user(TAKAHASHI).await;
    let midori = app.org_of(SUZUKI).await;
    let station = app.org_of(TAKAHASHI).await;
    let takahashi = app.signin(TAKAHASHI).await;
    let takahashi_api = Api::new(&app, TAKAHASHI).await;
    let suzuki = app.signin(SUZUKI).await;
    let suzuki_api = Api::new(&app, SUZUKI).await;
    // Suzuki's colleague (same organization, not named personally) and the hospital.
    const INOUE: &str = "inoue@midori.example.jp";
    let inoue = app.signin(INOUE).await;
    let inoue_api = Api::new(&app, INOUE).await;
    let sato = app.signin(SATO).await;
    let sato_api = Api::new(&app, SATO).await;

    // The message form offers the team's people and organizations, nobody else.
    let page = takahashi.get(&chart).await;
    assert_eq!(page.status, 200);
    let to_suzuki = format!("u:{}", suzuki_user.id);
    let to_midori = format!("o:{}", midori.id);
    let label = mention_option(&page.body, &to_suzuki);
    assert!(label.contains(&suzuki_user.display_name) && label.contains(&midori.name), "{label}");
    assert!(mention_option(&page.body, &to_midori).contains(&midori.name));
    let kobayashi = app.user(KOBAYASHI).await;
    assert!(!page.body.contains(&kobayashi.id.to_string()), "the outsider is offered as a mention");

    // Everyone has looked at the chart: nothing new.
    for s in [&suzuki, &inoue, &sato] {
        assert_eq!(s.get(&chart).await.status, 200);
    }
    assert_eq!(inbox_counts(&app, &suzuki, &suzuki_api, yamada, "suzuki").await, (0, 0));
    app.clock.advance(minute());

    // The visiting nurse asks suzuki, then the whole home clinic.
    const M1: &str = "鈴木先生、今夜の疼痛時の指示をご確認ください。";
    const M2: &str = "みどり在宅クリニックの皆様へ：明日の訪問時間を変更します。";
    let r = takahashi
        .post(&format!("{chart}/entries"), &[("kind", "message"), ("text", M1), ("mention", &to_suzuki)])
        .await;
    assert_saved(&r, yamada, "the message to suzuki");
    app.clock.advance(minute());
    let r = takahashi
        .post(&format!("{chart}/entries"), &[("kind", "message"), ("text", M2), ("mention", &to_midori)])
        .await;
    assert_saved(&r, yamada, "the message to the home clinic");
    app.clock.advance(minute());

    // Suzuki: two new entries, both naming him (himself, then his organization).
    assert_eq!(inbox_counts(&app, &suzuki, &suzuki_api, yamada, "suzuki").await, (2, 2));
    let page = suzuki.get("/inbox").await;
    assert!(page.body.contains("data-unread=\"2\"") && page.body.contains("data-mentions=\"2\""), "{}", page.body);
    let first = &suzuki_api.get("/api/v1/inbox").await.json()["patients"][0];
    assert_eq!(first["patient_id"], yamada.to_string(), "the patient with mentions comes first");
    // His colleague: the organization was named, he was not.
    assert_eq!(inbox_counts(&app, &inoue, &inoue_api, yamada, "inoue").await, (2, 1));
    // The hospital: new entries, no mention.
    assert_eq!(inbox_counts(&app, &sato, &sato_api, yamada, "sato").await, (2, 0));
    // The author: her own messages are not news to her.
    assert_eq!(inbox_counts(&app, &takahashi, &takahashi_api, yamada, "takahashi").await, (0, 0));

    // Suzuki opens the chart: the messages are there, and his counts go to zero.
    app.clock.advance(minute());
    let page = suzuki.get(&chart).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(M1) && page.body.contains(M2));
    let entries = suzuki_api.entries(yamada).await;
    let m1 = entries.iter().find(|e| e["body"]["text"] == M1).expect("the first message");
    assert!(article(&page.body, m1["entry_id"].as_str().unwrap()).contains("class=\"pre message\""));
    app.clock.advance(minute());
    assert_eq!(inbox_counts(&app, &suzuki, &suzuki_api, yamada, "suzuki").await, (0, 0));
    assert_eq!(inbox_counts(&app, &inoue, &inoue_api, yamada, "inoue").await, (2, 1), "only suzuki opened it");

    // Suzuki answers through the API, naming the nurse: news for her, not for him.
    const REPLY: &str = "指示を更新しました。レスキューは1時間あけて追加可です。";
    let r = suzuki_api
        .post(
            &format!("/api/v1{chart}/messages"),
            &json!({"text": REPLY, "mentions": [{"user": takahashi_user.id.to_string()}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["body"]["text"], REPLY);
    app.clock.advance(minute());
    assert_eq!(inbox_counts(&app, &takahashi, &takahashi_api, yamada, "takahashi").await, (1, 1));
    assert_eq!(inbox_counts(&app, &suzuki, &suzuki_api, yamada, "suzuki").await, (0, 0));

    // Naming someone outside the team is refused through the API, and writes nothing.
    let before = suzuki_api.entries(yamada).await.len();
    let r = suzuki_api
        .post(
            &format!("/api/v1{chart}/messages"),
            &json!({"text": "海辺クリニックにも共有", "mentions": [{"user": kobayashi.id.to_string()}]}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["errors"][0]["field"], "mentions");
    assert_eq!(suzuki_api.entries(yamada).await.len(), before);

    // A nurse writing to her own organization: news for her colleague, not for her.
    app.clock.advance(minute());
    assert_eq!(takahashi.get(&chart).await.status, 200);
    app.clock.advance(minute());
    let to_station = format!("o:{}", station.id);
    let r = takahashi
        .post(
            &format!("{chart}/entries"),
            &[("kind", "message"), ("text", "ステーション内連絡：物品補充済み"), ("mention", &to_station)],
        )
        .await;
    assert_saved(&r, yamada, "the message to her own organization");
    app.clock.advance(minute());
    const YAMAZAKI: &str = "yamazaki@station.example.jp";
    let yamazaki = app.signin(YAMAZAKI).await;
    let yamazaki_api = Api::new(&app, YAMAZAKI).await;
    let (_, colleague_mentions) = inbox_counts(&app, &yamazaki, &yamazaki_api, yamada, "yamazaki").await;
    assert_eq!(colleague_mentions, 1, "the colleague is told");
    assert_eq!(
        inbox_counts(&app, &takahashi, &takahashi_api, yamada, "takahashi").await,
        (0, 0),
        "the author's own message to her own organization counts as news for her"
    );
    app.finish().await;
}

/// The `since` an open chart polls with (`hx-get=".../live?since=T"`).
fn live_since(page: &str) -> String {
    let marker = "/live?since=";
    let at = page.find(marker).expect("the chart page polls for live updates") + marker.len();
    unescape(&page[at..at + page[at..].find('"').unwrap()])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_chart_hears_when_another_organization_writes() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let chart = format!("/patients/{yamada}");
    let sato = app.signin(SATO).await;
    let takahashi = app.signin(TAKAHASHI).await;

    let r = sato
        .post(&format!("{chart}/entries"), &[("kind", "progress_note"), ("text", "退院前カンファレンス実施")])
        .await;
    assert_saved(&r, yamada, "the hospital's note");
    let page = sato.get(&chart).await;
    let since = live_since(&page.body);
    assert!(since.starts_with("2026-11-24T"), "the poll starts from the newest entry: {since:?}");
    let live = format!("{chart}/live?since={}", urlencode(&since));

    // Nothing new: an empty answer.
    let r = sato.get(&live).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("content-type").starts_with("text/html"));
    assert_eq!(r.body.trim(), "", "nothing new must answer nothing");
    let rows = app.audit_of_request(&r.request_id()).await;
    assert!(rows.iter().any(|a| a.action == "chart.poll" && a.outcome == "allowed"), "{rows:?}");

    // The visiting nurse writes: the open chart is told, with a link to reload.
    app.clock.advance(time::Duration::minutes(2));
    let r = takahashi.post(&format!("{chart}/entries"), &[("kind", "nursing_record"), ("text", "口腔ケア実施")]).await;
    assert_saved(&r, yamada, "the nurse's record");
    let r = sato.get(&live).await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains(&msg_with("ja", "chart-live-new", "count", "1")), "{}", r.body);
    assert!(r.body.contains(&format!("href=\"{chart}#timeline\"")), "{}", r.body);
    assert!(r.text().contains(&msg("ja", "chart-live-reload")));
    assert!(!r.body.contains("口腔ケア実施"), "the notice is a notice, not the entry");
    app.clock.advance(time::Duration::minutes(2));
    let r = takahashi.post(&format!("{chart}/entries"), &[("kind", "nursing_record"), ("text", "体位変換")]).await;
    assert_saved(&r, yamada, "the nurse's second record");
    assert!(sato.get(&live).await.text().contains(&msg_with("ja", "chart-live-new", "count", "2")));
    sato.set_lang("en").await;
    assert!(sato.get(&live).await.text().contains(&msg_with("en", "chart-live-new", "count", "2")));

    // Reloaded, the chart polls from the newest entry: nothing new again.
    let page = sato.get(&chart).await;
    let since2 = live_since(&page.body);
    assert!(since2 > since, "{since2} after {since}");
    let r = sato.get(&format!("{chart}/live?since={}", urlencode(&since2))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body.trim(), "", "nothing new since the reload");
    app.finish().await;
}

/// The inbox comes a page at a time, in the API (offset and limit, with the total and
/// the next offset) and on the page (`?page=`); a bad offset or limit is a problem that
/// names it; each page's audit record names only that page's patients.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_is_paged_in_the_api_and_on_the_page() {
    let app = TestApp::start().await;
    let sato_api = Api::new(&app, SATO).await;
    let whole = sato_api.get("/api/v1/inbox").await;
    assert_eq!(whole.status, 200, "{}", whole.body);
    let whole = whole.json();
    let total = whole["total"].as_i64().unwrap();
    let all: Vec<String> =
        whole["patients"].as_array().unwrap().iter().map(|p| p["patient_id"].as_str().unwrap().to_string()).collect();
    assert!(total >= 2, "the demo hospital is on at least two teams: {whole}");
    assert_eq!(all.len() as i64, total.min(50));
    assert_eq!(whole["next_offset"].as_i64(), (total > 50).then_some(50));

    // One at a time: the same patients in the same order, then the end.
    let mut paged = Vec::new();
    let mut offset = Some(0);
    while let Some(o) = offset {
        let r = sato_api.get(&format!("/api/v1/inbox?offset={o}&limit=1")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        assert_eq!(v["total"].as_i64(), Some(total));
        let rows = v["patients"].as_array().unwrap();
        assert_eq!(rows.len(), 1, "{v}");
        let pid = rows[0]["patient_id"].as_str().unwrap().to_string();
        let audit = app.audit_of_request(&r.request_id()).await;
        let read = audit.iter().find(|a| a.action == "inbox.read").expect("the page read is audited");
        assert!(read.detail.contains(&pid), "{read:?}");
        assert!(
            paged.iter().all(|p: &String| !read.detail.contains(p.as_str())),
            "earlier pages are not in it: {read:?}"
        );
        paged.push(pid);
        offset = v["next_offset"].as_i64();
    }
    assert_eq!(paged[..all.len()], all[..]);
    assert_eq!(paged.len() as i64, total);
    let past = sato_api.get(&format!("/api/v1/inbox?offset={total}")).await.json();
    assert_eq!(past["patients"].as_array().map(Vec::len), Some(0));
    assert!(past["next_offset"].is_null());

    for (query, field) in [("limit=0", "limit"), ("limit=501", "limit"), ("offset=-1", "offset")] {
        let r = sato_api.get(&format!("/api/v1/inbox?{query}")).await;
        assert_eq!(r.status, 422, "{query}: {}", r.body);
        assert!(r.header("content-type").starts_with("application/problem+json"), "{query}");
        assert!(r.body.contains(field), "{query}: {}", r.body);
    }
    let r = sato_api.get("/api/v1/inbox?limit=many").await;
    assert!(r.status == 400 || r.status == 422, "{}", r.body);
    assert!(r.header("content-type").starts_with("application/problem+json"));

    // The page: its range, and a link back from a page past the end.
    let sato = app.signin(SATO).await;
    let first = sato.get("/inbox").await;
    assert_eq!(first.status, 200);
    assert!(first.body.contains(&format!("全 {total} 人中 1～{} 人目", total.min(50))), "{}", first.body);
    for pid in &all {
        assert!(first.body.contains(&format!("href=\"/patients/{pid}\"")), "{pid} is on the first page");
    }
    let beyond = sato.get("/inbox?page=9").await;
    assert_eq!(beyond.status, 200);
    assert!(beyond.body.contains("href=\"/inbox?page=8\""), "a way back");
    assert!(all.iter().all(|pid| !beyond.body.contains(&format!("href=\"/patients/{pid}\""))));
    assert!(!beyond.body.contains("担当している患者はまだいません"), "the inbox is not empty, the page is");
    let odd = sato.get("/inbox?page=abc").await;
    assert_eq!(odd.status, 200);
    assert!(odd.body.contains(&format!("全 {total} 人中 1～")), "a mistyped page shows the first");
}
