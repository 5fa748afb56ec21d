//! Argon2id password hashing. Callers run these on blocking threads: they take tens of milliseconds.

use crate::{CryptoError, random_bytes};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Hashes with argon2id at the OWASP-recommended cost (19 MiB, 2 passes, 1 lane).
pub fn hash_password(password: &str) -> Result<String, CryptoError> {
    let salt_bytes = random_bytes::<16>()?;
    let salt = SaltString::encode_b64(salt_bytes.as_ref())
        .map_err(|e| CryptoError::PasswordHash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| CryptoError::PasswordHash(e.to_string()))
}

/// True when `password` matches `stored`. A malformed stored hash never matches.
pub fn verify_password(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A valid hash at the cost `hash_password` uses, verified against when a user does not exist,
/// so that "no such user" and "wrong password" take the same time. A constant: making one at
/// start cost 50 ms and left argon2's 19 MiB buffer resident in an idle server. What password
/// it hashes does not matter: the caller never signs anyone in on a match against it.
pub const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$CQSe9kN7xgW90lsDkSQMgA$/oq5O6y9vaN3A+Otx+mM0d53pD1GpmXn28bYn4NsTYQ";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decoy_costs_what_a_real_hash_costs() {
        let real = hash_password("any password").unwrap();
        let parameters = |hash: &str| hash.rsplitn(3, '$').nth(2).map(str::to_owned);
        assert_eq!(parameters(DECOY_HASH), parameters(&real));
        assert!(PasswordHash::new(DECOY_HASH).is_ok());
    }

    #[test]
    fn verifies_only_the_right_password() {
        let hash = hash_password("correct horse battery staple").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery staple", &hash));
        assert!(!verify_password("correct horse battery stapler", &hash));
        assert!(!verify_password("anything", "not a hash"));
    }
}
