-- Append-only tables refuse UPDATE, DELETE and TRUNCATE (PostgreSQL).
CREATE FUNCTION tsunagu_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER consents_no_change BEFORE UPDATE OR DELETE ON consents
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER care_team_no_delete BEFORE DELETE ON care_team
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER patients_no_delete BEFORE DELETE ON patients
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
