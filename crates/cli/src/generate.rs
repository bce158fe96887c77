//! `tsunagu generate` (issue #9): a synthetic prefecture in an empty database, for
//! measuring tsunagu at the scale it is built for (DOMAIN.md §10, docs/scaling.md).
//!
//! What it writes: about a thousand organizations of every kind in Yamagata prefecture
//! with their staff of every profession; N patients registered at hospitals, clinics and
//! other organizations, with local ids, consent, key persons; M shared charts, each
//! opened by referral letters from the owning hospital or clinic to 2-4 other
//! organizations (the letters, their versions and events, and the care-team rows a sent
//! letter makes, as `send_letter` writes them), with K timeline items from those
//! organizations: SOAP and free-text notes, nursing records, vital signs, medication
//! lists, documents (one shared placeholder PDF in the object store), thread messages
//! with mentions, lab panels (`lab_results` with their `import_files` provenance), a few
//! corrections and "entered in error" marks. Search keys come from the domain's own
//! functions ([`NewPatient::kana_key`], [`EntryBody::text`]), content hashes from the
//! store's ([`entry_content_hash`], [`letter_content_hash`]).
//!
//! Deterministic: every organization, patient and chart draws from its own ChaCha8
//! stream of the seed (so patient 17 is the same whether 1,000 or 1,000,000 are
//! generated), ids are v7 UUIDs whose time is the synthetic time of the row and whose
//! random bits come from that stream, and every time counts from a fixed "now"
//! ([`SYNTHETIC_NOW`]), never the wall clock. The same seed writes the same rows.
//!
//! Fast: rows are made on a blocking thread and written by the caller through the
//! store's bulk loader (multi-row INSERTs, one transaction per batch of about 40,000
//! rows) while the next batch is made. No audit record per row (bench/README.md says
//! why); one `generate.start` and one `generate.finish` record.

mod clinical;
mod names;

use anyhow::{Context, Result, anyhow, bail};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use time::macros::datetime;
use time::{Date, Duration, OffsetDateTime};
use tsunagu_domain::OrgId;
use tsunagu_domain::chart::{
    AttachmentRef, Document, EntryBody, MedicationItem, MedicationList, Message, ProgressNote, VitalSigns,
};
use tsunagu_domain::letter::{LetterBody, LetterKind, LetterState, NursingInstruction, Referral, Reply};
use tsunagu_domain::org::{InstitutionCode, OrgKind};
use tsunagu_domain::patient::{NewPatient, PatientForm, TeamRole};
use tsunagu_domain::person::Profession;
use tsunagu_store::{
    AuditCtx, AuditEvent, BulkBatch, BulkTable, BulkValue, LetterContent, Outcome, RegistrationRows, Store,
    entry_content_hash, letter_content_hash, ts,
};
use uuid::Uuid;

use clinical as c;
use names as n;

/// The synthetic "now": every generated time is before it (2026-11-01 00:00 in Japan).
pub const SYNTHETIC_NOW: OffsetDateTime = datetime!(2026-10-31 15:00 UTC);
/// When the regional network started in the synthetic history.
const HISTORY_START: OffsetDateTime = datetime!(2012-04-01 00:00 UTC);

/// Rows per transaction (one batch).
const BATCH_ROWS: usize = 40_000;

/// The largest run the command accepts (a prefecture and a half).
pub const MAX_PATIENTS: u64 = 1_500_000;
pub const MAX_ENTRIES_PER_CHART: u32 = 10_000;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    pub organizations: u32,
    pub patients: u64,
    pub shared_charts: u64,
    pub entries_per_chart: u32,
    pub seed: u64,
    /// The argon2 PHC string every generated person signs in with; `None`: no one can
    /// sign in as them.
    pub password_hash: Option<String>,
}

impl Options {
    pub fn check(&self) -> Result<()> {
        if !(20..=5000).contains(&self.organizations) {
            bail!("--organizations must be 20 to 5000");
        }
        if self.patients == 0 || self.patients > MAX_PATIENTS {
            bail!("--patients must be 1 to {MAX_PATIENTS}");
        }
        if self.shared_charts > self.patients {
            bail!("--shared-charts cannot be more than --patients (each shared chart is one patient's)");
        }
        if self.entries_per_chart > MAX_ENTRIES_PER_CHART {
            bail!("--entries-per-chart must be at most {MAX_ENTRIES_PER_CHART}");
        }
        Ok(())
    }
}

/// The salt of the generated accounts' password hash: from the seed, so that the same
/// seed writes the same rows (these accounts are synthetic; real ones get random salts).
pub fn password_salt(seed: u64) -> [u8; 16] {
    let d = Sha256::digest(format!("tsunagu generate password salt {seed}").as_bytes());
    let mut s = [0u8; 16];
    for (a, b) in s.iter_mut().zip(d.iter()) {
        *a = *b;
    }
    s
}

/// Progress of a run, for a bar on a terminal.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    /// A phase starts: its name and how many units it has.
    Phase(&'static str, u64),
    /// Units of the current phase finished.
    Done(u64),
}

/// What a run wrote and how long it took.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub rows: BTreeMap<&'static str, u64>,
    pub organizations: u64,
    pub people: u64,
    pub patients: u64,
    pub shared_charts: u64,
    /// Timeline items that are chart entries (first versions).
    pub entries: u64,
    /// Timeline items that are lab panels (one imported file each).
    pub lab_panels: u64,
    /// Seconds making and writing rows.
    pub load_seconds: f64,
    /// Seconds after the load: SQLite's checkpoint, PostgreSQL's VACUUM (ANALYZE).
    pub finish_seconds: f64,
    /// A chart to look at: its patient, a person on its team, a person outside it.
    pub sample: Option<Sample>,
}

impl Report {
    pub fn total_rows(&self) -> u64 {
        self.rows.values().sum()
    }
}

#[derive(Debug, Clone)]
pub struct Sample {
    pub patient_id: String,
    pub member_email: String,
    pub outsider_email: String,
}

// --- randomness -------------------------------------------------------------------------

/// Streams of the seed: one per organization table, patient and chart.
const STREAM_WORLD: u64 = 1 << 60;
const STREAM_PATIENT: u64 = 2 << 60;
const STREAM_CHART: u64 = 3 << 60;
const STREAM_LAYOUT: u64 = 4 << 60;

/// The random source of one thing: a ChaCha8 stream of the seed. Range reduction is our
/// own (multiply-shift), so the values depend on nothing but the ChaCha output.
struct Rng(ChaCha8Rng);

impl Rng {
    fn new(key: &[u8; 32], stream: u64) -> Self {
        let mut r = ChaCha8Rng::from_seed(*key);
        r.set_stream(stream);
        Self(r)
    }

    fn u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// 0 <= x < n (0 when n is 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.u64()) * u128::from(n)) >> 64) as u64
    }

    fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// lo <= x <= hi.
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// 0 <= x < 1.
    fn unit(&mut self) -> f64 {
        (self.u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Roughly normal (the sum of four uniforms), mean 0 and standard deviation 1.
    fn normal(&mut self) -> f64 {
        (self.unit() + self.unit() + self.unit() + self.unit() - 2.0) * 1.732
    }

    fn pick<T: Copy + Default>(&mut self, items: &[T]) -> T {
        let i = self.index(items.len());
        items.get(i).copied().unwrap_or_default()
    }

    /// Favours the front of the list (the most common names come first).
    fn pick_front<T: Copy + Default>(&mut self, items: &[T]) -> T {
        let u = self.unit();
        let i = (u * u * items.len() as f64) as usize;
        items.get(i).copied().unwrap_or_default()
    }

    fn weighted<T: Copy + Default>(&mut self, items: &[(T, u32)]) -> T {
        let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut x = self.below(total);
        for (v, w) in items {
            if x < u64::from(*w) {
                return *v;
            }
            x -= u64::from(*w);
        }
        T::default()
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from(b'0' + self.below(10) as u8)).collect()
    }

    /// A v7 UUID for something made at `t`: the time from `t`, the rest from the stream.
    fn uuid_at(&mut self, t: OffsetDateTime) -> Uuid {
        let millis = u64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let mut bytes = [0u8; 10];
        for b in bytes.iter_mut() {
            *b = self.below(256) as u8;
        }
        uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
    }

    /// A time between `lo` and `hi`, to the second.
    fn time_between(&mut self, lo: OffsetDateTime, hi: OffsetDateTime) -> OffsetDateTime {
        let span = (hi - lo).whole_seconds().max(0);
        lo + Duration::seconds(self.between(0, span))
    }
}

fn id(u: Uuid) -> String {
    u.hyphenated().to_string()
}

fn t(v: OffsetDateTime) -> BulkValue {
    BulkValue::Text(ts(v))
}

fn text(s: impl Into<String>) -> BulkValue {
    BulkValue::Text(s.into())
}

// --- the organizations and their staff --------------------------------------------------

#[derive(Debug, Clone)]
struct Org {
    id: Uuid,
    kind: OrgKind,
    city: usize,
    name: String,
    phone: String,
    dental: bool,
    home_visits: bool,
    /// Indexes into `World::people`.
    staff: Vec<usize>,
}

#[derive(Debug, Clone)]
struct Person {
    id: Uuid,
    email: String,
    name: String,
    profession: Profession,
}

/// What a chart looks for in an organization of the patient's city.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
enum Need {
    Kind(OrgKind),
    /// A clinic (not a dentist's) that visits patients at home.
    HomeClinic,
    /// A hospital or a clinic that is not a dentist's: patients are registered there.
    #[default]
    Medical,
}

struct World {
    orgs: Vec<Org>,
    people: Vec<Person>,
    /// Organizations meeting a need, per city, and in the whole prefecture (`None`).
    lists: HashMap<(Need, Option<usize>), Vec<usize>>,
}

impl World {
    fn org(&self, i: usize) -> Result<&Org> {
        self.orgs.get(i).ok_or_else(|| anyhow!("generator bug: no organization {i}"))
    }

    fn person(&self, i: usize) -> Result<&Person> {
        self.people.get(i).ok_or_else(|| anyhow!("generator bug: no person {i}"))
    }

