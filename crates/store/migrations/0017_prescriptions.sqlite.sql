CREATE TRIGGER prescriptions_no_update BEFORE UPDATE ON prescriptions BEGIN SELECT RAISE(ABORT, 'imported records are append-only'); END;
CREATE TRIGGER prescriptions_no_delete BEFORE DELETE ON prescriptions BEGIN SELECT RAISE(ABORT, 'imported records are append-only'); END;
