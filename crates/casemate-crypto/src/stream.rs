//! Segmented (streaming) AEAD for large blobs, so a multi-gigabyte artifact never sits whole in
//! memory. The construction follows the STREAM design (Hoang, Reyhanitabar, Rogaway, Vizár):
//!
//! - header: format byte, 32-byte random salt;
//! - a per-blob key: HKDF-SHA256(data key, salt, info = associated data), so blobs never share a key
//!   and the blob is bound to the record it belongs to;
//! - the plaintext in 64 KiB segments, each sealed with AES-256-GCM under the nonce
//!   `0^7 || counter (u32, big endian) || last-flag (u8)`.
//!
//! Reordered segments fail (wrong counter), a truncated stream fails (its new last segment was not
//! sealed as last), and anything appended after the last segment is refused.

use crate::{CryptoError, random_bytes};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use std::io::{Read, Write};

pub const SEGMENT: usize = 64 * 1024;
const TAG: usize = 16;
const FORMAT: u8 = 1;
const SALT: usize = 32;
pub const HEADER: usize = 1 + SALT;

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("the stream is not intact: truncated, reordered, extended or altered")]
    Tampered,
}

fn segment_key(
    data_key: &[u8; 32],
    salt: &[u8],
    associated_data: &[u8],
) -> Result<LessSafeKey, CryptoError> {
    let prk = Salt::new(HKDF_SHA256, salt).extract(data_key);
    let info = [associated_data];
    let okm = prk
        .expand(&info, &AES_256_GCM)
        .map_err(|_| CryptoError::Seal)?;
    Ok(LessSafeKey::new(UnboundKey::from(okm)))
}

fn nonce(counter: u32, last: bool) -> Nonce {
    let mut bytes = [0u8; NONCE_LEN];
    bytes[7..11].copy_from_slice(&counter.to_be_bytes());
    bytes[11] = u8::from(last);
    Nonce::assume_unique_for_key(bytes)
}

/// Reads `reader` to its end, writing the sealed stream to `writer`. Returns the bytes written.
pub fn seal_stream(
    data_key: &[u8; 32],
    associated_data: &[u8],
    reader: &mut impl Read,
    writer: &mut impl Write,
) -> Result<u64, StreamError> {
    let salt = random_bytes::<SALT>()?;
    let key = segment_key(data_key, salt.as_ref(), associated_data)?;
    writer.write_all(&[FORMAT])?;
    writer.write_all(salt.as_ref())?;
    let mut written = HEADER as u64;
    // Two buffers: a segment is sealed only once we know whether another follows it.
    let mut current = Vec::with_capacity(SEGMENT + TAG);
    let mut next = Vec::with_capacity(SEGMENT + TAG);
    fill(reader, &mut current)?;
    let mut counter: u32 = 0;
    loop {
        next.clear();
        let last = if current.len() < SEGMENT {
            true
        } else {
            fill(reader, &mut next)? == 0
        };
        key.seal_in_place_append_tag(nonce(counter, last), Aad::empty(), &mut current)
            .map_err(|_| CryptoError::Seal)?;
        writer.write_all(&current)?;
        written += current.len() as u64;
        if last {
            return Ok(written);
        }
        counter = counter.checked_add(1).ok_or(CryptoError::Seal)?;
        std::mem::swap(&mut current, &mut next);
    }
}

/// Reads up to one segment of plaintext into `buffer`; returns how many bytes it read.
fn fill(reader: &mut impl Read, buffer: &mut Vec<u8>) -> std::io::Result<usize> {
    read_up_to(reader, buffer, SEGMENT)
}

