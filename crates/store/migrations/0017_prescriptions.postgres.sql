CREATE TRIGGER prescriptions_no_change BEFORE UPDATE OR DELETE ON prescriptions
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER prescriptions_no_truncate BEFORE TRUNCATE ON prescriptions
    FOR EACH STATEMENT EXECUTE FUNCTION tsunagu_refuse_change();
