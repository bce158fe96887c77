CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries BEGIN SELECT RAISE(ABORT, 'entries are never changed; write a correction'); END;
CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries BEGIN SELECT RAISE(ABORT, 'entries are never deleted; mark them entered in error'); END;
CREATE TRIGGER entry_marks_no_update BEFORE UPDATE ON entry_marks BEGIN SELECT RAISE(ABORT, 'entry marks are append-only'); END;
CREATE TRIGGER entry_marks_no_delete BEFORE DELETE ON entry_marks BEGIN SELECT RAISE(ABORT, 'entry marks are append-only'); END;
CREATE TRIGGER attachments_no_update BEFORE UPDATE ON attachments BEGIN SELECT RAISE(ABORT, 'attachments are append-only'); END;
CREATE TRIGGER attachments_no_delete BEFORE DELETE ON attachments BEGIN SELECT RAISE(ABORT, 'attachments are append-only'); END;
