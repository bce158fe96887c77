//! The synthetic demo region: its organizations, staff, patients and care teams.
//!
//! This module owns the seed that `tsunagu demo` writes into an empty database and that
//! the integration and browser tests start from. Everything is invented (the city
//! つなぐ市 does not exist; it is drawn in the style of the Shonai area of Yamagata) and
//! deterministic: the tables below are constants and the patients are derived from
//! their index by arithmetic, so every run writes the same region. Only the ids differ
//! between stores, as they come from the store's own `IdGen`, and the dates the chart
//! entries name, which count back from the day of seeding.
//!
//! The seed goes through the ordinary store API (registration, consent, team, key
//! persons, chart entries), so the demo data is audited like real data and the audit
//! chain verifies. What the charts say is in [`course`].

mod course;
mod family;
mod letters;
mod outcomes;
mod transition;

pub use family::DEMO_FAMILY_LOGIN;

use anyhow::{Context, bail};
use std::collections::HashMap;
use time::Date;
use tsunagu_domain::org::{Capabilities, InstitutionCode, OrgKind, OrgStatus};
use tsunagu_domain::patient::{ConsentStatus, KeyPerson, NewPatient, PatientForm, TeamRole};
use tsunagu_domain::person::{Email, Profession};
use tsunagu_domain::policy::{ChartAction, Principal};
use tsunagu_domain::{OrgId, PatientId, UserId};
use tsunagu_store::{AuditCtx, NewOrg, NewUser, Registered, Store};

/// The password of every demo login; printed by `tsunagu demo`, typed by the tests.
pub const DEMO_PASSWORD: &str = "tsunagu-demo-2026";

/// One person who can sign in to the demo region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoLogin {
    pub email: String,
    pub name: String,
    pub profession: &'static str,
    pub org_name: String,
    pub org_admin: bool,
    pub operator: bool,
}

/// What [`seed`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    pub orgs: usize,
    pub users: usize,
    pub patients: usize,
    /// Chart entries written (corrections are new versions, not counted).
    pub entries: usize,
    /// Letters sent between organizations.
    pub letters: usize,
    pub logins: Vec<DemoLogin>,
}

/// The organizations of the region, named so that the tables read as a map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Site {
    Hospital,
    Midori,
    Sakura,
    Station,
    Hidamari,
    Aoba,
    Centre,
    Ishikai,
    /// On no patient's team: the outsider the access tests need.
    Umibe,
}