    /// An organization meeting `need` and not in `not`, in `city` when there is one.
    /// A small prefecture may have no clinic that visits: then any clinic will do.
    fn find(&self, rng: &mut Rng, need: Need, city: usize, not: &[usize]) -> Option<usize> {
        let needs: &[Need] =
            if need == Need::HomeClinic { &[Need::HomeClinic, Need::Kind(OrgKind::Clinic)] } else { &[need] };
        for need in needs {
            for scope in [Some(city), None] {
                let Some(list) = self.lists.get(&(*need, scope)) else { continue };
                let free: Vec<usize> = list.iter().copied().filter(|o| !not.contains(o)).collect();
                if !free.is_empty() {
                    return Some(rng.pick(&free));
                }
            }
        }
        None
    }

    /// Someone at `org` of the first profession in `prefer` the organization has;
    /// anyone there when none.
    fn staff_with(&self, rng: &mut Rng, org: usize, prefer: &[Profession]) -> Result<usize> {
        let o = self.org(org)?;
        for p in prefer {
            let with: Vec<usize> =
                o.staff.iter().copied().filter(|s| self.people.get(*s).is_some_and(|x| x.profession == *p)).collect();
            if !with.is_empty() {
                return Ok(rng.pick(&with));
            }
        }
        if o.staff.is_empty() {
            bail!("generator bug: {} has no staff", o.name);
        }
        Ok(rng.pick(&o.staff))
    }
}

/// How many organizations of each kind a prefecture of `total` has (at least one of each).
fn kind_counts(total: u32) -> Vec<(OrgKind, u32)> {
    let shares: [(OrgKind, f64); 8] = [
        (OrgKind::Hospital, 0.06),
        (OrgKind::Clinic, 0.38),
        (OrgKind::VisitingNurseStation, 0.09),
        (OrgKind::CareFacility, 0.10),
        (OrgKind::CareManagerOffice, 0.14),
        (OrgKind::Pharmacy, 0.21),
        (OrgKind::SupportCentre, 0.015),
        (OrgKind::MedicalAssociation, 0.005),
    ];
    let mut out: Vec<(OrgKind, u32)> =
        shares.iter().map(|(k, s)| (*k, ((f64::from(total) * s) as u32).max(1))).collect();
    let used: u32 = out.iter().map(|(_, n)| *n).sum();
    if let Some(clinics) = out.iter_mut().find(|(k, _)| *k == OrgKind::Clinic) {
        clinics.1 = (clinics.1 + total).saturating_sub(used).max(2);
    }
    out
}

/// The professions of an organization's staff, the administrator first.
fn staffing(rng: &mut Rng, kind: OrgKind, dental: bool) -> Vec<Profession> {
    use Profession as P;
    let mut s = Vec::new();
    let mut add = |p: Profession, lo: i64, hi: i64, rng: &mut Rng| {
        for _ in 0..rng.between(lo, hi) {
            s.push(p);
        }
    };
    match kind {
        OrgKind::Hospital => {
            add(P::Clerk, 1, 2, rng);
            add(P::Physician, 5, 14, rng);
            add(P::Nurse, 6, 14, rng);
            add(P::Pharmacist, 1, 3, rng);
            add(P::MedicalSocialWorker, 1, 2, rng);
            add(P::PhysicalTherapist, 1, 2, rng);
            add(P::OccupationalTherapist, 0, 2, rng);
            add(P::SpeechTherapist, 0, 1, rng);
            add(P::Dietitian, 1, 1, rng);
            add(P::CareWorker, 0, 2, rng);
            add(P::Dentist, 0, 1, rng);
        }
        OrgKind::Clinic if dental => {
            add(P::Dentist, 1, 2, rng);
            add(P::Clerk, 0, 1, rng);
        }
        OrgKind::Clinic => {
            add(P::Physician, 1, 2, rng);
            add(P::Nurse, 1, 3, rng);
            add(P::Clerk, 0, 1, rng);
        }
        OrgKind::VisitingNurseStation => {
            add(P::Nurse, 3, 8, rng);
            add(P::PhysicalTherapist, 0, 2, rng);
            add(P::OccupationalTherapist, 0, 1, rng);
            add(P::Clerk, 0, 1, rng);
        }
        OrgKind::CareFacility => {
            add(P::CareManager, 1, 1, rng);
            add(P::CareWorker, 3, 8, rng);
            add(P::Nurse, 1, 3, rng);
            add(P::Dietitian, 0, 1, rng);
            add(P::Physician, 0, 1, rng);
        }
        OrgKind::CareManagerOffice => {
            add(P::CareManager, 2, 5, rng);
            add(P::Clerk, 0, 1, rng);
        }
        OrgKind::Pharmacy => {
            add(P::Pharmacist, 2, 4, rng);
            add(P::Clerk, 0, 1, rng);
        }
        OrgKind::SupportCentre => {
            add(P::MedicalSocialWorker, 1, 2, rng);
            add(P::CareManager, 1, 2, rng);
            add(P::Nurse, 1, 1, rng);
            add(P::Clerk, 1, 1, rng);
        }
        OrgKind::MedicalAssociation => {
            add(P::Clerk, 2, 2, rng);
            add(P::Physician, 1, 1, rng);
        }
    }
    if s.is_empty() {
        s.push(P::Clerk);
    }
    s
}

/// A name of an organization of `kind` in `city`: (name, kana).
fn org_name(rng: &mut Rng, kind: OrgKind, city: &n::City, dental: bool) -> (String, String) {
    let family = rng.pick_front(n::FAMILY);
    let place = rng.pick(n::PLACE_WORDS);
    let town = rng.pick(n::TOWNS);
    let stem = city.stem;
    let join = |parts: &[n::Part]| -> (String, String) {
        (parts.iter().map(|p| p.0).collect::<String>(), parts.iter().map(|p| p.1).collect::<String>())
    };
    match kind {
        OrgKind::Hospital => match rng.below(5) {
            0 => join(&[
                stem,
                rng.pick(&[("中央", "チュウオウ"), ("協立", "キョウリツ"), ("第一", "ダイイチ")]),
                ("病院", "ビョウイン"),
            ]),
            1 => join(&[family, ("記念病院", "キネンビョウイン")]),
            2 => join(&[family, ("病院", "ビョウイン")]),
            3 => join(&[place, ("病院", "ビョウイン")]),
            _ => join(&[stem, town, ("総合病院", "ソウゴウビョウイン")]),
        },
        OrgKind::Clinic if dental => match rng.below(2) {
            0 => join(&[family, ("歯科医院", "シカイイン")]),
            _ => join(&[place, ("歯科クリニック", "シカクリニック")]),
        },
        OrgKind::Clinic => {
            let dept = rng.pick(&[
                ("内科", "ナイカ"),
                ("内科", "ナイカ"),
                ("外科", "ゲカ"),
                ("整形外科", "セイケイゲカ"),
                ("眼科", "ガンカ"),
                ("皮膚科", "ヒフカ"),
                ("小児科", "ショウニカ"),
                ("耳鼻咽喉科", "ジビインコウカ"),
                ("内科胃腸科", "ナイカイチョウカ"),
            ]);
            match rng.below(5) {
                0 | 1 => join(&[family, dept, ("クリニック", "クリニック")]),
                2 => join(&[family, ("医院", "イイン")]),
                3 => join(&[place, ("在宅クリニック", "ザイタククリニック")]),
                _ => join(&[place, ("診療所", "シンリョウジョ")]),
            }
        }
        OrgKind::VisitingNurseStation => match rng.below(2) {
            0 => join(&[("訪問看護ステーション", "ホウモンカンゴステーション"), place]),
            _ => join(&[place, ("訪問看護ステーション", "ホウモンカンゴステーション")]),
        },
        OrgKind::CareFacility => match rng.below(3) {
            0 => join(&[
                ("特別養護老人ホーム", "トクベツヨウゴロウジンホーム"),
                place,
                rng.pick(&[("園", "エン"), ("荘", "ソウ")]),
            ]),
            1 => join(&[("介護老人保健施設", "カイゴロウジンホケンシセツ"), place]),
            _ => join(&[("グループホーム", "グループホーム"), place]),
        },
        OrgKind::CareManagerOffice => match rng.below(2) {
            0 => join(&[place, ("居宅介護支援事業所", "キョタクカイゴシエンジギョウショ")]),
            _ => join(&[("ケアプランセンター", "ケアプランセンター"), place]),
        },
        OrgKind::Pharmacy => match rng.below(3) {
            0 => join(&[place, ("薬局", "ヤッキョク"), (" ", " "), town, ("店", "テン")]),
            1 => join(&[family, ("薬局", "ヤッキョク")]),
            _ => join(&[stem, place, ("調剤薬局", "チョウザイヤッキョク")]),
        },
        OrgKind::SupportCentre => match rng.below(2) {
            0 => join(&[city.name, ("地域包括支援センター", "チイキホウカツシエンセンター")]),
            _ => {
                join(&[city.name, ("在宅医療・介護連携支援センター", "ザイタクイリョウ・カイゴレンケイシエンセンター")])
            }
        },
        OrgKind::MedicalAssociation => join(&[stem, ("地区医師会", "チクイシカイ")]),
    }
}

/// A 10-digit institution code for `kind` (none for support centres and medical
/// associations): prefecture 06, the fee-schedule digit, and a check digit where the
/// schedule has one.
fn institution_code(rng: &mut Rng, kind: OrgKind, dental: bool) -> Option<String> {
    let schedule = match kind {
        OrgKind::Hospital => "1",
        OrgKind::Clinic if dental => "3",
        OrgKind::Clinic => "1",
        OrgKind::Pharmacy => "4",
        OrgKind::VisitingNurseStation => "6",
        OrgKind::CareFacility | OrgKind::CareManagerOffice => "7",
        OrgKind::SupportCentre | OrgKind::MedicalAssociation => return None,
    };
    if schedule == "7" {
        return Some(format!("067{}", rng.digits(7)));
    }
    let nine = format!("06{schedule}{}", rng.digits(6));
    InstitutionCode::check_digit(&nine).map(|d| format!("{nine}{d}"))
}

