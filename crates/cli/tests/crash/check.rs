//! Reading back what survived: the chart through the API (as the writer), and the
//! database directly after the last kill.

use crate::load::MARK;
use serde_json::Value;
use sqlx::{AnyConnection, Connection, Row};
use std::collections::{HashMap, HashSet};

/// The harness's entries in the chart, entry id -> text, walking the whole timeline
/// page by page; and any entry id seen twice.
pub async fn chart_entries(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    patient: &str,
) -> (HashMap<String, String>, Vec<String>) {
    let mut found = HashMap::new();
    let mut twice = Vec::new();
    let mut before: Option<(String, String)> = None;
    loop {
        let mut q = vec![("kind", "nursing_record".to_string()), ("limit", "500".to_string())];
        if let Some((at, id)) = &before {
            q.push(("before_at", at.clone()));
            q.push(("before_id", id.clone()));
        }
        let r = client
            .get(format!("{base}/api/v1/patients/{patient}/entries"))
            .bearer_auth(token)
            .query(&q)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "reading the timeline");
        let v: Value = r.json().await.unwrap();
        for e in v["entries"].as_array().expect("an entries array") {
            let id = e["entry_id"].as_str().unwrap().to_string();
            let text = e["body"]["text"].as_str().unwrap_or_default();
            if text.starts_with(MARK) && found.insert(id.clone(), text.to_string()).is_some() {
                twice.push(id);
            }
        }
        match v["next"].as_object() {
            Some(n) => {
                before =
                    Some((n["before_at"].as_str().unwrap().to_string(), n["before_id"].as_str().unwrap().to_string()))
            }
            None => break,
        }
    }
    (found, twice)
}

/// One entry through `GET /entries/{id}`: the text of its first version, or the status.
pub async fn one_entry(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    patient: &str,
    entry: &str,
) -> Result<String, u16> {
    let r = client
        .get(format!("{base}/api/v1/patients/{patient}/entries/{entry}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    if status != 200 {
        return Err(status);
    }
    let v: Value = r.json().await.unwrap();
    Ok(v["versions"][0]["body"]["text"].as_str().unwrap_or_default().to_string())
}

/// What the database holds, read directly (the server is dead).
pub struct DbState {
    /// SQLite's integrity and foreign-key checks; empty when all is well.
    pub problems: Vec<String>,
    /// The harness's entries: entry id -> text.
    pub entries: HashMap<String, String>,
    /// Targets of `entry.create` audit rows (the version id, which is the entry id of a
    /// first version).
    pub audited: HashSet<String>,
}

pub async fn db_state(url: &str, sqlite: bool) -> DbState {
    sqlx::any::install_default_drivers();
    let mut c = AnyConnection::connect(url).await.unwrap();
    let mut problems = Vec::new();
    if sqlite {
        let rows = sqlx::query("PRAGMA integrity_check").fetch_all(&mut c).await.unwrap();
        let said: Vec<String> = rows.iter().map(|r| r.try_get::<String, _>(0).unwrap()).collect();
        if said != ["ok"] {
            problems.push(format!("PRAGMA integrity_check: {said:?}"));
        }
        let fk = sqlx::query("PRAGMA foreign_key_check").fetch_all(&mut c).await.unwrap();
        if !fk.is_empty() {
            problems.push(format!("PRAGMA foreign_key_check: {} violation(s)", fk.len()));
        }
    }
    let mut entries = HashMap::new();
    for r in sqlx::query("SELECT entry_id, body FROM entries WHERE kind = 'nursing_record' AND version = 1")
        .fetch_all(&mut c)
        .await
        .unwrap()
    {
        let id: String = r.try_get(0).unwrap();
        let body: String = r.try_get(1).unwrap();
        let v: Value = serde_json::from_str(&body).unwrap();
        let text = v["text"].as_str().unwrap_or_default();
        if text.starts_with(MARK) {
            entries.insert(id, text.to_string());
        }
    }
    let audited = sqlx::query("SELECT target FROM audit WHERE action = 'entry.create'")
        .fetch_all(&mut c)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String, _>(0).unwrap())
        .collect();
    let _ = c.close().await;
    DbState { problems, entries, audited }
}

/// The harness's entries in the full-text index of the data directory (the server is
/// dead, so the index is free). The index is derived from the database and written
/// after it, so a kill between the two leaves a committed entry unindexed.
pub fn indexed_entries(data_dir: &std::path::Path, at_most: usize) -> Result<HashSet<String>, String> {
    let index = tsunagu_search::SearchIndex::open(&data_dir.join("search-index")).map_err(|e| e.to_string())?;
    let hits = index.search("訪問看護記録", at_most).map_err(|e| e.to_string())?;
    Ok(hits.into_iter().map(|h| h.entry_id).collect())
}
