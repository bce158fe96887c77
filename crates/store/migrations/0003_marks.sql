-- An entry is marked "entered in error" at most once: two people marking it at the same
-- moment must not leave two marks (the timeline would show the entry twice).
CREATE UNIQUE INDEX entry_marks_one ON entry_marks (patient_id, entry_id);
DROP INDEX entry_marks_entry;
