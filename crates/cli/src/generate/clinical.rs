//! What the synthetic charts say: our own fragments of Japanese clinical prose (home and
//! palliative care), drugs, lab tests and the text of referral letters, combined at
//! random into notes that read like the ones a team writes. Invented for tsunagu; no
//! real record was used.

use tsunagu_domain::chart::DocumentType as D;

/// Diagnoses of patients cared for at home, with whether they are cancers.
pub const DIAGNOSES: &[(&str, bool)] = &[
    ("膵臓がん（多発肝転移）", true),
    ("肺がん（骨転移）", true),
    ("胃がん術後再発", true),
    ("大腸がん（腹膜播種）", true),
    ("乳がん（多発骨転移）", true),
    ("前立腺がん（骨転移）", true),
    ("胆管がん", true),
    ("肝細胞がん", true),
    ("卵巣がん（がん性腹膜炎）", true),
    ("慢性心不全", false),
    ("COPD（在宅酸素療法中）", false),
    ("アルツハイマー型認知症", false),
    ("脳梗塞後遺症（右片麻痺）", false),
    ("パーキンソン病", false),
    ("慢性腎臓病（ステージ4）", false),
    ("筋萎縮性側索硬化症", false),
    ("誤嚥性肺炎後の廃用症候群", false),
    ("大腿骨頸部骨折術後", false),
];

pub const SUBJECTIVE: &[&str] = &[
    "「痛みは前回より楽になった」と話す。",
    "夜間に腰の痛みで目が覚めることがある。",
    "食事は半分ほど摂れている。",
    "息苦しさは横になると少し楽になるとのこと。",
    "3日間排便がなく、お腹が張ると訴えあり。",
    "眠気が強く、日中もうとうとしている。",
    "家族より「最近むせることが増えた」と相談あり。",
    "本人「家で過ごせてうれしい」。",
    "口の渇きを訴える。",
    "足のむくみが気になるとのこと。",
    "特に困っていることはないと話す。",
    "吐き気はおさまっている。",
    "「孫の結婚式までは頑張りたい」と話す。",
    "レスキューは昨日2回使用したとのこと。",
];

pub const OBJECTIVE: &[&str] = &[
    "意識清明、会話は良好。",
    "腹部やや膨満、腸蠕動音は減弱。圧痛なし。",
    "両下腿に圧痕性浮腫あり。",
    "仙骨部に発赤なし。",
    "呼吸音は右下肺野でやや減弱。",
    "口腔内乾燥あり、舌苔軽度。",
    "体重は前回より1kg減少。",
    "黄疸の進行なし。",
    "顔色良好、表情は穏やか。",
    "喘鳴なし、努力呼吸なし。",
    "四肢冷感なし。",
];

pub const ASSESSMENT: &[&str] = &[
    "がん性疼痛は現行の鎮痛薬でおおむねコントロールされている。",
    "便秘はオピオイドによるものと考える。",
    "心不全の増悪は認めない。",
    "嚥下機能の低下があり、誤嚥のリスクが高まっている。",
    "全身状態は緩やかに低下している。",
    "経口摂取量の低下により脱水傾向あり。",
    "せん妄の兆候は認めない。",
    "症状は安定しており、在宅療養の継続は可能。",
];

pub const PLAN: &[&str] = &[
    "現在の処方を継続。",
    "酸化マグネシウムを増量し、排便状況を訪問看護で確認していただく。",
    "レスキュー薬の使用回数を記録してもらう。",
    "次回訪問は1週間後。",
    "食形態の変更について訪問看護・ケアマネジャーと相談する。",
    "家族へ今後予想される経過を説明した。",
    "急変時は当院へ連絡するよう再確認した。",
    "補液500mLを週2回開始する。",
    "訪問歯科の導入を提案する。",
];

/// Free-text notes of pharmacists (居宅療養管理指導) and care managers (支援経過).
pub const PHARMACY_NOTES: &[&str] = &[
    "居宅療養管理指導で訪問。残薬を確認したところ、夕食後の薬の飲み忘れが数回あった。お薬カレンダーを導入し、家族に管理方法を説明した。",
    "オピオイド開始後の副作用を確認。便秘と眠気の訴えあり。下剤の使用状況を聞き取り、主治医に情報提供した。",
    "一包化の希望あり。次回処方から一包化で調剤する。麻薬の保管と廃棄方法について家族に説明した。",
    "嚥下困難のため、散剤への変更を主治医に提案した。服薬ゼリーの使い方を説明。",
];

