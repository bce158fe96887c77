CREATE TRIGGER acp_versions_no_change BEFORE UPDATE OR DELETE ON acp_versions
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER death_records_no_change BEFORE UPDATE OR DELETE ON death_records
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
