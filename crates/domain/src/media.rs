//! What a file really is, told from its first bytes, never from its name: an
//! executable renamed `.pdf` must not reach a colleague's browser as a PDF.

/// The file types a chart accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    Pdf,
    Jpeg,
    Png,
}

impl MediaType {
    pub fn mime(self) -> &'static str {
        match self {
            MediaType::Pdf => "application/pdf",
            MediaType::Jpeg => "image/jpeg",
            MediaType::Png => "image/png",
        }
    }
    pub fn is_image(self) -> bool {
        matches!(self, MediaType::Jpeg | MediaType::Png)
    }
    pub fn from_mime(m: &str) -> Option<Self> {
        [MediaType::Pdf, MediaType::Jpeg, MediaType::Png].into_iter().find(|t| t.mime() == m)
    }
}

/// Recognize PDF, JPEG and PNG by their signatures; anything else is refused.
pub fn sniff(bytes: &[u8]) -> Option<MediaType> {
    if bytes.starts_with(b"%PDF-") {
        Some(MediaType::Pdf)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(MediaType::Jpeg)
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some(MediaType::Png)
    } else {
        None
    }
}

/// A file name safe to store and to put in a Content-Disposition header: no path, no
/// control characters or quotes, at most 120 characters; never empty.
pub fn clean_filename(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String =
        base.chars().filter(|c| !c.is_control() && !matches!(c, '"' | ';' | '\\' | '/')).take(120).collect();
    let trimmed = cleaned.trim().trim_start_matches('.');
    if trimmed.is_empty() { "file".to_string() } else { trimmed.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_content() {
        assert_eq!(sniff(b"%PDF-1.4\n..."), Some(MediaType::Pdf));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]), Some(MediaType::Jpeg));
        assert_eq!(sniff(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0]), Some(MediaType::Png));
        assert_eq!(sniff(b"MZ\x90\x00 an exe renamed .pdf"), None);
        assert_eq!(sniff(b"\x7fELF"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn filenames_are_cleaned() {
        assert_eq!(clean_filename("../../etc/passwd"), "passwd");
        assert_eq!(clean_filename("C:\\scan\\退院時サマリー.pdf"), "退院時サマリー.pdf");
        assert_eq!(clean_filename("a\"b;c.pdf"), "abc.pdf");
        assert_eq!(clean_filename("..."), "file");
        assert_eq!(clean_filename(""), "file");
    }
}
