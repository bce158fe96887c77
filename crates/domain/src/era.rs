//! Japanese era (和暦) display: forms in Japan show birth dates as 昭和15年3月2日.

use time::{Date, Month};

struct Era {
    name_ja: &'static str,
    name_en: &'static str,
    start: (i32, Month, u8),
}

/// Eras in reverse order; the first whose start is on or before the date applies.
const ERAS: &[Era] = &[
    Era { name_ja: "令和", name_en: "Reiwa", start: (2019, Month::May, 1) },
    Era { name_ja: "平成", name_en: "Heisei", start: (1989, Month::January, 8) },
    Era { name_ja: "昭和", name_en: "Showa", start: (1926, Month::December, 25) },
    Era { name_ja: "大正", name_en: "Taisho", start: (1912, Month::July, 30) },
    Era { name_ja: "明治", name_en: "Meiji", start: (1868, Month::January, 25) },
];

/// The era name and year within it, or None before Meiji.
pub fn era_of(date: Date) -> Option<(&'static str, &'static str, i32)> {
    ERAS.iter().find_map(|e| {
        let start = Date::from_calendar_date(e.start.0, e.start.1, e.start.2).ok()?;
        (date >= start).then(|| (e.name_ja, e.name_en, date.year() - e.start.0 + 1))
    })
}

/// 昭和15年3月2日; the first year of an era is written 元年.
pub fn format_ja(date: Date) -> String {
    match era_of(date) {
        Some((name, _, y)) => {
            let year = if y == 1 { "元".to_string() } else { y.to_string() };
            format!("{name}{year}年{}月{}日", u8::from(date.month()), date.day())
        }
        None => format!("{}年{}月{}日", date.year(), u8::from(date.month()), date.day()),
    }
}

/// "Showa 15" for English pages, next to the Gregorian date.
pub fn format_en(date: Date) -> String {
    match era_of(date) {
        Some((_, name, y)) => format!("{name} {y}"),
        None => String::new(),
    }
}

/// Age in whole years on `today`.
pub fn age_on(birth: Date, today: Date) -> i32 {
    let mut age = today.year() - birth.year();
    if (u8::from(today.month()), today.day()) < (u8::from(birth.month()), birth.day()) {
        age -= 1;
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn era_boundaries() {
        assert_eq!(format_ja(date!(1940 - 03 - 02)), "昭和15年3月2日");
        assert_eq!(format_ja(date!(1989 - 01 - 07)), "昭和64年1月7日");
        assert_eq!(format_ja(date!(1989 - 01 - 08)), "平成元年1月8日");
        assert_eq!(format_ja(date!(2019 - 04 - 30)), "平成31年4月30日");
        assert_eq!(format_ja(date!(2019 - 05 - 01)), "令和元年5月1日");
        assert_eq!(format_ja(date!(1926 - 12 - 25)), "昭和元年12月25日");
        assert_eq!(format_ja(date!(1926 - 12 - 24)), "大正15年12月24日");
        assert_eq!(format_en(date!(1940 - 03 - 02)), "Showa 15");
    }

    #[test]
    fn age_counts_birthdays() {
        assert_eq!(age_on(date!(1940 - 03 - 02), date!(2026 - 03 - 01)), 85);
        assert_eq!(age_on(date!(1940 - 03 - 02), date!(2026 - 03 - 02)), 86);
    }
}