pub const CARE_MANAGER_NOTES: &[&str] = &[
    "モニタリング訪問。本人・長女と面談。デイサービスの利用を週2回から3回に増やしたいとの希望あり。サービス担当者会議を調整する。",
    "介護ベッドと床ずれ防止マットのレンタルを手配した。明日納品予定。",
    "区分変更申請を行った。認定調査の日程を家族と調整中。",
    "ショートステイの利用について家族と相談。介護者の休息のため月1回の利用を計画する。",
    "訪問入浴の導入について家族の了承を得た。事業所と初回日程を調整した。",
];

pub const NURSE_STATE: &[&str] = &[
    "訪問時、ベッド上で休まれていた。",
    "訪問時、居間で座って過ごされていた。",
    "表情穏やかで会話あり。",
    "やや倦怠感の訴えあり。",
    "傾眠傾向だが呼びかけには開眼する。",
    "昨夜はよく眠れたとのこと。",
];

pub const NURSE_CARE: &[&str] = &[
    "全身清拭と陰部洗浄を実施。",
    "摘便を行い、中等量の排便あり。",
    "足浴を行い、下肢のマッサージを実施。",
    "仙骨部の皮膚状態を観察し、保湿剤を塗布した。",
    "1週間分の内服薬をセットした。",
    "入浴介助を実施、皮膚トラブルなし。",
    "口腔ケアを実施。",
    "吸引を行い、痰は少量で白色。",
    "点滴の刺入部を確認、発赤・腫脹なし。",
    "体位変換の方法を家族と確認した。",
    "疼痛の程度を確認し、レスキューの使い方を再度説明した。",
];

pub const NURSE_FAMILY: &[&str] = &[
    "家族の介護負担感は強くない様子。",
    "長女が毎日来て様子を見ている。",
    "妻に疲れが見られ、レスパイトについて話をした。",
    "家族は在宅での看取りを希望されている。",
    "介護者の睡眠が確保できているか確認した。",
];

pub const NURSE_PLAN: &[&str] = &[
    "次回も排便状況を確認する。",
    "主治医に報告済み。",
    "褥瘡予防のためエアマットの導入を検討する。",
    "引き続き経過観察とする。",
    "夜間の連絡方法を家族と再確認した。",
];

pub const VITALS_NOTES: &[&str] = &["訪問時測定", "入浴前", "夜間に37.8℃の発熱あり", "安静時", "食後", "吸引後"];

pub const MESSAGES: &[&str] = &[
    "本日の訪問で下肢の浮腫が増えていました。利尿薬の調整についてご検討いただけますか。",
    "レスキューの使用が1日4回に増えています。ベース量の見直しをお願いします。",
    "来週月曜日にサービス担当者会議を予定しています。ご都合いかがでしょうか。",
    "処方変更の件、承知しました。明日お届けします。",
    "ご家族から夜間の連絡先について質問がありました。当番表を共有します。",
    "来月からショートステイの利用を予定しています。",
    "退院後初回の訪問を本日行いました。状態は安定しています。",
    "食事量が減っており、栄養補助食品の追加を提案します。",
    "ご本人が自宅での最期を希望されていることを改めて確認しました。",
    "褥瘡は改善傾向です。現在のケアを継続します。",
    "次回の往診日を木曜日に変更させていただきます。",
    "訪問入浴の導入について、ご家族の了承が得られました。",
    "昨夜、呼吸が苦しいと連絡があり臨時訪問しました。酸素流量を2Lに上げて落ち着いています。",
];

pub const GREETINGS: &[&str] = &["いつもお世話になっております。", "お疲れさまです。", ""];
pub const CLOSINGS: &[&str] = &["よろしくお願いいたします。", "ご確認ください。", ""];

pub const CORRECTION_REASONS: &[&str] = &["誤記の修正", "数値の転記ミスを修正", "記載漏れの追記"];
pub const CORRECTION_ADDITIONS: &[&str] =
    &["（追記）家族にも同様に説明した。", "（追記）主治医へ電話で報告済み。", "（訂正）前回記載の日付を訂正。"];
pub const ERROR_REASONS: &[&str] = &["別の患者のカルテに記載すべき内容だったため", "同じ内容を二重に記載したため"];

