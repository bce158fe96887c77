CREATE TRIGGER diary_photos_no_change BEFORE UPDATE OR DELETE ON diary_photos
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
