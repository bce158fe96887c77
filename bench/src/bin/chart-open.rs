//! `chart-open`: how long it takes to open a large shared chart.
//!
//! For each backend (SQLite in a temporary directory; PostgreSQL in a fresh database
//! created next to `--postgres-url` and dropped afterwards) this seeds 5 approved
//! organizations with one person each, one patient owned by the first with the other
//! four on the care team and sharing consent given, and 2,000 entries written through
//! the store API by the five organizations (progress notes, nursing records, vital
//! signs, medication lists and messages; Japanese text of realistic length), a few of
//! them corrected or marked entered in error. It then starts the real app in-process,
//! signs in as the person of organization 2 (a team member, not the owner) and
//! measures, at concurrency 1 and 8:
//!
//! * `GET /patients/{id}`: the chart page (session, access check, audit record, first
//!   50 entries of the timeline, team, consents, render);
//! * `Store::timeline` with limit 50 and 200, and a keyset page 1,000 entries deep;
//! * `Store::open_chart` for reading (policy decision plus the audit append), the
//!   write every chart open pays.
//!
//! After the cases it times and EXPLAINs the timeline query alone, as the store runs it
//! and as the rewrites proposed in `bench/README.md` (`proposed_*`).
//!
//! Results go to `bench/results/chart-open-<backend>.json` (`sqlite`, `postgres`, or
//! `postgres-no-analyze` with `--no-analyze`) and, for every such file there, to
//! `bench/results/chart-open.md`. See `bench/README.md`.
//!
//! A measuring tool, not product code: it follows the workspace lints anyway (no
//! unwrap, no indexing), errors go up with `anyhow`.

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Row};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tsunagu_bench::{Latency, Machine, create_postgres, drop_postgres, git_commit, loadavg, machine, time_text};
use tsunagu_cli::server;
use tsunagu_domain::chart::{EntryBody, MedicationItem, MedicationList, Message, ProgressNote, VitalSigns};
use tsunagu_domain::clock::{ManualClock, RandomIdGen, SystemClock};
use tsunagu_domain::org::{Capabilities, OrgKind, OrgStatus};
use tsunagu_domain::patient::{ConsentStatus, NewPatient, PatientForm, TeamRole};
use tsunagu_domain::person::{Email, Profession};
use tsunagu_domain::policy::{ChartAction, Principal};
use tsunagu_domain::{Clock, PatientId};
use tsunagu_store::{AuditCtx, Backend, ChartGrant, NewOrg, NewUser, OpenMode, Registered, Store, TimelineFilter};
use tsunagu_web::WebConfig;

const PASSWORD: &str = "tsunagu-bench-2026";
/// The chart page shows this many entries (`tsunagu_web::pages::chart::PAGE_SIZE`).
const PAGE_SIZE: usize = 50;
/// How deep the keyset page case starts (entries newer than the cursor).
const DEEP_OFFSET: usize = 1000;

#[derive(Parser, Debug)]
#[command(name = "chart-open", about = "Open a chart of 2,000 entries from 5 organizations; median and p99")]
struct Args {
    /// PostgreSQL server to create the bench database on (any database URL on it; the
    /// bench creates `tsunagu_bench_<random>` next to it and drops it at the end).
    #[arg(long, env = "TSUNAGU_TEST_POSTGRES_URL")]
    postgres_url: Option<String>,
    /// Which backends: sqlite, postgres, or all (postgres only when a URL is given).
    #[arg(long, default_value = "all")]
    backend: String,
    /// Time limit of each measured case.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Request limit of each measured case (whichever of time and count comes first).
    #[arg(long, default_value_t = 2000)]
    max_requests: usize,
    /// Requests before each measured case, not counted.
    #[arg(long, default_value_t = 50)]
    warmup: usize,
    /// Concurrency levels, comma-separated.
    #[arg(long, default_value = "1,8", value_delimiter = ',')]
    concurrency: Vec<usize>,
    /// Entries in the chart.
    #[arg(long, default_value_t = 2000)]
    entries: usize,
    /// Correct every n-th entry (a second version of it); 0 for none.
    #[arg(long, default_value_t = 50)]
    correct_every: usize,
    /// Mark every n-th entry entered in error; 0 for none.
    #[arg(long, default_value_t = 250)]
    mark_every: usize,
    /// Seed of the text and timing generator (same seed, same chart).
    #[arg(long, default_value_t = 20261124)]
    seed: u64,
    /// Where the JSON and markdown results go.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/results"))]
    out: PathBuf,
    /// Keep the database afterwards (prints where it is) to look at it by hand.
    #[arg(long)]
    keep: bool,
    /// PostgreSQL: do not run ANALYZE after seeding. By default the bench runs it, as
    /// autovacuum would have done by then on a server with the default settings;
    /// without it the planner works from no statistics at all (results are written as
    /// `postgres-no-analyze`).
    #[arg(long)]
    no_analyze: bool,
}

// --- a small deterministic generator -------------------------------------------------

/// SplitMix64: the same chart on every run with the same seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    fn pick<'a, T>(&mut self, list: &'a [T]) -> Result<&'a T> {
        let n = list.len() as u64;
        list.get((self.next() % n.max(1)) as usize).context("empty table")
    }
    /// An index chosen by weight.
    fn weighted(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        let mut x = self.next() % total.max(1);
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        0
    }
}

// --- what the chart says -----------------------------------------------------------

