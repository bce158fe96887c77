//! Time and randomness are injected so that tests control them. The ambient calls are
//! allowed only here (see clippy.toml).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;
    /// Today's date in Japan (JST, UTC+9), where the users live.
    fn today_jst(&self) -> Date {
        self.now().to_offset(time::macros::offset!(+9)).date()
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that stands still until moved; for tests.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn new(at: OffsetDateTime) -> Self {
        Self(Mutex::new(at))
    }
    pub fn advance(&self, by: time::Duration) {
        if let Ok(mut t) = self.0.lock() {
            *t += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        self.0.lock().map(|t| *t).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

pub trait IdGen: Send + Sync + 'static {
    fn uuid(&self) -> Uuid;
}

/// Time-ordered v7 UUIDs: new rows land at the end of b-tree indexes.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIdGen;

impl IdGen for RandomIdGen {
    #[allow(clippy::disallowed_methods)]
    fn uuid(&self) -> Uuid {
        Uuid::now_v7()
    }
}

/// Deterministic ids for seeded data and tests: a seed and a counter.
#[derive(Debug)]
pub struct SeededIdGen {
    seed: u64,
    next: AtomicU64,
}

impl SeededIdGen {
    pub fn new(seed: u64) -> Self {
        Self { seed, next: AtomicU64::new(1) }
    }
}

impl IdGen for SeededIdGen {
    fn uuid(&self) -> Uuid {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let hi = self.seed.rotate_left(17) ^ 0x7473_756e_6167_7500;
        uuid::Builder::from_u128(((hi as u128) << 64) | n as u128)
            .with_version(uuid::Version::Random)
            .with_variant(uuid::Variant::RFC4122)
            .into_uuid()
    }
}
