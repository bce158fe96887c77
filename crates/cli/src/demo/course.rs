//! What the demo charts say: two weeks of home palliative care, written by the
//! organizations on each team.
//!
//! 山田 花子 has a course of her own, with every feature of the chart in it (SOAP
//! notes, nursing records, vital signs, medication lists with opioids, messages with
//! mentions, a corrected entry and one entered in error). Ten more patients with a home
//! physician, the visiting nurses and consent get a shorter course drawn from
//! [`CASES`], one case each.
//!
//! Only the store's clock stamps an entry, and the demo runs on the system clock, so
//! every entry carries the moment of seeding. The course is therefore dated in its
//! words: day 1 is thirteen days before the day of seeding, each entry names its day
//! (「11/12（木）訪問」), and the entries are written oldest first, so that the
//! timeline, newest first, reads back from today. Everything is invented.

use super::{PatientSpec, Site, pick};
use anyhow::Context;
use std::collections::HashMap;
use time::{Date, SignedDuration, Weekday};
use tsunagu_domain::chart::{EntryBody, MedicationItem, MedicationList, Message, ProgressNote, VitalSigns};
use tsunagu_domain::patient::TeamRole;
use tsunagu_domain::policy::{ChartAction, Principal};
use tsunagu_domain::{OrgId, PatientId};
use tsunagu_store::{AuditCtx, ChartGrant, EntryView, Mention, Store};

const SATO: &str = "sato@hospital.example.jp";
const TANAKA: &str = "tanaka@hospital.example.jp";
const SUZUKI: &str = "suzuki@midori.example.jp";
const HAYASHI: &str = "hayashi@sakura.example.jp";
const TAKAHASHI: &str = "takahashi@station.example.jp";
const YAMAZAKI: &str = "yamazaki@station.example.jp";
const MORI: &str = "mori@station.example.jp";
const ITO: &str = "ito@hidamari.example.jp";
const ABE: &str = "abe@hidamari.example.jp";
const WATANABE: &str = "watanabe@aoba.example.jp";

/// How many patients besides 山田 花子 get a course.
const OTHER_CHARTS: usize = 10;

/// Days of a course, day 1 first.
const COURSE_DAYS: i64 = 14;

/// The calendar of a course: day `n` (1-based) and how the text names it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Days {
    first: Date,
}

impl Days {
    /// The two weeks that end on `today`.
    pub(super) fn ending(today: Date) -> Self {
        Self { first: today.saturating_sub(SignedDuration::days(COURSE_DAYS - 1)) }
    }

    fn date(&self, n: i64) -> Date {
        self.first.saturating_add(SignedDuration::days(n - 1))
    }

    /// 「11/12（木）」.
    fn day(&self, n: i64) -> String {
        let d = self.date(n);
        format!("{}/{}（{}）", u8::from(d.month()), d.day(), weekday_ja(d.weekday()))
    }
}

fn weekday_ja(w: Weekday) -> &'static str {
    match w {
        Weekday::Monday => "月",
        Weekday::Tuesday => "火",
        Weekday::Wednesday => "水",
        Weekday::Thursday => "木",
        Weekday::Friday => "金",
        Weekday::Saturday => "土",
        Weekday::Sunday => "日",
    }
}

/// Someone a message is addressed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum To {
    Person(&'static str),
    Org(Site),
}

/// One thing done to a chart, by the person whose login is `author`. Labels name an
/// entry so that a later step can correct it or mark it.
#[derive(Debug, Clone)]
enum Step {
    Write { label: Option<&'static str>, author: &'static str, body: EntryBody, mentions: Vec<To> },
    Correct { label: &'static str, author: &'static str, body: EntryBody, reason: &'static str },
    EnteredInError { label: &'static str, author: &'static str, reason: &'static str },
}

impl Step {
    fn author(&self) -> &'static str {
        match self {
            Step::Write { author, .. } | Step::Correct { author, .. } | Step::EnteredInError { author, .. } => author,
        }
    }
}

/// The steps of one chart, in the order they happen.
#[derive(Debug, Default)]
struct Course {
    steps: Vec<Step>,
}

impl Course {
    fn write(&mut self, author: &'static str, body: EntryBody) {
        self.steps.push(Step::Write { label: None, author, body, mentions: Vec::new() });
    }

    fn labelled(&mut self, label: &'static str, author: &'static str, body: EntryBody) {
        self.steps.push(Step::Write { label: Some(label), author, body, mentions: Vec::new() });
    }

    fn message(&mut self, author: &'static str, text: String, to: &[To]) {
        let body = EntryBody::Message(Message { text, attachments: Vec::new() });
        self.steps.push(Step::Write { label: None, author, body, mentions: to.to_vec() });
    }

    fn correct(&mut self, label: &'static str, author: &'static str, body: EntryBody, reason: &'static str) {
        self.steps.push(Step::Correct { label, author, body, reason });
    }

