CREATE TRIGGER letters_no_delete BEFORE DELETE ON letters
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER letter_versions_no_change BEFORE UPDATE OR DELETE ON letter_versions
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER letter_events_no_change BEFORE UPDATE OR DELETE ON letter_events
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER letter_tables_no_truncate BEFORE TRUNCATE ON letter_versions
    FOR EACH STATEMENT EXECUTE FUNCTION tsunagu_refuse_change();
