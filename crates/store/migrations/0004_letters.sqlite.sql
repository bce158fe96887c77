CREATE TRIGGER letters_no_delete BEFORE DELETE ON letters BEGIN SELECT RAISE(ABORT, 'letters are never deleted; discard a draft instead'); END;
CREATE TRIGGER letter_versions_no_update BEFORE UPDATE ON letter_versions BEGIN SELECT RAISE(ABORT, 'letter versions are append-only'); END;
CREATE TRIGGER letter_versions_no_delete BEFORE DELETE ON letter_versions BEGIN SELECT RAISE(ABORT, 'letter versions are append-only'); END;
CREATE TRIGGER letter_events_no_update BEFORE UPDATE ON letter_events BEGIN SELECT RAISE(ABORT, 'letter events are append-only'); END;
CREATE TRIGGER letter_events_no_delete BEFORE DELETE ON letter_events BEGIN SELECT RAISE(ABORT, 'letter events are append-only'); END;
