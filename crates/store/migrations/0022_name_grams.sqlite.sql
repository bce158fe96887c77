-- Name search by substring, from an index. A search for "タロウ" must find ヤマダタロウ
-- (the registry matches anywhere in the folded kana or kanji name), which a B-tree on
-- the name cannot serve: the search tested LIKE '%ゴト%' against every
-- patient the organization owns (19,557 for a large hospital: 13 ms on SQLite, 19-20 ms
-- on PostgreSQL, bench/results/scale.md), and a trigram index (FTS5 trigram, pg_trgm)
-- finds nothing for a two-character query, the commonest kind.
--
-- Every two-character piece (bigram) of a patient's kana key and name key, with the
-- owner: a query's first bigram gives the few candidates from a key range, and the LIKE
-- that follows decides. A derived index, rebuilt from the patients row whenever its
-- names change (crate::name_grams); deleting its rows loses nothing.
CREATE TABLE patient_name_grams (
    owner_org_id TEXT NOT NULL,
    gram TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    -- The search's key, and the only one: a patient's rows are found by their grams
    -- (crate::name_grams::remove), so an index by patient would double the size for
    -- nothing; no foreign key either, the integrity check compares the rows with the
    -- names (Store::integrity_problems). docs/scaling.md lists this table under "Known
    -- exceptions".
    PRIMARY KEY (owner_org_id, gram, patient_id)
) WITHOUT ROWID;
-- The same derivation as crate::name_grams::fill_sql, over every patient.
INSERT INTO patient_name_grams (owner_org_id, gram, patient_id)
WITH RECURSIVE name_keys (patient_id, owner_org_id, k) AS (
    SELECT id, owner_org_id, kana_key FROM patients
    UNION ALL SELECT id, owner_org_id, name_key FROM patients
), piece (patient_id, owner_org_id, k, i) AS (
    SELECT patient_id, owner_org_id, k, 1 FROM name_keys WHERE length(k) >= 2
    UNION ALL SELECT patient_id, owner_org_id, k, i + 1 FROM piece WHERE i + 2 <= length(k)
)
SELECT DISTINCT owner_org_id, substr(k, i, 2), patient_id FROM piece
-- In key order: one pass of appends to the table's B-tree, not a million random inserts.
ORDER BY 1, 2, 3;
