-- Possible duplicates (born the same day, with the same kana or kanji name) are looked
-- up before every registration and for every create of a FHIR transaction. The index
-- on the birth date held the kana key only, so the kanji name was tested on the table
-- row of every patient born that day: at the full synthetic scale, most of a
-- transaction's database time (bench/results/scale.md, W6). With the name key and the
-- id in the index, the look-up reads the index alone and touches the table only for a
-- patient that matches.
DROP INDEX patients_birth;
CREATE INDEX patients_birth ON patients (birth_date, kana_key, name_key, id);