/// Reads exactly `want` bytes unless the input ends first, straight into the buffer (no probing
/// reads); returns how many it read.
fn read_up_to(reader: &mut impl Read, buffer: &mut Vec<u8>, want: usize) -> std::io::Result<usize> {
    buffer.resize(want, 0);
    let mut filled = 0;
    while filled < want {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buffer.truncate(filled);
    Ok(filled)
}

/// Opens a sealed stream, writing plaintext as each segment verifies. On any error the caller
/// must discard what was written: it is a verified prefix, never the whole.
pub fn open_stream(
    data_key: &[u8; 32],
    associated_data: &[u8],
    reader: &mut impl Read,
    writer: &mut impl Write,
) -> Result<u64, StreamError> {
    let mut header = [0u8; HEADER];
    reader
        .read_exact(&mut header)
        .map_err(|_| StreamError::Tampered)?;
    if header[0] != FORMAT {
        return Err(StreamError::Tampered);
    }
    let key = segment_key(data_key, &header[1..], associated_data)?;
    let mut current = Vec::with_capacity(SEGMENT + TAG);
    let mut next = Vec::with_capacity(SEGMENT + TAG);
    read_up_to(reader, &mut current, SEGMENT + TAG)?;
    let mut counter: u32 = 0;
    let mut written = 0u64;
    loop {
        let last =
            current.len() < SEGMENT + TAG || read_up_to(reader, &mut next, SEGMENT + TAG)? == 0;
        if current.len() < TAG {
            return Err(StreamError::Tampered);
        }
        let plaintext = key
            .open_in_place(nonce(counter, last), Aad::empty(), &mut current)
            .map_err(|_| StreamError::Tampered)?;
        writer.write_all(plaintext)?;
        written += plaintext.len() as u64;
        if last {
            return Ok(written);
        }
        counter = counter.checked_add(1).ok_or(StreamError::Tampered)?;
        std::mem::swap(&mut current, &mut next);
    }
}

/// The sealed size of `plaintext_len` bytes.
pub fn sealed_len(plaintext_len: u64) -> u64 {
    let segments = plaintext_len.div_ceil(SEGMENT as u64).max(1);
    HEADER as u64 + plaintext_len + segments * TAG as u64
}

/// The plaintext size of a sealed stream of `sealed_len` bytes (the inverse of `sealed_len`), or
/// None when no plaintext seals to that size.
pub fn plaintext_len(sealed_len: u64) -> Option<u64> {
    let body = sealed_len.checked_sub(HEADER as u64)?;
    let segments = body.div_ceil((SEGMENT + TAG) as u64).max(1);
    let plaintext = body.checked_sub(segments * TAG as u64)?;
    (self::sealed_len(plaintext) == sealed_len).then_some(plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: [u8; 32] = [9u8; 32];

    proptest! {
        #[test]
        fn plaintext_len_inverts_sealed_len(len in 0u64..(1 << 40)) {
            prop_assert_eq!(plaintext_len(sealed_len(len)), Some(len));
        }
    }

    fn seal(plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        seal_stream(&KEY, aad, &mut &plaintext[..], &mut out).unwrap();
        out
    }

    fn open(sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, StreamError> {
        let mut out = Vec::new();
        open_stream(&KEY, aad, &mut &sealed[..], &mut out).map(|_| out)
    }

    #[test]
    fn round_trips_at_segment_boundaries() {
        for len in [
            0,
            1,
            SEGMENT - 1,
            SEGMENT,
            SEGMENT + 1,
            3 * SEGMENT,
            3 * SEGMENT + 17,
        ] {
            let plaintext: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let sealed = seal(&plaintext, b"blob");
            assert_eq!(sealed.len() as u64, sealed_len(len as u64), "len {len}");
            assert_eq!(open(&sealed, b"blob").unwrap(), plaintext, "len {len}");
        }
    }

    #[test]
    fn detects_truncation_reordering_extension_and_moving() {
        let plaintext = vec![5u8; 3 * SEGMENT + 100];
        let sealed = seal(&plaintext, b"/blobs/a");
        let full = SEGMENT + TAG;
        // Dropping the last segment leaves a stream whose last segment was not sealed as last.
        assert!(
            open(&sealed[..HEADER + 3 * full], b"/blobs/a").is_err(),
            "truncated at a boundary"
        );
        assert!(
            open(&sealed[..sealed.len() - 1], b"/blobs/a").is_err(),
            "truncated mid-segment"
        );
        let mut swapped = sealed.clone();
        let (first, second) = (HEADER..HEADER + full, HEADER + full..HEADER + 2 * full);
        let a = sealed[first.clone()].to_vec();
        swapped[first].copy_from_slice(&sealed[second.clone()]);
        swapped[second].copy_from_slice(&a);
        assert!(open(&swapped, b"/blobs/a").is_err(), "reordered");
        let mut extended = sealed.clone();
        extended.extend_from_slice(&[0u8; 40]);
        assert!(open(&extended, b"/blobs/a").is_err(), "extended");
        assert!(
            open(&sealed, b"/blobs/b").is_err(),
            "moved to another record"
        );
        let mut flipped = sealed.clone();
        flipped[HEADER + 10] ^= 1;
        assert!(open(&flipped, b"/blobs/a").is_err(), "altered");
        assert!(open(&sealed[..5], b"/blobs/a").is_err(), "header only");
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_the_opener(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = open(&bytes, b"x");
        }
    }
}
