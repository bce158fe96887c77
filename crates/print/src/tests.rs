//! The PDF is checked with poppler's tools (installed by scripts/test), as a person
//! would: the Japanese text reads back, the font is embedded, the page is A4, long
//! letters break across numbered pages, and typed symbols print as typed.
//! (In the crate rather than under tests/: one test binary links typst once.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use super::{PrintDoc, render_pdf};
use std::process::Command;

fn letter(sections: Vec<(&str, String)>) -> PrintDoc {
    PrintDoc {
        title: "診療情報提供書".into(),
        date: "令和8年11月24日".into(),
        addressee: vec!["みどり在宅クリニック".into(), "鈴木 一郎 先生 御侍史".into()],
        sender: vec![
            "つなぐ市立総合病院".into(),
            "〒998-0001 山形県つなぐ市本町1-1".into(),
            "電話 0234-00-1234".into(),
            "医師 佐藤 花子".into(),
        ],
        patient: vec![
            ("氏名".into(), "山田 太郎".into()),
            ("フリガナ".into(), "ヤマダ タロウ".into()),
            ("生年月日".into(), "昭和15年3月2日（86歳）".into()),
            ("性別".into(), "男".into()),
            ("住所".into(), "山形県つなぐ市緑町2-3-4".into()),
        ],
        sections: sections.into_iter().map(|(h, b)| (h.to_string(), b)).collect(),
        footer: "tsunagu 文書番号 0b0e7c4e".into(),
    }
}

