CREATE TRIGGER diary_photos_no_update BEFORE UPDATE ON diary_photos BEGIN SELECT RAISE(ABORT, 'family records are append-only'); END;
CREATE TRIGGER diary_photos_no_delete BEFORE DELETE ON diary_photos BEGIN SELECT RAISE(ABORT, 'family records are append-only'); END;