/// One line of a medication list: drug, dose, route, frequency.
pub type Drug = (&'static str, &'static str, &'static str, &'static str);

pub const DRUGS: &[Drug] = &[
    ("オキシコドン徐放錠 10mg", "1回1錠", "内服", "1日2回 12時間ごと"),
    ("オキノーム散 2.5mg", "1回1包", "内服", "疼痛時"),
    ("フェンタニル貼付剤 1mg", "1枚", "貼付", "1日1回交換"),
    ("モルヒネ塩酸塩注射液 10mg", "0.3mL/時", "持続皮下注", "24時間"),
    ("酸化マグネシウム錠 330mg", "1回2錠", "内服", "1日3回 毎食後"),
    ("センノシド錠 12mg", "1回2錠", "内服", "就寝前"),
    ("ナルデメジン錠 0.2mg", "1錠", "内服", "1日1回"),
    ("アセトアミノフェン錠 500mg", "1回1錠", "内服", "1日4回"),
    ("ロキソプロフェン錠 60mg", "1回1錠", "内服", "1日3回 毎食後"),
    ("レバミピド錠 100mg", "1回1錠", "内服", "1日3回 毎食後"),
    ("ランソプラゾールOD錠 15mg", "1錠", "内服", "1日1回 朝食後"),
    ("フロセミド錠 20mg", "1錠", "内服", "1日1回 朝食後"),
    ("スピロノラクトン錠 25mg", "1錠", "内服", "1日1回 朝食後"),
    ("アムロジピン錠 5mg", "1錠", "内服", "1日1回 朝食後"),
    ("メトクロプラミド錠 5mg", "1回1錠", "内服", "嘔気時"),
    ("デキサメタゾン錠 0.5mg", "1回2錠", "内服", "1日1回 朝"),
    ("ゾルピデム錠 5mg", "1錠", "内服", "不眠時"),
    ("ハロペリドール注 5mg", "0.5アンプル", "皮下注", "不穏時"),
    ("ドネペジル錠 5mg", "1錠", "内服", "1日1回 朝食後"),
    ("ワルファリン錠 1mg", "1回2錠", "内服", "1日1回 夕食後"),
    ("エンシュア・リキッド", "250mL", "内服", "1日2回"),
    ("白色ワセリン", "適量", "外用", "1日2回"),
];

/// Document titles by type; `{}` is filled with a month or a date.
pub const DOCUMENTS: &[(D, &str, &str)] = &[
    (D::DischargeSummary, "退院時サマリー", "discharge_summary"),
    (D::ConferenceSheet, "退院前カンファレンス記録", "conference_sheet"),
    (D::NursingInstruction, "訪問看護指示書", "nursing_instruction"),
    (D::ScannedPaper, "訪問看護報告書", "nursing_report"),
    (D::ScannedPaper, "居宅サービス計画書", "care_plan"),
    (D::ScannedPaper, "介護保険被保険者証（写し）", "insurance_card"),
    (D::LabReport, "検査結果報告書", "lab_report"),
    (D::Other, "お薬手帳（写し）", "medication_notebook"),
    (D::Other, "主治医意見書", "physician_opinion"),
];

pub const DOCUMENT_NOTES: &[&str] = &["原本は当院で保管。", "ご家族より提供。", "前回分との差分を確認済み。", ""];

/// A lab test: code (local), name, unit, reference range, typical value of an ill
/// elderly patient, spread, decimals, and the direction it drifts as illness advances.
#[derive(Debug, Clone, Copy, Default)]
pub struct LabTest {
    pub code: &'static str,
    pub name: &'static str,
    pub unit: &'static str,
    pub low: f64,
    pub high: f64,
    pub typical: f64,
    pub spread: f64,
    pub decimals: u32,
    pub drift: f64,
}

#[allow(clippy::too_many_arguments)]
const fn lab(
    code: &'static str,
    name: &'static str,
    unit: &'static str,
    range: (f64, f64),
    typical: f64,
    spread: f64,
    decimals: u32,
    drift: f64,
) -> LabTest {
    LabTest { code, name, unit, low: range.0, high: range.1, typical, spread, decimals, drift }
}

/// The code system of the synthetic lab codes: HL7 v2's "L" (local codes).
pub const LAB_CODE_SYSTEM: &str = "L";