const SUBJECTIVE: &[&str] = &[
    "夜間は痛みで2回目が覚めたが、レスキューを使うと30分ほどで眠れたとのこと。",
    "食欲はあまりなく、朝はお粥を半分ほど食べた。昼は果物を少し。",
    "「最近は足がむくんで靴が入りにくい」と本人より。",
    "便秘気味で3日間排便なし。お腹が張って苦しいと訴えあり。",
    "家族（長女）より、日中うとうとしている時間が長くなったとの話あり。",
    "息苦しさは安静にしていれば気にならない程度とのこと。",
    "「家で過ごせていることがありがたい」と穏やかな表情で話される。",
    "右側腹部の痛みはNRS3程度、体を動かすと5程度に強まる。",
];
const OBJECTIVE: &[&str] = &[
    "体温36.8℃、脈拍88/分、血圧112/68mmHg、SpO2 94%（室内気）。",
    "両下腿に圧痕性浮腫あり。仙骨部に発赤なし。",
    "腹部やや膨満、腸蠕動音は減弱。圧痛は右季肋部に軽度。",
    "意識清明、会話は明瞭。表情は穏やかで、ベッド上で座位を保てる。",
    "呼吸音は両側下肺野で減弱、湿性ラ音は聴取せず。",
    "眼球結膜に軽度黄染あり。前回より体重1.5kg減少。",
];
const ASSESSMENT: &[&str] = &[
    "がん性疼痛はオピオイド増量後おおむねコントロール良好。",
    "オピオイドによる便秘の可能性が高い。",
    "心不全の増悪を示唆する所見は現時点では乏しい。",
    "全身状態は緩徐に低下傾向。予後は週単位から月単位と考えられる。",
    "経口摂取量の低下に伴う脱水傾向あり。",
];
const PLAN: &[&str] = &[
    "オキシコドン徐放錠は現量継続、レスキューは1日4回まで使用可とする。",
    "酸化マグネシウムを増量し、訪問看護で排便状況を確認する。",
    "次回訪問は1週間後。状態変化時は24時間連絡先へ連絡するよう家族に説明した。",
    "ケアマネジャーと相談し、介護ベッドとエアマットの導入を検討する。",
    "本人と家族の意向を再確認し、看取りの場所について話し合いを続ける。",
];
const NURSING: &[&str] = &[
    "訪問時、ベッド上で臥床中。声かけに開眼し返答あり。",
    "全身清拭と陰部洗浄を実施。皮膚トラブルなし。",
    "仙骨部の除圧のため、体位変換の方法とクッションの当て方を家族に指導した。",
    "摘便にて中等量の硬便あり。処置後は腹部膨満感が軽減したと本人より。",
    "口腔ケアを実施。口腔内の乾燥あり、保湿剤の使用を勧めた。",
    "内服薬の残数を確認し、飲み忘れがないことを確認した。",
    "介護者である夫の疲労が見られるため、レスパイト入院について情報提供した。",
    "フェンタニル貼付剤を交換。貼付部位に発赤やかぶれはなし。",
    "夜間の不安が強いとの訴えあり、傾聴し、緊急時の連絡方法を再確認した。",
    "足浴を実施し、下肢のマッサージを行った。浮腫は前回と著変なし。",
];
const VITALS_NOTE: &[&str] = &[
    "入浴後の測定。",
    "安静時、座位にて測定。",
    "レスキュー使用1時間後に再検。",
    "呼吸がやや浅く、肩で息をしている様子あり。",
    "下肢のむくみ増強あり。医師へ報告済み。",
    "食後30分での測定。本人の自覚症状なし。",
];
const MESSAGES: &[&str] = &[
    "お疲れさまです。本日の訪問で、疼痛の訴えが増えてきています。",
    "次回往診の際に、レスキューの回数についてご相談させてください。",
    "ご家族から、来週の通院について送迎の相談がありました。",
    "ケアプランの変更に伴い、訪問入浴を週1回追加します。",
    "処方変更の件、承知しました。明日の午前中にお届けします。",
    "退院前カンファレンスの日程を調整しています。ご都合のよい日時をお知らせください。",
    "昨夜22時頃に発熱（38.2℃）の連絡があり、臨時訪問しました。",
    "残薬が多く見られるため、一包化をご検討いただけますでしょうか。",
    "よろしくお願いいたします。",
];
/// Drug, dose, route, frequency.
const DRUGS: &[(&str, &str, &str, &str)] = &[
    ("オキシコドン徐放錠", "10mg", "経口", "1日2回 朝夕"),
    ("オキノーム散", "2.5mg", "経口", "疼痛時 1日4回まで"),
    ("酸化マグネシウム錠", "330mg", "経口", "1日3回 毎食後"),
    ("ナルデメジン錠", "0.2mg", "経口", "1日1回 朝食後"),
    ("フロセミド錠", "20mg", "経口", "1日1回 朝食後"),
    ("アムロジピン錠", "5mg", "経口", "1日1回 朝食後"),
    ("ランソプラゾールOD錠", "15mg", "経口", "1日1回 朝食後"),
    ("プロクロルペラジン錠", "5mg", "経口", "嘔気時"),
    ("フェンタニル貼付剤", "1mg", "貼付", "1日1回 交換"),
    ("アセトアミノフェン錠", "500mg", "経口", "1日3回 毎食後"),
    ("スボレキサント錠", "15mg", "経口", "1日1回 就寝前"),
    ("センノシド錠", "12mg", "経口", "1日1回 就寝前"),
];

#[derive(Clone, Copy, Debug)]
enum Kind {
    Note,
    Nursing,
    Vitals,
    Meds,
    Message,
}

/// Sentences from `bank` up to exactly `len` characters; a sentence cut short ends
/// with "。".
fn text(rng: &mut Rng, bank: &[&str], len: usize) -> Result<String> {
    let mut s = String::new();
    while s.chars().count() < len {
        s.push_str(rng.pick(bank)?);
    }
    if s.chars().count() > len {
        s = s.chars().take(len.saturating_sub(1)).collect();
        s.push('。');
    }
    Ok(s)
}

/// A body of the kind; free text is 100-400 characters in total, as written in practice.
fn body(rng: &mut Rng, kind: Kind) -> Result<EntryBody> {
    Ok(match kind {
        Kind::Note => {
            // SOAP: 100-400 characters shared 30/25/20/25 between the parts.
            let total = rng.range(100, 400) as usize;
            let share = |pct: usize| (total * pct / 100).max(15);
            EntryBody::ProgressNote(ProgressNote {
                subjective: Some(text(rng, SUBJECTIVE, share(30))?),
                objective: Some(text(rng, OBJECTIVE, share(25))?),
                assessment: Some(text(rng, ASSESSMENT, share(20))?),
                plan: Some(text(rng, PLAN, share(25))?),
                text: None,
            })
        }
        Kind::Nursing => {
            let len = rng.range(100, 400) as usize;
            EntryBody::NursingRecord { text: text(rng, NURSING, len)? }
        }
        Kind::Vitals => EntryBody::VitalSigns(VitalSigns {
            temperature_c: Some(36.0 + rng.range(0, 25) as f64 / 10.0),
            pulse_bpm: Some(rng.range(60, 110) as i64),
            bp_systolic: Some(rng.range(95, 150) as i64),
            bp_diastolic: Some(rng.range(55, 90) as i64),
            respiration_rate: Some(rng.range(12, 24) as i64),
            spo2: Some(rng.range(88, 99) as i64),
            pain_nrs: Some(rng.range(0, 6) as i64),
            note: Some({
                let len = rng.range(10, 100) as usize;
                text(rng, VITALS_NOTE, len)?
            }),
        }),
        Kind::Meds => {
            let n = rng.range(3, 9) as usize;
            let first = rng.range(0, DRUGS.len() as u64 - 1) as usize;
            let items = DRUGS
                .iter()
                .cycle()
                .skip(first)
                .take(n.min(DRUGS.len()))
                .map(|(drug, dose, route, frequency)| MedicationItem {
                    drug: (*drug).into(),
                    dose: (*dose).into(),
                    route: (*route).into(),
                    frequency: (*frequency).into(),
                    ..Default::default()
                })
                .collect();
            EntryBody::MedicationList(MedicationList { items })
        }
        Kind::Message => {
            let len = rng.range(100, 400) as usize;
            EntryBody::Message(Message { text: text(rng, MESSAGES, len)?, attachments: vec![] })
        }
    })
}

