CREATE TRIGGER emergency_access_no_update BEFORE UPDATE ON emergency_access BEGIN SELECT RAISE(ABORT, 'emergency accesses are append-only'); END;
CREATE TRIGGER emergency_access_no_delete BEFORE DELETE ON emergency_access BEGIN SELECT RAISE(ABORT, 'emergency accesses are append-only'); END;
