CREATE TRIGGER passkeys_no_delete BEFORE DELETE ON passkeys
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
