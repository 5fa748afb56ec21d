//! Cryptographic foundations: key providers, AEAD sealing, password hashing, access tokens,
//! opaque credentials and TOTP. No I/O beyond the key file; no HTTP.

pub mod aead;
pub mod id_token;
pub mod keyprovider;
pub mod opaque;
pub mod password;
pub mod pkcs11;
pub mod stream;
pub mod token;
pub mod totp;

pub use keyprovider::{FileKeyProvider, KeyProvider};
pub use pkcs11::{Pkcs11KeyProvider, Pkcs11Settings};

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("ciphertext could not be opened: wrong key, wrong record, or altered data")]
    Open,
    #[error("encryption failed")]
    Seal,
    #[error("the system random number generator failed")]
    Random,
    #[error("key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
    #[error("token signing key: {0}")]
    SigningKey(String),
    #[error("PKCS#11 key provider: {0}")]
    Hsm(String),
    #[error("TOTP: {0}")]
    Totp(String),
}

/// Fills a fresh buffer from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<zeroize::Zeroizing<[u8; N]>, CryptoError> {
    let mut buffer = zeroize::Zeroizing::new([0u8; N]);
    aws_lc_rs::rand::fill(buffer.as_mut()).map_err(|_| CryptoError::Random)?;
    Ok(buffer)
}

/// 32 random bytes as unpadded base64url text: a key, state, nonce or verifier.
pub fn random_text() -> Result<casemate_types::Sensitive, CryptoError> {
    use base64::Engine;
    let bytes = random_bytes::<32>()?;
    Ok(casemate_types::Sensitive::new(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_ref()),
    ))
}

/// RFC 7636's S256 code challenge of a PKCE verifier.
pub fn pkce_challenge(verifier: &casemate_types::Sensitive) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha256(verifier.expose().as_bytes()))
}

/// SHA-256, for hashing high-entropy credentials (never passwords).
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}
