//! The name search's index (migration 0022): every two-character piece ("gram") of a
//! patient's kana key and name key, with the owner, so that a substring search of the
//! registry ("タロウ" finds ヤマダタロウ) starts from an index range of the
//! organization's patients holding the query's first gram instead of testing LIKE
//! against all of them. The LIKE still decides; the grams only narrow.
//!
//! Derived data: a patient's rows are removed and added from its `patients` row, in the
//! same transaction, whenever its names are written ([`remove`], [`add`]). The
//! derivation is SQL, so the write paths, the bulk load ([`fill_all`]) and the
//! migration's backfill follow one rule, with the same character counting
//! (`length`/`substr` count characters on both databases, as [`first_gram`] does).

use crate::Result;
use crate::bulk::{KEYS_PER_LOOKUP, Placeholders};
use sqlx::{AnyConnection, Row};

/// The derivation, as the common table expressions `name_keys` and `piece` over the
/// patients that `filter` (a `WHERE` on `patients`, or empty) selects, whose
/// [`GRAMS_OF_PIECES`] are the rows. The migration holds a copy of the unfiltered form.
fn pieces(filter: &str) -> String {
    format!(
        "name_keys (patient_id, owner_org_id, k) AS ( \
             SELECT id, owner_org_id, kana_key FROM patients {filter} \
             UNION ALL SELECT id, owner_org_id, name_key FROM patients {filter} \
         ), piece (patient_id, owner_org_id, k, i) AS ( \
             SELECT patient_id, owner_org_id, k, 1 FROM name_keys WHERE length(k) >= 2 \
             UNION ALL SELECT patient_id, owner_org_id, k, i + 1 FROM piece WHERE i + 2 <= length(k) \
         )"
    )
}

/// The rows of the derivation, distinct, in key order (a bulk fill then appends to the
/// table's B-tree instead of inserting at random).
const GRAMS_OF_PIECES: &str =
    "SELECT DISTINCT owner_org_id, substr(k, i, 2) AS gram, patient_id FROM piece ORDER BY 1, 2, 3";

fn fill_sql(filter: &str) -> String {
    format!(
        "INSERT INTO patient_name_grams (owner_org_id, gram, patient_id) WITH RECURSIVE {} {GRAMS_OF_PIECES}",
        pieces(filter)
    )
}

/// Add patients' grams, from their rows as they now are (after they were inserted, or
/// their names changed), inside the caller's transaction: one statement per
/// [`KEYS_PER_LOOKUP`] patients (a FHIR transaction registers its patients together).
pub(crate) async fn add(conn: &mut AnyConnection, patient_ids: &[&str]) -> Result<()> {
    for chunk in patient_ids.chunks(KEYS_PER_LOOKUP) {
        // Numbered even on SQLite: the filter appears twice in the derivation, and a
        // numbered parameter can be named twice.
        let filter = format!("WHERE id IN {}", Placeholders::Numbered.rows(1, chunk.len()));
        let sql = fill_sql(&filter);
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(*id);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Remove one patient's grams, from its row as it still is (before its names change),
/// inside the caller's transaction: each row found by its key, as the table has no other.
pub(crate) async fn remove(conn: &mut AnyConnection, patient_id: &str) -> Result<()> {
    let sql = format!(
        "WITH RECURSIVE {} DELETE FROM patient_name_grams WHERE (owner_org_id, gram, patient_id) IN ({GRAMS_OF_PIECES})",
        pieces("WHERE id = $1")
    );
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(patient_id).execute(&mut *conn).await?;
    Ok(())
}

/// Build the grams of every patient (the end of a bulk load, into an empty table).
pub(crate) async fn fill_all(conn: &mut AnyConnection) -> Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(fill_sql(""))).execute(&mut *conn).await?;
    Ok(())
}

/// How many rows of the grams differ from what the patients' names give, both ways
/// (an integrity check: 0 unless a write went around [`add`] and [`remove`]).
pub(crate) async fn mismatches(conn: &mut AnyConnection) -> Result<i64> {
    let sql = format!(
        "WITH RECURSIVE {}, derived AS ({GRAMS_OF_PIECES}), \
         stored AS (SELECT owner_org_id, gram, patient_id FROM patient_name_grams) \
         SELECT (SELECT COUNT(*) FROM (SELECT * FROM derived EXCEPT SELECT * FROM stored) missing) \
              + (SELECT COUNT(*) FROM (SELECT * FROM stored EXCEPT SELECT * FROM derived) extra) AS n",
        pieces("")
    );
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_one(&mut *conn).await?.try_get("n")?)
}

/// The gram a search by `key` (a folded search key) starts from: its first two
/// characters, since people type a name from its start. `None` for a one-character
/// key, which no gram holds: such a search tests every owned patient, as before.
pub(crate) fn first_gram(key: &str) -> Option<String> {
    let mut chars = key.chars();
    let (a, b) = (chars.next()?, chars.next()?);
    Some([a, b].iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_starts_from_the_first_two_characters() {
        assert_eq!(first_gram("ヤマダ").as_deref(), Some("ヤマ"));
        assert_eq!(first_gram("山田").as_deref(), Some("山田"));
        assert_eq!(first_gram("林"), None);
        assert_eq!(first_gram(""), None);
    }
}
