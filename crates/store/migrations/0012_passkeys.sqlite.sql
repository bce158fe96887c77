CREATE TRIGGER passkeys_no_delete BEFORE DELETE ON passkeys BEGIN SELECT RAISE(ABORT, 'passkeys are removed by a mark, not deleted'); END;