pub const LAB_TESTS: &[LabTest] = &[
    lab("WBC", "白血球数", "10^3/uL", (3.3, 8.6), 6.8, 2.0, 1, 0.3),
    lab("HGB", "ヘモグロビン", "g/dL", (11.6, 14.8), 11.2, 1.4, 1, -0.15),
    lab("PLT", "血小板数", "10^4/uL", (15.8, 34.8), 21.0, 6.0, 1, -0.2),
    lab("ALB", "アルブミン", "g/dL", (4.1, 5.1), 3.3, 0.5, 1, -0.15),
    lab("CRE", "クレアチニン", "mg/dL", (0.46, 0.79), 0.95, 0.35, 2, 0.2),
    lab("CRP", "CRP", "mg/dL", (0.0, 0.14), 1.2, 1.5, 2, 0.3),
    lab("TP", "総蛋白", "g/dL", (6.6, 8.1), 6.5, 0.6, 1, -0.1),
    lab("AST", "AST", "U/L", (13.0, 30.0), 30.0, 12.0, 0, 0.2),
    lab("ALT", "ALT", "U/L", (7.0, 23.0), 22.0, 10.0, 0, 0.2),
    lab("TBIL", "総ビリルビン", "mg/dL", (0.4, 1.5), 0.9, 0.4, 1, 0.2),
    lab("BUN", "尿素窒素", "mg/dL", (8.0, 20.0), 21.0, 7.0, 1, 0.25),
    lab("NA", "ナトリウム", "mmol/L", (138.0, 145.0), 138.0, 3.0, 0, -0.1),
    lab("K", "カリウム", "mmol/L", (3.6, 4.8), 4.3, 0.4, 1, 0.05),
    lab("GLU", "血糖", "mg/dL", (73.0, 109.0), 112.0, 25.0, 0, 0.0),
    lab("BNP", "BNP", "pg/mL", (0.0, 18.4), 120.0, 90.0, 1, 0.3),
];

/// The tests every panel has (the others are added at random): WBC, HGB, PLT, ALB, CRE, CRP.
pub const LAB_CORE: usize = 6;

/// What a referral asks of each kind of recipient.
pub const PURPOSE_HOME_PHYSICIAN: &str = "在宅療養への移行に伴い、訪問診療をお願いいたします。";
pub const PURPOSE_NURSE: &str = "退院後の訪問看護の導入をお願いいたします。";
pub const PURPOSE_CARE_MANAGER: &str = "介護保険サービスの調整と居宅サービス計画の作成をお願いいたします。";
pub const PURPOSE_PHARMACY: &str = "在宅での服薬管理（居宅療養管理指導）をお願いいたします。";
pub const PURPOSE_HOSPITAL: &str = "症状増悪時の入院受け入れについてご相談いたします。";
pub const PURPOSE_OTHER: &str = "在宅療養の支援についてご相談いたします。";

pub const COURSES: &[&str] = &[
    "化学療法を継続してきたが、全身状態の低下により積極的治療は終了した",
    "入院中に症状緩和を行い、経口摂取は少量ながら可能となった",
    "外来で経過をみてきたが、通院が難しくなってきた",
    "肺炎で入院し、抗菌薬で改善したがADLが低下した",
];

pub const ALLERGIES: &[&str] = &["特記事項なし", "ペニシリン系抗菌薬で発疹", "造影剤で蕁麻疹の既往"];
pub const DEVICES: &[&str] = &["なし", "在宅酸素（安静時1L/分）", "膀胱留置カテーテル", "皮下埋め込み型ポート"];
pub const CARE_POLICIES: &[&str] = &[
    "症状緩和を中心とし、ご本人の希望に沿った在宅療養を支援する。",
    "ご本人・ご家族は自宅での看取りを希望されている。",
    "状態変化時は当院で入院を受け入れる。",
];
pub const ADVANCE_DIRECTIVES: &[&str] =
    &["心肺蘇生は希望されない（DNAR）。", "延命処置については家族と話し合い中。", ""];
pub const NURSE_INSTRUCTIONS: &str =
    "全身状態の観察、疼痛の評価、排便コントロール、褥瘡予防、家族への介護指導をお願いします。";
pub const REPLY_BODIES: &[&str] = &[
    "ご紹介いただきありがとうございました。訪問を開始いたしました。今後ともよろしくお願いいたします。",
    "ご依頼の件、承りました。初回訪問の結果を改めてご報告いたします。",
];