/// How an organization's institution code is made.
#[derive(Debug, Clone, Copy)]
enum Code {
    /// Liaison centre and medical association: no code under any fee schedule.
    None,
    /// Nine digits under a health-insurance fee schedule; the Luhn check digit is
    /// computed, so the table cannot hold an invalid code.
    Luhn(&'static str),
    /// Ten digits of a long-term-care provider, which carry no check digit.
    Plain(&'static str),
}

struct OrgSpec {
    site: Site,
    kind: OrgKind,
    name: &'static str,
    kana: &'static str,
    code: Code,
    postal: &'static str,
    address: &'static str,
    phone: &'static str,
    night_phone: Option<&'static str>,
    lat: f64,
    lon: f64,
    caps: Capabilities,
}

const NO_CAPS: Capabilities = Capabilities {
    home_visits: false,
    support_24h: false,
    palliative_care: false,
    opioid_dispensing: false,
    accepts_new_patients: false,
};

const ORGS: [OrgSpec; 9] = [
    OrgSpec {
        site: Site::Hospital,
        kind: OrgKind::Hospital,
        name: "つなぐ市立総合病院",
        kana: "ツナグシリツソウゴウビョウイン",
        code: Code::Luhn("061010017"),
        postal: "997-0033",
        address: "山形県つなぐ市泉町4-20",
        phone: "0235-26-5111",
        // The emergency department's direct line answers at night.
        night_phone: Some("0235-26-5119"),
        lat: 38.7395,
        lon: 139.8262,
        caps: Capabilities { support_24h: true, palliative_care: true, accepts_new_patients: true, ..NO_CAPS },
    },
    OrgSpec {
        site: Site::Midori,
        kind: OrgKind::Clinic,
        name: "みどり在宅クリニック",
        kana: "ミドリザイタククリニック",
        code: Code::Luhn("061020115"),
        postal: "997-0015",
        address: "山形県つなぐ市末広町8-12",
        phone: "0235-22-3410",
        // The on-call doctor's mobile, as home-care clinics publish it.
        night_phone: Some("090-4512-7730"),
        lat: 38.7318,
        lon: 139.8321,
        caps: Capabilities {
            home_visits: true,
            support_24h: true,
            palliative_care: true,
            accepts_new_patients: true,
            ..NO_CAPS
        },
    },
    OrgSpec {
        site: Site::Sakura,
        kind: OrgKind::Clinic,
        name: "さくら内科医院",
        kana: "サクラナイカイイン",
        code: Code::Luhn("061020214"),
        postal: "997-0026",
        address: "山形県つなぐ市大東町15-3",
        phone: "0235-24-1187",
        night_phone: None,
        lat: 38.7462,
        lon: 139.8405,
        caps: Capabilities { home_visits: true, accepts_new_patients: true, ..NO_CAPS },
    },
    OrgSpec {
        site: Site::Station,
        kind: OrgKind::VisitingNurseStation,
        name: "つなぐ訪問看護ステーション",
        kana: "ツナグホウモンカンゴステーション",
        code: Code::Luhn("066090031"),
        postal: "997-0041",
        address: "山形県つなぐ市若葉町2-7",
        phone: "0235-29-4470",
        night_phone: Some("080-2871-5510"),
        lat: 38.7351,
        lon: 139.8187,
        caps: Capabilities {
            home_visits: true,
            support_24h: true,
            palliative_care: true,
            accepts_new_patients: true,
            ..NO_CAPS
        },
    },
    OrgSpec {
        site: Site::Hidamari,
        kind: OrgKind::CareManagerOffice,
        name: "ケアプランひだまり",
        kana: "ケアプランヒダマリ",
        code: Code::Plain("0670100457"),
        postal: "997-0037",
        address: "山形県つなぐ市日吉町6-18",
        phone: "0235-33-2016",
        night_phone: None,
        lat: 38.7284,
        lon: 139.8376,
        // Care managers visit every client at home at least monthly.
        caps: Capabilities { home_visits: true, accepts_new_patients: true, ..NO_CAPS },
    },
    OrgSpec {
        site: Site::Aoba,
        kind: OrgKind::Pharmacy,
        name: "あおば調剤薬局",
        kana: "アオバチョウザイヤッキョク",
        code: Code::Luhn("064010528"),
        // Across the street from the hospital, as dispensing pharmacies are.
        postal: "997-0033",
        address: "山形県つなぐ市泉町4-25",
        phone: "0235-25-6060",
        night_phone: Some("090-6620-3149"),
        lat: 38.7399,
        lon: 139.8270,
        caps: Capabilities {
            home_visits: true,
            support_24h: true,
            opioid_dispensing: true,
            accepts_new_patients: true,
            ..NO_CAPS
        },
    },
    OrgSpec {
        site: Site::Centre,
        kind: OrgKind::SupportCentre,
        name: "地域医療連携支援センター",
        kana: "チイキイリョウレンケイシエンセンター",
        code: Code::None,
        // Run by the medical association, in its building.
        postal: "997-0034",
        address: "山形県つなぐ市本町2-5-1 医師会館2階",
        phone: "0235-29-0801",
        night_phone: None,
        lat: 38.7436,
        lon: 139.8299,
        caps: NO_CAPS,
    },
    OrgSpec {
        site: Site::Ishikai,
        kind: OrgKind::MedicalAssociation,
        name: "つなぐ地区医師会",
        kana: "ツナグチクイシカイ",
        code: Code::None,
        postal: "997-0034",
        address: "山形県つなぐ市本町2-5-1 医師会館",
        phone: "0235-22-0511",
        night_phone: None,
        lat: 38.7436,
        lon: 139.8299,
        caps: NO_CAPS,
    },
    OrgSpec {
        site: Site::Umibe,
        kind: OrgKind::Clinic,
        name: "海辺クリニック",
        kana: "ウミベクリニック",
        code: Code::Luhn("061020313"),
        postal: "997-0052",
        address: "山形県つなぐ市みなと町3-9",
        phone: "0235-35-2288",
        night_phone: None,
        lat: 38.7588,
        lon: 139.8042,
        // Accepting new patients, so it shows up in the directory like any other
        // clinic; it just never joins a team in the demo.
        caps: Capabilities { accepts_new_patients: true, ..NO_CAPS },
    },
];

struct StaffSpec {
    email: &'static str,
    name: &'static str,
    kana: &'static str,
    profession: Profession,
    site: Site,
    admin: bool,
    operator: bool,
}

const fn staff(
    email: &'static str,
    name: &'static str,
    kana: &'static str,
    profession: Profession,
    site: Site,
    admin: bool,
) -> StaffSpec {
    StaffSpec { email, name, kana, profession, site, admin, operator: false }
}

/// The staff of the region. The first address of each organization is its
/// administrator; the tests rely on the addresses of sato, tanaka, suzuki, takahashi,
/// ito, watanabe, operator and kobayashi.
#[rustfmt::skip]
const STAFF: [StaffSpec; 21] = [
    staff("sato@hospital.example.jp", "佐藤 健一", "サトウ ケンイチ", Profession::Physician, Site::Hospital, true),
    staff("tanaka@hospital.example.jp", "田中 美穂", "タナカ ミホ", Profession::MedicalSocialWorker, Site::Hospital, false),
    staff("nakamura@hospital.example.jp", "中村 由紀", "ナカムラ ユキ", Profession::Nurse, Site::Hospital, false),
    staff("kato@hospital.example.jp", "加藤 翔太", "カトウ ショウタ", Profession::PhysicalTherapist, Site::Hospital, false),
    staff("yoshida@hospital.example.jp", "吉田 彩", "ヨシダ アヤ", Profession::SpeechTherapist, Site::Hospital, false),
    staff("yamaguchi@hospital.example.jp", "山口 恵", "ヤマグチ メグミ", Profession::Dietitian, Site::Hospital, false),
    staff("matsumoto@hospital.example.jp", "松本 直子", "マツモト ナオコ", Profession::Clerk, Site::Hospital, false),
    staff("suzuki@midori.example.jp", "鈴木 誠", "スズキ マコト", Profession::Physician, Site::Midori, true),
    staff("inoue@midori.example.jp", "井上 千尋", "イノウエ チヒロ", Profession::Nurse, Site::Midori, false),
    // Home dental visits are arranged through the home-care clinic.
    staff("kimura@midori.example.jp", "木村 大輔", "キムラ ダイスケ", Profession::Dentist, Site::Midori, false),
    staff("hayashi@sakura.example.jp", "林 正人", "ハヤシ マサト", Profession::Physician, Site::Sakura, true),
    staff("shimizu@sakura.example.jp", "清水 久美子", "シミズ クミコ", Profession::Nurse, Site::Sakura, false),
    staff("takahashi@station.example.jp", "高橋 順子", "タカハシ ジュンコ", Profession::Nurse, Site::Station, true),
    staff("yamazaki@station.example.jp", "山崎 香織", "ヤマザキ カオリ", Profession::Nurse, Site::Station, false),
    staff("mori@station.example.jp", "森 拓也", "モリ タクヤ", Profession::OccupationalTherapist, Site::Station, false),
    staff("ito@hidamari.example.jp", "伊藤 和子", "イトウ カズコ", Profession::CareManager, Site::Hidamari, true),
    // The office shares its premises with a home-help service.
    staff("abe@hidamari.example.jp", "阿部 幸子", "アベ サチコ", Profession::CareWorker, Site::Hidamari, false),
    staff("watanabe@aoba.example.jp", "渡辺 浩二", "ワタナベ コウジ", Profession::Pharmacist, Site::Aoba, true),
    staff("ikeda@renkei.example.jp", "池田 真理", "イケダ マリ", Profession::MedicalSocialWorker, Site::Centre, true),
    StaffSpec {
        email: "operator@ishikai.example.jp",
        name: "斎藤 隆",
        kana: "サイトウ タカシ",
        profession: Profession::Clerk,
        site: Site::Ishikai,
        admin: true,
        operator: true,
    },
    staff("kobayashi@umibe.example.jp", "小林 徹", "コバヤシ トオル", Profession::Physician, Site::Umibe, true),
];

/// Who registers a chart for each owning organization, and whose name goes on the
/// consent: at the hospital that is the MSW of the liaison office, as in practice.
const REGISTRARS: [(Site, &str); 3] = [
    (Site::Hospital, "tanaka@hospital.example.jp"),
    (Site::Midori, "suzuki@midori.example.jp"),
    (Site::Sakura, "hayashi@sakura.example.jp"),
];

/// Family names of patients (kanji, katakana). None is 山田, so that the one 山田 花子
/// is the only match for ﾔﾏﾀﾞ.
const FAMILY: [(&str, &str); 20] = [
    ("五十嵐", "イガラシ"),
    ("佐々木", "ササキ"),
    ("菅原", "スガワラ"),
    ("本間", "ホンマ"),
    ("渋谷", "シブヤ"),
    ("富樫", "トガシ"),
    ("成田", "ナリタ"),
    ("長南", "チョウナン"),
    ("板垣", "イタガキ"),
    ("三浦", "ミウラ"),
    ("石川", "イシカワ"),
    ("荘司", "ショウジ"),
    ("小野寺", "オノデラ"),
    ("太田", "オオタ"),
    ("遠藤", "エンドウ"),
    ("大井", "オオイ"),
    ("菅野", "カンノ"),
    ("今野", "コンノ"),
    ("難波", "ナンバ"),
    ("丸山", "マルヤマ"),
];

const MALE_GIVEN: [(&str, &str); 10] = [
    ("清", "キヨシ"),
    ("勇", "イサム"),
    ("正雄", "マサオ"),
    ("武", "タケシ"),
    ("茂", "シゲル"),
    ("博", "ヒロシ"),
    ("進", "ススム"),
    ("和夫", "カズオ"),
    ("哲男", "テツオ"),
    ("秀雄", "ヒデオ"),
];

const FEMALE_GIVEN: [(&str, &str); 10] = [
    ("節子", "セツコ"),
    ("文子", "フミコ"),
    ("静江", "シズエ"),
    ("キヨ", "キヨ"),
    ("恵子", "ケイコ"),
    ("洋子", "ヨウコ"),
    ("光子", "ミツコ"),
    ("久子", "ヒサコ"),
    ("千代", "チヨ"),
    ("美代子", "ミヨコ"),
];

/// Given names of the patients' children, who are the usual key persons.
const SON_GIVEN: [&str; 5] = ["一郎", "浩之", "健", "隆志", "修"];
const DAUGHTER_GIVEN: [&str; 5] = ["美香", "裕子", "真由美", "直美", "由美子"];

const KEY_PERSON_NOTES: [&str; 5] =
    ["同居", "", "市内在住、週末に訪問", "日中は仕事のため夕方以降に連絡", "県外在住（東京）"];

/// Streets of つなぐ市 with their postal codes.
const STREETS: [(&str, &str); 10] = [
    ("本町", "997-0034"),
    ("末広町", "997-0015"),
    ("泉町", "997-0033"),
    ("大東町", "997-0026"),
    ("若葉町", "997-0041"),
    ("日吉町", "997-0037"),
    ("みなと町", "997-0052"),
    ("朝日町", "997-0046"),
    ("桜ヶ丘", "997-0058"),
    ("青柳町", "997-0031"),
];

/// How many patients are derived from the tables, besides 山田 花子.
const GENERATED_PATIENTS: usize = 35;

/// One patient to seed: the registration form as a clerk would type it, and what
/// happens to the chart afterwards.
#[derive(Debug, Clone)]
struct PatientSpec {
    form: PatientForm,
    owner: Site,
    consent: bool,
    team: Vec<(Site, TeamRole)>,
    /// Name, relation, phone, note.
    key_persons: Vec<(String, &'static str, String, &'static str)>,
}

/// The `i`-th entry of a table, cycling; an empty table is a programming error that
/// is reported instead of panicking.
fn pick<T: Copy>(list: &[T], i: usize) -> anyhow::Result<T> {
    list.get(i % list.len().max(1)).copied().context("empty demo table")
}

fn org_spec(site: Site) -> anyhow::Result<&'static OrgSpec> {
    ORGS.iter().find(|o| o.site == site).with_context(|| format!("no demo organization for {site:?}"))
}

/// The patient every test looks for: fixed, not derived.
fn hanako() -> PatientSpec {
    PatientSpec {
        form: PatientForm {
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
        },
        owner: Site::Hospital,
        consent: true,
        team: vec![
            (Site::Midori, TeamRole::HomePhysician),
            (Site::Station, TeamRole::VisitingNurse),
            (Site::Hidamari, TeamRole::CareManager),
            (Site::Aoba, TeamRole::Pharmacy),
        ],
        key_persons: vec![
            ("山田 一郎".into(), "長男", "090-3412-7781".into(), "同居"),
            ("佐々木 美香".into(), "長女", "080-5520-1937".into(), "市内在住、週末に訪問"),
        ],
    }
}

/// The `i`-th derived patient. Variety comes from multiplying the index by numbers
/// prime to the table lengths, so neighbours differ and no two names repeat.
fn generated_patient(i: usize) -> anyhow::Result<PatientSpec> {
    let female = i.is_multiple_of(2);
    // Index within the patient's sex; the `k / 10` shift keeps the name pairs of
    // patients 20 apart (who share a family name) different.
    let k = i / 2;
    let family_ix = (i * 7) % FAMILY.len();
    let (family, family_kana) = pick(&FAMILY, family_ix)?;
    let given_list: &[(&str, &str)] = if female { &FEMALE_GIVEN } else { &MALE_GIVEN };
    let (given, given_kana) = pick(given_list, k * 3 + k / 10)?;

    let year = 1930 + (i * 11 + 3) % 31;
    let month = 1 + (i * 5) % 12;
    let day = 1 + (i * 13) % 28;
    let (street, postal) = pick(&STREETS, i * 3)?;
    let address = format!("山形県つなぐ市{street}{}-{}-{}", 1 + i % 5, 1 + (i * 7) % 20, 1 + (i * 3) % 15);
    // A few live alone without a landline; the key person is their contact.
    let phone =
        if i % 10 == 9 { String::new() } else { format!("0235-{}-{:04}", 22 + (i * 3) % 18, 1000 + (i * 461) % 9000) };

    // Mostly the hospital registers (discharge to home); the clinics register the
    // patients they took on directly.
    let owner = match i % 12 {
        3 | 8 => Site::Midori,
        10 => Site::Sakura,
        _ => Site::Hospital,
    };
    let local_id = match owner {
        Site::Midori => format!("M-{:04}", 101 + i),
        Site::Sakura => format!("S-{:05}", 20_000 + i * 17),
        _ => format!("H-{:06}", 100_200 + i * 37),
    };

    // Some charts are waiting for the patient's signature on the consent form.
    let consent = i % 7 != 5;
    let team = if !consent {
        // A referral may already have gone out; without consent the home physician
        // still sees nothing, which is what the access tests check.
        if i % 2 == 1 { vec![(Site::Midori, TeamRole::HomePhysician)] } else { Vec::new() }
    } else {
        match owner {
            Site::Midori if i % 4 == 3 => vec![
                (Site::Station, TeamRole::VisitingNurse),
                (Site::Aoba, TeamRole::Pharmacy),
                (Site::Hidamari, TeamRole::CareManager),
                // Cancer at home: the hospital's palliative team advises the clinic.
                (Site::Hospital, TeamRole::PalliativeCareTeam),
            ],
            Site::Midori => vec![(Site::Station, TeamRole::VisitingNurse), (Site::Hidamari, TeamRole::CareManager)],
            Site::Sakura => vec![(Site::Station, TeamRole::VisitingNurse), (Site::Hidamari, TeamRole::CareManager)],
            _ => match i % 4 {
                0 => vec![
                    (Site::Midori, TeamRole::HomePhysician),
                    (Site::Station, TeamRole::VisitingNurse),
                    (Site::Hidamari, TeamRole::CareManager),
                    (Site::Aoba, TeamRole::Pharmacy),
                ],
                1 => vec![
                    (Site::Sakura, TeamRole::HomePhysician),
                    (Site::Station, TeamRole::VisitingNurse),
                    (Site::Hidamari, TeamRole::CareManager),
                ],
                2 => vec![
                    (Site::Midori, TeamRole::HomePhysician),
                    (Site::Station, TeamRole::VisitingNurse),
                    (Site::Centre, TeamRole::Liaison),
                ],
                // Still an outpatient: only the care manager follows at home.
                _ => vec![(Site::Hidamari, TeamRole::CareManager)],
            },
        }
    };

    let son = pick(&SON_GIVEN, i)?;
    let daughter = pick(&DAUGHTER_GIVEN, i + 2)?;
    // A married daughter usually carries another family name.
    let (daughter_family, _) = pick(&FAMILY, family_ix + 3)?;
    let mobile = |salt: usize| {
        format!(
            "0{}0-{:04}-{:04}",
            if salt.is_multiple_of(2) { 9 } else { 8 },
            1000 + (i * 373 + salt * 71) % 9000,
            1000 + (i * 619 + salt * 113) % 9000
        )
    };
    let note = pick(&KEY_PERSON_NOTES, i)?;
    let first = match i % 3 {
        0 => {
            // The spouse, when still alive and able.
            let (spouse, _) = if female { pick(&MALE_GIVEN, k + 4)? } else { pick(&FEMALE_GIVEN, k + 4)? };
            let relation = if female { "夫" } else { "妻" };
            (format!("{family} {spouse}"), relation, phone_or_mobile(&phone, mobile(0)), "同居")
        }
        1 => (format!("{family} {son}"), "長男", mobile(1), note),
        _ => (format!("{daughter_family} {daughter}"), "長女", mobile(2), note),
    };
    let mut key_persons = vec![first];
    if i % 3 == 1 {
        key_persons.push((format!("{daughter_family} {daughter}"), "長女", mobile(3), ""));
    }

    Ok(PatientSpec {
        form: PatientForm {
            family_name: family.into(),
            given_name: given.into(),
            family_kana: family_kana.into(),
            given_kana: given_kana.into(),
            sex: if female { "female" } else { "male" }.into(),
            birth_date: format!("{year}-{month:02}-{day:02}"),
            postal_code: postal.into(),
            address,
            phone,
            local_id,
        },
        owner,
        consent,
        team,
        key_persons,
    })
}

/// A spouse living with the patient is reached on the home phone when there is one.
fn phone_or_mobile(home: &str, mobile: String) -> String {
    if home.is_empty() { mobile } else { home.to_string() }
}

/// Every patient of the region, in registration order.
fn demo_patients() -> anyhow::Result<Vec<PatientSpec>> {
    let mut out = vec![hanako()];
    for i in 0..GENERATED_PATIENTS {
        out.push(generated_patient(i)?);
    }
    Ok(out)
}

/// The logins of the demo region, without touching a database (to print them).
pub fn demo_logins() -> Vec<DemoLogin> {
    STAFF
        .iter()
        .map(|s| DemoLogin {
            email: s.email.to_string(),
            name: s.name.to_string(),
            profession: s.profession.as_str(),
            org_name: org_spec(s.site).map(|o| o.name.to_string()).unwrap_or_default(),
            org_admin: s.admin,
            operator: s.operator,
        })
        .collect()
}

/// Seeds only when the database has no organizations; returns None when it already had data.
pub async fn seed_if_empty(store: &Store, password_hash: &str) -> anyhow::Result<Option<DemoSummary>> {
    // Organizations come first in any real set-up, so none means nothing to clobber.
    if store.count_orgs().await.context("counting organizations")? > 0 {
        return Ok(None);
    }
    seed(store, password_hash).await.map(Some)
}

impl OrgSpec {
    fn new_org(&self) -> anyhow::Result<NewOrg> {
        let code = match self.code {
            Code::None => None,
            Code::Luhn(nine) => {
                let d =
                    InstitutionCode::check_digit(nine).with_context(|| format!("institution code prefix {nine}"))?;
                Some(InstitutionCode::parse(&format!("{nine}{d}"))?)
            }
            Code::Plain(ten) => Some(InstitutionCode::parse(ten).with_context(|| format!("institution code {ten}"))?),
        };
        Ok(NewOrg {
            code,
            kind: self.kind,
            name: self.name.into(),
            name_kana: self.kana.into(),
            postal_code: Some(self.postal.into()),
            address: Some(self.address.into()),
            phone: Some(self.phone.into()),
            night_phone: self.night_phone.map(Into::into),
            coordinates: Some((self.lat, self.lon)),
            capabilities: self.caps,
        })
    }
}

/// Seeds unconditionally (tests call this on a fresh database).
///
/// Not one transaction (the store API commits each step with its audit record); a
/// failure part-way leaves a partial region, which `seed_if_empty` will not touch again.
pub async fn seed(store: &Store, password_hash: &str) -> anyhow::Result<DemoSummary> {
    let ctx = AuditCtx::default();
    crate::commands::load_shipped_instruments(store).await?;

    let mut orgs: HashMap<Site, OrgId> = HashMap::new();
    for spec in &ORGS {
        let id = store
            .create_org(&spec.new_org()?, OrgStatus::Approved, None, &ctx)
            .await
            .with_context(|| format!("creating {}", spec.name))?;
        orgs.insert(spec.site, id);
    }
    let org_id = |site: Site| orgs.get(&site).copied().with_context(|| format!("{site:?} was not created"));

    let mut users: HashMap<&str, (UserId, OrgId)> = HashMap::new();
    for s in &STAFF {
        let org = org_id(s.site)?;
        let u = NewUser {
            email: Email::parse(s.email).with_context(|| format!("e-mail {}", s.email))?,
            display_name: s.name.into(),
            name_kana: s.kana.into(),
            profession: s.profession,
            password_hash: password_hash.into(),
            operator: s.operator,
        };
        let id =
            store.create_user(&u, org, s.admin, None, &ctx).await.with_context(|| format!("creating {}", s.email))?;
        users.insert(s.email, (id, org));
    }

    // The person acting for each owning organization, and the name they sign with.
    let mut registrars: HashMap<Site, (Principal, &str)> = HashMap::new();
    for (site, email) in REGISTRARS {
        let (user, org) = users.get(email).copied().with_context(|| format!("registrar {email} was not created"))?;
        let name = STAFF.iter().find(|s| s.email == email).map(|s| s.name).unwrap_or(email);
        let p = store.principal(user, org).await.context("registrar principal")?;
        registrars.insert(site, (p, name));
    }

    let today = store.clock().today_jst();
    let patients = demo_patients()?;
    let mut charts: Vec<(&PatientSpec, PatientId)> = Vec::new();
    for spec in &patients {
        let (who, signer) =
            registrars.get(&spec.owner).with_context(|| format!("no registrar for {:?}", spec.owner))?;
        let pid = seed_patient(store, who, signer, spec, &org_id, today, &ctx)
            .await
            .with_context(|| format!("seeding patient {} {}", spec.form.family_name, spec.form.given_name))?;
        charts.push((spec, pid));
    }

    // Everyone who writes in the charts, as they would sign in.
    let mut people: HashMap<&'static str, Principal> = HashMap::new();
    for s in &STAFF {
        let (user, org) = users.get(s.email).copied().with_context(|| format!("{} was not created", s.email))?;
        people.insert(s.email, store.principal(user, org).await.with_context(|| format!("principal {}", s.email))?);
    }
    let pen = course::Pen { store, people: &people, orgs: &orgs, ctx: &ctx };
    let entries = pen.write_all(&charts, course::Days::ending(today)).await?;
    let post = letters::Post { store, people: &people, orgs: &orgs, ctx: &ctx };
    let letters = post.write_all(&charts).await.context("seeding letters")?;
    let ward = transition::Ward { store, people: &people, orgs: &orgs, ctx: &ctx };
    ward.write_all(&charts).await.context("seeding hospital-to-home")?;
    let region = outcomes::Region { store, people: &people, orgs: &orgs, ctx: &ctx };
    region.write_all(&charts).await.context("seeding outcome work")?;
    let household = family::Household { store, people: &people, orgs: &orgs, ctx: &ctx, password_hash };
    household.write_all(&charts).await.context("seeding families and visits")?;

    Ok(DemoSummary {
        orgs: orgs.len(),
        users: users.len(),
        patients: patients.len(),
        entries,
        letters,
        logins: demo_logins(),
    })
}

async fn seed_patient(
    store: &Store,
    who: &Principal,
    signer: &str,
    spec: &PatientSpec,
    org_id: &impl Fn(Site) -> anyhow::Result<OrgId>,
    today: Date,
    ctx: &AuditCtx,
) -> anyhow::Result<PatientId> {
    let new = NewPatient::parse(&spec.form, today)?;
    // Confirmed new: the demo names are distinct, and duplicate detection would only
    // stop the seed.
    let pid = match store.register_patient(who, &new, true, ctx).await? {
        Registered::Created(id) => id,
        Registered::PossibleDuplicates(_) => bail!("flagged as a duplicate"),
    };

    let govern = store.open_chart(who, pid, ChartAction::Govern, "team.add", ctx).await?;
    if spec.consent {
        store.record_consent(&govern, ConsentStatus::Given, Some(signer), None, ctx).await?;
    }
    for (site, role) in &spec.team {
        store.add_team_member(&govern, org_id(*site)?, *role, ctx).await?;
    }

    if !spec.key_persons.is_empty() {
        let write = store.open_chart(who, pid, ChartAction::Write, "key_person.add", ctx).await?;
        for (name, relation, phone, note) in &spec.key_persons {
            let k = KeyPerson::parse(name, relation, phone, note).with_context(|| format!("key person {name}"))?;
            store.add_key_person(&write, &k, ctx).await?;
        }
    }
    Ok(pid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::Arc;
    use time::macros::{date, datetime};
    use tsunagu_domain::clock::{ManualClock, SeededIdGen};
    use tsunagu_store::{OpenMode, SearchQuery, TimelineFilter};

    #[test]
    fn logins_cover_every_profession_with_unique_emails() {
        let logins = demo_logins();
        for p in Profession::ALL {
            assert!(logins.iter().any(|l| l.profession == p.as_str()), "no demo login is a {}", p.as_str());
        }
        let emails: HashSet<_> = logins.iter().map(|l| l.email.as_str()).collect();
        assert_eq!(emails.len(), logins.len());
        for l in &logins {
            assert!(Email::parse(&l.email).is_ok(), "{}", l.email);
            assert!(!l.org_name.is_empty(), "{}", l.email);
        }
    }

    #[test]
    fn every_org_has_one_admin_and_one_mail_domain() {
        for o in &ORGS {
            let staff: Vec<_> = STAFF.iter().filter(|s| s.site == o.site).collect();
            assert_eq!(staff.iter().filter(|s| s.admin).count(), 1, "{}", o.name);
            // One mail domain per organization: `<romaji>@<org>.example.jp`.
            let domains: HashSet<_> = staff.iter().filter_map(|s| s.email.split_once('@')).map(|(_, d)| d).collect();
            assert_eq!(domains.len(), 1, "{}", o.name);
            assert!(domains.iter().all(|d| d.ends_with(".example.jp")));
            assert!(o.new_org().is_ok(), "{}", o.name);
        }
        let operators: Vec<_> = STAFF.iter().filter(|s| s.operator).collect();
        assert_eq!(operators.len(), 1);
        assert_eq!(operators[0].site, Site::Ishikai);
    }

    #[test]
    fn the_logins_the_tests_rely_on_exist() {
        let logins = demo_logins();
        let get = |e: &str| logins.iter().find(|l| l.email == e).unwrap().clone();
        let sato = get("sato@hospital.example.jp");
        assert_eq!((sato.profession, sato.org_admin), ("physician", true));
        assert_eq!(get("tanaka@hospital.example.jp").profession, "msw");
        assert!(get("suzuki@midori.example.jp").org_admin);
        assert_eq!(get("takahashi@station.example.jp").profession, "nurse");
        assert_eq!(get("ito@hidamari.example.jp").profession, "care_manager");
        assert_eq!(get("watanabe@aoba.example.jp").profession, "pharmacist");
        let op = get("operator@ishikai.example.jp");
        assert!(op.operator && op.org_admin);
        let k = get("kobayashi@umibe.example.jp");
        assert_eq!((k.org_name.as_str(), k.org_admin), ("海辺クリニック", true));
    }

    #[test]
    fn patients_are_valid_distinct_and_never_reach_the_outsider() {
        let today = date!(2026 - 11 - 24);
        let patients = demo_patients().unwrap();
        assert_eq!(patients.len(), 36);
        let mut names = HashSet::new();
        let mut local_ids = HashSet::new();
        for p in &patients {
            let n = NewPatient::parse(&p.form, today).unwrap();
            assert!((1930..=1960).contains(&n.birth_date.year()));
            assert!(names.insert(n.kana_key()), "{}", n.kana_key());
            assert!(local_ids.insert(n.local_id.clone().unwrap()));
            assert!(p.owner != Site::Umibe);
            assert!(p.team.iter().all(|(s, _)| *s != Site::Umibe && *s != p.owner));
            assert!((1..=2).contains(&p.key_persons.len()));
            for (name, rel, phone, note) in &p.key_persons {
                KeyPerson::parse(name, rel, phone, note).unwrap();
            }
        }
        assert_eq!(patients.iter().filter(|p| p.form.family_kana == "ヤマダ").count(), 1);
        assert!(patients.iter().any(|p| !p.consent));
        assert!(patients.iter().any(|p| p.owner == Site::Midori));
        assert!(patients.iter().any(|p| p.owner == Site::Sakura));
        assert!(patients.iter().any(|p| p.form.sex == "male"));
    }

    #[tokio::test]
    async fn seeding_a_fresh_store_writes_the_region_once() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/demo.db", dir.path().display());
        let store = Store::open(
            &url,
            OpenMode::CreateIfMissing,
            Arc::new(ManualClock::new(datetime!(2026-11-24 01:00 UTC))),
            Arc::new(SeededIdGen::new(1)),
        )
        .await
        .unwrap();
        store.migrate().await.unwrap();

        let started = std::time::Instant::now();
        let summary = seed_if_empty(&store, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA").await.unwrap().unwrap();
        println!("seeded {} chart entries in {:?}", summary.entries, started.elapsed());
        assert_eq!(summary.orgs, 9);
        assert_eq!(summary.users, STAFF.len());
        assert_eq!(summary.patients, 36);
        assert_eq!(store.count_orgs().await.unwrap(), 9);
        assert_eq!(store.count_patients().await.unwrap(), 36);
        assert!(seed_if_empty(&store, "x").await.unwrap().is_none());

        let ctx = AuditCtx::default();
        let principal_of = async |email: &str| {
            let u = store.user_by_email(&Email::parse(email).unwrap()).await.unwrap();
            let m = store.memberships(u.id).await.unwrap();
            store.principal(u.id, m[0].org.id).await.unwrap()
        };
        let q = |text: Option<&str>| SearchQuery { text: text.map(Into::into), limit: 100, ..Default::default() };
        let sato = principal_of("sato@hospital.example.jp").await;
        let found = store.search_patients(&sato, &q(Some("ﾔﾏﾀﾞ")), &ctx).await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].given_name, "花子");
        assert_eq!(found[0].local_id.as_deref(), Some("H-000123"));
        let station = principal_of("takahashi@station.example.jp").await;
        assert!(!store.search_patients(&station, &q(None), &ctx).await.unwrap().is_empty());
        let outsider = principal_of("kobayashi@umibe.example.jp").await;
        assert!(store.search_patients(&outsider, &q(None), &ctx).await.unwrap().is_empty());

        // 山田 花子's chart as her home physician sees it: two weeks from every
        // organization on the team, with a correction and an entry entered in error.
        let suzuki = principal_of("suzuki@midori.example.jp").await;
        let g = store.open_chart(&suzuki, found[0].id, ChartAction::Read, "chart.read", &ctx).await.unwrap();
        let timeline = store.timeline(&g, &TimelineFilter { limit: 500, ..Default::default() }).await.unwrap();
        assert!(timeline.len() >= 30, "{}", timeline.len());
        let orgs: HashSet<_> = timeline.iter().map(|e| e.author_org_name.as_str()).collect();
        assert_eq!(orgs.len(), 5, "{orgs:?}");
        let corrected: Vec<_> = timeline.iter().filter(|e| e.is_corrected()).collect();
        assert_eq!(corrected.len(), 1);
        assert!(corrected[0].body.text().contains("1回（長男さんの記録表で確認）"));
        assert!(corrected[0].correction_reason.is_some());
        assert_eq!(timeline.iter().filter(|e| e.in_error.is_some()).count(), 1);
        // Written oldest first, so the newest entry is today's and the oldest day 1's.
        assert!(timeline[0].body.text().contains("11/24（火）"), "{:?}", timeline[0].body);
        assert!(timeline.last().unwrap().body.text().contains("11/11（水） 本日11時に退院"));
        let all = summary.entries;
        assert!((130..=200).contains(&all), "{all}");

        let report = store.verify_audit().await.unwrap();
        assert_eq!(report.first_break, None);
        assert!(report.rows > 36 + all as i64);
    }
}