    fn in_error(&mut self, label: &'static str, author: &'static str, reason: &'static str) {
        self.steps.push(Step::EnteredInError { label, author, reason });
    }
}

fn soap(s: impl Into<String>, o: impl Into<String>, a: impl Into<String>, p: impl Into<String>) -> EntryBody {
    EntryBody::ProgressNote(ProgressNote {
        subjective: Some(s.into()),
        objective: Some(o.into()),
        assessment: Some(a.into()),
        plan: Some(p.into()),
        text: None,
    })
}

fn free_note(text: impl Into<String>) -> EntryBody {
    EntryBody::ProgressNote(ProgressNote { text: Some(text.into()), ..Default::default() })
}

fn nursing(text: impl Into<String>) -> EntryBody {
    EntryBody::NursingRecord { text: text.into() }
}

/// Vital signs as a nurse takes them at the bedside.
#[derive(Debug, Clone, Copy)]
struct Vit {
    t: f64,
    p: i64,
    bp: (i64, i64),
    rr: i64,
    spo2: i64,
    pain: i64,
}

impl Vit {
    fn note(self, note: impl Into<String>) -> EntryBody {
        EntryBody::VitalSigns(VitalSigns {
            temperature_c: Some(self.t),
            pulse_bpm: Some(self.p),
            bp_systolic: Some(self.bp.0),
            bp_diastolic: Some(self.bp.1),
            respiration_rate: Some(self.rr),
            spo2: Some(self.spo2),
            pain_nrs: Some(self.pain),
            note: Some(note.into()),
        })
    }
}

/// One line of a medication list; the store flags the opioids by name.
fn med(drug: &str, dose: &str, route: &str, frequency: &str, start: Date, stop: Option<Date>) -> MedicationItem {
    MedicationItem {
        drug: drug.into(),
        dose: dose.into(),
        route: route.into(),
        frequency: frequency.into(),
        start: Some(start),
        stop,
        opioid: false,
    }
}

fn meds(items: Vec<MedicationItem>) -> EntryBody {
    EntryBody::MedicationList(MedicationList { items })
}

// ---------------------------------------------------------------------------------------
// 山田 花子

/// 86, cancer of the pancreatic body with liver metastases, home from the city
/// hospital to die at home; her eldest son lives with her. Two weeks: the first home
/// visits, pain that needs the oxycodone raised, a night call, constipation, redness
/// over the sacrum that becomes a stage d1 pressure injury, a care conference, fading
/// intake and the plan for when she can no longer swallow.
fn hanako(d: &Days) -> Course {
    let mut c = Course::default();
    let station = To::Org(Site::Station);

    // Day 1: discharge and the first visits.
    c.message(
        TANAKA,
        format!(
            "{} 本日11時に退院されました。退院時カンファレンスの内容は佐藤医師の記録をご参照ください。\
             ご本人は「家で過ごしたい」と繰り返し話されており、同居の長男 一郎さんが介護の中心です。\
             長女の美香さんは週末に来られます。在宅チームの皆様、どうぞよろしくお願いいたします。",
            d.day(1)
        ),
        &[To::Org(Site::Midori), station],
    );
    c.write(
        SATO,
        free_note(format!(
            "退院時申し送り（{}）\n\
             診断：膵体部癌 StageIV（多発肝転移、腹膜播種）。化学療法はご本人の希望により終了し、症状緩和を中心とする方針。\n\
             入院中に心窩部〜背部の疼痛に対しオキシコンチンTR錠 10mg/日を導入し、NRS 6→3。\
             嘔気予防にノバミン、便秘に酸化マグネシウムを併用。\n\
             食事摂取は5割程度。ADL：室内は伝い歩き、入浴は介助。\n\
             病状説明：予後は月単位（短ければ週単位）とご本人・長男に説明済み。\
             DNARの意思を確認（ご本人・長男同席）。自宅での看取りも含めて在宅チームと相談の方針。",
            d.day(1)
        )),
    );
    c.write(
        SUZUKI,
        soap(
            "「家に帰れて本当にうれしい。おなかと背中が時々痛む」",
            format!(
                "{} 15:00 初回訪問。意識清明、るい痩あり。眼球黄染なし。腹部やや膨満、心窩部に圧痛。\
                 下腿浮腫軽度。仙骨部・踵に発赤なし。",
                d.day(1)
            ),
            "膵体部癌末期、在宅療養開始。疼痛はNRS 4前後で概ね制御されている。予後は週〜月単位と推定。",
            "オキシコンチンTR錠 5mg 1日2回を継続、レスキューはオキノーム散2.5mg。\
             訪問診療は毎週、訪問看護は週3回＋24時間対応。\
             急変時は当院へ連絡（看取りを含めて在宅で対応する方針をご家族と共有）。",
        ),
    );
    c.write(
        SUZUKI,
        meds(vec![
            med("オキシコンチンTR錠5mg", "1回1錠", "内服", "1日2回（8時・20時）", d.date(1), None),
            med("オキノーム散2.5mg", "1回1包", "内服", "疼痛時（1時間あけて追加可）", d.date(1), None),
            med("酸化マグネシウム錠330mg", "1回1錠", "内服", "1日3回 毎食後", d.date(1), None),
            med("ノバミン錠5mg", "1回1錠", "内服", "1日3回 毎食前", d.date(1), None),
            med("ランソプラゾールOD錠15mg", "1回1錠", "内服", "1日1回 朝食後", d.date(1), None),
        ]),
    );
    c.write(
        TAKAHASHI,
        Vit { t: 36.7, p: 86, bp: (108, 64), rr: 18, spo2: 95, pain: 4 }.note(format!("{} 初回訪問時", d.day(1))),
    );
    c.write(
        TAKAHASHI,
        nursing(format!(
            "{} 16:00 初回訪問（退院当日）。長男 一郎さんと連絡方法、24時間対応の電話番号を確認。\n\
             疼痛はNRS 4、体動時に背部痛あり。レスキュー（オキノーム散）の使い方と記録表への記入を説明し、\
             長男さんの理解は良好。\n\
             仙骨部・踵に発赤なし、OHスケール5点（中等度リスク）。褥瘡予防に体圧分散マットレスの導入を\
             ケアマネジャーに相談する。食事は粥を3〜5割摂取。最終排便は3日前。",
            d.day(1)
        )),
    );

    // Day 2: the care manager and the pharmacist.
    c.message(
        ITO,
        format!(
            "{} 自宅を訪問し、ケアプランを変更しました（区分変更申請中、暫定で要介護3）。\
             特殊寝台とエアマットレスを{}午前に搬入します。\
             訪問看護の皆様、搬入後のポジショニングの確認をお願いできますか。\
             ヘルパーは月・水・金の午前に清拭と更衣で入ります。",
            d.day(2),
            d.day(3)
        ),
        &[station],
    );
    c.message(
        WATANABE,
        format!(
            "{} 訪問し、退院処方の残数を確認しました。オキシコンチンTR錠5mg 残12錠、オキノーム散2.5mg 残10包。\
             医療用麻薬の保管場所（鍵のかかる缶）と、使わなくなった分は薬局へ返却することを長男さんに説明済みです。\
             次回処方の際は残数に合わせて調剤します。",
            d.day(2)
        ),
        &[To::Person(SUZUKI)],
    );

    // Day 3: the bed arrives; constipation. One record went into the wrong chart.
    c.write(
        YAMAZAKI,
        Vit { t: 36.9, p: 90, bp: (112, 66), rr: 20, spo2: 94, pain: 5 }
            .note(format!("{} 訪問時、レスキュー内服前", d.day(3))),
    );
    c.write(
        YAMAZAKI,
        nursing(format!(
            "{} 10:00 訪問。エアマットレスの搬入に立ち会い、30度側臥位でのポジショニングを長男さんと練習。\n\
             背部痛 NRS 5、昨日のレスキュー使用は3回。排便なし（4日目）のため腹部マッサージを実施し、\
             酸化マグネシウムの内服を確認。嘔気なし。",
            d.day(3)
        )),
    );
    c.labelled(
        "wrong-chart",
        YAMAZAKI,
        nursing(format!(
            "{} 14:00 訪問。右膝痛の訴えあり、湿布を貼付。入浴介助を実施、皮膚トラブルなし。\
             デイサービスの利用日を確認した。",
            d.day(3)
        )),
    );
    c.in_error(
        "wrong-chart",
        YAMAZAKI,
        "別の利用者の記録をこのカルテに誤って記載したため（正しいカルテに記載し直しました）",
    );

    // Day 4: a night call, and the nurse asks for more oxycodone.
    c.write(
        TAKAHASHI,
        nursing(format!(
            "{} 2:10 長男さんより電話（24時間対応）。背部の疼痛増強で眠れない（NRS 7）。\
             オキノーム散2.5mg 1包の内服を指示。\n\
             2:50 再度電話し、NRS 3に軽減して入眠されたことを確認。朝に主治医へ報告する。",
            d.day(4)
        )),
    );
    c.message(
        TAKAHASHI,
        format!(
            "{} 未明に疼痛増強で電話対応しました（レスキュー1回で軽減）。\
             ここ2日のレスキュー使用は1日4〜5回です。ベースの増量をご検討いただけますか。",
            d.day(4)
        ),
        &[To::Person(SUZUKI)],
    );
    c.message(
        SUZUKI,
        format!(
            "ご報告ありがとうございます。{}に臨時往診し、オキシコンチンTR錠を1回10mg 1日2回（20mg/日）へ増量します。\
             処方箋はあおば調剤薬局へFAXします。",
            d.day(5)
        ),
        &[To::Person(TAKAHASHI), To::Org(Site::Aoba)],
    );

    // Day 5: the oxycodone is raised.
    c.write(
        TAKAHASHI,
        Vit { t: 36.8, p: 92, bp: (116, 70), rr: 18, spo2: 94, pain: 6 }.note(format!("{} 往診前に測定", d.day(5))),
    );
    c.write(
        SUZUKI,
        soap(
            "「夜中に背中が痛くなる。薬を飲むと楽になる」",
            format!(
                "{} 臨時往診。BP 116/70、P 92、SpO2 94%。心窩部〜左背部に持続痛、体動で増悪。\
                 傾眠・せん妄なし。排便は{}に少量あり。",
                d.day(5),
                d.day(4)
            ),
            "がん性疼痛（内臓痛、背部への放散）。レスキュー1日4〜5回でベースが不足。嘔気なし。",
            "オキシコンチンTR錠 10mg 1日2回へ増量。レスキューはオキノーム散2.5mg を継続。\
             眠気・呼吸数の観察を訪問看護に依頼。便秘に対し酸化マグネシウムを1回2錠へ増量。",
        ),
    );
    c.write(
        SUZUKI,
        meds(vec![
            med("オキシコンチンTR錠5mg", "1回1錠", "内服", "1日2回（8時・20時）", d.date(1), Some(d.date(5))),
            med("オキシコンチンTR錠10mg", "1回1錠", "内服", "1日2回（8時・20時）", d.date(5), None),
            med("オキノーム散2.5mg", "1回1包", "内服", "疼痛時（1時間あけて追加可）", d.date(1), None),
            med("酸化マグネシウム錠330mg", "1回2錠", "内服", "1日3回 毎食後", d.date(5), None),
            med("ノバミン錠5mg", "1回1錠", "内服", "1日3回 毎食前", d.date(1), None),
            med("ランソプラゾールOD錠15mg", "1回1錠", "内服", "1日1回 朝食後", d.date(1), None),
        ]),
    );
    c.message(
        WATANABE,
        format!(
            "{} 増量分（オキシコンチンTR錠10mg 14錠）をお届けしました。5mg錠の残り6錠はお預かりし、\
             薬局で保管・廃棄の手続きをします。眠気が強い時の連絡先を長男さんに再度お伝えしました。",
            d.day(5)
        ),
        &[To::Person(SUZUKI)],
    );

    // Day 6: the day after; the record is corrected once the family's sheet is read.
    c.write(
        TAKAHASHI,
        Vit { t: 36.6, p: 84, bp: (110, 64), rr: 16, spo2: 95, pain: 3 }.note(format!("{} 増量翌日", d.day(6))),
    );
    let day6 = |rescue: &str| {
        nursing(format!(
            "{} 訪問（増量翌日）。日中うとうとするが呼びかけで開眼し、会話は明瞭。呼吸数16回/分。\
             背部痛 NRS 3。昨日のレスキュー使用は{rescue}（長男さんの記録表で確認）。\n\
             仙骨部に軽度の発赤あり（指押しで消退）、褥瘡には至っていない。\
             エアマットレスの設定を確認し、2時間ごとの体位変換を長男さんに依頼。",
            d.day(6)
        ))
    };
    c.labelled("rescue-count", TAKAHASHI, day6("3回"));
    c.correct("rescue-count", TAKAHASHI, day6("1回"), "レスキュー使用回数の記載誤り（記録表の前日分を読み違えたため）");

    // Day 7: the home helper and the occupational therapist.
    c.message(
        ABE,
        format!(
            "{} ヘルパー訪問（清拭・更衣）。右を下にすると「お尻が痛い」とのことで、\
             皮膚が少し赤くなっていました。看護師さんに見ていただけますか。",
            d.day(7)
        ),
        &[station],
    );
    c.write(
        MORI,
        free_note(format!(
            "{} 作業療法士 訪問。ベッド上での体位変換とポジショニングを長男さんと確認。\
             クッションを使った30度側臥位で仙骨部の除圧ができる。\
             端座位は背もたれありで10分保持可。トイレまでの移動はふらつきがあり、\
             ポータブルトイレの導入をケアマネジャーに提案した。",
            d.day(7)
        )),
    );

    // Day 8: a pressure injury at its first stage.
    c.write(
        YAMAZAKI,
        Vit { t: 37.2, p: 96, bp: (104, 62), rr: 20, spo2: 93, pain: 3 }.note(format!("{} 訪問時", d.day(8))),
    );
    c.write(
        YAMAZAKI,
        nursing(format!(
            "{} 訪問。仙骨部に2×3cmの発赤、指押しで消退せず。DESIGN-R d1（持続する発赤）。\
             褥瘡の初期と判断し、ポリウレタンフィルム材で保護。\n\
             ずれを防ぐため、ギャッチアップは30度以内とし、上げた後の背抜きを長男さんに指導。主治医へ報告。",
            d.day(8)
        )),
    );
    c.message(
        SUZUKI,
        format!(
            "{} 仙骨部の件、ありがとうございます。次回訪問で確認します。\
             食事量が落ちているので、栄養補助食品の処方を検討します。",
            d.day(8)
        ),
        &[station],
    );

    // Day 9: the pain is settled; a conference is called.
    c.message(
        ITO,
        format!(
            "{} 状態の変化に合わせ、サービス担当者会議を{} 14:00からご自宅で開催します。\
             参加予定：鈴木先生、訪問看護（高橋さん）、あおば調剤薬局（渡辺さん）、ヘルパー（阿部）、長男さん・長女さん。\
             ポータブルトイレは本日搬入しました。",
            d.day(9),
            d.day(10)
        ),
        &[To::Org(Site::Midori), station, To::Org(Site::Aoba)],
    );
    c.write(
        TAKAHASHI,
        Vit { t: 36.9, p: 90, bp: (102, 60), rr: 20, spo2: 93, pain: 2 }.note(format!("{} 安静時", d.day(9))),
    );
    c.write(
        TAKAHASHI,
        nursing(format!(
            "{} 訪問。疼痛は安静時 NRS 2、体動時 4。レスキューは1日1〜2回。\
             食事は粥を2〜3割、水分は600mL程度。尿量やや減少。\n\
             仙骨部の発赤は範囲不変、フィルム材を継続。ご本人「痛みが楽になって、よく眠れる」と話される。",
            d.day(9)
        )),
    );

    // Day 10: the physician's visit and the conference.
    c.write(
        SUZUKI,
        soap(
            "「だんだん食べられなくなってきた。家にいられるのが一番」",
            format!(
                "{} 定期訪問。BP 100/58、P 94、SpO2 92%（室内気）、RR 20。るい痩進行、下腿浮腫2+、腹水軽度。\
                 仙骨部に2×3cmの褥瘡（d1）、悪化なし。",
                d.day(10)
            ),
            "膵体部癌末期。経口摂取の低下と浮腫の進行から、予後は週単位と推定。\
             疼痛はオキシコンチン20mg/日で概ね良好（NRS 2〜4）。",
            "サービス担当者会議でご本人・ご家族の意向（自宅での看取り）とDNARを再確認。\
             内服が難しくなればフェンタニル貼付剤へ切り替える。\
             呼吸困難時の対応（酸素、モルヒネ）を次回までに準備する。",
        ),
    );
    c.message(
        WATANABE,
        format!(
            "{} 担当者会議を受けて：内服が難しくなった場合に備え、フェントステープ1mgの在庫を確保しました。\
             切り替えの際は、オキシコンチンTR錠の最終内服と同時に貼付する予定です。",
            d.day(10)
        ),
        &[To::Person(SUZUKI)],
    );

    // Day 11: drowsier; the family is told what to expect.
    c.write(
        YAMAZAKI,
        Vit { t: 37.4, p: 98, bp: (98, 56), rr: 22, spo2: 91, pain: 3 }.note(format!("{} 訪問時、傾眠傾向", d.day(11))),
    );
    c.write(
        YAMAZAKI,
        nursing(format!(
            "{} 訪問。傾眠傾向が強まり、会話は短い返答のみ。内服は服薬ゼリーでなんとか可能。\
             口腔内乾燥あり、口腔ケアを実施。尿量減少。仙骨部の褥瘡は変化なし。\n\
             長女 美香さんが泊まり込みで介護に加わっている。パンフレットを用いて、\
             これから起こりうる変化（眠る時間が増える、呼吸の変化）をご家族に説明した。",
            d.day(11)
        )),
    );

    // Day 12: fewer tablets.
    c.message(
        WATANABE,
        format!(
            "{} 訪問。嘔気はなく、内服の負担も大きいため、ノバミンの中止をご検討いただけますか。\
             酸化マグネシウムも便の状態から減量できると思います。",
            d.day(12)
        ),
        &[To::Person(SUZUKI)],
    );
    c.message(
        SUZUKI,
        format!("{} ノバミンは本日で中止、酸化マグネシウムは1回1錠に減量します。処方を修正しました。", d.day(12)),
        &[To::Org(Site::Aoba), station],
    );
    c.write(
        SUZUKI,
        meds(vec![
            med("オキシコンチンTR錠10mg", "1回1錠", "内服", "1日2回（8時・20時）", d.date(5), None),
            med("オキノーム散2.5mg", "1回1包", "内服", "疼痛時（1時間あけて追加可）", d.date(1), None),
            med("酸化マグネシウム錠330mg", "1回1錠", "内服", "1日3回 毎食後", d.date(12), None),
            med("ノバミン錠5mg", "1回1錠", "内服", "1日3回 毎食前", d.date(1), Some(d.date(12))),
            med("ランソプラゾールOD錠15mg", "1回1錠", "内服", "1日1回 朝食後", d.date(1), None),
        ]),
    );

    // Day 13 and today.
    c.write(
        TAKAHASHI,
        Vit { t: 37.0, p: 100, bp: (96, 54), rr: 22, spo2: 90, pain: 3 }.note(format!("{} 訪問時", d.day(13))),
    );
    c.write(
        TAKAHASHI,
        nursing(format!(
            "{} 訪問。疼痛の訴えは体位変換時のみ（NRS 3）、表情は穏やか。\
             水分はスプーンで少量ずつ。四肢末梢に冷感あり。仙骨部の褥瘡は悪化なし。\n\
             長男さんより「最期まで家でみたい」との言葉あり。夜間の連絡先を再確認した。",
            d.day(13)
        )),
    );
    c.write(
        SUZUKI,
        soap(
            "（長男）「昨夜は穏やかに眠っていた」",
            format!(
                "{} 定期訪問。JCS I-3、呼びかけに開眼。SpO2 90%、RR 22、四肢末梢に冷感。\
                 内服は困難になりつつある。",
                d.day(14)
            ),
            "終末期。疼痛は緩和されているが、まもなく内服が困難になる。",
            "本日20時のオキシコンチンTR錠の内服と同時にフェントステープ1mgを貼付し、以後オキシコンチンは中止。\
             内服できない時のレスキューはアンペック坐剤5mg。\
             呼吸が止まった時は慌てず当院へ連絡（夜間は当番医の携帯へ）とご家族に説明した。",
        ),
    );
    c.message(
        ITO,
        format!(
            "{} 長男さんが介護休暇を取得されました。ショートステイの予定は取り消し、訪問介護を毎日に増やしています。",
            d.day(14)
        ),
        &[To::Org(Site::Midori), station],
    );
    c
}

// ---------------------------------------------------------------------------------------
// The other patients

/// Who looks after one of the other patients.
#[derive(Debug, Clone, Copy)]
struct Team {
    physician: &'static str,
    /// The nurse who visits most; `second` covers the other days.
    nurse: &'static str,
    second: &'static str,
    care_manager: bool,
    pharmacy: bool,
    palliative_team: bool,
}

/// The team of a patient who has consented and has a home physician and the visiting
/// nurses on the team; None for everyone else.
fn team_of(spec: &PatientSpec, n: usize) -> Option<Team> {
    if !spec.consent {
        return None;
    }
    let on = |site: Site| spec.owner == site || spec.team.iter().any(|(s, _)| *s == site);
    let physician_site = match spec.owner {
        Site::Midori | Site::Sakura => spec.owner,
        _ => spec.team.iter().find(|(_, r)| *r == TeamRole::HomePhysician).map(|(s, _)| *s)?,
    };
    let physician = match physician_site {
        Site::Midori => SUZUKI,
        Site::Sakura => HAYASHI,
        _ => return None,
    };
    if !on(Site::Station) {
        return None;
    }
    let (nurse, second) = if n.is_multiple_of(2) { (TAKAHASHI, YAMAZAKI) } else { (YAMAZAKI, TAKAHASHI) };
    Some(Team {
        physician,
        nurse,
        second,
        care_manager: on(Site::Hidamari),
        pharmacy: on(Site::Aoba),
        palliative_team: spec.team.iter().any(|(s, r)| *s == Site::Hospital && *r == TeamRole::PalliativeCareTeam),
    })
}

/// The course of one of the other patients, told in sentences that need no date.
struct Case {
    /// "female" or "male" when the diagnosis belongs to one sex.
    sex: Option<&'static str>,
    dx: &'static str,
    /// First visit: S, O (findings after the date), A, P.
    s1: &'static str,
    o1: &'static str,
    a1: &'static str,
    p1: &'static str,
    /// Drug, dose, route, frequency.
    meds: &'static [(&'static str, &'static str, &'static str, &'static str)],
    /// The first nursing visit.
    nurse1: &'static str,
    /// The care manager to the nurses.
    cm: &'static str,
    /// The pharmacist to the physician.
    ph: &'static str,
    /// The nurse reports a change to the physician, who answers.
    report: &'static str,
    reply: &'static str,
    /// The nursing visit after the change.
    nurse2: &'static str,
    /// The physician's visit in the second week.
    s2: &'static str,
    a2: &'static str,
    p2: &'static str,
    /// On days 1, 4, 8, 11 and 14.
    spo2: [i64; 5],
    pain: [i64; 5],
    vit_note: &'static str,
}

const CASES: [Case; 10] = [
    Case {
        sex: None,
        dx: "肺腺癌 StageIV（がん性胸膜炎、多発骨転移）",
        s1: "「息が苦しいのは動いた時だけ。家の方が落ち着く」",
        o1: "在宅酸素1L/分（鼻カニュラ）使用中。右呼吸音減弱、胸水貯留を示唆。腰部に叩打痛。下腿浮腫なし。",
        a1: "がん性胸膜炎による労作時の呼吸困難と、腰椎転移による疼痛。",
        p1: "在宅酸素は安静時1L/分・労作時2L/分。オキシコンチンTR錠5mg 1日2回を継続し、\
             疼痛時・呼吸困難時はオキノーム散2.5mg。デキサメタゾンは朝1回で継続。訪問看護は週2回。",
        meds: &[
            ("オキシコンチンTR錠5mg", "1回1錠", "内服", "1日2回（8時・20時）"),
            ("オキノーム散2.5mg", "1回1包", "内服", "疼痛時・呼吸困難時"),
            ("デキサメタゾン錠4mg", "1回1錠", "内服", "1日1回 朝食後"),
            ("酸化マグネシウム錠330mg", "1回1錠", "内服", "1日3回 毎食後"),
            ("ノバミン錠5mg", "1回1錠", "内服", "嘔気時"),
        ],
        nurse1: "酸素濃縮器の扱い、火気厳禁、停電時のボンベへの切り替えをご家族と確認。\
                 トイレ歩行後にSpO2が89%まで低下し、2分の休息で93%に回復。口すぼめ呼吸を指導した。",
        cm: "トイレまでの動線に手すりを付けるため、住宅改修の見積もりを依頼しました。\
             工事までの間はポータブルトイレを使います。設置場所についてご助言ください。",
        ph: "デキサメタゾンの影響か、夕方以降に眠れないとの訴えがあります。\
             内服は朝のままで問題ないか、次回の訪問でご確認いただけますか。",
        report: "夜間の呼吸困難でレスキューを1日2〜3回使用しています。オキノーム散で10分ほどで楽になるとのこと。\
                 酸素は夜間2L/分で使用。",
        reply: "ご報告ありがとうございます。レスキューで対応できているため現行量で継続し、次回訪問時に再評価します。\
                夜間の呼吸困難には、うちわや扇風機で顔に風を当てる方法もお伝えください。",
        nurse2: "呼吸困難は NRS 3程度、会話で息切れあり。腰部の疼痛は体動時に NRS 4。\
                 仙骨部に発赤なし、褥瘡予防にエアマットの導入をケアマネジャーに相談。ご本人「夜に眠れるようになった」。",
        s2: "「夜は前より眠れる。食欲はあまりない」",
        a2: "呼吸困難・疼痛ともにオピオイドで概ね緩和。胸水は緩徐に増加している。",
        p2: "現行処方を継続。胸水が増えて症状が強まる場合は、病院での胸腔穿刺の可否をご本人と相談する。",
        spo2: [93, 92, 93, 92, 91],
        pain: [4, 4, 3, 3, 3],
        vit_note: "酸素1L/分 鼻カニュラ下",
    },
    Case {
        sex: None,
        dx: "S状結腸癌術後再発（肝転移、腹膜播種）",
        s1: "「おなかが張る感じがある。便は少しずつ出ている」",
        o1: "腹部膨満軽度、腸蠕動音やや低下。右季肋部に圧痛。るい痩あり。",
        a1: "腹膜播種による腹部膨満と腹痛、肝転移による右季肋部痛。腸閉塞への進行に注意。",
        p1: "フェントステープ1mgを継続（毎日同じ時刻に貼り替え）。レスキューはオキノーム散2.5mg。\
             嘔吐が続く、排便・排ガスが止まった時はすぐ連絡するよう説明。",
        meds: &[
            ("フェントステープ1mg", "1回1枚", "貼付", "1日1回（18時に貼り替え）"),
            ("オキノーム散2.5mg", "1回1包", "内服", "疼痛時"),
            ("ノバミン錠5mg", "1回1錠", "内服", "1日3回 毎食前"),
            ("ピコスルファートナトリウム内用液0.75%", "1回10滴", "内服", "就寝前"),
        ],
        nurse1: "フェントステープの貼り替え（毎日18時、胸部と上腕で場所を変える）をご家族と確認、貼付部位に発赤なし。\
                 腹囲78cm。排便は2日前、排ガスあり。疼痛 NRS 5。",
        cm: "ご家族の介護負担を軽くするため、訪問入浴を週1回（火曜）で追加しました。\
             入浴の可否の目安を訪問看護から教えていただけますか。",
        ph: "使用済みのフェントステープは粘着面を内側に折って保管し、薬局へお持ちいただくよう説明しました。\
             入浴時は貼付部位をこすらないようお伝えしています。",
        report: "本日、嘔吐が1回ありました。排ガスはあり、腹痛は NRS 5。ノバミンは内服できています。",
        reply: "ありがとうございます。排ガスがあるので経過観察とし、明日臨時で往診します。\
                嘔吐が続く場合は夜間でも当番医に連絡してください。",
        nurse2: "嘔吐なく経過。腹痛は安静時 NRS 3、腹部の張る時に NRS 5程度で、レスキューで軽減。腹囲80cm。\
                 食事は汁物を中心に少量ずつ。仙骨部の皮膚に異常なし。",
        s2: "「少しずつなら食べられる。おなかの張りには波がある」",
        a2: "腹膜播種による亜イレウスが疑われるが、排便・排ガスは保たれている。疼痛はフェンタニルで概ね緩和。",
        p2: "現行処方を継続。腸閉塞の症状が強まれば、オクトレオチドの持続皮下注を検討する。食事は少量頻回で。",
        spo2: [96, 95, 95, 94, 94],
        pain: [5, 5, 4, 3, 4],
        vit_note: "",
    },
    Case {
        sex: None,
        dx: "胃癌（腹膜播種、がん性腹水）",
        s1: "「食べるとすぐにおなかがいっぱいになる」",
        o1: "腹部膨満あり、波動を触知（腹水）。心窩部に圧痛。眼瞼結膜やや蒼白。",
        a1: "腹膜播種・がん性腹水による腹部膨満感と心窩部痛。",
        p1: "ナルサス錠2mg 1日1回を継続、レスキューはナルラピド錠1mg。\
             腹水による苦痛が強まれば、外来での腹水穿刺を病院と相談する。",
        meds: &[
            ("ナルサス錠2mg", "1回1錠", "内服", "1日1回 朝"),
            ("ナルラピド錠1mg", "1回1錠", "内服", "疼痛時"),
            ("ノバミン錠5mg", "1回1錠", "内服", "嘔気時"),
            ("酸化マグネシウム錠330mg", "1回1錠", "内服", "1日2回 朝夕食後"),
            ("ランソプラゾールOD錠15mg", "1回1錠", "内服", "1日1回 朝食後"),
        ],
        nurse1: "腹囲82cm、腹部の緊満感あり。食事は1回量を減らし、1日5回に分けることを提案。\
                 疼痛は NRS 4、レスキューは1日1回。下肢のむくみ軽度。",
        cm: "介護保険の区分変更を申請しました。認定調査は来週の予定で、それまでは暫定のケアプランで調整します。\
             訪問看護の回数はこのままでよろしいでしょうか。",
        ph: "ナルラピドの使用は1日1〜2回です。便秘傾向のため、酸化マグネシウムの増量をご検討いただけますか。",
        report: "腹囲が1週間で4cm増えています（86cm）。おなかの張りで横になるのがつらいとのこと。疼痛は NRS 5。",
        reply: "病院の消化器内科と相談し、日帰りでの腹水穿刺の日程を調整します。\
                それまではギャッチアップで楽な姿勢を工夫してください。",
        nurse2: "腹水穿刺（2,000mL）の翌日。おなかの張りが軽くなり「息がしやすい」と。疼痛は NRS 3。\
                 血圧の低下なし、穿刺部からの漏れなし。",
        s2: "「水を抜いてもらって楽になった」",
        a2: "がん性腹水は穿刺で一時的に改善。再貯留が予想される。",
        p2: "再貯留時は再度の穿刺、または腹水濾過濃縮再静注法（CART）を病院と相談する。ナルサスは現行量で継続。",
        spo2: [95, 95, 94, 95, 94],
        pain: [4, 5, 3, 3, 3],
        vit_note: "",
    },
    Case {
        sex: Some("male"),
        dx: "前立腺癌（去勢抵抗性、多発骨転移）",
        s1: "「腰と右の太ももが痛む。歩くのがこわい」",
        o1: "腰椎・右大腿部に叩打痛。下肢筋力の低下（MMT 4）、膀胱直腸障害なし。",
        a1: "多発骨転移による骨痛。病的骨折・脊髄圧迫のリスクあり。",
        p1: "オキシコンチンTR錠10mg 1日2回とロキソプロフェンを継続。\
             下肢のしびれや脱力、排尿の障害が出たら、すぐ連絡するよう説明（脊髄圧迫の徴候）。",
        meds: &[
            ("オキシコンチンTR錠10mg", "1回1錠", "内服", "1日2回（8時・20時）"),
            ("オキノーム散5mg", "1回1包", "内服", "疼痛時"),
            ("ロキソプロフェン錠60mg", "1回1錠", "内服", "1日3回 毎食後"),
            ("レバミピド錠100mg", "1回1錠", "内服", "1日3回 毎食後"),
            ("酸化マグネシウム錠330mg", "1回2錠", "内服", "1日2回 朝夕食後"),
        ],
        nurse1: "移動は歩行器で見守り。転倒予防のため、寝室からトイレまでの物を片付け、夜間の足元灯を提案した。\
                 疼痛 NRS 5、体動時に増強。下肢のしびれなし。",
        cm: "歩行器をレンタルで導入しました。転倒のリスクを踏まえ、訪問看護ステーションの作業療法士によるリハビリの\
             追加を検討しています。ご意見をください。",
        ph: "ロキソプロフェンを長く内服されているため、胃の症状と腎機能に注意が必要です。\
             次回の採血で腎機能の確認をお願いします。",
        report: "右大腿部の疼痛が増強し NRS 7。レスキューを1日4回使用しています。下肢の脱力・しびれはありません。",
        reply: "ご報告ありがとうございます。明日往診します。病的骨折を除外するため病院でのX線検査を手配し、\
                緩和照射を泌尿器科と相談します。",
        nurse2: "病院で右大腿骨への緩和照射（8Gy 1回）を受けた後、疼痛は NRS 3〜4に軽減。レスキューは1日1回。\
                 歩行器での移動を継続。",
        s2: "「放射線のあと、痛みがだいぶ楽になった」",
        a2: "右大腿骨転移の疼痛は緩和照射で改善。",
        p2: "オピオイドは現行量で継続し、眠気が出れば減量を検討する。骨修飾薬の継続は病院の泌尿器科と相談。",
        spo2: [96, 95, 96, 95, 95],
        pain: [5, 6, 4, 3, 3],
        vit_note: "",
    },
    Case {
        sex: Some("female"),
        dx: "乳癌（骨転移、肺転移）",
        s1: "「背中が痛い。咳が時々出る」",
        o1: "胸椎に叩打痛。両下肺野で呼吸音やや減弱。左前胸部の手術創に異常なし。",
        a1: "胸椎転移による背部痛、肺転移による咳嗽と軽度の呼吸困難。",
        p1: "オキシコンチンTR錠5mg 1日2回とセレコックスを継続。咳がつらい時もオキノーム散のレスキューで対応する。",
        meds: &[
            ("オキシコンチンTR錠5mg", "1回1錠", "内服", "1日2回（8時・20時）"),
            ("オキノーム散2.5mg", "1回1包", "内服", "疼痛時・咳嗽時"),
            ("セレコックス錠100mg", "1回1錠", "内服", "1日2回 朝夕食後"),
            ("酸化マグネシウム錠330mg", "1回1錠", "内服", "1日3回 毎食後"),
            ("ノバミン錠5mg", "1回1錠", "内服", "嘔気時"),
        ],
        nurse1: "背部痛 NRS 4、咳で増強。咳の時は前かがみの姿勢で楽になる。\
                 ご家族にレスキューの使用記録をお願いした。",
        cm: "自宅で洗髪とカットができる訪問美容の希望があり、業者を手配しました。\
             ご本人がとても楽しみにされています。実施の際の体調の目安を教えてください。",
        ph: "セレコックスとオキシコンチンの併用は問題ありません。錠剤が大きく飲みにくいとのことですが、\
             オキシコンチンTR錠は割ったり噛んだりせずに服用するよう再度説明しました。",
        report: "咳が増えて夜間に眠れないとのことです。SpO2 92%、発熱なし。レスキューは1日3回。",
        reply: "ありがとうございます。明日訪問し、ステロイド（ベタメタゾン）の追加を検討します。",
        nurse2: "ベタメタゾン開始後、咳は減り夜間も眠れている。食欲も少し戻り、朝食は半分程度。\
                 背部痛 NRS 3。口腔カンジダなし。",
        s2: "「咳が減って眠れるようになった」",
        a2: "肺転移による咳嗽はステロイドで改善。背部痛は現行量で緩和されている。",
        p2: "ベタメタゾン1mg 朝1回を継続し、高血糖と口腔カンジダに注意する。",
        spo2: [95, 94, 92, 93, 93],
        pain: [4, 4, 3, 3, 2],
        vit_note: "",
    },
    Case {
        sex: None,
        dx: "肝細胞癌（C型肝硬変、腹水、黄疸）",
        s1: "「だるい。足がむくんで重い」",
        o1: "眼球結膜に黄染、腹水貯留、両下腿浮腫2+。羽ばたき振戦なし。",
        a1: "肝細胞癌末期、肝不全が進行している。肝性脳症に注意。",
        p1: "右季肋部痛は NRS 3〜4。肝機能を考え、ヒドロモルフォン（ナルサス）少量で継続。\
             ラクツロースで便通を保ち、意識の変化があれば連絡をもらう。",
        meds: &[
            ("ナルサス錠2mg", "1回1錠", "内服", "1日1回 朝"),
            ("ナルラピド錠1mg", "1回1錠", "内服", "疼痛時"),
            ("ラクツロースシロップ65%", "1回10mL", "内服", "1日3回 毎食後"),
            ("スピロノラクトン錠25mg", "1回1錠", "内服", "1日1回 朝食後"),
            ("フロセミド錠20mg", "1回1錠", "内服", "1日1回 朝食後"),
        ],
        nurse1: "体重は前回比+1.2kg、腹囲88cm。排便は1日2回の軟便を維持。昼夜逆転なし、見当識良好。\
                 皮膚のかゆみあり、保湿剤を塗布した。",
        cm: "主介護者のご家族の腰痛が悪化しているため、訪問介護（身体介護）を朝夕の1日2回に増やしました。\
             移乗の方法について訪問看護からご助言ください。",
        ph: "ラクツロースは甘みが強く飲みにくいとのことで、冷やして飲む方法をお伝えしました。\
             排便回数の記録表をお渡ししています。",
        report: "本日、日中の傾眠とつじつまの合わない発言がありました。排便は2日ありません。羽ばたき振戦が軽度あり。",
        reply: "肝性脳症の可能性があります。本日夕方に往診し、浣腸とラクツロースの増量を行います。\
                ご家族には転倒に気をつけるようお伝えください。",
        nurse2: "往診後に排便あり。傾眠は改善し、会話のつじつまも合っている。右季肋部痛 NRS 3。\
                 黄疸は前回と同程度、下腿浮腫2+。",
        s2: "「頭がすっきりした」",
        a2: "便秘を誘因とした肝性脳症は排便コントロールで改善。肝不全は緩徐に進行している。",
        p2: "ラクツロースを1回15mLへ増量。排便が1日1回未満なら連絡をもらう。今後の急変の可能性をご家族に説明した。",
        spo2: [95, 95, 94, 94, 93],
        pain: [3, 4, 3, 3, 2],
        vit_note: "",
    },
    Case {
        sex: None,
        dx: "肝門部胆管癌（閉塞性黄疸、胆管ステント留置後）",
        s1: "「かゆみがつらい。熱が出ないか心配」",
        o1: "皮膚・眼球結膜に黄染、搔き傷あり。右季肋部に軽度の圧痛。",
        a1: "胆管癌、胆管ステント留置後。ステント閉塞による胆管炎に注意。",
        p1: "38℃以上の発熱や悪寒戦慄があれば夜間でも連絡するよう説明（胆管炎を疑い、病院への搬送を相談）。\
             オキシコンチンTR錠5mg 1日2回を継続。",
        meds: &[
            ("オキシコンチンTR錠5mg", "1回1錠", "内服", "1日2回（8時・20時）"),
            ("オキノーム散2.5mg", "1回1包", "内服", "疼痛時"),
            ("ウルソデオキシコール酸錠100mg", "1回2錠", "内服", "1日3回 毎食後"),
            ("酸化マグネシウム錠330mg", "1回1錠", "内服", "1日3回 毎食後"),
            ("ヘパリン類似物質ローション0.3%", "適量", "外用", "1日2回 かゆみのある部位"),
        ],
        nurse1: "全身にかゆみあり。爪を短く切り、入浴後の保湿を指導。発熱時の連絡方法と体温の記録をご家族と確認した。\
                 疼痛 NRS 3。",
        cm: "かゆみで夜眠れず、ご家族も疲れているとのこと。ショートステイの利用についてご本人と相談を始めています。\
             医療面で注意することがあれば教えてください。",
        ph: "ウルソの内服は続けられています。かゆみに使うローションの使用量が多いため、\
             次回の処方で本数を増やしていただけますか。",
        report: "本日37.8℃の発熱があり、悪寒はありません。黄疸の増強はなし。右季肋部痛 NRS 4。",
        reply: "ありがとうございます。今夕往診し、採血と抗菌薬の内服を開始します。\
                悪寒戦慄や38.5℃以上の発熱があれば、病院への搬送を検討します。",
        nurse2: "抗菌薬の内服後に解熱（36.8℃）。悪寒なし、食事はいつもどおり3割程度。\
                 かゆみは保湿の継続でやや軽減。疼痛 NRS 3。",
        s2: "「熱が下がってほっとした」",
        a2: "軽い胆管炎の疑いは内服抗菌薬で改善。ステント閉塞の徴候は今のところない。",
        p2: "抗菌薬は7日間で終了。再び発熱した時は、病院の消化器内科でステント交換の適応を相談する。",
        spo2: [96, 95, 95, 95, 94],
        pain: [3, 3, 3, 3, 2],
        vit_note: "",
    },
    Case {
        sex: None,
        dx: "膀胱癌（骨盤内再発、血尿）",
        s1: "「下腹部が重い。おしっこに血が混じる」",
        o1: "下腹部に圧痛、尿道カテーテル留置中（淡血性尿）。仙骨部に発赤なし。",
        a1: "骨盤内再発による下腹部痛・会陰部痛と血尿。カテーテル閉塞に注意。",
        p1: "フェントステープ2mgを継続。血尿が濃くなった時、尿が出なくなった時は連絡を。膀胱洗浄は訪問看護で対応。",
        meds: &[
            ("フェントステープ2mg", "1回1枚", "貼付", "1日1回（朝に貼り替え）"),
            ("オキノーム散5mg", "1回1包", "内服", "疼痛時"),
            ("酸化マグネシウム錠330mg", "1回1錠", "内服", "1日3回 毎食後"),
            ("ブチルスコポラミン臭化物錠10mg", "1回1錠", "内服", "膀胱の痛み（けいれん）時"),
        ],
        nurse1: "尿道カテーテルの管理（固定の位置、蓄尿バッグを膀胱より低く）をご家族に説明。淡血性尿、凝血塊なし。\
                 会陰部痛 NRS 5。",
        cm: "カテーテル管理の負担を考え、訪問看護を週3回に増やすケアプランへ変更しました（区分支給限度額内）。\
             ご確認ください。",
        ph: "フェントステープは熱で吸収が増えるため、入浴はぬるめのお湯で、貼付部位を温めないよう説明しました。",
        report: "血尿が濃くなり、凝血塊でカテーテルが一時閉塞しました。膀胱洗浄で開通し、現在は淡血性。\
                 下腹部痛 NRS 6。",
        reply: "ありがとうございます。止血剤（トラネキサム酸）を処方します。\
                閉塞を繰り返すようなら、3wayカテーテルへの交換を検討します。",
        nurse2: "トラネキサム酸の開始後、血尿は淡血性で凝血塊なし。カテーテル閉塞なし。下腹部痛 NRS 4、レスキュー1日2回。\
                 仙骨部に発赤あり、褥瘡予防のため2時間ごとの体位変換をご家族と確認。",
        s2: "「血の色が薄くなって安心した」",
        a2: "骨盤内再発による血尿は止血剤で落ち着いている。疼痛はレスキューの併用で緩和。",
        p2: "現行処方を継続。疼痛が続く場合はフェントステープの増量（3mg）を検討する。",
        spo2: [95, 95, 94, 94, 94],
        pain: [5, 5, 4, 4, 3],
        vit_note: "",
    },
    Case {
        sex: None,
        dx: "慢性心不全 終末期（NYHA IV度）",
        s1: "「横になると苦しい。足が重い」",
        o1: "起坐呼吸あり、両下肺で湿性ラ音を聴取。頸静脈怒張、両下腿浮腫3+。",
        a1: "重症心不全の終末期。呼吸困難の緩和が中心。",
        p1: "利尿薬を継続し、体重を毎朝記録。呼吸困難時はオプソ内服液5mgを使用（少量のモルヒネ）。\
             再入院はせず自宅で過ごしたいとのご意向を確認した。",
        meds: &[
            ("フロセミド錠40mg", "1回1錠", "内服", "1日1回 朝食後"),
            ("スピロノラクトン錠25mg", "1回1錠", "内服", "1日1回 朝食後"),
            ("ビソプロロール錠0.625mg", "1回1錠", "内服", "1日1回 朝食後"),
            ("オプソ内服液5mg", "1回1包", "内服", "呼吸困難時"),
            ("酸化マグネシウム錠330mg", "1回1錠", "内服", "1日2回 朝夕食後"),
        ],
        nurse1: "毎朝の体重測定と記録表をご家族と確認（本日52.4kg）。塩分と水分の制限（1日1,000mL）を説明。\
                 ギャッチアップ45度で呼吸が楽とのこと。",
        cm: "電動ベッドを導入し、ギャッチアップができるようにしました。入浴は訪問入浴に切り替えています。\
             入浴時の注意点を教えてください。",
        ph: "オプソ内服液は呼吸困難時に1日2回ほど使われています。眠気やふらつきに注意するよう、ご家族に説明しました。",
        report: "体重が3日で1.5kg増えています（53.9kg）。下腿浮腫が増強し、夜間の呼吸困難でオプソを2回使用。",
        reply: "ありがとうございます。フロセミドを明日から1日60mgに増量します。尿量と体重の記録を続けてください。",
        nurse2: "フロセミド増量後、体重は52.6kgまで減少。夜間の呼吸困難は軽くなり、オプソの使用は1日1回。\
                 口渇の訴えあり、氷片を少しずつ。",
        s2: "「夜に起きる回数が減った」",
        a2: "うっ血の増悪は利尿薬の増量で改善。終末期心不全として症状緩和を続ける。",
        p2: "体重の目安を52〜53kgとし、超えたら連絡をもらう。呼吸困難が続く場合はモルヒネの定時投与を検討する。",
        spo2: [93, 92, 91, 93, 92],
        pain: [2, 2, 3, 2, 2],
        vit_note: "",
    },
    Case {
        sex: None,
        dx: "食道癌（通過障害、胃瘻造設後）",
        s1: "「唾を飲み込むのもつらい時がある」",
        o1: "胃瘻の刺入部に発赤・滲出なし。唾液の喀出が多い。るい痩著明。",
        a1: "食道癌による通過障害。経口摂取は困難で、栄養と薬は胃瘻から。",
        p1: "内服薬は胃瘻から簡易懸濁法で投与。疼痛にはフェントステープ1mg、レスキューはアンペック坐剤5mg。",
        meds: &[
            ("フェントステープ1mg", "1回1枚", "貼付", "1日1回（朝に貼り替え）"),
            ("アンペック坐剤5mg", "1回1個", "直腸内", "疼痛時"),
            ("ランソプラゾールOD錠15mg", "1回1錠", "胃瘻（簡易懸濁）", "1日1回 朝"),
            ("エンシュア・リキッド", "1回250mL", "胃瘻", "1日3回"),
        ],
        nurse1: "胃瘻からの注入の手技（上体を30度以上起こす、注入後30分はそのまま）をご家族と確認。\
                 口腔ケアを実施し、吸引器の使い方を指導。疼痛 NRS 4。",
        cm: "吸引器の購入手続き（身体障害者手帳の申請）についてご家族に説明しました。\
             手続きが済むまで、ステーションの貸出機をお借りできますか。",
        ph: "簡易懸濁法で投与できない薬はありません。ランソプラゾールOD錠はお湯に溶かしてから注入するよう説明しました。",
        report: "アンペック坐剤の使用が1日3回に増えています。疼痛は NRS 5〜6、主に胸骨の裏の痛み。",
        reply: "ありがとうございます。明日からフェントステープを2mgに増量します。坐剤は5mgのまま様子をみてください。",
        nurse2: "フェントステープ2mgへの増量後、胸骨の裏の疼痛は NRS 3。坐剤の使用は1日1回。傾眠なし、呼吸数16回/分。\
                 胃瘻の刺入部に問題なし。",
        s2: "「痛みが軽くなって、少し眠れるようになった」",
        a2: "疼痛はフェンタニルの増量で改善。通過障害は進行しており、唾液の処理が課題。",
        p2: "現行処方を継続。唾液が多くつらい時は、ブチルスコポラミンの皮下注を検討する。",
        spo2: [95, 95, 94, 94, 93],
        pain: [4, 5, 3, 3, 3],
        vit_note: "",
    },
];

/// Temperature, pulse, blood pressure and breathing on the five days a vital-signs
/// entry is written; `shift` varies them between patients.
fn vitals(case: &Case, shift: usize) -> anyhow::Result<Vec<Vit>> {
    const T: [f64; 7] = [36.6, 36.8, 36.5, 36.9, 36.7, 37.1, 36.6];
    const P: [i64; 7] = [82, 86, 78, 90, 84, 88, 80];
    const BP: [(i64, i64); 7] = [(118, 70), (112, 66), (124, 72), (108, 64), (116, 68), (104, 60), (120, 74)];
    const RR: [i64; 4] = [18, 16, 20, 18];
    let mut out = Vec::new();
    for (slot, (spo2, pain)) in case.spo2.iter().zip(case.pain.iter()).enumerate() {
        let k = slot + shift;
        out.push(Vit {
            t: pick(&T, k)?,
            p: pick(&P, k * 3)?,
            bp: pick(&BP, k * 2)?,
            rr: pick(&RR, k)?,
            spo2: *spo2,
            pain: *pain,
        });
    }
    Ok(out)
}

fn other_course(case: &Case, team: Team, d: &Days, shift: usize) -> anyhow::Result<Course> {
    let mut c = Course::default();
    let v = vitals(case, shift)?;
    let vit = |slot: usize| v.get(slot).copied().context("vital signs slot");
    let vit_note = |n: i64| {
        if case.vit_note.is_empty() {
            format!("{} 訪問時", d.day(n))
        } else {
            format!("{} 訪問時、{}", d.day(n), case.vit_note)
        }
    };
    let (doctor, nurse, second) = (team.physician, team.nurse, team.second);

    c.write(
        doctor,
        soap(case.s1, format!("{} 初回訪問。{}", d.day(1), case.o1), format!("{}。{}", case.dx, case.a1), case.p1),
    );
    c.write(
        doctor,
        meds(case.meds.iter().map(|(drug, dose, route, f)| med(drug, dose, route, f, d.date(1), None)).collect()),
    );
    c.write(nurse, vit(0)?.note(vit_note(1)));
    c.write(nurse, nursing(format!("{} 訪問看護 初回訪問。{}", d.day(2), case.nurse1)));
    if team.care_manager {
        c.message(ITO, format!("{} {}", d.day(3), case.cm), &[To::Org(Site::Station)]);
    }
    c.write(second, vit(1)?.note(vit_note(4)));
    if team.pharmacy {
        c.message(WATANABE, format!("{} {}", d.day(5), case.ph), &[To::Person(doctor)]);
    }
    c.message(nurse, format!("{} {}", d.day(6), case.report), &[To::Person(doctor)]);
    c.message(doctor, format!("{} {}", d.day(6), case.reply), &[To::Person(nurse)]);
    c.write(nurse, vit(2)?.note(vit_note(8)));
    c.write(nurse, nursing(format!("{} 訪問。{}", d.day(8), case.nurse2)));
    let v10 = vit(3)?;
    c.write(
        doctor,
        soap(
            case.s2,
            format!(
                "{} 定期訪問。BP {}/{}、P {}、SpO2 {}%、疼痛 NRS {}。",
                d.day(10),
                v10.bp.0,
                v10.bp.1,
                v10.p,
                v10.spo2,
                v10.pain
            ),
            case.a2,
            case.p2,
        ),
    );
    c.write(second, vit(3)?.note(vit_note(11)));
    if team.palliative_team {
        c.write(
            SATO,
            free_note(format!(
                "緩和ケアチームより在宅主治医への助言（{}、電話カンファレンス）\n{}。\
                 現在のオピオイドの量は妥当と考えます。疼痛が再燃した時は、レスキューの使用回数に応じて\
                 ベースを30〜50%増量してください。緩和照射や入院での症状緩和が必要な時は、緩和ケア外来へご連絡ください。",
                d.day(12),
                case.dx
            )),
        );
    }
    let last = vit(4)?;
    c.write(nurse, last.note(vit_note(14)));
    c.write(
        nurse,
        nursing(format!(
            "{} 訪問。状態は概ね安定、疼痛 NRS {}、SpO2 {}%。ご家族より「この2週間で介護に慣れてきた」との声あり。\
             症状が変わった時は24時間対応の番号へ連絡するよう再確認した。",
            d.day(14),
            last.pain,
            last.spo2
        )),
    );
    Ok(c)
}

/// Every chart's course, by the index of the patient in `patients` (山田 花子 is first,
/// as `demo_patients` lists her).
fn plan(patients: &[&PatientSpec], d: &Days) -> anyhow::Result<Vec<(usize, Course)>> {
    let mut out = Vec::new();
    let mut used = [false; CASES.len()];
    for (i, spec) in patients.iter().enumerate() {
        if i == 0 {
            out.push((0, hanako(d)));
            continue;
        }
        if out.len() > OTHER_CHARTS {
            break;
        }
        let Some(team) = team_of(spec, out.len()) else { continue };
        let fits = |c: &Case| c.sex.is_none_or(|s| s == spec.form.sex);
        let Some((k, case)) = CASES.iter().enumerate().find(|(k, c)| !used.get(*k).copied().unwrap_or(true) && fits(c))
        else {
            continue;
        };
        if let Some(u) = used.get_mut(k) {
            *u = true;
        }
        out.push((i, other_course(case, team, d, i)?));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Writing

/// Writes the courses through the store, as the people of the team.
pub(super) struct Pen<'a> {
    pub store: &'a Store,
    pub people: &'a HashMap<&'static str, Principal>,
    pub orgs: &'a HashMap<Site, OrgId>,
    pub ctx: &'a AuditCtx,
}

impl Pen<'_> {
    /// Writes every course; returns how many entries were written.
    pub async fn write_all(&self, charts: &[(&PatientSpec, PatientId)], days: Days) -> anyhow::Result<usize> {
        let specs: Vec<&PatientSpec> = charts.iter().map(|(s, _)| *s).collect();
        let mut n = 0;
        for (i, course) in plan(&specs, &days)? {
            let (spec, pid) = charts.get(i).context("chart of a planned course")?;
            n += self
                .write(*pid, course)
                .await
                .with_context(|| format!("writing the chart of {} {}", spec.form.family_name, spec.form.given_name))?;
        }
        Ok(n)
    }

    async fn write(&self, pid: PatientId, course: Course) -> anyhow::Result<usize> {
        let mut grants: HashMap<&'static str, ChartGrant> = HashMap::new();
        let mut written: HashMap<&'static str, EntryView> = HashMap::new();
        let mut n = 0;
        for step in course.steps {
            let author = step.author();
            if !grants.contains_key(author) {
                let who = self.people.get(author).with_context(|| format!("no demo login {author}"))?;
                let g = self.store.open_chart(who, pid, ChartAction::Write, "entry.create", self.ctx).await?;
                grants.insert(author, g);
            }
            let g = grants.get(author).with_context(|| format!("no grant for {author}"))?;
            match step {
                Step::Write { label, body, mentions, .. } => {
                    let mentions = mentions.iter().map(|t| self.mention(*t)).collect::<anyhow::Result<Vec<_>>>()?;
                    let e = self
                        .store
                        .add_entry(g, body, &mentions, self.ctx)
                        .await
                        .with_context(|| format!("entry by {author}"))?;
                    n += 1;
                    if let Some(l) = label {
                        written.insert(l, e);
                    }
                }
                Step::Correct { label, body, reason, .. } => {
                    let current = written.get(label).with_context(|| format!("no entry {label} to correct"))?;
                    let e = self.store.correct_entry(g, &current.version_id, body, reason, self.ctx).await?;
                    written.insert(label, e);
                }
                Step::EnteredInError { label, reason, .. } => {
                    let current = written.get(label).with_context(|| format!("no entry {label} to mark"))?;
                    self.store.mark_entered_in_error(g, &current.entry_id, reason, self.ctx).await?;
                }
            }
        }
        Ok(n)
    }

    fn mention(&self, to: To) -> anyhow::Result<Mention> {
        Ok(match to {
            To::Person(email) => {
                Mention::User(self.people.get(email).with_context(|| format!("no demo login {email}"))?.user)
            }
            To::Org(site) => Mention::Org(*self.orgs.get(&site).with_context(|| format!("{site:?} was not created"))?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::STAFF;
    use time::macros::date;
    use tsunagu_domain::chart::EntryKind;

    /// The organization of a demo login.
    fn site_of(email: &str) -> Option<Site> {
        STAFF.iter().find(|s| s.email == email).map(|s| s.site)
    }

    fn planned() -> (Vec<PatientSpec>, Vec<(usize, Course)>) {
        let patients = super::super::demo_patients().unwrap();
        let refs: Vec<&PatientSpec> = patients.iter().collect();
        let plan = plan(&refs, &Days::ending(date!(2026 - 11 - 24))).unwrap();
        (patients, plan)
    }

    #[test]
    fn days_end_today_and_read_in_japanese() {
        let d = Days::ending(date!(2026 - 11 - 24));
        assert_eq!(d.date(1), date!(2026 - 11 - 11));
        assert_eq!(d.date(14), date!(2026 - 11 - 24));
        assert_eq!(d.day(1), "11/11（水）");
        assert_eq!(d.day(14), "11/24（火）");
    }

    #[test]
    fn eleven_charts_each_with_its_own_case() {
        let (patients, plan) = planned();
        assert_eq!(plan.len(), 1 + OTHER_CHARTS);
        assert_eq!(plan[0].0, 0);
        assert_eq!(patients[0].form.family_name, "山田");
        let mut dx = std::collections::HashSet::new();
        for (i, course) in &plan {
            let p = &patients[*i];
            assert!(p.consent, "{}", p.form.family_name);
            if *i > 0 {
                // The case's first note names its diagnosis; no two patients share one.
                let Some(Step::Write { body: EntryBody::ProgressNote(n), .. }) = course.steps.first() else {
                    panic!("a course starts with the physician's note")
                };
                assert!(dx.insert(n.assessment.clone().unwrap()));
            }
        }
        for case in &CASES {
            let has_dx = |s: &Step| match s {
                Step::Write { body: EntryBody::ProgressNote(n), .. } => {
                    n.assessment.as_deref().is_some_and(|a| a.starts_with(case.dx))
                }
                _ => false,
            };
            let c = plan.iter().find(|(_, c)| c.steps.iter().any(has_dx));
            let (i, _) = c.unwrap_or_else(|| panic!("no patient has {}", case.dx));
            if let Some(sex) = case.sex {
                assert_eq!(patients[*i].form.sex, sex, "{}", case.dx);
            }
        }
    }

    #[test]
    fn every_step_is_valid_and_done_by_the_team() {
        let (patients, plan) = planned();
        for (i, course) in &plan {
            let p = &patients[*i];
            let on = |site: Site| p.owner == site || p.team.iter().any(|(s, _)| *s == site);
            for step in &course.steps {
                let author = step.author();
                assert!(site_of(author).is_some_and(on), "{author} writes in {}", p.form.family_name);
                let body = match step {
                    Step::Write { body, mentions, .. } => {
                        assert!(mentions.is_empty() || body.kind() == EntryKind::Message);
                        for m in mentions {
                            let site = match m {
                                To::Person(e) => site_of(e).unwrap(),
                                To::Org(s) => *s,
                            };
                            assert!(on(site), "{m:?} is not on the team of {}", p.form.family_name);
                        }
                        body
                    }
                    Step::Correct { body, .. } => body,
                    Step::EnteredInError { .. } => continue,
                };
                let body = body.clone().validate().unwrap_or_else(|e| panic!("{body:?}: {e:?}"));
                if let EntryBody::VitalSigns(v) = &body {
                    assert!((90..=96).contains(&v.spo2.unwrap()), "{v:?}");
                    assert!((2..=7).contains(&v.pain_nrs.unwrap()), "{v:?}");
                }
                if let EntryBody::MedicationList(m) = &body {
                    assert!(m.items.iter().any(|i| i.opioid), "a list without an opioid: {m:?}");
                }
            }
        }
    }

    #[test]
    fn hanako_shows_every_feature() {
        let (_, plan) = planned();
        let steps = &plan[0].1.steps;
        let bodies: Vec<&EntryBody> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Write { body, .. } => Some(body),
                _ => None,
            })
            .collect();
        for k in EntryKind::ALL.into_iter().filter(|k| *k != EntryKind::Document) {
            assert!(bodies.iter().any(|b| b.kind() == k), "no {k:?}");
        }
        let text: String = bodies.iter().map(|b| b.text()).collect::<Vec<_>>().join("\n");
        for word in ["褥瘡", "疼痛", "オキシコンチンTR錠", "オキノーム散", "酸化マグネシウム", "ノバミン"]
        {
            assert!(text.contains(word), "no {word}");
        }
        assert_eq!(steps.iter().filter(|s| matches!(s, Step::Correct { .. })).count(), 1);
        assert_eq!(steps.iter().filter(|s| matches!(s, Step::EnteredInError { .. })).count(), 1);
        let mentioned = steps.iter().filter(|s| matches!(s, Step::Write { mentions, .. } if !mentions.is_empty()));
        let authors: std::collections::HashSet<_> = mentioned.map(|s| s.author()).collect();
        assert!(authors.contains(ITO) && authors.contains(WATANABE), "{authors:?}");
        assert!(bodies.len() >= 30, "{}", bodies.len());
    }
}