/// Characters of free text in a body (for the report).
fn body_chars(b: &EntryBody) -> usize {
    b.text().chars().count()
}

// --- the five organizations ----------------------------------------------------------

struct OrgPlan {
    kind: OrgKind,
    name: &'static str,
    kana: &'static str,
    email: &'static str,
    person: &'static str,
    person_kana: &'static str,
    profession: Profession,
    role: TeamRole,
    /// Share of the chart's entries written by this organization.
    weight: u64,
    /// What it writes, with weights.
    kinds: &'static [(Kind, u64)],
}

const ORGS: [OrgPlan; 5] = [
    OrgPlan {
        kind: OrgKind::Hospital,
        name: "つなぐ市立総合病院",
        kana: "ツナグシリツソウゴウビョウイン",
        email: "bench1@hospital.example.jp",
        person: "佐藤 健一",
        person_kana: "サトウ ケンイチ",
        profession: Profession::Physician,
        role: TeamRole::Owner,
        weight: 10,
        kinds: &[(Kind::Note, 50), (Kind::Meds, 20), (Kind::Message, 30)],
    },
    OrgPlan {
        kind: OrgKind::Clinic,
        name: "みどり在宅クリニック",
        kana: "ミドリザイタククリニック",
        email: "bench2@midori.example.jp",
        person: "鈴木 誠",
        person_kana: "スズキ マコト",
        profession: Profession::Physician,
        role: TeamRole::HomePhysician,
        weight: 25,
        kinds: &[(Kind::Note, 45), (Kind::Meds, 20), (Kind::Message, 20), (Kind::Vitals, 15)],
    },
    OrgPlan {
        kind: OrgKind::VisitingNurseStation,
        name: "つなぐ訪問看護ステーション",
        kana: "ツナグホウモンカンゴステーション",
        email: "bench3@station.example.jp",
        person: "高橋 順子",
        person_kana: "タカハシ ジュンコ",
        profession: Profession::Nurse,
        role: TeamRole::VisitingNurse,
        weight: 40,
        kinds: &[(Kind::Nursing, 50), (Kind::Vitals, 35), (Kind::Message, 15)],
    },
    OrgPlan {
        kind: OrgKind::CareManagerOffice,
        name: "ケアプランひだまり",
        kana: "ケアプランヒダマリ",
        email: "bench4@hidamari.example.jp",
        person: "伊藤 和子",
        person_kana: "イトウ カズコ",
        profession: Profession::CareManager,
        role: TeamRole::CareManager,
        weight: 10,
        kinds: &[(Kind::Message, 60), (Kind::Note, 40)],
    },
    OrgPlan {
        kind: OrgKind::Pharmacy,
        name: "あおば調剤薬局",
        kana: "アオバチョウザイヤッキョク",
        email: "bench5@aoba.example.jp",
        person: "渡辺 浩二",
        person_kana: "ワタナベ コウジ",
        profession: Profession::Pharmacist,
        role: TeamRole::Pharmacy,
        weight: 15,
        kinds: &[(Kind::Meds, 50), (Kind::Message, 30), (Kind::Note, 20)],
    },
];

// --- seeding ---------------------------------------------------------------------------

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
struct SeedReport {
    seconds: f64,
    /// Entries (first versions) written per second through `Store::add_entry`,
    /// corrections and marks included in the time.
    entries_per_s: f64,
    /// Every write of the entry phase: entries, corrections, marks.
    writes: usize,
    writes_per_s: f64,
    add_entry_ms: Latency,
    entries_by_org: Vec<usize>,
    entries_by_kind: Vec<(String, usize)>,
    text_chars_min: usize,
    text_chars_mean: f64,
    text_chars_max: usize,
}

struct Seeded {
    patient: PatientId,
    reader: Principal,
    report: SeedReport,
}

fn invalid(what: &str, e: tsunagu_domain::Invalid) -> anyhow::Error {
    anyhow!("{what}: {e:?}")
}