fn phone(rng: &mut Rng, city: &n::City) -> String {
    if city.area_code.len() == 3 {
        format!("{}-{}{}-{}", city.area_code, rng.between(6, 8), rng.digits(2), rng.digits(4))
    } else {
        format!("{}-{}{}-{}", city.area_code, rng.between(2, 7), rng.digits(1), rng.digits(4))
    }
}

fn mobile(rng: &mut Rng) -> String {
    format!("0{}0-{}-{}", rng.pick(&[9u8, 8, 7]), rng.digits(4), rng.digits(4))
}

fn postal_code(rng: &mut Rng, city: &n::City) -> String {
    let rest = if city.postal.len() == 3 { format!("0{}", rng.digits(3)) } else { rng.digits(2) };
    let all = format!("{}{rest}", city.postal);
    format!("{}-{}", all.get(..3).unwrap_or(""), all.get(3..).unwrap_or(""))
}

fn address(rng: &mut Rng, city: &n::City) -> String {
    format!(
        "{}{}{}{}丁目{}-{}",
        n::PREFECTURE.0,
        city.name.0,
        rng.pick(n::TOWNS).0,
        rng.between(1, 5),
        rng.between(1, 30),
        rng.between(1, 20)
    )
}

/// A person's name: the family name and the given name, each with its reading.
fn person_name(rng: &mut Rng, female: bool, born: i32) -> (n::Part, (String, String)) {
    let family = rng.pick_front(n::FAMILY);
    let young = born >= 1975;
    let owned = |p: n::Part| (p.0.to_string(), p.1.to_string());
    let given = match (female, young) {
        (false, true) => owned(rng.pick(n::MALE_YOUNG)),
        (true, true) => owned(rng.pick(n::FEMALE_YOUNG)),
        (false, false) if rng.chance(0.25) => owned(rng.pick(n::MALE_WHOLE)),
        (true, false) if rng.chance(0.2) => owned(rng.pick(n::FEMALE_WHOLE)),
        (false, false) => loop {
            let (a, b) = (rng.pick(n::MALE_FIRST), rng.pick(n::MALE_SECOND));
            if a.0 != b.0 && a.1 != b.1 {
                break (format!("{}{}", a.0, b.0), format!("{}{}", a.1, b.1));
            }
        },
        (true, false) => {
            let (a, b) = (rng.pick(n::FEMALE_FIRST), rng.weighted(n::FEMALE_SECOND));
            (format!("{}{}", a.0, b.0), format!("{}{}", a.1, b.1))
        }
    };
    (family, given)
}

/// The organizations, their staff and memberships; the rows go into `batch`.
fn build_world(key: &[u8; 32], opts: &Options, batch: &mut BulkBatch) -> Result<World> {
    let mut rng = Rng::new(key, STREAM_WORLD);
    let city_weights: Vec<(usize, u32)> = n::CITIES.iter().enumerate().map(|(i, c)| (i, c.weight)).collect();
    let mut orgs: Vec<Org> = Vec::new();
    let mut people: Vec<Person> = Vec::new();
    let mut names_taken: HashSet<String> = HashSet::new();
    let mut codes_taken: HashSet<String> = HashSet::new();
    let total = kind_counts(opts.organizations).iter().map(|(_, n)| *n).sum::<u32>().max(1);
    let mut operator_made = false;
    for (kind, count) in kind_counts(opts.organizations) {
        for _ in 0..count {
            let i = orgs.len();
            // The organizations joined over the network's first two months.
            let created = HISTORY_START + Duration::minutes(i64::try_from(i).unwrap_or(0) * 86_400 / i64::from(total));
            let city_i = rng.weighted(&city_weights);
            let city = n::CITIES.get(city_i).copied().unwrap_or_default();
            let dental = kind == OrgKind::Clinic && rng.chance(0.15);
            let (mut name, mut kana) = org_name(&mut rng, kind, &city, dental);
            let mut tries = 0;
            while names_taken.contains(&name) {
                tries += 1;
                let (a, b) = if tries < 20 {
                    org_name(&mut rng, kind, &city, dental)
                } else {
                    let town = rng.pick(n::TOWNS);
                    (format!("{name} {}", town.0), format!("{kana} {}", town.1))
                };
                name = a;
                kana = b;
            }
            names_taken.insert(name.clone());
            let mut code = institution_code(&mut rng, kind, dental);
            while code.as_ref().is_some_and(|c| codes_taken.contains(c)) {
                code = institution_code(&mut rng, kind, dental);
            }
            if let Some(c) = &code {
                codes_taken.insert(c.clone());
            }
            let home_visits = match kind {
                OrgKind::VisitingNurseStation | OrgKind::CareManagerOffice => true,
                OrgKind::Clinic => !dental && rng.chance(0.35),
                OrgKind::Hospital => rng.chance(0.15),
                OrgKind::Pharmacy => rng.chance(0.3),
                _ => false,
            };
            let support_24h = match kind {
                OrgKind::Hospital | OrgKind::CareFacility => true,
                OrgKind::Clinic => home_visits && rng.chance(0.6),
                OrgKind::VisitingNurseStation => rng.chance(0.7),
                OrgKind::Pharmacy => rng.chance(0.2),
                _ => false,
            };
            let palliative = match kind {
                OrgKind::Hospital => rng.chance(0.4),
                OrgKind::Clinic => home_visits && rng.chance(0.3),
                OrgKind::VisitingNurseStation => rng.chance(0.5),
                _ => false,
            };
            let opioids = kind == OrgKind::Pharmacy && rng.chance(0.4);
            let accepts = !matches!(kind, OrgKind::SupportCentre | OrgKind::MedicalAssociation) && rng.chance(0.8);
            let lat = city.lat + (rng.unit() - 0.5) * 0.08;
            let lon = city.lon + (rng.unit() - 0.5) * 0.1;
            let tel = phone(&mut rng, &city);
            let night = if support_24h { Some(mobile(&mut rng)) } else { None };
            let area = if home_visits {
                rng.pick(&["市内全域", "市内と隣接町、車で30分以内", "事業所から半径16km以内"]).to_string()
            } else {
                String::new()
            };
            let org_id = rng.uuid_at(created);
            batch.push(
                BulkTable::Organizations,
                [
                    text(id(org_id)),
                    code.clone().into(),
                    text(kind.as_str()),
                    text(name.clone()),
                    text(kana),
                    text(postal_code(&mut rng, &city)),
                    text(address(&mut rng, &city)),
                    text(tel.clone()),
                    night.into(),
                    Some(lat).into(),
                    Some(lon).into(),
                    home_visits.into(),
                    support_24h.into(),
                    palliative.into(),
                    opioids.into(),
                    accepts.into(),
                    text("approved"),
                    t(created),
                    t(created),
                    t(created),
                    text(area),
                ],
            )?;
            let mut staff = Vec::new();
            for (s, profession) in staffing(&mut rng, kind, dental).into_iter().enumerate() {
                let p = people.len();
                let female = match profession {
                    Profession::Nurse | Profession::CareWorker => rng.chance(0.85),
                    Profession::Physician | Profession::Dentist => rng.chance(0.25),
                    _ => rng.chance(0.6),
                };
                let born = 1955 + i32::try_from(rng.below(46)).unwrap_or(0);
                let (family, given) = person_name(&mut rng, female, born);
                let joined = created + Duration::minutes(10 + i64::try_from(s).unwrap_or(0));
                let user_id = rng.uuid_at(joined);
                let email = format!("s{:06}@o{:04}.generated.tsunagu.example", p + 1, i + 1);
                let name = format!("{} {}", family.0, given.0);
                let operator = kind == OrgKind::MedicalAssociation && !operator_made;
                operator_made |= operator;
                batch.push(
                    BulkTable::Users,
                    [
                        text(id(user_id)),
                        text(email.clone()),
                        text(name.clone()),
                        text(format!("{} {}", family.1, given.1)),
                        text(profession.as_str()),
                        text(opts.password_hash.clone().unwrap_or_else(|| "!generated: no password".into())),
                        text("active"),
                        operator.into(),
                        t(joined),
                    ],
                )?;
                batch
                    .push(BulkTable::Memberships, [text(id(user_id)), text(id(org_id)), (s == 0).into(), t(joined)])?;
                people.push(Person { id: user_id, email, name, profession });
                staff.push(p);
            }
            orgs.push(Org { id: org_id, kind, city: city_i, name, phone: tel, dental, home_visits, staff });
        }
    }
    // Some physicians also work part-time at a clinic (people belong to several
    // organizations).
    let clinics: Vec<usize> =
        orgs.iter().enumerate().filter(|(_, o)| o.kind == OrgKind::Clinic && !o.dental).map(|(i, _)| i).collect();
    let hospital_physicians: Vec<(usize, usize)> = orgs
        .iter()
        .enumerate()
        .filter(|(_, o)| o.kind == OrgKind::Hospital)
        .flat_map(|(oi, o)| o.staff.iter().map(move |p| (oi, *p)))
        .filter(|(_, p)| people.get(*p).is_some_and(|x| x.profession == Profession::Physician))
        .collect();
    for (_, p) in hospital_physicians {
        if clinics.is_empty() || !rng.chance(0.1) {
            continue;
        }
        let c = rng.pick(&clinics);
        let (Some(person), Some(clinic)) = (people.get(p), orgs.get_mut(c)) else { continue };
        batch.push(
            BulkTable::Memberships,
            [text(id(person.id)), text(id(clinic.id)), false.into(), t(HISTORY_START + Duration::days(30))],
        )?;
        clinic.staff.push(p);
    }
    let mut lists: HashMap<(Need, Option<usize>), Vec<usize>> = HashMap::new();
    for (i, o) in orgs.iter().enumerate() {
        let mut needs = vec![Need::Kind(o.kind)];
        if o.kind == OrgKind::Clinic && !o.dental && o.home_visits {
            needs.push(Need::HomeClinic);
        }
        if o.kind == OrgKind::Hospital || (o.kind == OrgKind::Clinic && !o.dental) {
            needs.push(Need::Medical);
        }
        for need in needs {
            lists.entry((need, Some(o.city))).or_default().push(i);
            lists.entry((need, None)).or_default().push(i);
        }
    }
    Ok(World { orgs, people, lists })
}

