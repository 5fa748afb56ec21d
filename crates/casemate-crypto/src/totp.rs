//! TOTP (RFC 6238: SHA-1, 6 digits, 30 s) with replay protection: a code is accepted only for a
//! time step later than the last one accepted.

use crate::{CryptoError, constant_time_eq, random_bytes};
use totp_rs::{Algorithm, TOTP};
use zeroize::Zeroizing;

const STEP_SECONDS: u64 = 30;
const DIGITS: usize = 6;

pub fn new_secret() -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    Ok(Zeroizing::new(random_bytes::<20>()?.to_vec()))
}

fn totp(secret: &[u8], account: &str) -> Result<TOTP, CryptoError> {
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP_SECONDS,
        secret.to_vec(),
        Some("casemate".to_owned()),
        account.replace(':', "_"),
    )
    .map_err(|e| CryptoError::Totp(e.to_string()))
}

/// The `otpauth://` URI an authenticator app loads, and the base32 secret for manual entry.
pub fn provisioning(
    secret: &[u8],
    account: &str,
) -> Result<(Zeroizing<String>, Zeroizing<String>), CryptoError> {
    let generator = totp(secret, account)?;
    Ok((
        Zeroizing::new(generator.get_url()),
        Zeroizing::new(generator.get_secret_base32()),
    ))
}

/// The code for a given Unix time; for tests and for clients that generate codes.
pub fn code_at(secret: &[u8], unix_seconds: u64) -> Result<String, CryptoError> {
    Ok(totp(secret, "x")?.generate(unix_seconds))
}

/// Checks `code` against the steps around `unix_seconds` (one step of drift either way).
/// Returns the matched time step if it is later than `last_accepted_step`.
pub fn verify(
    secret: &[u8],
    code: &str,
    unix_seconds: u64,
    last_accepted_step: Option<i64>,
) -> Result<Option<i64>, CryptoError> {
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let generator = totp(secret, "x")?;
    let current = unix_seconds / STEP_SECONDS;
    let mut matched = None;
    for step in [current.saturating_sub(1), current, current + 1] {
        let expected = generator.generate(step * STEP_SECONDS);
        if constant_time_eq(expected.as_bytes(), code.as_bytes()) {
            matched = i64::try_from(step).ok();
        }
    }
    Ok(matched.filter(|step| last_accepted_step.is_none_or(|last| *step > last)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_fresh_code_once() {
        let secret = new_secret().unwrap();
        let now = 1_800_000_000u64;
        let code = code_at(&secret, now).unwrap();
        let step = verify(&secret, &code, now, None).unwrap().unwrap();
        assert_eq!(
            verify(&secret, &code, now, Some(step)).unwrap(),
            None,
            "replayed"
        );
        assert_eq!(
            verify(&secret, &code, now + 300, None).unwrap(),
            None,
            "too old"
        );
        assert_eq!(verify(&secret, "12345", now, None).unwrap(), None);
        assert_eq!(verify(&secret, "abcdef", now, None).unwrap(), None);
    }

    #[test]
    fn provisioning_uri_names_the_account() {
        let secret = new_secret().unwrap();
        let (uri, base32) = provisioning(&secret, "alice").unwrap();
        assert!(
            uri.starts_with("otpauth://totp/casemate:alice?"),
            "{}",
            uri.as_str()
        );
        assert!(uri.contains(base32.as_str()));
    }
}