async fn seed(store: &Store, clock: &ManualClock, args: &Args, web: &WebConfig) -> Result<Seeded> {
    let ctx = AuditCtx::default();
    let hash = tsunagu_web::password::hash_password(PASSWORD, web.argon2_m_kib, web.argon2_t, web.argon2_p)
        .map_err(|e| anyhow!("hashing: {e}"))?;
    let mut principals = Vec::new();
    for o in &ORGS {
        let org = store
            .create_org(
                &NewOrg {
                    code: None,
                    kind: o.kind,
                    name: o.name.into(),
                    name_kana: o.kana.into(),
                    postal_code: Some("997-0034".into()),
                    address: Some("山形県つなぐ市本町2-5-1".into()),
                    phone: Some("0235-22-0511".into()),
                    night_phone: None,
                    coordinates: None,
                    capabilities: Capabilities {
                        home_visits: true,
                        support_24h: true,
                        palliative_care: true,
                        opioid_dispensing: false,
                        accepts_new_patients: true,
                    },
                },
                OrgStatus::Approved,
                None,
                &ctx,
            )
            .await
            .with_context(|| format!("creating {}", o.name))?;
        let user = store
            .create_user(
                &NewUser {
                    email: Email::parse(o.email).map_err(|e| invalid(o.email, e))?,
                    display_name: o.person.into(),
                    name_kana: o.person_kana.into(),
                    profession: o.profession,
                    password_hash: hash.clone(),
                    operator: false,
                },
                org,
                true,
                None,
                &ctx,
            )
            .await
            .with_context(|| format!("creating {}", o.email))?;
        principals.push(store.principal(user, org).await?);
    }
    let owner = principals.first().context("no owner")?.clone();
    let form = PatientForm {
        family_name: "山田".into(),
        given_name: "花子".into(),
        family_kana: "ヤマダ".into(),
        given_kana: "ハナコ".into(),
        sex: "female".into(),
        birth_date: "1940-03-02".into(),
        postal_code: "997-0034".into(),
        address: "山形県つなぐ市本町1-2-3".into(),
        phone: "0235-22-1234".into(),
        local_id: "H-000123".into(),
    };
    let new = NewPatient::parse(&form, store.clock().today_jst()).map_err(|e| invalid("patient", e))?;
    let patient = match store.register_patient(&owner, &new, true, &ctx).await? {
        Registered::Created(id) => id,
        Registered::PossibleDuplicates(_) => bail!("the patient was flagged as a duplicate"),
    };
    let govern = store.open_chart(&owner, patient, ChartAction::Govern, "team.add", &ctx).await?;
    store.record_consent(&govern, ConsentStatus::Given, Some(owner_name()), None, &ctx).await?;
    for (o, p) in ORGS.iter().zip(&principals).skip(1) {
        store.add_team_member(&govern, p.org, o.role, &ctx).await.with_context(|| format!("adding {}", o.name))?;
    }
    let mut grants: Vec<ChartGrant> = Vec::new();
    for p in &principals {
        grants.push(store.open_chart(p, patient, ChartAction::Write, "entry.create", &ctx).await?);
    }

    // The entries, written over about a year: the clock moves 1-8 hours between them
    // (mean 4.5 h, 2,000 entries ≈ 375 days), so the timeline spans many days.
    let mut rng = Rng(args.seed);
    let weights: Vec<u64> = ORGS.iter().map(|o| o.weight).collect();
    let mut by_org = vec![0usize; ORGS.len()];
    let mut by_kind: Vec<(String, usize)> = Vec::new();
    let mut chars = Vec::with_capacity(args.entries);
    let mut add_ms = Vec::with_capacity(args.entries);
    let mut writes = 0usize;
    let started = Instant::now();
    for i in 1..=args.entries {
        clock.advance(time::Duration::minutes(rng.range(60, 480) as i64));
        let o = rng.weighted(&weights);
        let plan = ORGS.get(o).context("org")?;
        let g = grants.get(o).context("grant")?;
        let kw: Vec<u64> = plan.kinds.iter().map(|k| k.1).collect();
        let kind = plan.kinds.get(rng.weighted(&kw)).context("kind")?.0;
        let b = body(&mut rng, kind)?;
        if matches!(kind, Kind::Note | Kind::Nursing | Kind::Message) {
            chars.push(body_chars(&b));
        }
        let t = Instant::now();
        let view = store.add_entry(g, b, &[], &ctx).await.with_context(|| format!("entry {i}"))?;
        add_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        writes += 1;
        if let Some(c) = by_org.get_mut(o) {
            *c += 1;
        }
        let kname = view.kind.as_str().to_string();
        match by_kind.iter_mut().find(|(k, _)| *k == kname) {
            Some((_, n)) => *n += 1,
            None => by_kind.push((kname, 1)),
        }
        // A correction a few minutes later by the same organization (a typo, a wrong
        // dose), and now and then an entry marked entered in error.
        if args.correct_every > 0 && i % args.correct_every == 0 {
            clock.advance(time::Duration::minutes(rng.range(2, 30) as i64));
            let fixed = body(&mut rng, kind)?;
            store.correct_entry(g, &view.version_id, fixed, "誤記のため訂正", &ctx).await?;
            writes += 1;
        } else if args.mark_every > 0 && i % args.mark_every == args.mark_every / 2 {
            clock.advance(time::Duration::minutes(rng.range(2, 30) as i64));
            store.mark_entered_in_error(g, &view.entry_id, "別の患者の記録を入力したため", &ctx).await?;
            writes += 1;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    by_kind.sort();
    let report = SeedReport {
        seconds,
        entries_per_s: args.entries as f64 / seconds,
        writes,
        writes_per_s: writes as f64 / seconds,
        add_entry_ms: Latency::of(&mut add_ms),
        entries_by_org: by_org,
        entries_by_kind: by_kind,
        text_chars_min: chars.iter().copied().min().unwrap_or(0),
        text_chars_mean: chars.iter().sum::<usize>() as f64 / chars.len().max(1) as f64,
        text_chars_max: chars.iter().copied().max().unwrap_or(0),
    };
    let reader = principals.get(1).context("no second organization")?.clone();
    Ok(Seeded { patient, reader, report })
}

fn owner_name() -> &'static str {
    ORGS.first().map(|o| o.person).unwrap_or("")
}

// --- measuring -------------------------------------------------------------------------

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
struct CaseReport {
    name: String,
    what: String,
    concurrency: usize,
    requests: usize,
    errors: usize,
    first_error: Option<String>,
    wall_s: f64,
    throughput_per_s: f64,
    latency_ms: Latency,
    /// Bytes of the response (HTTP) or entries returned (store), of the last request.
    size: u64,
    /// 1-minute load average when the case started (the machine is shared).
    load_before: Option<f64>,
}

type OpFuture = Pin<Box<dyn Future<Output = Result<u64>> + Send>>;
/// One request by worker `w`; `verify` asks for the full check of the answer.
type Op = Arc<dyn Fn(usize, bool) -> OpFuture + Send + Sync>;

struct Phase {
    ms: Vec<f64>,
    errors: usize,
    first_error: Option<String>,
    wall: Duration,
    size: u64,
}

/// `concurrency` workers issue requests back to back until `max` were issued or the
/// deadline passed.
async fn phase(op: &Op, concurrency: usize, max: usize, limit: Duration, verify: bool) -> Result<Phase> {
    let issued = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + limit;
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let op = op.clone();
        let issued = issued.clone();
        tasks.push(tokio::spawn(async move {
            let mut ms = Vec::new();
            let mut errors = 0usize;
            let mut first_error = None;
            let mut size = 0;
            while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < max {
                let t = Instant::now();
                match op(w, verify).await {
                    Ok(s) => {
                        ms.push(t.elapsed().as_secs_f64() * 1000.0);
                        size = s;
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
            }
            (ms, errors, first_error, size)
        }));
    }
    let mut out = Phase { ms: Vec::new(), errors: 0, first_error: None, wall: Duration::ZERO, size: 0 };
    for t in tasks {
        let (ms, errors, first_error, size) = t.await?;
        out.ms.extend(ms);
        out.errors += errors;
        if out.first_error.is_none() {
            out.first_error = first_error;
        }
        out.size = out.size.max(size);
    }
    out.wall = started.elapsed();
    Ok(out)
}

async fn case(name: &str, what: &str, op: Op, concurrency: usize, args: &Args) -> Result<CaseReport> {
    let load_before = loadavg();
    // Warm-up with the full check of every answer: a wrong page must not be measured.
    let warm = phase(&op, concurrency, args.warmup.max(concurrency), Duration::from_secs(120), true).await?;
    if warm.errors > 0 {
        bail!("{name}: warm-up failed: {}", warm.first_error.unwrap_or_default());
    }
    let mut p = phase(&op, concurrency, args.max_requests, Duration::from_secs(args.seconds), false).await?;
    let latency = Latency::of(&mut p.ms);
    let r = CaseReport {
        name: name.into(),
        what: what.into(),
        concurrency,
        requests: latency.n,
        errors: p.errors,
        first_error: p.first_error,
        wall_s: p.wall.as_secs_f64(),
        throughput_per_s: latency.n as f64 / p.wall.as_secs_f64().max(1e-9),
        latency_ms: latency,
        size: p.size,
        load_before,
    };
    eprintln!(
        "  {:<22} c={:<2} n={:<5} median {:>8.2} ms  p90 {:>8.2}  p99 {:>8.2}  max {:>8.2}  {:>8.1}/s{}",
        r.name,
        r.concurrency,
        r.requests,
        r.latency_ms.median,
        r.latency_ms.p90,
        r.latency_ms.p99,
        r.latency_ms.max,
        r.throughput_per_s,
        if r.errors > 0 { format!("  ERRORS {}", r.errors) } else { String::new() }
    );
    Ok(r)
}

fn http_op(clients: Arc<Vec<reqwest::Client>>, url: String) -> Op {
    let url: Arc<str> = url.into();
    Arc::new(move |w, verify| {
        let client = clients.get(w % clients.len().max(1)).cloned();
        let url = url.clone();
        Box::pin(async move {
            let client = client.context("no client")?;
            let r = client.get(&*url).send().await?;
            let status = r.status();
            let body = r.bytes().await?;
            if status != reqwest::StatusCode::OK {
                bail!("GET {url}: {status}");
            }
            if verify {
                let html = std::str::from_utf8(&body)?;
                let cards = html.matches("<article class=\"entry ").count();
                if cards != PAGE_SIZE {
                    bail!("GET {url}: {cards} entries on the page, expected {PAGE_SIZE}");
                }
            }
            Ok(body.len() as u64)
        })
    })
}

fn timeline_op(store: Store, grant: ChartGrant, filter: TimelineFilter, expect: usize) -> Op {
    Arc::new(move |_, verify| {
        let store = store.clone();
        let grant = grant.clone();
        let filter = filter.clone();
        Box::pin(async move {
            let v = store.timeline(&grant, &filter).await?;
            if verify && v.len() != expect {
                bail!("timeline returned {} entries, expected {expect}", v.len());
            }
            Ok(v.len() as u64)
        })
    })
}

fn open_chart_op(store: Store, who: Principal, patient: PatientId) -> Op {
    Arc::new(move |_, _| {
        let store = store.clone();
        let who = who.clone();
        Box::pin(async move {
            store.open_chart(&who, patient, ChartAction::Read, "chart.read", &AuditCtx::default()).await?;
            Ok(0)
        })
    })
}

// --- context: machine, database, plans -----------------------------------------------

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
struct DbContext {
    server_version: String,
    /// Whether the planner had statistics (PostgreSQL: ANALYZE after seeding or not).
    statistics: String,
    /// PostgreSQL `autovacuum` setting of the server.
    autovacuum: Option<String>,
    /// SQLite: database file plus WAL; PostgreSQL: `pg_database_size`.
    size_bytes: u64,
    entries_table_bytes: Option<u64>,
    /// PostgreSQL: collation of the database (text ORDER BY and keyset compare use it).
    collation: Option<String>,
    entries: i64,
    versions: i64,
    marks: i64,
    audit_rows_before: i64,
    audit_rows_after: i64,
}

async fn count(pool: &sqlx::AnyPool, sql: &str) -> Result<i64> {
    Ok(sqlx::query(AssertSqlSafe(sql.to_string())).fetch_one(pool).await?.try_get::<i64, _>(0)?)
}

fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// The timeline query as `Store::timeline` builds it (crates/store/src/chart.rs,
/// `ENTRY_SELECT` + `timeline`); copied here only to EXPLAIN it, keep in step.
const TIMELINE_COLUMNS: &str = "SELECT e.id, e.entry_id, e.version, e.supersedes, e.kind, e.body, e.author_id, u.display_name AS author_name, \
     e.author_profession, e.author_org_id, o.name AS author_org_name, e.recorded_at, e.entry_recorded_at, e.correction_reason, \
     e.content_hash, m.reason AS mark_reason, mu.display_name AS mark_by, m.at AS mark_at";
const TIMELINE_JOINS: &str = "JOIN users u ON u.id = e.author_id JOIN organizations o ON o.id = e.author_org_id \
     LEFT JOIN entry_marks m ON m.patient_id = e.patient_id AND m.entry_id = e.entry_id \
     LEFT JOIN users mu ON mu.id = m.by_user";
const CURRENT: &str = "NOT EXISTS (SELECT 1 FROM entries n WHERE n.patient_id = e.patient_id AND n.supersedes = e.id)";
const NEWEST_FIRST: &str = "ORDER BY e.entry_recorded_at DESC, e.entry_id DESC";

/// The queries to EXPLAIN and time: what the store runs today, and the rewrites the
/// README proposes (names starting with `proposed_`).
fn plan_queries(pid: &str, cursor: &(String, String)) -> Vec<(&'static str, String, Vec<String>)> {
    let today = |tail: &str| {
        format!("{TIMELINE_COLUMNS} FROM entries e {TIMELINE_JOINS} WHERE e.patient_id = $1 AND {CURRENT}{tail}")
    };
    // The page of entries first, then the joins for those rows only.
    let limit_first = |cond: &str, limit: u32| {
        format!(
            "{TIMELINE_COLUMNS} FROM (SELECT e.* FROM entries e WHERE e.patient_id = $1 AND {CURRENT}{cond} {NEWEST_FIRST} LIMIT {limit}) e \
             {TIMELINE_JOINS} {NEWEST_FIRST}"
        )
    };
    let (at, id) = (cursor.0.clone(), cursor.1.clone());
    let row_value = " AND (e.entry_recorded_at, e.entry_id) < ($2, $3)";
    vec![
        ("timeline_50", today(&format!(" {NEWEST_FIRST} LIMIT 50")), vec![pid.into()]),
        ("timeline_200", today(&format!(" {NEWEST_FIRST} LIMIT 200")), vec![pid.into()]),
        (
            "timeline_50_deep",
            today(&format!(
                " AND (e.entry_recorded_at < $2 OR (e.entry_recorded_at = $3 AND e.entry_id < $4)) {NEWEST_FIRST} LIMIT 50"
            )),
            vec![pid.into(), at.clone(), at.clone(), id.clone()],
        ),
        (
            "proposed_deep_row_value",
            today(&format!("{row_value} {NEWEST_FIRST} LIMIT 50")),
            vec![pid.into(), at.clone(), id.clone()],
        ),
        ("proposed_limit_first_50", limit_first("", 50), vec![pid.into()]),
        ("proposed_limit_first_deep_row_value", limit_first(row_value, 50), vec![pid.into(), at, id]),
    ]
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
struct Plan {
    name: String,
    sql: String,
    /// The query alone, fetched whole, through sqlx on one connection (ms, median of 200).
    raw_median_ms: f64,
    raw_p99_ms: f64,
    plan: Vec<String>,
}

async fn plans(url: &str, backend: Backend, patient: PatientId, cursor: &(String, String)) -> Result<Vec<Plan>> {
    let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(url).await?;
    let pid = patient.to_string();
    let mut out = Vec::new();
    for (name, sql, binds) in plan_queries(&pid, cursor) {
        let bind = |mut q: sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments>| {
            for b in &binds {
                q = q.bind(b.clone());
            }
            q
        };
        let mut ms = Vec::new();
        for _ in 0..200 {
            let t = Instant::now();
            bind(sqlx::query(AssertSqlSafe(sql.clone()))).fetch_all(&pool).await?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let lat = Latency::of(&mut ms);
        let plan = match backend {
            Backend::Sqlite => {
                let rows =
                    bind(sqlx::query(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))).fetch_all(&pool).await?;
                let mut lines = Vec::new();
                for r in rows {
                    let id: i64 = r.try_get("id")?;
                    let parent: i64 = r.try_get("parent")?;
                    let detail: String = r.try_get("detail")?;
                    lines.push(format!("[{id} <- {parent}] {detail}"));
                }
                lines
            }
            Backend::Postgres => {
                let q = format!("EXPLAIN (ANALYZE, BUFFERS) {sql}");
                let rows = bind(sqlx::query(AssertSqlSafe(q))).fetch_all(&pool).await?;
                rows.iter().map(|r| r.try_get::<String, _>(0)).collect::<Result<Vec<_>, _>>()?
            }
        };
        out.push(Plan { name: name.into(), sql, raw_median_ms: lat.median, raw_p99_ms: lat.p99, plan });
    }
    pool.close().await;
    Ok(out)
}

// --- one backend ------------------------------------------------------------------------

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
struct Params {
    seconds: u64,
    max_requests: usize,
    warmup: usize,
    concurrency: Vec<usize>,
    entries: usize,
    organizations: usize,
    correct_every: usize,
    mark_every: usize,
    seed: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
struct Report {
    bench: String,
    backend: String,
    /// Empty, or what differs from the default run (`no-analyze`).
    #[serde(default)]
    variant: String,
    started_at: String,
    git_commit: String,
    machine: Machine,
    params: Params,
    database: DbContext,
    seeding: SeedReport,
    chart_page_bytes: u64,
    cases: Vec<CaseReport>,
    plans: Vec<Plan>,
}

async fn run_backend(backend: Backend, url: &str, sqlite_file: Option<&Path>, args: &Args) -> Result<Report> {
    let started_at = time_text(SystemClock.now());
    let machine = machine();
    // Entries are written over the year before now; the clock then stands still, so
    // that sessions never expire in the middle of a case.
    let span = time::Duration::minutes(270 * args.entries as i64 + 60);
    let clock = Arc::new(ManualClock::new(SystemClock.now() - span));
    let store = Store::open(url, OpenMode::CreateIfMissing, clock.clone(), Arc::new(RandomIdGen)).await?;
    store.migrate().await?;
    let web = WebConfig { argon2_m_kib: 256, argon2_t: 1, argon2_p: 1, ..Default::default() };

    eprintln!("[{}] seeding {} entries ...", backend.as_str(), args.entries);
    let seeded = seed(&store, &clock, args, &web).await?;
    eprintln!(
        "[{}] seeded in {:.1} s: {:.0} entries/s ({} writes, add_entry median {:.2} ms, p99 {:.2} ms)",
        backend.as_str(),
        seeded.report.seconds,
        seeded.report.entries_per_s,
        seeded.report.writes,
        seeded.report.add_entry_ms.median,
        seeded.report.add_entry_ms.p99
    );

    let ctx_pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(url).await?;
    let audit_rows_before = count(&ctx_pool, "SELECT COUNT(*) FROM audit").await?;
    let statistics = match backend {
        // The store never runs ANALYZE on SQLite, and its plans do not need it.
        Backend::Sqlite => "none (the store does not run ANALYZE on SQLite)".to_string(),
        Backend::Postgres if args.no_analyze => "none: no ANALYZE after seeding".to_string(),
        Backend::Postgres => {
            sqlx::raw_sql("ANALYZE").execute(&ctx_pool).await?;
            "ANALYZE after seeding (what autovacuum's auto-analyze does by itself after a bulk write)".to_string()
        }
    };

    // The app, in-process, and a session of the org-2 person.
    let running = server::spawn(server::state(store.clone(), web), "127.0.0.1:0".parse()?).await?;
    let base = format!("http://{}", running.addr);
    let result = measure(&store, &seeded, &base, args).await;
    let _ = running.shutdown.send(());
    let _ = running.task.await;
    let (cases, chart_page_bytes) = result?;

    // The cursor 1,000 entries deep, for the keyset case's plan.
    let grant =
        store.open_chart(&seeded.reader, seeded.patient, ChartAction::Read, "chart.read", &AuditCtx::default()).await?;
    let cursor = deep_cursor(&store, &grant).await?;
    let plans = plans(url, backend, seeded.patient, &cursor).await?;

    let mut database = DbContext {
        entries: count(&ctx_pool, "SELECT COUNT(DISTINCT entry_id) FROM entries").await?,
        versions: count(&ctx_pool, "SELECT COUNT(*) FROM entries").await?,
        marks: count(&ctx_pool, "SELECT COUNT(*) FROM entry_marks").await?,
        audit_rows_before,
        audit_rows_after: count(&ctx_pool, "SELECT COUNT(*) FROM audit").await?,
        statistics,
        ..Default::default()
    };
    match backend {
        Backend::Sqlite => {
            database.server_version = format!(
                "SQLite {}",
                sqlx::query("SELECT sqlite_version()").fetch_one(&ctx_pool).await?.try_get::<String, _>(0)?
            );
            store.close().await;
            ctx_pool.close().await;
            if let Some(f) = sqlite_file {
                let wal = PathBuf::from(format!("{}-wal", f.display()));
                database.size_bytes = file_size(f) + file_size(&wal);
            }
        }
        Backend::Postgres => {
            let one = |sql: &'static str| sqlx::query(sql).fetch_one(&ctx_pool);
            database.server_version = one("SELECT version()").await?.try_get::<String, _>(0)?;
            database.size_bytes =
                one("SELECT pg_database_size(current_database())").await?.try_get::<i64, _>(0)? as u64;
            database.entries_table_bytes =
                Some(one("SELECT pg_total_relation_size('entries')").await?.try_get::<i64, _>(0)? as u64);
            database.autovacuum = Some(one("SHOW autovacuum").await?.try_get::<String, _>(0)?);
            database.collation = Some(
                one("SELECT datcollate::text FROM pg_database WHERE datname = current_database()")
                    .await?
                    .try_get::<String, _>(0)?,
            );
            store.close().await;
            ctx_pool.close().await;
        }
    }
    Ok(Report {
        bench: "chart-open".into(),
        backend: backend.as_str().into(),
        variant: if backend == Backend::Postgres && args.no_analyze { "no-analyze".into() } else { String::new() },
        started_at,
        git_commit: git_commit(),
        machine,
        params: Params {
            seconds: args.seconds,
            max_requests: args.max_requests,
            warmup: args.warmup,
            concurrency: args.concurrency.clone(),
            entries: args.entries,
            organizations: ORGS.len(),
            correct_every: args.correct_every,
            mark_every: args.mark_every,
            seed: args.seed,
        },
        database,
        seeding: seeded.report,
        chart_page_bytes,
        cases,
        plans,
    })
}

/// The (entry_recorded_at, entry_id) of the `DEEP_OFFSET`-th entry, newest first.
async fn deep_cursor(store: &Store, grant: &ChartGrant) -> Result<(String, String)> {
    let mut before = None;
    let mut seen = 0usize;
    loop {
        let page =
            store.timeline(grant, &TimelineFilter { before: before.clone(), limit: 500, ..Default::default() }).await?;
        let Some(last) = page.last() else { bail!("the chart has fewer than {DEEP_OFFSET} entries") };
        let want = DEEP_OFFSET - seen;
        if page.len() >= want {
            let e = page.get(want - 1).context("page")?;
            return Ok((e.entry_recorded_at.clone(), e.entry_id.clone()));
        }
        seen += page.len();
        before = Some((last.entry_recorded_at.clone(), last.entry_id.clone()));
    }
}

async fn measure(store: &Store, seeded: &Seeded, base: &str, args: &Args) -> Result<(Vec<CaseReport>, u64)> {
    let signin = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let email = ORGS.get(1).context("org 2")?.email;
    let r = signin
        .post(format!("{base}/signin"))
        .form(&[("email", email), ("password", PASSWORD), ("next", "/patients")])
        .send()
        .await?;
    if r.status() != reqwest::StatusCode::SEE_OTHER {
        bail!("sign-in of {email}: {}", r.status());
    }
    let cookie = r
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("tsunagu="))
        .and_then(|v| v.split(';').next())
        .context("no session cookie at sign-in")?
        .to_string();
    let max_c = args.concurrency.iter().copied().max().unwrap_or(1);
    let mut clients = Vec::new();
    for _ in 0..max_c {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::COOKIE, cookie.parse()?);
        clients.push(
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .default_headers(h)
                .pool_max_idle_per_host(1)
                .timeout(Duration::from_secs(60))
                .build()?,
        );
    }
    let clients = Arc::new(clients);
    let chart_url = format!("{base}/patients/{}", seeded.patient);

    let grant =
        store.open_chart(&seeded.reader, seeded.patient, ChartAction::Read, "chart.read", &AuditCtx::default()).await?;
    let cursor = deep_cursor(store, &grant).await?;
    let tl = |limit: i64, before: Option<(String, String)>| TimelineFilter { limit, before, ..Default::default() };

    let cases: Vec<(&str, &str, Op)> = vec![
        (
            "http_chart_page",
            "GET /patients/{id}: session, access check + audit, first 50 entries, team, render",
            http_op(clients.clone(), chart_url.clone()),
        ),
        (
            "store_timeline_50",
            "Store::timeline, limit 50 (first page)",
            timeline_op(store.clone(), grant.clone(), tl(50, None), 50),
        ),
        (
            "store_timeline_200",
            "Store::timeline, limit 200",
            timeline_op(store.clone(), grant.clone(), tl(200, None), 200),
        ),
        (
            "store_timeline_50_deep",
            "Store::timeline, limit 50, keyset cursor 1,000 entries deep",
            timeline_op(store.clone(), grant.clone(), tl(50, Some(cursor)), 50),
        ),
        (
            "store_open_chart",
            "Store::open_chart(Read): policy facts + audit append (one write transaction)",
            open_chart_op(store.clone(), seeded.reader.clone(), seeded.patient),
        ),
    ];
    let mut out = Vec::new();
    for (name, what, op) in &cases {
        for c in &args.concurrency {
            out.push(case(name, what, op.clone(), *c, args).await?);
        }
    }
    let page_bytes = out.first().map(|c| c.size).unwrap_or(0);
    Ok((out, page_bytes))
}

// --- the results files ------------------------------------------------------------------

fn write_results(out: &Path, report: &Report) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let json = out.join(format!("chart-open-{}.json", label(report)));
    std::fs::write(&json, serde_json::to_string_pretty(report)? + "\n")
        .with_context(|| format!("writing {}", json.display()))?;
    eprintln!("wrote {}", json.display());
    // The markdown covers every backend that has results, in a fixed order.
    let mut reports = Vec::new();
    for b in ["sqlite", "postgres", "postgres-no-analyze"] {
        let p = out.join(format!("chart-open-{b}.json"));
        if let Ok(s) = std::fs::read_to_string(&p) {
            reports.push(serde_json::from_str::<Report>(&s).with_context(|| format!("reading {}", p.display()))?);
        }
    }
    let md = out.join("chart-open.md");
    std::fs::write(&md, markdown(&reports)).with_context(|| format!("writing {}", md.display()))?;
    eprintln!("wrote {}", md.display());
    Ok(())
}

/// `sqlite`, `postgres` or `postgres-no-analyze`.
fn label(r: &Report) -> String {
    if r.variant.is_empty() { r.backend.clone() } else { format!("{}-{}", r.backend, r.variant) }
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / 1024.0 / 1024.0)
}