// --- patients ---------------------------------------------------------------------------

/// What a shared chart needs to know of its patient.
#[derive(Debug, Clone)]
struct ChartPatient {
    id: Uuid,
    owner: usize,
    city: usize,
    registered: OffsetDateTime,
    consent_at: OffsetDateTime,
    local_id: String,
}

/// Which patients have a shared chart: the first M of a permutation of 0..N (a
/// multiplier coprime to N), chart j on patient `(a*j + b) mod N`.
fn chart_layout(key: &[u8; 32], patients: u64, charts: u64) -> HashMap<u64, u64> {
    let mut rng = Rng::new(key, STREAM_LAYOUT);
    let gcd = |mut a: u64, mut b: u64| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    let mut a = (patients as f64 * 0.618_034) as u64 + rng.below(patients.max(1));
    a %= patients.max(1);
    while a == 0 || gcd(a, patients) != 1 {
        a = (a + 1) % patients.max(1);
        if patients <= 1 {
            a = 1;
            break;
        }
    }
    let b = rng.below(patients);
    (0..charts).map(|j| (((u128::from(a) * u128::from(j) + u128::from(b)) % u128::from(patients)) as u64, j)).collect()
}

/// A local patient number in the style of the organization's own system.
fn local_id(kind: OrgKind, n: u64) -> String {
    match kind {
        OrgKind::Hospital => format!("{n:08}"),
        OrgKind::Clinic => format!("{n:06}"),
        OrgKind::VisitingNurseStation => format!("V-{n:05}"),
        OrgKind::CareFacility => format!("F-{n:05}"),
        OrgKind::Pharmacy => format!("P{n:06}"),
        _ => format!("K-{n:06}"),
    }
}

/// Per organization, the last local number given.
struct Counters(Vec<u64>);

impl Counters {
    fn next(&mut self, org: usize, kind: OrgKind) -> String {
        let n = match self.0.get_mut(org) {
            Some(c) => {
                *c += 1;
                *c
            }
            None => 0,
        };
        local_id(kind, n)
    }
}

struct PatientMaker<'a> {
    key: [u8; 32],
    world: &'a World,
    total: u64,
    today: Date,
    owners_medical: Vec<(Need, u32)>,
}

impl PatientMaker<'_> {
    fn make(
        &self,
        i: u64,
        charted: bool,
        counters: &mut Counters,
        batch: &mut BulkBatch,
    ) -> Result<Option<ChartPatient>> {
        let w = self.world;
        let mut rng = Rng::new(&self.key, STREAM_PATIENT | i);
        // Registered in order over the years, at most three days before "now".
        let span = (SYNTHETIC_NOW - Duration::days(3) - (HISTORY_START + Duration::days(90))).whole_minutes();
        let at = i64::try_from((u128::from(i) * span as u128 / u128::from(self.total.max(1))) as u64).unwrap_or(0);
        let registered = (HISTORY_START + Duration::days(90) + Duration::minutes(at + rng.between(0, 600)))
            .min(SYNTHETIC_NOW - Duration::days(3));
        let patient_city = rng.weighted(&n::CITIES.iter().enumerate().map(|(i, c)| (i, c.weight)).collect::<Vec<_>>());
        let need = if charted {
            if rng.chance(0.6) { Need::Kind(OrgKind::Hospital) } else { Need::HomeClinic }
        } else {
            rng.weighted(&self.owners_medical)
        };
        let owner = w
            .find(&mut rng, need, patient_city, &[])
            .or_else(|| w.find(&mut rng, Need::Medical, patient_city, &[]))
            .ok_or_else(|| anyhow!("generator bug: no organization to register patients"))?;
        let owner_org = w.org(owner)?;
        // Mostly elderly; the patients of shared charts more so.
        let age = if charted {
            rng.weighted(&[((50, 64), 10), ((65, 74), 20), ((75, 84), 35), ((85, 99), 33), ((100, 104), 2)])
        } else {
            rng.weighted(&[
                ((0, 19), 4),
                ((20, 39), 6),
                ((40, 64), 20),
                ((65, 74), 25),
                ((75, 84), 28),
                ((85, 99), 16),
                ((100, 104), 1),
            ])
        };
        let age = rng.between(age.0, age.1);
        let birth = self.today - Duration::days(age * 365 + rng.between(0, 364));
        let female = rng.chance(0.54);
        let (family, given) = person_name(&mut rng, female, birth.year());
        let city = n::CITIES.get(patient_city).copied().unwrap_or_default();
        let phone = match rng.below(10) {
            0..=5 => phone(&mut rng, &city),
            6..=8 => mobile(&mut rng),
            _ => String::new(),
        };
        let local = counters.next(owner, owner_org.kind);
        let form = PatientForm {
            family_name: family.0.into(),
            given_name: given.0.clone(),
            family_kana: family.1.into(),
            given_kana: given.1.clone(),
            sex: if female { "female" } else { "male" }.into(),
            birth_date: birth.to_string(),
            postal_code: postal_code(&mut rng, &city),
            address: address(&mut rng, &city),
            phone,
            local_id: local.clone(),
        };
        let p = NewPatient::parse(&form, self.today).map_err(|e| anyhow!("generator bug: patient {i}: {e}"))?;
        let pid = rng.uuid_at(registered);
        let pid_s = id(pid);
        let clerk =
            w.staff_with(&mut rng, owner, &[Profession::Clerk, Profession::Nurse, Profession::MedicalSocialWorker])?;
        let clerk_p = w.person(clerk)?;
        let consent =
            if charted { "given" } else { rng.weighted(&[("given", 55), ("not_recorded", 40), ("withdrawn", 5)]) };
        // The team row's id is drawn here, after the consent, as it always was: the same
        // seed gives the same data.
        let team_row = id(rng.uuid_at(registered));
        let registration = RegistrationRows {
            patient: &pid_s,
            team_row: &team_row,
            owner: &id(owner_org.id),
            by: &id(clerk_p.id),
            at: &ts(registered),
            consent,
            via: "generate",
        };
        batch.push_registration(&p, &registration)?;
        let consent_at = registered + Duration::minutes(rng.between(5, 90));
        if consent != "not_recorded" {
            let obtained = w.staff_with(&mut rng, owner, &[Profession::Physician, Profession::Nurse])?;
            let note = rng.pick(&["", "", "本人署名", "長女が代筆", "家族同席で説明"]);
            batch.push(
                BulkTable::Consents,
                [
                    text(pid_s.clone()),
                    text(id(rng.uuid_at(consent_at))),
                    text("given"),
                    text(w.person(obtained)?.name.clone()),
                    (!note.is_empty()).then(|| note.to_string()).into(),
                    text(id(clerk_p.id)),
                    t(consent_at),
                ],
            )?;
        }
        if consent == "withdrawn" {
            let withdrawn_at = rng.time_between(consent_at + Duration::days(1), SYNTHETIC_NOW - Duration::hours(1));
            batch.push(
                BulkTable::Consents,
                [
                    text(pid_s.clone()),
                    text(id(rng.uuid_at(withdrawn_at))),
                    text("withdrawn"),
                    BulkValue::NullText,
                    text("本人の意向により撤回"),
                    text(id(clerk_p.id)),
                    t(withdrawn_at),
                ],
            )?;
        }
        if rng.chance(0.4) {
            let (relation, sex) = rng.pick(n::RELATIONS);
            let same_family = !matches!(relation, "姪" | "甥");
            let kin_born = birth.year() + i32::try_from(rng.between(20, 35)).unwrap_or(25);
            let (kin_family, kin_given) = person_name(&mut rng, sex == n::RelativeSex::Female, kin_born);
            let kin_family = if same_family { family } else { kin_family };
            let note = rng.pick(&["", "日中は仕事のため夕方以降に連絡", "遠方在住", "同居"]);
            let at = registered + Duration::minutes(20);
            batch.push(
                BulkTable::KeyPersons,
                [
                    text(pid_s.clone()),
                    text(id(rng.uuid_at(at))),
                    text(format!("{} {}", kin_family.0, kin_given.0)),
                    text(relation),
                    text(mobile(&mut rng)),
                    (!note.is_empty()).then(|| note.to_string()).into(),
                    t(at),
                    text(id(clerk_p.id)),
                ],
            )?;
        }
        Ok(charted.then_some(ChartPatient {
            id: pid,
            owner,
            city: patient_city,
            registered,
            consent_at,
            local_id: local,
        }))
    }
}

// --- shared charts ----------------------------------------------------------------------

/// What a timeline item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Item {
    #[default]
    Note,
    NursingRecord,
    Vitals,
    Medications,
    Document,
    Message,
    Labs,
}

fn item_weights(o: &Org) -> &'static [(Item, u32)] {
    use Item as I;
    match o.kind {
        OrgKind::Hospital => {
            &[(I::Note, 35), (I::Document, 15), (I::Medications, 10), (I::Message, 15), (I::Labs, 20), (I::Vitals, 5)]
        }
        OrgKind::Clinic => {
            &[(I::Note, 40), (I::Medications, 15), (I::Message, 15), (I::Vitals, 10), (I::Labs, 15), (I::Document, 5)]
        }
        OrgKind::VisitingNurseStation => &[(I::NursingRecord, 45), (I::Vitals, 35), (I::Message, 15), (I::Document, 5)],
        OrgKind::CareFacility => &[(I::NursingRecord, 40), (I::Vitals, 40), (I::Message, 20)],
        OrgKind::CareManagerOffice => &[(I::Message, 60), (I::Note, 25), (I::Document, 15)],
        OrgKind::Pharmacy => &[(I::Medications, 50), (I::Message, 30), (I::Note, 20)],
        OrgKind::SupportCentre => &[(I::Message, 80), (I::Document, 20)],
        OrgKind::MedicalAssociation => &[(I::Message, 100)],
    }
}

/// How often each member writes, by kind.
fn writing_weight(kind: OrgKind) -> u32 {
    match kind {
        OrgKind::VisitingNurseStation => 5,
        OrgKind::Clinic => 4,
        OrgKind::CareFacility => 3,
        OrgKind::Hospital | OrgKind::CareManagerOffice | OrgKind::Pharmacy => 2,
        OrgKind::SupportCentre | OrgKind::MedicalAssociation => 1,
    }
}

