//! Our own small tables of name parts and places, each with its reading, for the
//! synthetic prefecture. Written by hand for tsunagu (no list was copied): common family
//! names, given names built from a first and a second part as many names of the older
//! generations are, and 18 municipalities of Yamagata prefecture (public facts as far as
//! we know them: name, reading, postal-code prefix, area code, approximate centre and a
//! rough population weight; an error here makes the data less plausible, nothing more).
//! The kana of every name is the concatenation of its parts' readings, so it
//! always matches the kanji.

/// A written form and its reading in katakana.
pub type Part = (&'static str, &'static str);

pub const PREFECTURE: Part = ("山形県", "ヤマガタケン");

/// Family names, roughly most common first (the draw favours the front).
pub const FAMILY: &[Part] = &[
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("斎藤", "サイトウ"),
    ("阿部", "アベ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("菅原", "スガワラ"),
    ("本間", "ホンマ"),
    ("五十嵐", "イガラシ"),
    ("佐々木", "ササキ"),
    ("田中", "タナカ"),
    ("富樫", "トガシ"),
    ("加藤", "カトウ"),
    ("小林", "コバヤシ"),
    ("山口", "ヤマグチ"),
    ("今野", "コンノ"),
    ("後藤", "ゴトウ"),
    ("遠藤", "エンドウ"),
    ("奥山", "オクヤマ"),
    ("石川", "イシカワ"),
    ("菅野", "カンノ"),
    ("長谷川", "ハセガワ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
    ("松本", "マツモト"),
    ("井上", "イノウエ"),
    ("木村", "キムラ"),
    ("林", "ハヤシ"),
    ("清水", "シミズ"),
    ("山崎", "ヤマザキ"),
    ("森", "モリ"),
    ("池田", "イケダ"),
    ("橋本", "ハシモト"),
    ("山下", "ヤマシタ"),
    ("中島", "ナカジマ"),
    ("石井", "イシイ"),
    ("小川", "オガワ"),
    ("前田", "マエダ"),
    ("岡田", "オカダ"),
    ("藤田", "フジタ"),
    ("近藤", "コンドウ"),
    ("村上", "ムラカミ"),
    ("青木", "アオキ"),
    ("坂本", "サカモト"),
    ("福田", "フクダ"),
    ("太田", "オオタ"),
    ("西村", "ニシムラ"),
    ("藤井", "フジイ"),
    ("金子", "カネコ"),
    ("岡本", "オカモト"),
    ("藤原", "フジワラ"),
    ("中野", "ナカノ"),
    ("三浦", "ミウラ"),
    ("原田", "ハラダ"),
    ("中川", "ナカガワ"),
    ("松田", "マツダ"),
    ("竹内", "タケウチ"),
    ("小野", "オノ"),
    ("田村", "タムラ"),
    ("中山", "ナカヤマ"),
    ("和田", "ワダ"),
    ("石田", "イシダ"),
    ("森田", "モリタ"),
    ("上田", "ウエダ"),
    ("原", "ハラ"),
    ("内田", "ウチダ"),
    ("柴田", "シバタ"),
    ("酒井", "サカイ"),
    ("宮崎", "ミヤザキ"),
    ("横山", "ヨコヤマ"),
    ("高木", "タカギ"),
    ("安藤", "アンドウ"),
    ("宮本", "ミヤモト"),
    ("大野", "オオノ"),
    ("小島", "コジマ"),
    ("工藤", "クドウ"),
    ("谷口", "タニグチ"),
    ("今井", "イマイ"),
    ("高田", "タカダ"),
    ("丸山", "マルヤマ"),
    ("増田", "マスダ"),
    ("杉山", "スギヤマ"),
    ("村田", "ムラタ"),
    ("大塚", "オオツカ"),
    ("小山", "コヤマ"),
    ("平野", "ヒラノ"),
    ("佐久間", "サクマ"),
    ("大場", "オオバ"),
    ("庄司", "ショウジ"),
    ("成田", "ナリタ"),
    ("早坂", "ハヤサカ"),
    ("渋谷", "シブヤ"),
    ("石山", "イシヤマ"),
    ("土田", "ツチダ"),
    ("丹野", "タンノ"),
    ("結城", "ユウキ"),
    ("海藤", "カイトウ"),
    ("尾形", "オガタ"),
    ("黒田", "クロダ"),
    ("星川", "ホシカワ"),
    ("大沼", "オオヌマ"),
    ("菊地", "キクチ"),
    ("小松", "コマツ"),
    ("武田", "タケダ"),
    ("荒木", "アラキ"),
    ("白井", "シライ"),
    ("押切", "オシキリ"),
    ("須藤", "スドウ"),
    ("梅津", "ウメツ"),
    ("長南", "チョウナン"),
    ("志田", "シダ"),
    ("新田", "ニッタ"),
    ("高山", "タカヤマ"),
    ("齋藤", "サイトウ"),
    ("須田", "スダ"),
    ("鶴見", "ツルミ"),
];

/// First parts of men's given names of the older generations (a first and a second
/// part with the same kanji or reading are not combined) ...
pub const MALE_FIRST: &[Part] = &[
    ("正", "マサ"),
    ("和", "カズ"),
    ("孝", "タカ"),
    ("義", "ヨシ"),
    ("秀", "ヒデ"),
    ("信", "ノブ"),
    ("光", "ミツ"),
    ("俊", "トシ"),
    ("勝", "カツ"),
    ("清", "キヨ"),
    ("幸", "ユキ"),
    ("昭", "アキ"),
    ("重", "シゲ"),
    ("忠", "タダ"),
    ("武", "タケ"),
    ("英", "ヒデ"),
    ("文", "フミ"),
    ("春", "ハル"),
    ("敏", "トシ"),
];

/// ... and their second parts.
pub const MALE_SECOND: &[Part] = &[
    ("夫", "オ"),
    ("雄", "オ"),
    ("男", "オ"),
    ("一", "カズ"),
    ("治", "ハル"),
    ("之", "ユキ"),
    ("明", "アキ"),
    ("彦", "ヒコ"),
    ("次", "ツグ"),
    ("造", "ゾウ"),
];

/// Men's names of one piece, any generation.
pub const MALE_WHOLE: &[Part] = &[
    ("清", "キヨシ"),
    ("茂", "シゲル"),
    ("勇", "イサム"),
    ("博", "ヒロシ"),
    ("実", "ミノル"),
    ("進", "ススム"),
    ("豊", "ユタカ"),
    ("誠", "マコト"),
    ("隆", "タカシ"),
    ("修", "オサム"),
    ("健一", "ケンイチ"),
    ("一郎", "イチロウ"),
    ("三郎", "サブロウ"),
    ("栄作", "エイサク"),
    ("喜八", "キハチ"),
];

/// Men's names of people born from the 1970s on.
pub const MALE_YOUNG: &[Part] = &[
    ("大輔", "ダイスケ"),
    ("翔太", "ショウタ"),
    ("拓也", "タクヤ"),
    ("健太", "ケンタ"),
    ("直樹", "ナオキ"),
    ("達也", "タツヤ"),
    ("和也", "カズヤ"),
    ("亮", "リョウ"),
    ("悠斗", "ユウト"),
    ("蓮", "レン"),
    ("大翔", "ヒロト"),
    ("颯太", "ソウタ"),
    ("湊", "ミナト"),
    ("樹", "イツキ"),
    ("陽向", "ヒナタ"),
];

/// First parts of women's given names of the older generations ...
pub const FEMALE_FIRST: &[Part] = &[
    ("和", "カズ"),
    ("幸", "サチ"),
    ("節", "セツ"),
    ("久", "ヒサ"),
    ("美智", "ミチ"),
    ("光", "ミツ"),
    ("信", "ノブ"),
    ("敏", "トシ"),
    ("悦", "エツ"),
    ("静", "シズ"),
    ("文", "フミ"),
    ("芳", "ヨシ"),
    ("君", "キミ"),
    ("貞", "サダ"),
    ("照", "テル"),
    ("富", "トミ"),
    ("弘", "ヒロ"),
    ("千", "チ"),
];

/// ... and their second parts, 子 most often.
pub const FEMALE_SECOND: &[(Part, u32)] =
    &[(("子", "コ"), 14), (("江", "エ"), 2), (("代", "ヨ"), 2), (("枝", "エ"), 2)];

/// Women's names of one piece, older generations (some written in katakana, as many
/// women born before the war were registered).
pub const FEMALE_WHOLE: &[Part] = &[
    ("キヨ", "キヨ"),
    ("トメ", "トメ"),
    ("ハル", "ハル"),
    ("ミツ", "ミツ"),
    ("ヨシノ", "ヨシノ"),
    ("花子", "ハナコ"),
    ("京子", "キョウコ"),
    ("洋子", "ヨウコ"),
    ("ちよ", "チヨ"),
    ("みさを", "ミサヲ"),
    ("百合子", "ユリコ"),
    ("美代子", "ミヨコ"),
];

/// Women's names of people born from the 1970s on.
pub const FEMALE_YOUNG: &[Part] = &[
    ("美咲", "ミサキ"),
    ("愛", "アイ"),
    ("彩", "アヤ"),
    ("麻衣", "マイ"),
    ("真由美", "マユミ"),
    ("恵美", "エミ"),
    ("優子", "ユウコ"),
    ("陽菜", "ヒナ"),
    ("結衣", "ユイ"),
    ("葵", "アオイ"),
    ("芽衣", "メイ"),
    ("凛", "リン"),
    ("さくら", "サクラ"),
    ("美月", "ミヅキ"),
    ("彩花", "アヤカ"),
];

/// One municipality: name, reading, the name without 市/町 and its reading (for
/// organization names), postal-code prefix (3 or 5 digits), area code, centre
/// (latitude, longitude) and a population weight (thousands, rounded).
#[derive(Debug, Clone, Copy, Default)]
pub struct City {
    pub name: Part,
    pub stem: Part,
    pub postal: &'static str,
    pub area_code: &'static str,
    pub lat: f64,
    pub lon: f64,
    pub weight: u32,
}

pub const CITIES: &[City] = &[
    City {
        name: ("山形市", "ヤマガタシ"),
        stem: ("山形", "ヤマガタ"),
        postal: "990",
        area_code: "023",
        lat: 38.2554,
        lon: 140.3396,
        weight: 240,
    },
    City {
        name: ("鶴岡市", "ツルオカシ"),
        stem: ("鶴岡", "ツルオカ"),
        postal: "997",
        area_code: "0235",
        lat: 38.7271,
        lon: 139.8266,
        weight: 120,
    },
    City {
        name: ("酒田市", "サカタシ"),
        stem: ("酒田", "サカタ"),
        postal: "998",
        area_code: "0234",
        lat: 38.9144,
        lon: 139.8365,
        weight: 98,
    },
    City {
        name: ("米沢市", "ヨネザワシ"),
        stem: ("米沢", "ヨネザワ"),
        postal: "992",
        area_code: "0238",
        lat: 37.9222,
        lon: 140.1168,
        weight: 76,
    },
    City {
        name: ("天童市", "テンドウシ"),
        stem: ("天童", "テンドウ"),
        postal: "994",
        area_code: "023",
        lat: 38.3622,
        lon: 140.3779,
        weight: 61,
    },
    City {
        name: ("東根市", "ヒガシネシ"),
        stem: ("東根", "ヒガシネ"),
        postal: "99937",
        area_code: "0237",
        lat: 38.4313,
        lon: 140.3910,
        weight: 47,
    },
    City {
        name: ("寒河江市", "サガエシ"),
        stem: ("寒河江", "サガエ"),
        postal: "991",
        area_code: "0237",
        lat: 38.3762,
        lon: 140.2762,
        weight: 40,
    },
    City {
        name: ("新庄市", "シンジョウシ"),
        stem: ("新庄", "シンジョウ"),
        postal: "996",
        area_code: "0233",
        lat: 38.7651,
        lon: 140.3010,
        weight: 33,
    },
    City {
        name: ("南陽市", "ナンヨウシ"),
        stem: ("南陽", "ナンヨウ"),
        postal: "99922",
        area_code: "0238",
        lat: 38.0553,
        lon: 140.1478,
        weight: 30,
    },
    City {
        name: ("上山市", "カミノヤマシ"),
        stem: ("上山", "カミノヤマ"),
        postal: "99931",
        area_code: "023",
        lat: 38.1497,
        lon: 140.2784,
        weight: 29,
    },
    City {
        name: ("長井市", "ナガイシ"),
        stem: ("長井", "ナガイ"),
        postal: "993",
        area_code: "0238",
        lat: 38.1075,
        lon: 140.0327,
        weight: 26,
    },
    City {
        name: ("高畠町", "タカハタマチ"),
        stem: ("高畠", "タカハタ"),
        postal: "99203",
        area_code: "0238",
        lat: 37.9997,
        lon: 140.1893,
        weight: 23,
    },
    City {
        name: ("村山市", "ムラヤマシ"),
        stem: ("村山", "ムラヤマ"),
        postal: "995",
        area_code: "0237",
        lat: 38.4836,
        lon: 140.3804,
        weight: 22,
    },
    City {
        name: ("庄内町", "ショウナイマチ"),
        stem: ("庄内", "ショウナイ"),
        postal: "99977",
        area_code: "0234",
        lat: 38.8496,
        lon: 139.9046,
        weight: 20,
    },
    City {
        name: ("河北町", "カホクチョウ"),
        stem: ("河北", "カホク"),
        postal: "99935",
        area_code: "0237",
        lat: 38.4265,
        lon: 140.3143,
        weight: 18,
    },
    City {
        name: ("尾花沢市", "オバナザワシ"),
        stem: ("尾花沢", "オバナザワ"),
        postal: "99942",
        area_code: "0237",
        lat: 38.6007,
        lon: 140.4058,
        weight: 15,
    },
    City {
        name: ("遊佐町", "ユザマチ"),
        stem: ("遊佐", "ユザ"),
        postal: "99983",
        area_code: "0234",
        lat: 39.0147,
        lon: 139.9078,
        weight: 13,
    },
    City {
        name: ("三川町", "ミカワマチ"),
        stem: ("三川", "ミカワ"),
        postal: "99713",
        area_code: "0235",
        lat: 38.8006,
        lon: 139.8440,
        weight: 7,
    },
];

/// Town names found in many Japanese cities (the address after the municipality).
pub const TOWNS: &[Part] = &[
    ("本町", "ホンチョウ"),
    ("旭町", "アサヒマチ"),
    ("緑町", "ミドリチョウ"),
    ("栄町", "サカエマチ"),
    ("幸町", "サイワイチョウ"),
    ("大町", "オオマチ"),
    ("新町", "シンマチ"),
    ("錦町", "ニシキマチ"),
    ("若葉町", "ワカバチョウ"),
    ("桜町", "サクラマチ"),
    ("中央", "チュウオウ"),
    ("東町", "ヒガシマチ"),
    ("西町", "ニシマチ"),
    ("南町", "ミナミマチ"),
    ("北町", "キタマチ"),
    ("泉町", "イズミマチ"),
    ("宮町", "ミヤマチ"),
    ("清水町", "シミズマチ"),
    ("日の出", "ヒノデ"),
    ("松原", "マツバラ"),
    ("城南町", "ジョウナンマチ"),
    ("城北町", "ジョウホクマチ"),
    ("駅前", "エキマエ"),
    ("末広町", "スエヒロチョウ"),
    ("寿町", "コトブキチョウ"),
    ("千歳町", "チトセマチ"),
    ("春日町", "カスガチョウ"),
    ("高砂", "タカサゴ"),
    ("美原町", "ミハラマチ"),
    ("双葉町", "フタバチョウ"),
];

/// Words organizations are named after: nature, hopes, local mountains and flowers.
pub const PLACE_WORDS: &[Part] = &[
    ("さくら", "サクラ"),
    ("あおば", "アオバ"),
    ("みどり", "ミドリ"),
    ("ひまわり", "ヒマワリ"),
    ("すずらん", "スズラン"),
    ("若葉", "ワカバ"),
    ("青空", "アオゾラ"),
    ("朝日", "アサヒ"),
    ("陽だまり", "ヒダマリ"),
    ("やまびこ", "ヤマビコ"),
    ("月山", "ガッサン"),
    ("鳥海", "チョウカイ"),
    ("最上", "モガミ"),
    ("羽黒", "ハグロ"),
    ("蔵王", "ザオウ"),
    ("紅花", "ベニバナ"),
    ("花笠", "ハナガサ"),
    ("松風", "マツカゼ"),
    ("清流", "セイリュウ"),
    ("希望", "キボウ"),
    ("ひかり", "ヒカリ"),
    ("にじ", "ニジ"),
    ("こもれび", "コモレビ"),
    ("ふれあい", "フレアイ"),
    ("いずみ", "イズミ"),
    ("ふたば", "フタバ"),
    ("白鳥", "ハクチョウ"),
    ("はなみずき", "ハナミズキ"),
    ("けやき", "ケヤキ"),
    ("つばさ", "ツバサ"),
];

/// Relations of a key person to the patient, with the sex of the relative.
pub const RELATIONS: &[(&str, RelativeSex)] = &[
    ("長男", RelativeSex::Male),
    ("長女", RelativeSex::Female),
    ("次男", RelativeSex::Male),
    ("次女", RelativeSex::Female),
    ("長男の妻", RelativeSex::Female),
    ("姪", RelativeSex::Female),
    ("甥", RelativeSex::Male),
    ("妹", RelativeSex::Female),
    ("弟", RelativeSex::Male),
];

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RelativeSex {
    #[default]
    Male,
    Female,
}

#[cfg(test)]
mod tests {
    use super::*;
    use tsunagu_domain::kana::is_kana_text;

    #[test]
    fn every_reading_is_kana() {
        let all = FAMILY
            .iter()
            .chain(MALE_FIRST)
            .chain(MALE_SECOND)
            .chain(MALE_WHOLE)
            .chain(MALE_YOUNG)
            .chain(FEMALE_FIRST)
            .chain(FEMALE_WHOLE)
            .chain(FEMALE_YOUNG)
            .chain(TOWNS)
            .chain(PLACE_WORDS)
            .chain(FEMALE_SECOND.iter().map(|(p, _)| p));
        for (written, reading) in all {
            assert!(is_kana_text(reading), "{written}: {reading}");
        }
        for c in CITIES {
            assert!(is_kana_text(c.name.1) && is_kana_text(c.stem.1), "{}", c.name.0);
            assert!(c.name.0.starts_with(c.stem.0) && c.name.1.starts_with(c.stem.1), "{}", c.name.0);
            assert!(c.postal.len() == 3 || c.postal.len() == 5, "{}", c.name.0);
            assert!((37.7..39.2).contains(&c.lat) && (139.5..140.7).contains(&c.lon), "{}", c.name.0);
        }
    }

    #[test]
    fn no_family_name_is_listed_twice() {
        let mut seen = std::collections::HashSet::new();
        for (f, _) in FAMILY {
            assert!(seen.insert(f), "{f}");
        }
    }
}