fn markdown(reports: &[Report]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "# chart-open: opening a chart of 2,000 entries from 5 organizations\n");
    let _ =
        writeln!(s, "Generated by `cargo run --release -p tsunagu-bench --bin chart-open` (see `bench/README.md`).");
    let _ = writeln!(s, "Latencies in milliseconds, nearest-rank percentiles; throughput in requests per second.\n");
    for r in reports {
        let m = &r.machine;
        let d = &r.database;
        let _ = writeln!(s, "## {}\n", label(r));
        let _ = writeln!(
            s,
            "- run {} at commit `{}`; {} s or {} requests per case (whichever first), {} warm-up",
            r.started_at, r.git_commit, r.params.seconds, r.params.max_requests, r.params.warmup
        );
        let _ = writeln!(
            s,
            "- machine: {} × {}, {} MiB RAM, Linux {}, load average {} at start (shared machine)",
            m.nproc,
            m.cpu_model,
            m.mem_total_mib,
            m.kernel,
            m.load_at_start.map(|l| format!("{l:.2}")).unwrap_or_else(|| "?".into())
        );
        let _ = writeln!(
            s,
            "- database: {}{}; statistics: {}{}",
            d.server_version,
            d.collation.as_ref().map(|c| format!(", collation {c}")).unwrap_or_default(),
            d.statistics,
            d.autovacuum.as_ref().map(|a| format!(" (server autovacuum = {a})")).unwrap_or_default()
        );
        let _ = writeln!(
            s,
            "- chart: {} entries ({} versions, {} marked in error) from {} organizations; {} audit rows before the cases, {} after",
            d.entries, d.versions, d.marks, r.params.organizations, d.audit_rows_before, d.audit_rows_after
        );
        let _ = writeln!(
            s,
            "- size on disk: {}{}; chart page {} KiB",
            mib(d.size_bytes),
            d.entries_table_bytes.map(|b| format!(" (entries table with indexes {})", mib(b))).unwrap_or_default(),
            r.chart_page_bytes / 1024
        );
        let sd = &r.seeding;
        let _ = writeln!(
            s,
            "- seeding: {:.1} s, {:.0} entries/s ({} writes, {:.0} writes/s; add_entry median {:.2} ms, p99 {:.2} ms); free text of notes, nursing records and messages {}-{} characters, mean {:.0}",
            sd.seconds,
            sd.entries_per_s,
            sd.writes,
            sd.writes_per_s,
            sd.add_entry_ms.median,
            sd.add_entry_ms.p99,
            sd.text_chars_min,
            sd.text_chars_max,
            sd.text_chars_mean
        );
        let kinds: Vec<String> = sd.entries_by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let orgs: Vec<String> = sd.entries_by_org.iter().map(|n| n.to_string()).collect();
        let _ = writeln!(s, "- entries by organization 1-5: {}; by kind: {}\n", orgs.join(" / "), kinds.join(", "));
        let _ = writeln!(s, "| case | conc. | requests | errors | median | p90 | p99 | max | req/s | load |");
        let _ = writeln!(s, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
        for c in &r.cases {
            let l = &c.latency_ms;
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} | {} |",
                c.name,
                c.concurrency,
                c.requests,
                c.errors,
                l.median,
                l.p90,
                l.p99,
                l.max,
                c.throughput_per_s,
                c.load_before.map(|x| format!("{x:.2}")).unwrap_or_default()
            );
        }
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "Timeline query alone (raw SQL through sqlx, one connection, 200 runs; `proposed_*` are rewrites from \
             `bench/README.md`, not what the store runs):\n"
        );
        for p in &r.plans {
            let _ = writeln!(s, "- `{}`: median {:.2} ms, p99 {:.2} ms", p.name, p.raw_median_ms, p.raw_p99_ms);
        }
        let _ = writeln!(s, "\n<details><summary>plans ({})</summary>\n", label(r));
        for p in &r.plans {
            let _ = writeln!(s, "`{}`:\n\n```\n{}\n```\n", p.name, p.plan.join("\n"));
        }
        let _ = writeln!(s, "</details>\n");
    }
    s
}