fn authors_for(item: Item, kind: OrgKind, dental: bool) -> &'static [Profession] {
    use Profession as P;
    match (item, kind) {
        (Item::Note, OrgKind::Hospital | OrgKind::Clinic) if dental => &[P::Dentist],
        (Item::Note, OrgKind::Hospital | OrgKind::Clinic) => &[P::Physician],
        (Item::Note, OrgKind::Pharmacy) => &[P::Pharmacist],
        (Item::Note, _) => &[P::CareManager, P::MedicalSocialWorker],
        (Item::NursingRecord | Item::Vitals, _) => &[P::Nurse, P::CareWorker],
        (Item::Medications, _) => &[P::Pharmacist, P::Physician],
        (Item::Document, _) => &[P::Physician, P::Nurse, P::CareManager, P::Clerk],
        (Item::Message | Item::Labs, _) => &[],
    }
}

/// One member of a chart's team: the organization, when it joined, and someone there
/// who reads the chart (receives the letter, is mentioned).
#[derive(Debug, Clone)]
struct Member {
    org: usize,
    joined: OffsetDateTime,
    /// Someone there who reads the chart (receives letters, writes entries).
    reader: usize,
}

/// The per-patient baseline of vital signs and labs, so that a chart's numbers hang
/// together over time.
struct Baseline {
    temp: f64,
    pulse: f64,
    sbp: f64,
    rr: f64,
    spo2: f64,
    pain: f64,
    labs: Vec<f64>,
}

struct ChartMaker<'a> {
    key: [u8; 32],
    world: &'a World,
    entries: u32,
    attachment: Option<(String, i64)>,
}

/// What one chart wrote.
#[derive(Debug, Default, Clone, Copy)]
struct ChartStats {
    entries: u64,
    lab_panels: u64,
}

