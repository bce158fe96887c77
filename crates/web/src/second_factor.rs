//! The second factor: time-based one-time passwords (RFC 6238, the codes of every
//! authenticator app) and recovery codes. Pure functions over bytes and times; the
//! store keeps the secret, the last accepted time step (so that a code works once) and
//! the hashes of the recovery codes.

use crate::password::{SecretError, random_bytes, sha256_hex};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// Seconds per code, digits per code, and how many steps either side of now are
/// accepted (a phone's clock a little off, a code typed as it changes).
pub const STEP_SECONDS: i64 = 30;
pub const DIGITS: u32 = 6;
pub const SKEW_STEPS: i64 = 1;
/// Recovery codes issued at once.
pub const RECOVERY_CODES: usize = 10;

/// A new 160-bit secret, as RFC 4226 recommends for HMAC-SHA1.
pub fn new_secret() -> Result<Vec<u8>, SecretError> {
    Ok(random_bytes::<20>()?.to_vec())
}

/// The code for one time step (RFC 4226 dynamic truncation over HMAC-SHA1).
pub fn code_at_step(secret: &[u8], step: i64) -> String {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = digest.last().map_or(0, |b| usize::from(b & 0x0f));
    let word = digest.get(offset..offset + 4).map_or(0, |b| {
        u32::from_be_bytes([
            b.first().copied().unwrap_or(0) & 0x7f,
            b.get(1).copied().unwrap_or(0),
            b.get(2).copied().unwrap_or(0),
            b.get(3).copied().unwrap_or(0),
        ])
    });
    format!("{:0width$}", word % 10u32.pow(DIGITS), width = DIGITS as usize)
}

/// The time step a Unix time falls in.
pub fn step_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// Check a typed code at `unix_seconds`. Returns the step it belongs to when it is
/// valid and newer than `last_step` (the last step accepted for this person): a code
/// already used, or an older one, is refused, so a code seen over a shoulder or in a
/// proxy log cannot be replayed.
pub fn verify(secret: &[u8], typed: &str, unix_seconds: i64, last_step: i64) -> Option<i64> {
    let typed = normalize_code(typed);
    if typed.len() != DIGITS as usize || !typed.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_of(unix_seconds);
    // Check every candidate (no early exit) so that timing does not tell which matched.
    let mut found = None;
    for step in (now - SKEW_STEPS)..=(now + SKEW_STEPS) {
        let ok: bool = code_at_step(secret, step).as_bytes().ct_eq(typed.as_bytes()).into();
        if ok && step > last_step && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// What people type: spaces and hyphens (as apps show "123 456") are ignored, letters
/// are lower-cased.
pub fn normalize_code(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace() && *c != '-').flat_map(char::to_lowercase).collect()
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding: the secret as authenticator apps take it typed.
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32.get(((buffer >> bits) & 31) as usize).copied().unwrap_or(b'A')));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32.get(((buffer << (5 - bits)) & 31) as usize).copied().unwrap_or(b'A')));
    }
    out
}

/// The secret in groups of four, easier to type by hand.
pub fn base32_grouped(bytes: &[u8]) -> String {
    let s = base32(bytes);
    s.as_bytes().chunks(4).filter_map(|c| std::str::from_utf8(c).ok()).collect::<Vec<_>>().join(" ")
}

/// The `otpauth://` URI that authenticator apps read from the QR code.
pub fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> String {
    let label = format!("{}:{}", uri_escape(issuer), uri_escape(account));
    format!(
        "otpauth://totp/{label}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        base32(secret),
        uri_escape(issuer)
    )
}

fn uri_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The URI as a QR code in SVG, drawn on the server (no script, no image library).
pub fn qr_svg(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .dark_color(qrcode::render::svg::Color("#000000"))
            .light_color(qrcode::render::svg::Color("#ffffff"))
            .build(),
    )
}

/// New recovery codes, each 80 bits as four groups of four base32 letters
/// ("abcd-efgh-ijkl-mnop"): shown once, stored only as hashes.
pub fn new_recovery_codes() -> Result<Vec<String>, SecretError> {
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let raw = base32(&random_bytes::<10>()?).to_lowercase();
        let groups: Vec<&str> = raw.as_bytes().chunks(4).filter_map(|c| std::str::from_utf8(c).ok()).collect();
        codes.push(groups.join("-"));
    }
    Ok(codes)
}