/// Runs a poppler tool on the PDF and returns its standard output. A missing tool
/// fails the test: these checks are the point, and scripts/test installs poppler-utils.
fn poppler(tool: &str, pdf: &[u8], args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("letter.pdf");
    std::fs::write(&path, pdf).unwrap();
    let mut command = Command::new(tool);
    command.args(args).arg(&path);
    if tool == "pdftotext" {
        command.arg("-");
    }
    let out = command.output().unwrap_or_else(|e| {
        panic!("cannot run `{tool}` ({e}): install poppler-utils (scripts/test does: apt-get install poppler-utils)")
    });
    assert!(out.status.success(), "{tool} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn text(pdf: &[u8]) -> String {
    poppler("pdftotext", pdf, &["-layout"])
}

fn pages(pdf: &[u8]) -> u32 {
    let info = poppler("pdfinfo", pdf, &[]);
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap_or_else(|| panic!("no page count:\n{info}"))
        .trim()
        .parse()
        .unwrap()
}

/// Typst writes no space glyphs; pdftotext guesses spaces from gaps, and in the small
/// footer it guesses none. Page numbers are compared without spaces.
fn compact(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

#[test]
fn a_japanese_letter_reads_back_with_its_font_embedded_on_a4() {
    let pdf = render_pdf(&letter(vec![
        ("紹介目的", "在宅での緩和ケアの継続をお願いいたします。".into()),
        ("傷病名", "膵頭部癌（肝転移）\n2型糖尿病".into()),
        ("現病歴", "2026年8月に閉塞性黄疸で発症し、\n胆管ステントを留置しました。\n疼痛は NRS 2〜3 です。".into()),
    ]))
    .unwrap();
    assert!(pdf.starts_with(b"%PDF-"));

    let text = text(&pdf);
    for needle in [
        "診療情報提供書",
        "令和8年11月24日",
        "みどり在宅クリニック",
        "鈴木 一郎 先生 御侍史",
        "医師 佐藤 花子",
        "山田 太郎",
        "ヤマダ タロウ",
        "紹介目的",
        "傷病名",
        "現病歴",
        "在宅での緩和ケアの継続をお願いいたします。",
        "胆管ステントを留置しました。",
        "tsunagu 文書番号 0b0e7c4e",
    ] {
        assert!(text.contains(needle), "{needle:?} is not in the PDF text:\n{text}");
    }
    // Body lines stay lines: the diagnoses are on lines of their own.
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    assert!(lines.contains(&"膵頭部癌（肝転移）") && lines.contains(&"2型糖尿病"), "{text}");
    assert!(compact(&text).contains("1/1"), "no page number:\n{text}");

    // The font is embedded (and subset): read the `emb` column under its header.
    let fonts = poppler("pdffonts", &pdf, &[]);
    let header = fonts.lines().next().unwrap();
    let emb = header.find(" emb").unwrap() + 1;
    let ipa: Vec<&str> = fonts.lines().filter(|l| l.contains("IPAexGothic")).collect();
    assert!(!ipa.is_empty(), "IPAex Gothic is not used:\n{fonts}");
    for line in &ipa {
        assert_eq!(line.get(emb..emb + 3), Some("yes"), "not embedded:\n{fonts}");
    }
    assert_eq!(fonts.lines().count(), 2 + ipa.len(), "a font other than IPAex Gothic:\n{fonts}");

    let info = poppler("pdfinfo", &pdf, &[]);
    let size = info.lines().find_map(|l| l.strip_prefix("Page size:")).unwrap().trim();
    let dims: Vec<f64> = size.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert_eq!(dims.len(), 2, "{size}");
    assert!((dims[0] - 595.28).abs() < 0.5 && (dims[1] - 841.89).abs() < 0.5, "not A4 portrait: {size}");
    assert_eq!(pages(&pdf), 1);
}

#[test]
fn typed_symbols_print_as_typed_in_every_field() {
    let typed = r"#set text(red) $x^2$ *太字* _斜体_ ] \ <tag> & @ref // コメント #{1+1} [a](b) = 見出し";
    let mut doc = letter(vec![("備考 #*]", typed.into())]);
    doc.title = "紹介状 #title]".into();
    doc.addressee.push(r"\ @someone".into());
    doc.patient.push(("メモ $".into(), "a_b*c*".into()));
    doc.footer = "#footer ]".into();
    let text = text(&render_pdf(&doc).unwrap());
    for needle in [
        "#set text(red)",
        "$x^2$",
        "*太字*",
        "_斜体_",
        "]",
        r"\",
        "<tag>",
        "&",
        "@ref",
        "// コメント",
        "#{1+1}",
        "[a](b)",
        "= 見出し",
        "備考 #*]",
        r"\ @someone",
        "メモ $",
        "a_b*c*",
        "#footer ]",
    ] {
        assert!(text.contains(needle), "{needle:?} did not print as typed:\n{text}");
    }
    // The title is letter-spaced, which pdftotext reads as spaces.
    assert!(compact(&text).contains("紹介状#title]"), "{text}");
}

#[test]
fn a_long_body_breaks_across_numbered_pages_under_its_heading() {
    let long: String = (1..=300).map(|i| format!("{i}日目: 疼痛はNRS 3で推移。\n")).collect();
    let pdf = render_pdf(&letter(vec![("臨床経過", long), ("今後の方針", "在宅で継続。".into())])).unwrap();
    let n = pages(&pdf);
    assert!(n >= 2, "300 lines fit on {n} page(s)");
    let text = text(&pdf);
    for i in [1, 150, 300] {
        assert!(text.contains(&format!("{i}日目: 疼痛はNRS 3で推移。")), "line {i} is lost:\n{text}");
    }
    assert!(text.contains("今後の方針"));
    // Every page carries its number and the footer text.
    for (i, page) in text.split('\u{c}').filter(|p| !p.trim().is_empty()).enumerate() {
        assert!(compact(page).contains(&format!("{}/{n}", i + 1)), "page {} has no number \"{} / {n}\"", i + 1, i + 1);
        assert!(page.contains("tsunagu 文書番号 0b0e7c4e"), "page {} has no footer", i + 1);
    }
    // The second page starts the rest of the body under the heading again.
    let second = poppler("pdftotext", &pdf, &["-f", "2", "-l", "2"]);
    assert_eq!(second.lines().find(|l| !l.trim().is_empty()).map(str::trim), Some("臨床経過"), "{second}");
}

#[test]
fn empty_sections_are_left_out() {
    let pdf = render_pdf(&letter(vec![
        ("紹介目的", "ご高診をお願いします。".into()),
        ("既往歴", String::new()),
        ("アレルギー", " \n\r\n ".into()),
        ("家族歴", "特記事項なし".into()),
    ]))
    .unwrap();
    let text = text(&pdf);
    assert!(text.contains("紹介目的") && text.contains("家族歴") && text.contains("特記事項なし"), "{text}");
    assert!(!text.contains("既往歴"), "an empty section is printed:\n{text}");
    assert!(!text.contains("アレルギー"), "a blank section is printed:\n{text}");
}

#[test]
fn windows_line_ends_make_one_line_break_each() {
    let pdf = render_pdf(&letter(vec![("処方", "一行目\r\n二行目\r\n\r\n四行目".into())])).unwrap();
    let text = poppler("pdftotext", &pdf, &[]);
    assert!(text.contains("一行目\n二行目\n"), "{text:?}");
    assert!(!text.contains('\r'), "{text:?}");
    assert!(text.contains("四行目"), "{text:?}");
}

#[test]
fn a_long_unbroken_run_wraps_instead_of_running_off_the_page() {
    // pdftotext drops text outside the page, so a run that overflowed would come back cut.
    let run = "ABCDEFGHIJ0123456789".repeat(12);
    let pdf = render_pdf(&letter(vec![("検査結果", format!("ID: {run} 以上"))])).unwrap();
    let text = text(&pdf);
    assert!(compact(&text).contains(&run), "the 240-character run was cut:\n{text}");
    assert!(!text.contains('\u{200b}'), "a zero-width space leaked into the text");
}

#[test]
fn an_empty_document_still_renders_one_page() {
    let pdf = render_pdf(&PrintDoc::default()).unwrap();
    assert_eq!(pages(&pdf), 1);
    assert!(compact(&text(&pdf)).contains("1/1"));
}

#[test]
fn renders_from_several_threads_at_once_keep_their_own_text() {
    let names = ["山田 太郎", "佐藤 次郎", "鈴木 三郎", "高橋 四郎"];
    let handles: Vec<_> = names
        .iter()
        .map(|name| {
            let mut doc = letter(vec![("紹介目的", format!("{name} 様のご高診をお願いします。"))]);
            doc.patient[0].1 = (*name).to_string();
            std::thread::spawn(move || (0..3).map(|_| render_pdf(&doc).unwrap()).collect::<Vec<_>>())
        })
        .collect();
    for (name, handle) in names.iter().zip(handles) {
        for pdf in handle.join().unwrap() {
            let text = text(&pdf);
            assert!(text.contains(&format!("{name} 様のご高診")), "{name} is missing:\n{text}");
            for other in names.iter().filter(|n| *n != name) {
                assert!(!text.contains(other), "{other} leaked into {name}'s letter");
            }
        }
    }
}
