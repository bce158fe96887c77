//! Kana folding for search. People type a name in hiragana, katakana, half-width
//! katakana (older systems and some keyboards) or full-width; the registry must find it
//! whichever they used. Everything folds to one key: full-width katakana, no spaces,
//! small kana made large, ASCII lower-case.

/// Half-width katakana U+FF66..=U+FF9D mapped to full-width.
const HALF_KATAKANA: &[char] = &[
    'ヲ', 'ァ', 'ィ', 'ゥ', 'ェ', 'ォ', 'ャ', 'ュ', 'ョ', 'ッ', 'ー', 'ア', 'イ', 'ウ', 'エ', 'オ', 'カ', 'キ', 'ク',
    'ケ', 'コ', 'サ', 'シ', 'ス', 'セ', 'ソ', 'タ', 'チ', 'ツ', 'テ', 'ト', 'ナ', 'ニ', 'ヌ', 'ネ', 'ノ', 'ハ', 'ヒ',
    'フ', 'ヘ', 'ホ', 'マ', 'ミ', 'ム', 'メ', 'モ', 'ヤ', 'ユ', 'ヨ', 'ラ', 'リ', 'ル', 'レ', 'ロ', 'ワ', 'ン',
];

fn half_width_katakana(c: char) -> Option<char> {
    match c {
        '\u{FF61}' => Some('。'),
        '\u{FF62}' => Some('「'),
        '\u{FF63}' => Some('」'),
        '\u{FF64}' => Some('、'),
        '\u{FF65}' => Some('・'),
        '\u{FF66}'..='\u{FF9D}' => HALF_KATAKANA.get(c as usize - 0xFF66).copied(),
        _ => None,
    }
}

/// Apply a voiced (dakuten) or semi-voiced (handakuten) mark to the kana before it.
pub fn with_mark(base: char, semi: bool) -> Option<char> {
    let b = base as u32;
    let voiced_plus_one = matches!(base, 'カ'..='ト') && (b - 'カ' as u32).is_multiple_of(2) && base != 'ッ'
        || matches!(base, 'ツ' | 'テ' | 'ト');
    if !semi {
        if base == 'ウ' {
            return Some('ヴ');
        }
        if voiced_plus_one || matches!(base, 'ハ' | 'ヒ' | 'フ' | 'ヘ' | 'ホ') {
            return char::from_u32(b + 1);
        }
    } else if matches!(base, 'ハ' | 'ヒ' | 'フ' | 'ヘ' | 'ホ') {
        return char::from_u32(b + 2);
    }
    None
}

/// A separate voiced mark (half-width, spacing or combining): `Some(false)` for the
/// dakuten, `Some(true)` for the handakuten, to be joined to the kana before it.
pub fn voicing_mark(c: char) -> Option<bool> {
    match c {
        '\u{FF9E}' | '\u{309B}' | '\u{3099}' => Some(false),
        '\u{FF9F}' | '\u{309C}' | '\u{309A}' => Some(true),
        _ => None,
    }
}

/// One character with its width folded: full-width ASCII to ASCII, half-width katakana
/// to full-width, the ideographic space to a space. Voiced marks are not joined here.
pub fn fold_char(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => half_width_katakana(c).unwrap_or(c),
    }
}

/// Fold widths: full-width ASCII to ASCII, half-width katakana (with its separate voiced
/// marks) to full-width katakana, the ideographic space to a space. Kanji untouched.
pub fn fold_width(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if let Some(semi) = voicing_mark(c) {
            if let Some(prev) = out.pop() {
                match with_mark(prev, semi) {
                    Some(m) => out.push(m),
                    None => out.push(prev),
                }
            }
            continue;
        }
        out.push(fold_char(c));
    }
    out
}

/// Hiragana to katakana (ぁ..ゖ are katakana minus 0x60).
pub fn to_katakana(c: char) -> char {
    match c {
        '\u{3041}'..='\u{3096}' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
        _ => c,
    }
}