impl ChartMaker<'_> {
    #[allow(clippy::too_many_lines)]
    fn make(
        &self,
        j: u64,
        p: &ChartPatient,
        counters: &mut Counters,
        batch: &mut BulkBatch,
    ) -> Result<(ChartStats, Vec<usize>)> {
        let w = self.world;
        let mut rng = Rng::new(&self.key, STREAM_CHART | j);
        let pid = id(p.id);
        let owner = w.org(p.owner)?;
        let diagnoses: Vec<&str> = {
            let first = rng.pick(c::DIAGNOSES).0;
            let mut d = vec![first];
            if rng.chance(0.4) {
                let second = rng.pick(c::DIAGNOSES).0;
                if second != first {
                    d.push(second);
                }
            }
            d
        };

        // When the chart opened, and how long it has run.
        let lo = (p.consent_at + Duration::hours(1)).max(SYNTHETIC_NOW - Duration::days(3 * 365));
        let hi = SYNTHETIC_NOW - Duration::days(20);
        let start = if lo < hi { rng.time_between(lo, hi) } else { p.consent_at + Duration::hours(1) };
        let span_days = (i64::from(self.entries) * 3 / 2).clamp(14, 900);
        let end = (start + Duration::days(span_days)).min(SYNTHETIC_NOW - Duration::hours(1));

        // The team: who the owner refers the patient to.
        let size = rng.between(3, 5) as usize;
        let wanted: Vec<(Need, TeamRole)> = if owner.kind == OrgKind::Hospital {
            let mut rest = vec![
                (Need::Kind(OrgKind::CareManagerOffice), TeamRole::CareManager),
                (Need::Kind(OrgKind::Pharmacy), TeamRole::Pharmacy),
                (Need::Kind(OrgKind::CareFacility), TeamRole::CareFacility),
            ];
            if rng.chance(0.5) {
                rest.swap(0, 1);
            }
            let mut v = vec![
                (Need::HomeClinic, TeamRole::HomePhysician),
                (Need::Kind(OrgKind::VisitingNurseStation), TeamRole::VisitingNurse),
            ];
            v.extend(rest);
            v
        } else {
            let mut rest = vec![
                (Need::Kind(OrgKind::Pharmacy), TeamRole::Pharmacy),
                (Need::Kind(OrgKind::Hospital), TeamRole::HospitalAttending),
                (Need::Kind(OrgKind::SupportCentre), TeamRole::Liaison),
            ];
            if rng.chance(0.5) {
                rest.swap(0, 1);
            }
            let mut v = vec![
                (Need::Kind(OrgKind::VisitingNurseStation), TeamRole::VisitingNurse),
                (Need::Kind(OrgKind::CareManagerOffice), TeamRole::CareManager),
            ];
            v.extend(rest);
            v
        };
        let doctor = w.staff_with(&mut rng, p.owner, &[Profession::Physician])?;
        let doctor_p = w.person(doctor)?;
        let mut members = vec![Member { org: p.owner, joined: p.registered, reader: doctor }];
        let mut taken = vec![p.owner];
        for (need, role) in wanted {
            if members.len() >= size {
                break;
            }
            let Some(org) = w.find(&mut rng, need, p.city, &taken) else { continue };
            taken.push(org);
            let o = w.org(org)?;
            let reader = w.staff_with(
                &mut rng,
                org,
                &[Profession::Physician, Profession::Nurse, Profession::CareManager, Profession::Pharmacist],
            )?;
            let created = start + Duration::minutes(rng.between(30, 300));
            let sent = created + Duration::minutes(rng.between(5, 60));
            self.letter(&mut rng, p, &diagnoses, owner, doctor, o, role, reader, created, sent, batch)?;
            batch.push(
                BulkTable::CareTeam,
                [
                    text(pid.clone()),
                    text(id(rng.uuid_at(sent))),
                    text(id(o.id)),
                    text(role.as_str()),
                    t(sent),
                    text(id(doctor_p.id)),
                ],
            )?;
            // Medical members know the patient by their own number (lab imports find
            // the patient by it); others mostly do too.
            if matches!(o.kind, OrgKind::Hospital | OrgKind::Clinic) || rng.chance(0.5) {
                let at = sent + Duration::hours(rng.between(2, 30));
                batch.push(
                    BulkTable::PatientIdentifiers,
                    [
                        text(pid.clone()),
                        text(id(o.id)),
                        text(counters.next(org, o.kind)),
                        t(at),
                        text(id(w.person(reader)?.id)),
                    ],
                )?;
            }
            members.push(Member { org, joined: sent, reader });
        }

        // The timeline.
        let baseline = Baseline {
            temp: 36.5 + rng.normal() * 0.2,
            pulse: 78.0 + rng.normal() * 8.0,
            sbp: 124.0 + rng.normal() * 12.0,
            rr: 16.0 + rng.normal() * 2.0,
            spo2: 95.5 + rng.normal() * 1.2,
            pain: 2.0 + rng.normal().abs() * 1.5,
            labs: c::LAB_TESTS.iter().map(|l| l.typical + rng.normal() * l.spread * 0.6).collect(),
        };
        let first_item = (start + Duration::days(1)).min(end - Duration::hours(1));
        let mut times: Vec<OffsetDateTime> =
            (0..self.entries).map(|_| rng.time_between(first_item.max(start), end)).collect();
        times.sort();
        let member_weights: Vec<(usize, u32)> =
            members.iter().enumerate().map(|(i, m)| (i, w.org(m.org).map_or(1, |o| writing_weight(o.kind)))).collect();
        let mut stats = ChartStats::default();
        let span = (end - start).whole_seconds().max(1) as f64;
        for (i, at) in times.into_iter().enumerate() {
            // Every member writes at least once; then each as often as its kind does.
            let m = if i < members.len() { i } else { rng.weighted(&member_weights) };
            let member = members.get(m).ok_or_else(|| anyhow!("generator bug: member {m}"))?;
            let at = at.max(member.joined + Duration::minutes(30));
            let org = w.org(member.org)?;
            let mut item = rng.weighted(item_weights(org));
            if i < members.len() && item == Item::Labs {
                // The first item of each member is an entry of its own.
                item = Item::Note;
            }
            let progress = ((at - start).whole_seconds() as f64 / span).clamp(0.0, 1.0);
            if item == Item::Labs {
                self.lab_panel(&mut rng, p, member.org, at, progress, &baseline, batch)?;
                stats.lab_panels += 1;
                continue;
            }
            let author = w.staff_with(&mut rng, member.org, authors_for(item, org.kind, org.dental))?;
            let body =
                self.body(&mut rng, item, org, &members, &diagnoses, at, &baseline, progress, author, &pid, batch)?;
            let others: Vec<&Member> = members.iter().filter(|x| x.org != member.org).collect();
            let mentions: Vec<(Option<String>, Option<String>)> = if item == Item::Message && rng.chance(0.4) {
                match others.get(rng.index(others.len())) {
                    Some(x) if rng.chance(0.6) => vec![(None, Some(id(w.org(x.org)?.id)))],
                    Some(x) => vec![(Some(id(w.person(x.reader)?.id)), None)],
                    None => vec![],
                }
            } else {
                vec![]
            };
            self.entry(&mut rng, &pid, body, author, org, at, &mentions, batch)?;
            stats.entries += 1;
        }
        Ok((stats, members.iter().map(|m| m.org).collect()))
    }

    /// A referral (or a nursing instruction) from the owner to `org`, sent: the letter,
    /// its saved version and its events, as the store's letter functions write them; a
    /// reply from the recipient to some.
    #[allow(clippy::too_many_arguments)]
    fn letter(
        &self,
        rng: &mut Rng,
        p: &ChartPatient,
        diagnoses: &[&str],
        owner: &Org,
        doctor: usize,
        to: &Org,
        role: TeamRole,
        reader: usize,
        created: OffsetDateTime,
        sent: OffsetDateTime,
        batch: &mut BulkBatch,
    ) -> Result<()> {
        let w = self.world;
        let pid = id(p.id);
        let doctor_p = w.person(doctor)?;
        let reader_p = w.person(reader)?;
        let dx = diagnoses.join("\n");
        let instruction = role == TeamRole::VisitingNurse && owner.kind == OrgKind::Clinic;
        let body = if instruction {
            let from = sent.to_offset(time::macros::offset!(+9)).date();
            LetterBody::NursingInstruction(NursingInstruction {
                period_from: from.to_string(),
                period_to: (from + Duration::days(rng.between(30, 180))).to_string(),
                diagnoses: dx.clone(),
                condition: format!("{}。", rng.pick(c::COURSES)),
                medications: (0..3).map(|_| rng.pick(c::DRUGS).0).collect::<Vec<_>>().join("\n"),
                devices: rng.pick(c::DEVICES).to_string(),
                instructions: c::NURSE_INSTRUCTIONS.to_string(),
                emergency_contact: format!("{} {}", owner.name, owner.phone),
                remarks: String::new(),
            })
        } else {
            let purpose = match role {
                TeamRole::HomePhysician => c::PURPOSE_HOME_PHYSICIAN,
                TeamRole::VisitingNurse => c::PURPOSE_NURSE,
                TeamRole::CareManager => c::PURPOSE_CARE_MANAGER,
                TeamRole::Pharmacy => c::PURPOSE_PHARMACY,
                TeamRole::HospitalAttending => c::PURPOSE_HOSPITAL,
                _ => c::PURPOSE_OTHER,
            };
            let year = p.registered.year().max(created.year() - 2);
            LetterBody::Referral(Referral {
                purpose: purpose.to_string(),
                diagnoses: dx.clone(),
                present_illness: format!(
                    "{year}年に{}と診断された。{}。ご本人・ご家族の希望により在宅療養を続けることとなった。",
                    diagnoses.first().copied().unwrap_or(""),
                    rng.pick(c::COURSES)
                ),
                allergies: rng.pick(c::ALLERGIES).to_string(),
                infections: "なし".into(),
                medications: (0..rng.between(2, 5)).map(|_| rng.pick(c::DRUGS).0).collect::<Vec<_>>().join("\n"),
                care_policy: rng.pick(c::CARE_POLICIES).to_string(),
                devices: rng.pick(c::DEVICES).to_string(),
                advance_directive: rng.pick(c::ADVANCE_DIRECTIVES).to_string(),
                ..Default::default()
            })
        };
        let body = body.check_send().map_err(|e| anyhow!("generator bug: a letter is not sendable: {e}"))?;
        let to_person = match reader_p.profession {
            Profession::Physician | Profession::Dentist if rng.chance(0.5) => Some(format!("{} 先生", reader_p.name)),
            _ if rng.chance(0.3) => Some(format!("{} 様", reader_p.name)),
            _ => None,
        };
        let kind = body.kind();
        let content =
            LetterContent { to_org: OrgId(to.id), to_person: to_person.clone(), role, body, attachments: Vec::new() };
        let received = rng.chance(0.7);
        let replied = rng.chance(0.15);
        let state = if replied {
            LetterState::Replied
        } else if received {
            LetterState::Received
        } else {
            LetterState::Sent
        };
        let letter = rng.uuid_at(created);
        self.letter_rows(
            rng,
            &pid,
            letter,
            None,
            kind,
            state,
            (owner, doctor_p),
            to,
            to_person,
            role,
            &content,
            created,
            sent,
            batch,
        )?;
        let mut at = sent;
        if received {
            at += Duration::hours(rng.between(1, 20));
            self.event(rng, &pid, letter, "receive", LetterState::Received, (to, reader_p), at, None, batch)?;
        }
        if replied {
            let created = at + Duration::hours(rng.between(2, 48));
            let reply_sent = created + Duration::minutes(rng.between(5, 90));
            let reply = rng.uuid_at(created);
            let back_role =
                if owner.kind == OrgKind::Hospital { TeamRole::HospitalAttending } else { TeamRole::HomePhysician };
            let reply_content = LetterContent {
                to_org: OrgId(owner.id),
                to_person: None,
                role: back_role,
                body: LetterBody::Reply(Reply {
                    body: rng.pick(c::REPLY_BODIES).to_string(),
                    diagnoses: dx,
                    care_policy: String::new(),
                    remarks: String::new(),
                })
                .check_send()
                .map_err(|e| anyhow!("generator bug: a reply is not sendable: {e}"))?,
                attachments: Vec::new(),
            };
            self.letter_rows(
                rng,
                &pid,
                reply,
                Some(letter),
                LetterKind::Reply,
                LetterState::Sent,
                (to, reader_p),
                owner,
                None,
                back_role,
                &reply_content,
                created,
                reply_sent,
                batch,
            )?;
            self.event(
                rng,
                &pid,
                letter,
                "reply",
                LetterState::Replied,
                (to, reader_p),
                reply_sent,
                Some(id(reply)),
                batch,
            )?;
        }
        Ok(())
    }

    /// A sent letter's row, its first saved version, and its create and send events.
    #[allow(clippy::too_many_arguments)]
    fn letter_rows(
        &self,
        rng: &mut Rng,
        pid: &str,
        letter: Uuid,
        in_reply_to: Option<Uuid>,
        kind: LetterKind,
        state: LetterState,
        from: (&Org, &Person),
        to: &Org,
        to_person: Option<String>,
        role: TeamRole,
        content: &LetterContent,
        created: OffsetDateTime,
        sent: OffsetDateTime,
        batch: &mut BulkBatch,
    ) -> Result<()> {
        let letter_s = id(letter);
        batch.push(
            BulkTable::Letters,
            [
                text(pid),
                text(letter_s.clone()),
                text(kind.as_str()),
                text(state.as_str()),
                text(id(from.0.id)),
                text(id(from.1.id)),
                text(id(to.id)),
                to_person.into(),
                text(role.as_str()),
                in_reply_to.map(id).into(),
                BulkValue::Int(1),
                t(created),
                t(sent),
            ],
        )?;
        let json = serde_json::to_string(content).context("a letter as JSON")?;
        let by = id(from.1.id);
        let hash = letter_content_hash(pid, &letter_s, 1, &json, &by, &ts(created));
        batch.push(
            BulkTable::LetterVersions,
            [
                text(pid),
                text(id(rng.uuid_at(created))),
                text(letter_s.clone()),
                BulkValue::Int(1),
                text(json),
                text(by),
                t(created),
                text(hash),
            ],
        )?;
        self.event(rng, pid, letter, "create", LetterState::Draft, from, created, None, batch)?;
        self.event(rng, pid, letter, "send", LetterState::Sent, from, sent, None, batch)
    }

    #[allow(clippy::too_many_arguments)]
    fn event(
        &self,
        rng: &mut Rng,
        pid: &str,
        letter: Uuid,
        event: &str,
        state_after: LetterState,
        by: (&Org, &Person),
        at: OffsetDateTime,
        note: Option<String>,
        batch: &mut BulkBatch,
    ) -> Result<()> {
        batch.push(
            BulkTable::LetterEvents,
            [
                text(pid),
                text(id(rng.uuid_at(at))),
                text(id(letter)),
                text(event),
                text(state_after.as_str()),
                text(id(by.1.id)),
                text(id(by.0.id)),
                t(at),
                note.into(),
            ],
        )?;
        Ok(())
    }

    /// The content of one entry.
    #[allow(clippy::too_many_arguments)]
    fn body(
        &self,
        rng: &mut Rng,
        item: Item,
        org: &Org,
        members: &[Member],
        diagnoses: &[&str],
        at: OffsetDateTime,
        b: &Baseline,
        progress: f64,
        author: usize,
        pid: &str,
        batch: &mut BulkBatch,
    ) -> Result<EntryBody> {
        let w = self.world;
        let sentences = |rng: &mut Rng, from: &[&str], lo: i64, hi: i64| -> String {
            let mut picked: Vec<&str> = Vec::new();
            for _ in 0..rng.between(lo, hi) {
                let s = rng.pick(from);
                if !picked.contains(&s) {
                    picked.push(s);
                }
            }
            picked.concat()
        };
        Ok(match item {
            Item::Note => match org.kind {
                OrgKind::Hospital | OrgKind::Clinic => {
                    let vitals = format!(
                        "血圧{}/{}mmHg、脈拍{}回/分、SpO2 {}%。",
                        b.sbp.round(),
                        (b.sbp * 0.6).round(),
                        b.pulse.round(),
                        b.spo2.round().min(100.0)
                    );
                    EntryBody::ProgressNote(ProgressNote {
                        subjective: Some(sentences(rng, c::SUBJECTIVE, 1, 3)),
                        objective: Some(format!("{vitals}{}", sentences(rng, c::OBJECTIVE, 1, 3))),
                        assessment: Some(format!(
                            "{}。{}",
                            diagnoses.first().copied().unwrap_or(""),
                            sentences(rng, c::ASSESSMENT, 1, 2)
                        )),
                        plan: Some(sentences(rng, c::PLAN, 1, 3)),
                        text: None,
                    })
                }
                OrgKind::Pharmacy => EntryBody::ProgressNote(ProgressNote {
                    text: Some(rng.pick(c::PHARMACY_NOTES).to_string()),
                    ..Default::default()
                }),
                _ => EntryBody::ProgressNote(ProgressNote {
                    text: Some(rng.pick(c::CARE_MANAGER_NOTES).to_string()),
                    ..Default::default()
                }),
            },
            Item::NursingRecord => EntryBody::NursingRecord {
                text: format!(
                    "{}{}{}{}",
                    rng.pick(c::NURSE_STATE),
                    sentences(rng, c::NURSE_CARE, 1, 3),
                    rng.pick(c::NURSE_FAMILY),
                    rng.pick(c::NURSE_PLAN)
                ),
            },
            Item::Vitals => {
                let decline = progress * 0.5;
                let sbp = (b.sbp - decline * 15.0 + rng.normal() * 8.0).round().clamp(70.0, 200.0);
                let dbp = (sbp * (0.55 + rng.unit() * 0.1)).round().clamp(40.0, sbp - 10.0);
                let note = if rng.chance(0.35) { Some(rng.pick(c::VITALS_NOTES)) } else { None };
                EntryBody::VitalSigns(VitalSigns {
                    temperature_c: Some(((b.temp + rng.normal() * 0.3) * 10.0).round() / 10.0),
                    pulse_bpm: Some((b.pulse + decline * 10.0 + rng.normal() * 6.0).round().clamp(40.0, 150.0) as i64),
                    bp_systolic: Some(sbp as i64),
                    bp_diastolic: Some(dbp as i64),
                    respiration_rate: rng
                        .chance(0.7)
                        .then(|| (b.rr + rng.normal() * 2.0).round().clamp(8.0, 40.0) as i64),
                    spo2: Some((b.spo2 - decline * 3.0 + rng.normal()).round().clamp(80.0, 100.0) as i64),
                    pain_nrs: rng.chance(0.8).then(|| (b.pain + rng.normal()).round().clamp(0.0, 10.0) as i64),
                    note: note.map(str::to_string),
                })
            }
            Item::Medications => {
                let day = at.to_offset(time::macros::offset!(+9)).date();
                let mut items: Vec<MedicationItem> = Vec::new();
                for _ in 0..rng.between(3, 8) {
                    let (drug, dose, route, frequency) = rng.pick(c::DRUGS);
                    if items.iter().any(|i| i.drug == drug) {
                        continue;
                    }
                    items.push(MedicationItem {
                        drug: drug.into(),
                        dose: dose.into(),
                        route: route.into(),
                        frequency: frequency.into(),
                        start: rng.chance(0.5).then(|| day - Duration::days(rng.between(0, 60))),
                        stop: None,
                        opioid: false,
                    });
                }
                EntryBody::MedicationList(MedicationList { items })
            }
            Item::Document => {
                let (doc_type, title, file) = c::DOCUMENTS
                    .get(rng.index(c::DOCUMENTS.len()))
                    .copied()
                    .ok_or_else(|| anyhow!("generator bug: no document types"))?;
                let day = at.to_offset(time::macros::offset!(+9)).date();
                let (sha256, size) = self.attachment.clone().unwrap_or_default();
                let att = rng.uuid_at(at);
                let filename = format!("{file}_{}.pdf", day.to_string().replace('-', ""));
                batch.push(
                    BulkTable::Attachments,
                    [
                        text(pid),
                        text(id(att)),
                        text(sha256.clone()),
                        BulkValue::Int(size),
                        text("application/pdf"),
                        text(filename.clone()),
                        text(id(w.person(author)?.id)),
                        t(at),
                    ],
                )?;
                let note = rng.pick(c::DOCUMENT_NOTES);
                EntryBody::Document(Document {
                    title: format!("{title}（{}年{}月）", day.year(), u8::from(day.month())),
                    doc_type,
                    note: (!note.is_empty()).then(|| note.to_string()),
                    attachments: vec![AttachmentRef {
                        id: id(att),
                        sha256,
                        size,
                        media_type: "application/pdf".into(),
                        filename,
                    }],
                })
            }
            Item::Message | Item::Labs => {
                let to = members.get(rng.index(members.len())).map(|m| m.org).unwrap_or(0);
                let to_name = w.org(to).map(|o| o.name.clone()).unwrap_or_default();
                let greeting = rng.pick(c::GREETINGS);
                let closing = rng.pick(c::CLOSINGS);
                let addressee =
                    if to_name == org.name || rng.chance(0.5) { String::new() } else { format!("{to_name}様\n") };
                EntryBody::Message(Message {
                    text: format!("{addressee}{greeting}{}{closing}", rng.pick(c::MESSAGES)),
                    attachments: Vec::new(),
                })
            }
        })
    }

    /// One entry (version 1) with its mentions; some are corrected later, a few marked
    /// entered in error.
    #[allow(clippy::too_many_arguments)]
    fn entry(
        &self,
        rng: &mut Rng,
        pid: &str,
        body: EntryBody,
        author: usize,
        org: &Org,
        at: OffsetDateTime,
        mentions: &[(Option<String>, Option<String>)],
        batch: &mut BulkBatch,
    ) -> Result<()> {
        let w = self.world;
        let body = body.validate().map_err(|e| anyhow!("generator bug: an entry is not valid: {e}"))?;
        let author_p = w.person(author)?;
        let (user, org_id) = (id(author_p.id), id(org.id));
        let version = rng.uuid_at(at);
        let entry_id = id(version);
        let version_rows = |batch: &mut BulkBatch,
                            vid: &str,
                            v: i64,
                            supersedes: Option<&str>,
                            body: &EntryBody,
                            recorded: OffsetDateTime,
                            reason: Option<&str>|
         -> Result<()> {
            let json = serde_json::to_string(body).context("an entry as JSON")?;
            let recorded_s = ts(recorded);
            let hash = entry_content_hash(pid, &entry_id, v, supersedes, &json, &user, &org_id, &recorded_s);
            batch.push(
                BulkTable::Entries,
                [
                    text(pid),
                    text(vid),
                    text(entry_id.clone()),
                    BulkValue::Int(v),
                    supersedes.into(),
                    text(body.kind().as_str()),
                    text(json),
                    text(body.text()),
                    text(user.clone()),
                    text(org_id.clone()),
                    text(author_p.profession.as_str()),
                    text(recorded_s),
                    t(at),
                    reason.into(),
                    text(hash),
                ],
            )?;
            Ok(())
        };
        version_rows(batch, &entry_id, 1, None, &body, at, None)?;
        for (u, o) in mentions {
            batch.push(
                BulkTable::Mentions,
                [
                    text(pid),
                    text(id(rng.uuid_at(at))),
                    text(entry_id.clone()),
                    u.clone().into(),
                    o.clone().into(),
                    t(at),
                ],
            )?;
        }
        let latest = SYNTHETIC_NOW - Duration::minutes(1);
        let roll = rng.unit();
        if roll < 0.02 && matches!(body, EntryBody::ProgressNote(_) | EntryBody::NursingRecord { .. }) {
            let corrected_at = (at + Duration::minutes(rng.between(10, 180))).min(latest);
            let addition = rng.pick(c::CORRECTION_ADDITIONS);
            let corrected = match body {
                EntryBody::ProgressNote(mut n) => {
                    if let Some(p) = n.plan.as_mut() {
                        p.push_str(addition);
                    } else if let Some(t) = n.text.as_mut() {
                        t.push_str(addition);
                    } else {
                        n.text = Some(addition.to_string());
                    }
                    EntryBody::ProgressNote(n)
                }
                EntryBody::NursingRecord { text } => EntryBody::NursingRecord { text: format!("{text}{addition}") },
                other => other,
            };
            let v2 = id(rng.uuid_at(corrected_at));
            version_rows(
                batch,
                &v2,
                2,
                Some(&entry_id),
                &corrected,
                corrected_at,
                Some(rng.pick(c::CORRECTION_REASONS)),
            )?;
        } else if roll > 0.996 {
            let marked_at = (at + Duration::hours(rng.between(1, 48))).min(latest);
            let reason = rng.pick(c::ERROR_REASONS);
            let marked_s = ts(marked_at);
            let hash = entry_content_hash(
                pid,
                &entry_id,
                1,
                Some(&entry_id),
                &format!("entered_in_error:{reason}"),
                &user,
                &org_id,
                &marked_s,
            );
            batch.push(
                BulkTable::EntryMarks,
                [
                    text(pid),
                    text(id(rng.uuid_at(marked_at))),
                    text(entry_id.clone()),
                    text(entry_id.clone()),
                    text("entered_in_error"),
                    text(reason),
                    text(user.clone()),
                    text(org_id.clone()),
                    text(marked_s),
                    text(hash),
                ],
            )?;
        }
        Ok(())
    }

    /// A lab panel from `org`: results for this patient's tests, as an SS-MIX2 import of
    /// one file writes them (with the file's provenance row).
    #[allow(clippy::too_many_arguments)]
    fn lab_panel(
        &self,
        rng: &mut Rng,
        p: &ChartPatient,
        org: usize,
        at: OffsetDateTime,
        progress: f64,
        b: &Baseline,
        batch: &mut BulkBatch,
    ) -> Result<()> {
        let o = self.world.org(org)?;
        let pid = id(p.id);
        let file = rng.uuid_at(at);
        let sha = hex::encode(Sha256::digest(format!("synthetic lab file {file}").as_bytes()));
        let imported = at + Duration::hours(rng.between(1, 6));
        let mut n = 0i64;
        for (i, (test, base)) in c::LAB_TESTS.iter().zip(b.labs.iter()).enumerate() {
            if i >= c::LAB_CORE && !rng.chance(0.4) {
                continue;
            }
            let drift = 1.0 + test.drift * progress;
            let raw = (base * drift + rng.normal() * test.spread * 0.25).max(0.0);
            let scale = 10f64.powi(i32::try_from(test.decimals).unwrap_or(0));
            let v = (raw * scale).round() / scale;
            let abnormal = if v > test.high {
                "H"
            } else if v < test.low {
                "L"
            } else {
                ""
            };
            batch.push(
                BulkTable::LabResults,
                [
                    text(pid.clone()),
                    text(id(rng.uuid_at(imported))),
                    text(id(o.id)),
                    text(test.code),
                    text(c::LAB_CODE_SYSTEM),
                    text(test.name),
                    Some(v).into(),
                    text(format!("{v:.prec$}", prec = test.decimals as usize)),
                    text(test.unit),
                    text(format!("{}-{}", test.low, test.high)),
                    text(abnormal),
                    t(at),
                    text(sha.clone()),
                    t(imported),
                ],
            )?;
            n += 1;
        }
        let day = at.to_offset(time::macros::offset!(+9)).date().to_string().replace('-', "");
        batch.push(
            BulkTable::ImportFiles,
            [
                text(id(o.id)),
                text(sha),
                text(pid),
                text(format!("synthetic/{}/{day}/OUL_{}.hl7", p.local_id, id(file))),
                text("lab"),
                BulkValue::Int(n),
                t(imported),
            ],
        )?;
        Ok(())
    }
}

