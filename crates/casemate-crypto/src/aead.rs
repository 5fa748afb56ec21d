//! AES-256-GCM with a random nonce. Layout: version byte, 12-byte nonce, ciphertext and tag.
//! The associated data binds a ciphertext to the record it belongs to.

use crate::{CryptoError, random_bytes};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use zeroize::Zeroizing;

const FORMAT_V1: u8 = 1;

pub fn seal(
    key: &[u8; 32],
    plaintext: &[u8],
    associated_data: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let sealing_key =
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| CryptoError::Seal)?);
    let nonce_bytes = random_bytes::<NONCE_LEN>()?;
    let nonce = Nonce::assume_unique_for_key(*nonce_bytes);
    let mut in_out = plaintext.to_vec();
    sealing_key
        .seal_in_place_append_tag(nonce, Aad::from(associated_data), &mut in_out)
        .map_err(|_| CryptoError::Seal)?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + in_out.len());
    out.push(FORMAT_V1);
    out.extend_from_slice(nonce_bytes.as_ref());
    out.extend_from_slice(&in_out);
    Ok(out)
}

pub fn open(
    key: &[u8; 32],
    sealed: &[u8],
    associated_data: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let (version, rest) = sealed.split_first().ok_or(CryptoError::Open)?;
    if *version != FORMAT_V1 || rest.len() < NONCE_LEN {
        return Err(CryptoError::Open);
    }
    let (nonce_bytes, ciphertext) = rest.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce_bytes).map_err(|_| CryptoError::Open)?;
    let opening_key =
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| CryptoError::Open)?);
    let mut in_out = Zeroizing::new(ciphertext.to_vec());
    let plaintext_len = opening_key
        .open_in_place(nonce, Aad::from(associated_data), &mut in_out)
        .map_err(|_| CryptoError::Open)?
        .len();
    in_out.truncate(plaintext_len);
    Ok(in_out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_what_it_sealed_and_nothing_else() {
        let key = [7u8; 32];
        let sealed = seal(&key, b"payload", b"/records/1").unwrap();
        assert_eq!(
            open(&key, &sealed, b"/records/1").unwrap().as_slice(),
            b"payload"
        );
        assert!(
            open(&key, &sealed, b"/records/2").is_err(),
            "moved to another record"
        );
        assert!(
            open(&[8u8; 32], &sealed, b"/records/1").is_err(),
            "wrong key"
        );
        let mut altered = sealed.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert!(open(&key, &altered, b"/records/1").is_err(), "altered");
        assert!(open(&key, &[], b"").is_err());
        assert!(open(&key, &[1, 2, 3], b"").is_err());
    }
}