fn large_kana(c: char) -> char {
    match c {
        'ァ' => 'ア',
        'ィ' => 'イ',
        'ゥ' => 'ウ',
        'ェ' => 'エ',
        'ォ' => 'オ',
        'ッ' => 'ツ',
        'ャ' => 'ヤ',
        'ュ' => 'ユ',
        'ョ' => 'ヨ',
        'ヮ' => 'ワ',
        'ヵ' => 'カ',
        'ヶ' => 'ケ',
        _ => c,
    }
}

/// Normalize a kana name for storage and display: full-width katakana, single spaces.
pub fn normalize_kana_name(s: &str) -> String {
    let folded: String = fold_width(s).chars().map(to_katakana).collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The search key: normalized kana without separators, small kana made large, lower-case.
/// A search term folded the same way matches as a substring of a stored key.
pub fn search_key(s: &str) -> String {
    fold_width(s)
        .chars()
        .map(to_katakana)
        .filter(|c| !c.is_whitespace() && !matches!(c, '・' | '･' | '.' | '-'))
        .map(large_kana)
        .flat_map(char::to_lowercase)
        .collect()
}

/// True when every character is kana (either script, any width), a long-vowel mark,
/// a middle dot or a space: what a kana-name field may hold.
pub fn is_kana_text(s: &str) -> bool {
    let n = normalize_kana_name(s);
    !n.trim().is_empty() && n.chars().all(|c| matches!(c, '\u{30A1}'..='\u{30FA}' | 'ー' | '・' | ' ' | 'ヽ' | 'ヾ'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_scripts_fold_to_one_key() {
        let k = search_key("ヤマダ タロウ");
        assert_eq!(search_key("やまだ たろう"), k);
        assert_eq!(search_key("ﾔﾏﾀﾞ ﾀﾛｳ"), k);
        assert_eq!(search_key("ヤマダ　タロウ"), k);
        assert_eq!(k, "ヤマダタロウ");
    }

    #[test]
    fn half_width_voiced_marks_combine() {
        assert_eq!(normalize_kana_name("ｶﾞｷﾞｸﾞｹﾞｺﾞ"), "ガギグゲゴ");
        assert_eq!(normalize_kana_name("ﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ"), "パピプペポ");
        assert_eq!(normalize_kana_name("ﾊﾞﾋﾞﾌﾞﾍﾞﾎﾞ"), "バビブベボ");
        assert_eq!(normalize_kana_name("ﾂﾞﾃﾞﾄﾞｳﾞ"), "ヅデドヴ");
        assert_eq!(normalize_kana_name("ｻﾞｼﾞｽﾞｾﾞｿﾞﾀﾞﾁﾞ"), "ザジズゼゾダヂ");
        assert_eq!(normalize_kana_name("ｷｮｳｺ"), "キョウコ");
    }

    #[test]
    fn small_kana_match_large() {
        assert_eq!(search_key("きょうこ"), search_key("キヨウコ"));
    }

    #[test]
    fn kana_text_detection() {
        assert!(is_kana_text("やまだ"));
        assert!(is_kana_text("ﾔﾏﾀﾞ"));
        assert!(is_kana_text("サトウ・ルイーズ"));
        assert!(!is_kana_text("山田"));
        assert!(!is_kana_text("  "));
        assert!(!is_kana_text("yamada"));
    }

    proptest::proptest! {
        #[test]
        fn search_key_is_idempotent(s in "\\PC{0,20}") {
            let k = search_key(&s);
            proptest::prop_assert_eq!(search_key(&k), k);
        }

        #[test]
        fn hiragana_and_katakana_agree(s in "[ぁ-ゖ]{1,12}") {
            let kata: String = s.chars().map(to_katakana).collect();
            proptest::prop_assert_eq!(search_key(&s), search_key(&kata));
        }
    }
}
