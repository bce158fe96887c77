//! The write load: writer tasks that add nursing records through the JSON API and keep
//! what the server acknowledged, and the small seeded random source everything draws
//! from.

use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Every entry the harness writes starts with this, so the checks can tell them from
/// the demo region's own nursing records.
pub const MARK: &str = "[crash-safety] ";

/// xorshift64*, seeded through splitmix64: enough randomness for kill moments and text
/// lengths, and replayable from the printed seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // splitmix64 of the seed: never zero in practice, and nearby seeds diverge.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A duration of `lo..=hi` milliseconds.
    pub fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo + 1))
    }
}

/// A write the server acknowledged: 201 and the whole response body.
#[derive(Debug, Clone)]
pub struct Ack {
    pub entry_id: String,
    pub text: String,
    pub writer: usize,
    /// Which server process (0 = the first, counting those that became healthy) was
    /// current when the answer came.
    pub generation: u64,
}

/// What the writers and the killer share.
pub struct Shared {
    /// `http://127.0.0.1:PORT` of the current server process.
    pub base: Arc<RwLock<String>>,
    pub generation: AtomicU64,
    pub stop: AtomicBool,
    pub acks: Mutex<Vec<Ack>>,
    pub ack_count: AtomicUsize,
    /// Answers that are neither an acknowledgement nor a lost connection (4xx, a 201
    /// whose body does not match what was sent, 5xx): kept for the report.
    pub odd: Mutex<Vec<String>>,
}

impl Shared {
    pub fn new(base: Arc<RwLock<String>>) -> Shared {
        Shared {
            base,
            generation: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            acks: Mutex::new(Vec::new()),
            ack_count: AtomicUsize::new(0),
            odd: Mutex::new(Vec::new()),
        }
    }

    fn note(&self, what: String) {
        self.odd.lock().unwrap().push(what);
    }
}

/// What one writer did.
#[derive(Debug, Default)]
pub struct WriterReport {
    /// Every text sent, acknowledged or not.
    pub attempted: Vec<String>,
    /// Refused, reset or timed-out requests (expected while the server is down).
    pub lost: u64,
    /// 201 whose body was cut off: not acknowledged.
    pub cut: u64,
    pub server_errors: u64,
    pub unexpected: u64,
}

/// A client without connection reuse: a pooled connection to a killed process would
/// only add noise to what "not acknowledged" means.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A nursing record of varying length (a line to a few kilobytes, so that some
/// transactions span several database pages).
fn entry_text(writer: usize, n: u64, rng: &mut Rng) -> String {
    let mut t = format!("{MARK}w{writer}-{n} 訪問看護記録。");
    for _ in 0..rng.below(60) {
        t.push_str("体温36.8度、脈拍72、SpO2 97%。疼痛の訴えなし。");
    }
    t
}

/// Write entries until `stop`. A new text for every request: a write that was not
/// acknowledged may or may not be in the chart, and both are correct.
pub async fn writer(shared: Arc<Shared>, writer: usize, seed: u64, token: String, patient: String) -> WriterReport {
    let client = client();
    let mut rng = Rng::new(seed);
    let mut rep = WriterReport::default();
    let mut n = 0u64;
    while !shared.stop.load(Ordering::SeqCst) {
        n += 1;
        let text = entry_text(writer, n, &mut rng);
        let base = shared.base.read().unwrap().clone();
        rep.attempted.push(text.clone());
        let sent = client
            .post(format!("{base}/api/v1/patients/{patient}/entries"))
            .bearer_auth(&token)
            .json(&json!({ "body": { "kind": "nursing_record", "text": text } }))
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(_) => {
                rep.lost += 1;
                tokio::time::sleep(rng.millis(5, 20)).await;
                continue;
            }
        };
        let status = resp.status();
        let Ok(body) = resp.text().await else {
            rep.cut += 1;
            continue;
        };
        if status.as_u16() == 201 {
            let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let generation = shared.generation.load(Ordering::SeqCst);
            match (v["entry_id"].as_str(), v["body"]["text"].as_str()) {
                (Some(id), Some(t)) if t == text => {
                    shared.acks.lock().unwrap().push(Ack {
                        entry_id: id.to_string(),
                        text: text.clone(),
                        writer,
                        generation,
                    });
                    shared.ack_count.fetch_add(1, Ordering::SeqCst);
                }
                _ => {
                    rep.unexpected += 1;
                    shared.note(format!("writer {writer}: 201 that does not echo the text sent: {body:.300}"));
                }
            }
        } else if status.is_server_error() {
            rep.server_errors += 1;
            let generation = shared.generation.load(Ordering::SeqCst);
            shared.note(format!("writer {writer}: {status} (generation {generation}): {body:.300}"));
            tokio::time::sleep(rng.millis(5, 20)).await;
        } else {
            rep.unexpected += 1;
            shared.note(format!("writer {writer}: unexpected {status}: {body:.300}"));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    rep
}
