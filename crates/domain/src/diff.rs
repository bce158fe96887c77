//! A line diff between two versions of an entry, shown with every correction so that
//! a reader sees exactly what changed.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Same,
    Removed,
    Added,
}

/// Longest-common-subsequence diff of lines. Entries are short (a few dozen lines), so
/// the quadratic table is fine; very long inputs fall back to "all removed, all added".
pub fn diff_lines(old: &str, new: &str) -> Vec<(Change, String)> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    if a.len() * b.len() > 250_000 {
        return a
            .iter()
            .map(|l| (Change::Removed, l.to_string()))
            .chain(b.iter().map(|l| (Change::Added, l.to_string())))
            .collect();
    }
    let (n, m) = (a.len(), b.len());
    // lcs[i][j] = LCS length of a[i..] and b[j..], stored flat.
    let mut lcs = vec![0usize; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            let v = if a.get(i) == b.get(j) {
                lcs.get(at(i + 1, j + 1)).copied().unwrap_or(0) + 1
            } else {
                lcs.get(at(i + 1, j)).copied().unwrap_or(0).max(lcs.get(at(i, j + 1)).copied().unwrap_or(0))
            };
            if let Some(slot) = lcs.get_mut(at(i, j)) {
                *slot = v;
            }
        }
    }
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x == y => {
                out.push((Change::Same, x.to_string()));
                i += 1;
                j += 1;
            }
            (Some(x), Some(_))
                if lcs.get(at(i + 1, j)).copied().unwrap_or(0) >= lcs.get(at(i, j + 1)).copied().unwrap_or(0) =>
            {
                out.push((Change::Removed, x.to_string()));
                i += 1;
            }
            (_, Some(y)) => {
                out.push((Change::Added, y.to_string()));
                j += 1;
            }
            (Some(x), None) => {
                out.push((Change::Removed, x.to_string()));
                i += 1;
            }
            (None, None) => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_what_changed() {
        let d = diff_lines("褥瘡 仙骨部\n大きさ 2cm\n処置 継続", "褥瘡 仙骨部\n大きさ 3cm\n処置 継続");
        assert_eq!(
            d,
            vec![
                (Change::Same, "褥瘡 仙骨部".into()),
                (Change::Removed, "大きさ 2cm".into()),
                (Change::Added, "大きさ 3cm".into()),
                (Change::Same, "処置 継続".into()),
            ]
        );
        assert!(diff_lines("a", "a").iter().all(|(c, _)| *c == Change::Same));
        assert_eq!(diff_lines("", "x"), vec![(Change::Added, "x".into())]);
    }
}
