//! Password hashing (argon2id) and random secrets (session ids, CSRF and API tokens).
//! Secrets are stored only as SHA-256 hashes.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("hashing failed: {0}")]
    Hash(String),
    #[error("no randomness available")]
    Random,
}

fn argon(m_kib: u32, t: u32, p: u32) -> Result<Argon2<'static>, SecretError> {
    let params = Params::new(m_kib, t, p, None).map_err(|e| SecretError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

pub fn random_bytes<const N: usize>() -> Result<[u8; N], SecretError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|_| SecretError::Random)?;
    Ok(b)
}

/// A URL-safe random token of 32 bytes (256 bits).
pub fn random_token() -> Result<String, SecretError> {
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Hash a password with argon2id and a random salt; returns a PHC string.
pub fn hash_password(pw: &str, m_kib: u32, t: u32, p: u32) -> Result<String, SecretError> {
    hash_password_with_salt(pw, &random_bytes::<16>()?, m_kib, t, p)
}

/// Hash a password with a salt the caller chose. Only for the accounts of a generated
/// synthetic region (`tsunagu generate`), whose rows must come out the same on every run
/// with the same seed; every real password gets a random salt ([`hash_password`]).
pub fn hash_password_with_salt(pw: &str, salt: &[u8], m_kib: u32, t: u32, p: u32) -> Result<String, SecretError> {
    let salt = SaltString::encode_b64(salt).map_err(|e| SecretError::Hash(e.to_string()))?;
    argon(m_kib, t, p)?
        .hash_password(pw.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| SecretError::Hash(e.to_string()))
}

/// Verify against a stored PHC string (its own parameters apply).
pub fn verify_password(pw: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => Argon2::default().verify_password(pw.as_bytes(), &h).is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the account does not exist, so that an unknown
/// e-mail costs the same time as a wrong password.
pub fn dummy_hash() -> &'static str {
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$8Bg2XO8tw3pL3/+n/H3Tx3cB8SAk0G+vq0U+cHi3Bfw"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash_password("correct horse battery", 256, 1, 1).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(!verify_password("x", dummy_hash()));
    }

    #[test]
    fn tokens_are_random_and_long() {
        let a = random_token().unwrap();
        assert_ne!(a, random_token().unwrap());
        assert_eq!(a.len(), 43);
    }
}
