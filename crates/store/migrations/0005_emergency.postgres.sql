CREATE TRIGGER emergency_access_no_change BEFORE UPDATE OR DELETE ON emergency_access
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
