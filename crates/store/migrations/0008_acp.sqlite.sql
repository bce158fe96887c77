CREATE TRIGGER acp_versions_no_update BEFORE UPDATE ON acp_versions BEGIN SELECT RAISE(ABORT, 'advance care planning records are append-only'); END;
CREATE TRIGGER acp_versions_no_delete BEFORE DELETE ON acp_versions BEGIN SELECT RAISE(ABORT, 'advance care planning records are append-only'); END;
CREATE TRIGGER death_records_no_update BEFORE UPDATE ON death_records BEGIN SELECT RAISE(ABORT, 'advance care planning records are append-only'); END;
CREATE TRIGGER death_records_no_delete BEFORE DELETE ON death_records BEGIN SELECT RAISE(ABORT, 'advance care planning records are append-only'); END;