/// The stored form of a recovery code. The codes carry 80 random bits, so a plain
/// hash is enough (no salt or slow hash is needed against guessing).
pub fn recovery_code_hash(code: &str) -> String {
    sha256_hex(&normalize_code(code))
}

/// Whether what was typed looks like a recovery code rather than an app code.
pub fn looks_like_recovery_code(typed: &str) -> bool {
    let n = normalize_code(typed);
    n.len() == 16 && n.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows, truncated to six digits (the last six of the
    /// eight-digit values the RFC lists).
    #[test]
    fn codes_match_rfc_6238_vectors() {
        let secret = b"12345678901234567890";
        for (t, eight) in [
            (59, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ] {
            assert_eq!(code_at_step(secret, step_of(t)), eight[2..], "t = {t}");
        }
    }

    #[test]
    fn a_code_is_accepted_once_and_only_near_its_time() {
        let secret = b"12345678901234567890";
        let t = 1_234_567_890;
        let code = code_at_step(secret, step_of(t));
        let step = verify(secret, &code, t, 0).unwrap();
        assert_eq!(step, step_of(t));
        // Replayed: the step is no longer newer than the last accepted one.
        assert_eq!(verify(secret, &code, t, step), None);
        // One step either side is tolerated; two are not.
        assert_eq!(verify(secret, &code, t + STEP_SECONDS, 0), Some(step));
        assert_eq!(verify(secret, &code, t - STEP_SECONDS, 0), Some(step));
        assert_eq!(verify(secret, &code, t + 2 * STEP_SECONDS, 0), None);
        assert_eq!(verify(secret, &code, t - 2 * STEP_SECONDS, 0), None);
        // Typed with a space, as apps show it.
        assert_eq!(verify(secret, &format!("{} {}", &code[..3], &code[3..]), t, 0), Some(step));
        // A wrong digit, short or non-numeric input.
        let first = code.as_bytes()[0] - b'0';
        let wrong = format!("{}{}", (first + 1) % 10, &code[1..]);
        assert_eq!(verify(secret, &wrong, t, 0), None);
        assert_eq!(verify(secret, "12345", t, 0), None);
        assert_eq!(verify(secret, "abcdef", t, 0), None);
        // The same code is not valid for another secret (at this time, for these keys).
        assert_ne!(code_at_step(b"another secret 12345", step_of(t)), code);
        assert_eq!(verify(b"another secret 12345", &code, t, 0), None);
    }

    #[test]
    fn base32_matches_rfc_4648() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"fo"), "MZXQ");
        assert_eq!(base32(b"foo"), "MZXW6");
        assert_eq!(base32(b"foob"), "MZXW6YQ");
        assert_eq!(base32(b"fooba"), "MZXW6YTB");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
    }

    #[test]
    fn otpauth_uri_names_issuer_account_and_parameters() {
        let uri = otpauth_uri(b"foobar", "tsunagu 庄内", "a.b+c@example.jp");
        assert_eq!(
            uri,
            "otpauth://totp/tsunagu%20%E5%BA%84%E5%86%85:a.b%2Bc@example.jp?secret=MZXW6YTBOI&issuer=tsunagu%20%E5%BA%84%E5%86%85&algorithm=SHA1&digits=6&period=30"
        );
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.starts_with("<?xml") || svg.starts_with("<svg"), "{}", &svg[..40]);
        assert!(svg.contains("<path") || svg.contains("<rect"));
    }

    #[test]
    fn recovery_codes_are_distinct_and_recognised_however_typed() {
        let codes = new_recovery_codes().unwrap();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), RECOVERY_CODES);
        for c in &codes {
            assert_eq!(c.len(), 19);
            assert!(looks_like_recovery_code(c));
            assert_eq!(recovery_code_hash(c), recovery_code_hash(&c.to_uppercase().replace('-', " ")));
        }
        assert!(!looks_like_recovery_code("123456"));
    }
}
