//! Masking of a run's captured output: every secret value the run fetched is replaced by `***`,
//! also when a value arrives split across two writes. Bytes that could still be the start of a
//! secret are held back until the next write (or the end) decides.

use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

pub const MASK: &[u8] = b"***";

/// The secret values one run has fetched so far. Shared by the API (which adds what a run token
/// reads) and the run's output pumps.
#[derive(Default)]
pub struct FetchedSecrets {
    values: Mutex<Vec<Zeroizing<Vec<u8>>>>,
}

impl FetchedSecrets {
    pub fn add(&self, value: &str) {
        if value.is_empty() {
            return;
        }
        let mut values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        if !values
            .iter()
            .any(|known| known.as_slice() == value.as_bytes())
        {
            values.push(Zeroizing::new(value.as_bytes().to_vec()));
            // Longest first, so a secret containing another is masked whole.
            values.sort_by_key(|known| std::cmp::Reverse(known.len()));
        }
    }

    /// Replaces every known value in `text`, whole values only.
    pub fn mask_whole(&self, text: &str) -> String {
        let values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        let mut masked = text.to_owned();
        for value in values.iter() {
            if let Ok(value) = std::str::from_utf8(value) {
                masked = masked.replace(value, "***");
            }
        }
        masked
    }
}

/// One output stream's masking state.
pub struct Masker {
    secrets: Arc<FetchedSecrets>,
    pending: Zeroizing<Vec<u8>>,
}

impl Masker {
    pub fn new(secrets: Arc<FetchedSecrets>) -> Self {
        Self {
            secrets,
            pending: Zeroizing::new(Vec::new()),
        }
    }

    /// Takes more output; returns what can be released now, masked.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.pending.extend_from_slice(bytes);
        self.release(false)
    }

    /// The stream ended: releases everything held back.
    pub fn finish(&mut self) -> Vec<u8> {
        self.release(true)
    }

    fn release(&mut self, at_end: bool) -> Vec<u8> {
        let values = self
            .secrets
            .values
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let pending = &self.pending;
        let mut out = Vec::with_capacity(pending.len());
        let mut at = 0;
        'scan: while at < pending.len() {
            let rest = &pending[at..];
            for value in values.iter() {
                if rest.starts_with(value) {
                    out.extend_from_slice(MASK);
                    at += value.len();
                    continue 'scan;
                }
            }
            if !at_end && values.iter().any(|value| value.starts_with(rest)) {
                // The rest could be the start of a secret: wait for more.
                break;
            }
            out.push(pending[at]);
            at += 1;
        }
        drop(values);
        let held = Zeroizing::new(self.pending[at..].to_vec());
        self.pending = held;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn masker(values: &[&str]) -> Masker {
        let secrets = Arc::new(FetchedSecrets::default());
        for value in values {
            secrets.add(value);
        }
        Masker::new(secrets)
    }

    fn through(masker: &mut Masker, writes: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for write in writes {
            out.extend(masker.push(write));
        }
        out.extend(masker.finish());
        out
    }

    #[test]
    fn masks_whole_and_split_values() {
        let mut m = masker(&["hunter2"]);
        assert_eq!(through(&mut m, &[b"pw=hunter2\n"]), b"pw=***\n");
        let mut m = masker(&["hunter2"]);
        assert_eq!(through(&mut m, &[b"pw=hun", b"ter2!"]), b"pw=***!");
        let mut m = masker(&["hunter2"]);
        assert_eq!(
            through(&mut m, &[b"h", b"u", b"n", b"t", b"e", b"r", b"2"]),
            b"***"
        );
        let mut m = masker(&["hunter2"]);
        assert_eq!(through(&mut m, &[b"hunt", b"hunter2"]), b"hunt***");
    }

    #[test]
    fn holds_back_only_what_could_be_a_secret() {
        let mut m = masker(&["secret"]);
        assert_eq!(m.push(b"abc se"), b"abc ");
        assert_eq!(m.push(b"x"), b"sex");
        assert_eq!(m.finish(), b"");
    }

    #[test]
    fn longer_secrets_win() {
        let mut m = masker(&["abc", "abcdef"]);
        assert_eq!(through(&mut m, &[b"xabcdefx abc"]), b"x***x ***");
    }

    #[test]
    fn values_learned_later_are_masked_from_then_on() {
        let secrets = Arc::new(FetchedSecrets::default());
        let mut m = Masker::new(secrets.clone());
        assert_eq!(m.push(b"before "), b"before ");
        secrets.add("tok3n");
        assert_eq!(through(&mut m, &[b"tok", b"3n"]), b"***");
    }

    proptest! {
        #[test]
        fn no_split_ever_reveals_the_secret(
            prefix in "[a-z ]{0,20}",
            suffix in "[a-z ]{0,20}",
            cuts in proptest::collection::vec(0usize..60, 0..6),
        ) {
            let secret = "S3cr3t-v4lue";
            let text = format!("{prefix}{secret}{suffix}{secret}");
            let bytes = text.as_bytes();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut pieces: Vec<&[u8]> = Vec::new();
            let mut last = 0;
            for cut in cuts {
                pieces.push(&bytes[last..cut]);
                last = cut;
            }
            pieces.push(&bytes[last..]);
            let mut m = masker(&[secret]);
            let out = String::from_utf8(through(&mut m, &pieces)).unwrap();
            prop_assert!(!out.contains(secret));
            prop_assert_eq!(out, format!("{prefix}***{suffix}***"));
        }
    }
}