// --- the run ----------------------------------------------------------------------------

/// A minimal one-page PDF, the file every generated document points at (the object
/// store holds it once: content-addressed).
pub fn placeholder_pdf() -> Vec<u8> {
    let stream = "BT /F1 14 Tf 72 760 Td (tsunagu: synthetic document, generated data) Tj ET";
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"
            .to_string(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
        format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()),
    ];
    let mut pdf = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.push_str(&format!("{} 0 obj\n{o}\nendobj\n", i + 1));
    }
    let xref = pdf.len();
    pdf.push_str(&format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1));
    for o in offsets {
        pdf.push_str(&format!("{o:010} 00000 n \n"));
    }
    pdf.push_str(&format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1));
    pdf.into_bytes()
}

enum Made {
    Batch { batch: BulkBatch, patients: u64, charts: u64, stats: ChartStats },
    ChartsStart,
}

/// Refuse a database that holds organizations, people or patients: generate fills an
/// empty database only, and deletes nothing (bench/README.md).
pub async fn check_empty(store: &Store) -> Result<()> {
    let counts = store.system_data_counts().await?;
    if !counts.is_empty() {
        bail!(
            "the database is not empty ({} organizations, {} people, {} patients): generate fills only an empty \
             database and never deletes anything; use a new data directory or a new PostgreSQL database",
            counts.organizations,
            counts.users,
            counts.patients
        );
    }
    Ok(())
}

