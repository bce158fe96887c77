//! Rebuilding the full-text index from the database: `tsunagu reindex`, and a server
//! that starts with an empty index while the database has entries.

use anyhow::{Context, Result};
use std::path::Path;
use std::sync::Arc;
use tsunagu_search::{IndexedEntry, SearchError, SearchIndex};
use tsunagu_store::{EntryForIndex, Store};

/// Entries read from the database per page.
const PAGE: i64 = 500;

/// Where the index lives in a data directory.
pub fn index_dir(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("search-index")
}

/// Open (or create) the index of a data directory, with a message people can act on
/// when another process holds it.
pub fn open_index(data_dir: &Path) -> Result<Arc<SearchIndex>> {
    let dir = index_dir(data_dir);
    match SearchIndex::open(&dir) {
        Ok(i) => Ok(Arc::new(i)),
        Err(SearchError::Locked) => anyhow::bail!(
            "the search index {} is in use by another tsunagu process (a running server?); stop it first",
            dir.display()
        ),
        Err(e) => Err(e).with_context(|| format!("opening the search index {}", dir.display())),
    }
}

fn indexed(e: EntryForIndex) -> IndexedEntry {
    IndexedEntry {
        patient_id: e.patient_id.to_string(),
        entry_id: e.entry_id,
        version_id: e.version_id,
        kind: e.kind.as_str().to_string(),
        recorded_at: e.entry_recorded_at,
        text: e.search_text,
    }
}

/// Replace the index's content with the current version of every entry. Blocking: run
/// it on a blocking thread (`spawn_blocking`); it reads the database through `rt`.
/// `progress` is told how many entries were added so far. Returns how many were indexed.
pub fn rebuild_blocking(
    rt: &tokio::runtime::Handle,
    store: &Store,
    index: &SearchIndex,
    progress: &dyn Fn(u64),
) -> Result<usize> {
    let mut rebuild = index.begin_rebuild()?;
    let mut after: Option<(String, String)> = None;
    loop {
        let page = rt.block_on(store.system_current_entries_for_index(after.clone(), PAGE))?;
        let Some(last) = page.last() else { break };
        after = Some((last.patient_id.to_string(), last.entry_id.clone()));
        let full = page.len() as i64 == PAGE;
        let batch: Vec<IndexedEntry> = page.into_iter().map(indexed).collect();
        rebuild.add(&batch)?;
        progress(rebuild.added() as u64);
        if !full {
            break;
        }
    }
    Ok(rebuild.finish()?)
}

/// At server start: when the index holds fewer entries than the database (a new index,
/// one recreated after an upgrade, a restored database, or entries committed just before
/// a crash and never indexed), rebuild it in the background. Searches use the old index
/// until it is done; writes meanwhile are indexed as usual.
pub fn rebuild_in_background_if_behind(store: Store, index: Arc<SearchIndex>) {
    tokio::spawn(async move {
        let total = match store.system_count_current_entries().await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "counting entries for the search index failed");
                return;
            }
        };
        // One document per entry: fewer documents than entries means entries were
        // committed but never indexed (the server died between the two, or the index
        // is new). Rebuilding from the database catches them up.
        let indexed = index.num_docs();
        if total == 0 || indexed >= u64::try_from(total).unwrap_or(0) {
            return;
        }
        tracing::info!(
            entries = total,
            indexed,
            "the search index is behind the database; rebuilding it in the background"
        );
        let rt = tokio::runtime::Handle::current();
        let started = std::time::Instant::now();
        let done = tokio::task::spawn_blocking(move || rebuild_blocking(&rt, &store, &index, &|_| {})).await;
        match done {
            Ok(Ok(n)) => tracing::info!(entries = n, seconds = started.elapsed().as_secs_f64(), "search index rebuilt"),
            Ok(Err(e)) => tracing::error!(error = %e, "rebuilding the search index failed; run `tsunagu reindex`"),
            Err(e) => tracing::error!(error = %e, "rebuilding the search index failed; run `tsunagu reindex`"),
        }
    });
}
