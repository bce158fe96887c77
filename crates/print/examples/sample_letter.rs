//! Writes a sample referral letter, to look at the layout by eye and to time a render:
//! `cargo run -p tsunagu-print --release --example sample_letter -- /tmp/sample_letter.pdf`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::time::Instant;
use tsunagu_print::{PrintDoc, render_pdf};

fn main() {
    let out = std::env::args().nth(1).unwrap_or_else(|| "sample_letter.pdf".into());
    let doc = PrintDoc {
        title: "診療情報提供書".into(),
        date: "令和8年11月24日".into(),
        addressee: vec!["医療法人 みどり会 みどり在宅クリニック".into(), "鈴木 一郎 先生 御侍史".into()],
        sender: vec![
            "つなぐ市立総合病院 消化器内科".into(),
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
        sections: vec![
            ("紹介目的".into(), "在宅での緩和ケアの継続をお願いいたします。".into()),
            ("傷病名".into(), "膵頭部癌（肝転移）\n2型糖尿病\n高血圧症".into()),
            ("既往歴".into(), String::new()),
            (
                "現病歴".into(),
                "2026年8月に閉塞性黄疸で発症し、当科で胆管ステントを留置しました。\n\
                 化学療法は本人の希望により行わず、緩和ケアを中心に加療しております。\n\
                 疼痛はオキシコドン徐放錠 10mg/日で NRS 2〜3 に保たれています。\n\n\
                 ご本人・ご家族ともに自宅での療養を強く希望されております。"
                    .into(),
            ),
            ("処方".into(), "オキシコドン徐放錠 5mg 1回1錠 1日2回\nメトホルミン 250mg 1回1錠 1日2回".into()),
            ("備考".into(), "ご多忙のところ恐縮ですが、よろしくお願い申し上げます。".into()),
        ],
        footer: "tsunagu 文書番号 0b0e7c4e-v1".into(),
    };
    let first = Instant::now();
    let pdf = render_pdf(&doc).unwrap();
    let first = first.elapsed();
    let again = Instant::now();
    let n = 10;
    for _ in 0..n {
        render_pdf(&doc).unwrap();
    }
    let again = again.elapsed() / n;
    std::fs::write(&out, &pdf).unwrap();
    println!("{out}: {} bytes; first render {first:?}, then {again:?} each", pdf.len());
}
