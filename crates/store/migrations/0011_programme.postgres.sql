CREATE TRIGGER care_contacts_no_change BEFORE UPDATE OR DELETE ON care_contacts
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER care_contact_marks_no_change BEFORE UPDATE OR DELETE ON care_contact_marks
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER assessment_marks_no_change BEFORE UPDATE OR DELETE ON assessment_marks
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER programme_activities_no_change BEFORE UPDATE OR DELETE ON programme_activities
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER programme_attendance_no_change BEFORE UPDATE OR DELETE ON programme_attendance
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER programme_activity_marks_no_change BEFORE UPDATE OR DELETE ON programme_activity_marks
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER action_plan_versions_no_change BEFORE UPDATE OR DELETE ON action_plan_versions
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
