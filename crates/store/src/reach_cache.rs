//! The patients an organization may read, kept for a moment: full-text search narrows
//! the index to them on every search, and for a hospital that is tens of thousands of
//! rows (over 100 ms a search at the full synthetic scale, bench/results/scale.md).
//!
//! Only a narrowing, never a decision: the store checks the policy again on every hit
//! it shows (`Store::fulltext_results`), so a set that is out of date can at worst
//! leave out a patient shared a moment ago, never show one that is not.
//!
//! Kept until a write that changes who reaches whom commits in this process (a
//! registration, a team member added or ended, consent recorded, a letter sent: each
//! bumps the generation after its commit), and at most [`KEEP_SECONDS`], for writes
//! made by another process on the same database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;
use tsunagu_domain::OrgId;

/// How long a set is kept at most.
pub const KEEP_SECONDS: i64 = 60;

struct Kept {
    generation: u64,
    at: OffsetDateTime,
    ids: Arc<Vec<String>>,
}

#[derive(Default)]
pub(crate) struct ReachCache {
    generation: AtomicU64,
    kept: Mutex<HashMap<OrgId, Kept>>,
}

impl ReachCache {
    /// A write that changes reach has committed: every kept set is out of date.
    pub(crate) fn changed(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The generation to read before computing a set (see [`ReachCache::keep`]).
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    pub(crate) fn get(&self, org: OrgId, now: OffsetDateTime) -> Option<Arc<Vec<String>>> {
        let kept = self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let k = kept.get(&org)?;
        let fresh = k.generation == self.generation() && (now - k.at).whole_seconds() < KEEP_SECONDS && now >= k.at;
        fresh.then(|| k.ids.clone())
    }

    /// Keep a set computed after reading `generation`: if a change committed
    /// meanwhile, the set is already out of date and is not served.
    pub(crate) fn keep(&self, org: OrgId, generation: u64, now: OffsetDateTime, ids: Arc<Vec<String>>) {
        let mut kept = self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        kept.insert(org, Kept { generation, at: now, ids });
    }
}
