CREATE TRIGGER lab_results_no_update BEFORE UPDATE ON lab_results BEGIN SELECT RAISE(ABORT, 'imported records are append-only'); END;
CREATE TRIGGER lab_results_no_delete BEFORE DELETE ON lab_results BEGIN SELECT RAISE(ABORT, 'imported records are append-only'); END;
CREATE TRIGGER import_files_no_update BEFORE UPDATE ON import_files BEGIN SELECT RAISE(ABORT, 'imported records are append-only'); END;
CREATE TRIGGER import_files_no_delete BEFORE DELETE ON import_files BEGIN SELECT RAISE(ABORT, 'imported records are append-only'); END;