// --- main -----------------------------------------------------------------------------------

async fn with_sqlite(args: &Args) -> Result<Report> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("bench.db");
    let url = format!("sqlite://{}", file.display());
    let r = run_backend(Backend::Sqlite, &url, Some(&file), args).await;
    if args.keep {
        let kept = dir.keep();
        eprintln!("kept the SQLite database at {}", kept.join("bench.db").display());
    }
    r
}

async fn with_postgres(admin: &str, args: &Args) -> Result<Report> {
    let (url, name) = create_postgres(admin, "tsunagu_bench").await?;
    let r = run_backend(Backend::Postgres, &url, None, args).await;
    if args.keep {
        eprintln!("kept the PostgreSQL database {}", tsunagu_store::redact_url(&url));
    } else {
        drop_postgres(admin, &name).await?;
    }
    r
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let (sqlite, postgres) = match args.backend.as_str() {
        "all" => (true, args.postgres_url.is_some()),
        "sqlite" => (true, false),
        "postgres" => (false, true),
        other => bail!("--backend {other}: use sqlite, postgres or all"),
    };
    if args.concurrency.is_empty() || args.concurrency.contains(&0) {
        bail!("--concurrency needs positive numbers");
    }
    if args.entries < DEEP_OFFSET + PAGE_SIZE {
        bail!("--entries must be at least {}", DEEP_OFFSET + PAGE_SIZE);
    }
    if sqlite {
        let r = with_sqlite(&args).await.context("SQLite")?;
        write_results(&args.out, &r)?;
    }
    if postgres {
        let url = args.postgres_url.as_deref().context("--backend postgres needs --postgres-url")?;
        let r = with_postgres(url, &args).await.context("PostgreSQL")?;
        write_results(&args.out, &r)?;
    } else if args.backend == "all" {
        eprintln!("PostgreSQL skipped: no --postgres-url and no TSUNAGU_TEST_POSTGRES_URL");
    }
    Ok(())
}
