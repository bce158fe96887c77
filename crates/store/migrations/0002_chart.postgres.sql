CREATE TRIGGER entries_no_change BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries
    FOR EACH STATEMENT EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER entry_marks_no_change BEFORE UPDATE OR DELETE ON entry_marks
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER attachments_no_change BEFORE UPDATE OR DELETE ON attachments
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