/// Make and write the prefecture. The database must hold no organizations, people or
/// patients (the caller checks; see bench/README.md). `attachment` is the SHA-256 and
/// size of the placeholder PDF already in the object store.
pub async fn generate(
    store: &Store,
    opts: &Options,
    attachment: Option<(String, i64)>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Report> {
    opts.check()?;
    check_empty(store).await?;
    let started = std::time::Instant::now();
    let key = ChaCha8Rng::seed_from_u64(opts.seed).get_seed();
    let mut report = Report::default();
    let ctx = AuditCtx { ip: Some("cli".into()), request_id: None };
    let mut loader = store.system_bulk_loader(ctx).await?;

    // The organizations and people first, with the record that this is a synthetic load.
    let mut first = BulkBatch::new();
    let world = Arc::new(build_world(&key, opts, &mut first)?);
    first.audit(AuditEvent {
        actor_user: None,
        actor_org: None,
        action: "generate.start".into(),
        outcome: Outcome::Allowed,
        patient: None,
        target: "synthetic".into(),
        detail: serde_json::json!({
            "seed": opts.seed,
            "organizations": world.orgs.len(),
            "people": world.people.len(),
            "patients": opts.patients,
            "shared_charts": opts.shared_charts,
            "entries_per_chart": opts.entries_per_chart,
        })
        .to_string(),
    });
    count_rows(&mut report, &first);
    loader.write(&first).await?;
    drop(first);
    report.organizations = world.orgs.len() as u64;
    report.people = world.people.len() as u64;

    // Patients, then charts, made on a blocking thread while this task writes.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Made>(2);
    let maker_world = world.clone();
    let o = opts.clone();
    let maker = tokio::task::spawn_blocking(move || make_all(&key, &maker_world, &o, attachment, &tx));
    progress(Progress::Phase("patients", opts.patients));
    let mut write_error: Option<anyhow::Error> = None;
    while let Some(m) = rx.recv().await {
        match m {
            Made::ChartsStart => progress(Progress::Phase("shared charts", opts.shared_charts)),
            Made::Batch { batch, patients, charts, stats } => {
                count_rows(&mut report, &batch);
                if let Err(e) = loader.write(&batch).await {
                    write_error = Some(e.into());
                    break;
                }
                report.patients += patients;
                report.shared_charts += charts;
                report.entries += stats.entries;
                report.lab_panels += stats.lab_panels;
                progress(Progress::Done(patients + charts));
            }
        }
    }
    drop(rx);
    let made = maker.await.context("the generator thread failed")?;
    if let Some(e) = write_error {
        return Err(e.context("writing generated rows"));
    }
    let sample = made?;

    let mut last = BulkBatch::new();
    let rows: serde_json::Map<String, serde_json::Value> =
        report.rows.iter().map(|(k, v)| ((*k).to_string(), serde_json::Value::from(*v))).collect();
    last.audit(AuditEvent {
        actor_user: None,
        actor_org: None,
        action: "generate.finish".into(),
        outcome: Outcome::Allowed,
        patient: None,
        target: "synthetic".into(),
        detail: serde_json::json!({ "seed": opts.seed, "rows": rows }).to_string(),
    });
    loader.write(&last).await?;
    report.load_seconds = started.elapsed().as_secs_f64();
    let finishing = std::time::Instant::now();
    loader.finish().await?;
    report.finish_seconds = finishing.elapsed().as_secs_f64();
    report.sample = sample;
    Ok(report)
}

fn count_rows(report: &mut Report, batch: &BulkBatch) {
    for table in BulkTable::ALL {
        let n = batch.rows(table) as u64;
        if n > 0 {
            *report.rows.entry(table.name()).or_default() += n;
        }
    }
}

/// The generator thread: every patient, then every chart, in batches.
fn make_all(
    key: &[u8; 32],
    world: &World,
    opts: &Options,
    attachment: Option<(String, i64)>,
    tx: &tokio::sync::mpsc::Sender<Made>,
) -> Result<Option<Sample>> {
    let send = |m: Made| tx.blocking_send(m).map_err(|_| anyhow!("the writer stopped"));
    let layout = chart_layout(key, opts.patients, opts.shared_charts);
    let mut counters = Counters(vec![0; world.orgs.len()]);
    let patients = PatientMaker {
        key: *key,
        world,
        total: opts.patients,
        today: SYNTHETIC_NOW.to_offset(time::macros::offset!(+9)).date(),
        owners_medical: vec![
            (Need::Kind(OrgKind::Hospital), 35),
            (Need::Medical, 50),
            (Need::Kind(OrgKind::VisitingNurseStation), 5),
            (Need::Kind(OrgKind::CareFacility), 7),
            (Need::Kind(OrgKind::Pharmacy), 3),
        ],
    };
    // The charts' patients in the order they were made, which is the order of their
    // ids: writing the charts in this order appends to every index that starts with
    // the patient id instead of touching it all over.
    let mut charted: Vec<(u64, ChartPatient)> = Vec::with_capacity(layout.len());
    let mut batch = BulkBatch::new();
    let mut in_batch = 0u64;
    for i in 0..opts.patients {
        let chart = layout.get(&i).copied();
        if let (Some(cp), Some(j)) = (patients.make(i, chart.is_some(), &mut counters, &mut batch)?, chart) {
            charted.push((j, cp));
        }
        in_batch += 1;
        if batch.total_rows() >= BATCH_ROWS {
            send(Made::Batch { batch, patients: in_batch, charts: 0, stats: ChartStats::default() })?;
            batch = BulkBatch::new();
            in_batch = 0;
        }
    }
    if in_batch > 0 {
        send(Made::Batch { batch, patients: in_batch, charts: 0, stats: ChartStats::default() })?;
    }
    send(Made::ChartsStart)?;
    let charts = ChartMaker { key: *key, world, entries: opts.entries_per_chart, attachment };
    let mut batch = BulkBatch::new();
    let mut in_batch = 0u64;
    let mut stats = ChartStats::default();
    let mut sample = None;
    for (j, p) in &charted {
        let (s, team) = charts.make(*j, p, &mut counters, &mut batch)?;
        if *j == 0 {
            sample = sample_of(world, p, &team);
        }
        stats.entries += s.entries;
        stats.lab_panels += s.lab_panels;
        in_batch += 1;
        if batch.total_rows() >= BATCH_ROWS {
            send(Made::Batch { batch, patients: 0, charts: in_batch, stats })?;
            batch = BulkBatch::new();
            in_batch = 0;
            stats = ChartStats::default();
        }
    }
    if in_batch > 0 {
        send(Made::Batch { batch, patients: 0, charts: in_batch, stats })?;
    }
    Ok(sample)
}

/// People to try the first chart with: someone at a member that is not the owner, and
/// someone at a pharmacy outside the team.
fn sample_of(world: &World, p: &ChartPatient, team: &[usize]) -> Option<Sample> {
    let member = team.iter().find(|o| **o != p.owner).and_then(|o| world.orgs.get(*o))?;
    let outsider = world
        .orgs
        .iter()
        .enumerate()
        .find(|(i, o)| o.kind == OrgKind::Pharmacy && !team.contains(i))
        .map(|(_, o)| o)?;
    let email = |o: &Org| o.staff.first().and_then(|s| world.people.get(*s)).map(|x| x.email.clone());
    Some(Sample { patient_id: id(p.id), member_email: email(member)?, outsider_email: email(outsider)? })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u64) -> [u8; 32] {
        ChaCha8Rng::seed_from_u64(seed).get_seed()
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let mut a = Rng::new(&key(1), STREAM_PATIENT | 5);
        let mut b = Rng::new(&key(1), STREAM_PATIENT | 5);
        let mut c = Rng::new(&key(1), STREAM_PATIENT | 6);
        let mut d = Rng::new(&key(2), STREAM_PATIENT | 5);
        let (x, y, z, v) = (a.u64(), b.u64(), c.u64(), d.u64());
        assert_eq!(x, y);
        assert_ne!(x, z);
        assert_ne!(x, v);
    }

    #[test]
    fn the_chart_layout_puts_each_chart_on_its_own_patient() {
        for (patients, charts) in [(1, 1), (7, 7), (1000, 10), (1000, 1000), (999_983, 500)] {
            let l = chart_layout(&key(3), patients, charts);
            assert_eq!(l.len() as u64, charts, "{patients} {charts}");
            assert!(l.keys().all(|p| *p < patients));
        }
    }

    #[test]
    fn organizations_of_every_kind() {
        for total in [20, 1000] {
            let counts = kind_counts(total);
            assert_eq!(counts.iter().map(|(_, n)| *n).sum::<u32>(), total);
            for k in OrgKind::ALL {
                assert!(counts.iter().any(|(kind, n)| *kind == k && *n > 0), "{k}");
            }
        }
    }

    #[test]
    fn the_placeholder_is_a_pdf() {
        let pdf = placeholder_pdf();
        assert_eq!(tsunagu_domain::media::sniff(&pdf), Some(tsunagu_domain::media::MediaType::Pdf));
    }
}
