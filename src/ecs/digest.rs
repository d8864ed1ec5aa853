//! The history digest: a fast, order-sensitive 64-bit fold over entries.
//!
//! History is append-only and only a window of it is retained, yet checks
//! must compare the *whole* history of an entity with what a replay
//! expects. So the store folds every entry into a running digest as it is
//! appended, and the checker folds the entries it expects the same way: if
//! the two digests agree, so (with overwhelming probability) do the
//! sequences, however many entries were dropped in between.
//!
//! An entry is first hashed on its own (FNV-1a over 8-byte little-endian
//! words, then the byte length, so no two different strings share a word
//! sequence); the entry hash is then mixed into the accumulator with a
//! rotation and the SplitMix64 finaliser. The rotation makes the fold
//! order-sensitive: `[a, b]` and `[b, a]` give different digests. The digest
//! of a sequence is the fold from [`HISTORY_DIGEST_SEED`]; the empty history
//! has the seed as its digest.

/// Digest of the empty history; the start of every fold.
pub const HISTORY_DIGEST_SEED: u64 = 0x6a09_e667_f3bc_c908;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Fold one history entry into a digest.
///
/// `history_digest_step(history_digest_step(SEED, a), b)` is the digest of
/// the history `[a, b]`.
pub fn history_digest_step(acc: u64, entry: &str) -> u64 {
    combine(acc, entry_hash(entry))
}

/// The stand-alone hash of one entry (kept beside the entry, so dropping it
/// from the retained window does not hash it again).
pub(crate) fn entry_hash(entry: &str) -> u64 {
    entry_hash_bytes(entry.as_bytes())
}

/// [`entry_hash`] of the text `bytes` hold.
pub(crate) fn entry_hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = FNV_OFFSET;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(word)).wrapping_mul(FNV_PRIME);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut word = [0u8; 8];
        word[..tail.len()].copy_from_slice(tail);
        h = (h ^ u64::from_le_bytes(word)).wrapping_mul(FNV_PRIME);
    }
    (h ^ bytes.len() as u64).wrapping_mul(FNV_PRIME)
}

/// Mix an entry hash into the accumulator.
pub(crate) fn combine(acc: u64, entry_hash: u64) -> u64 {
    mix64(acc.rotate_left(23) ^ entry_hash)
}

/// The SplitMix64 finaliser: a fast bijective 64-bit mixer.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(entries: &[&str]) -> u64 {
        entries
            .iter()
            .fold(HISTORY_DIGEST_SEED, |acc, e| history_digest_step(acc, e))
    }

    #[test]
    fn digest_is_order_sensitive_and_separates_entries() {
        assert_ne!(digest(&["a", "b"]), digest(&["b", "a"]));
        assert_ne!(digest(&["ab"]), digest(&["a", "b"]));
        assert_ne!(digest(&["a"]), digest(&["a", ""]));
        assert_ne!(digest(&["abcdefgh"]), digest(&["abcdefgh\0"]));
        assert_eq!(digest(&[]), HISTORY_DIGEST_SEED);
        assert_eq!(digest(&["x", "y"]), digest(&["x", "y"]));
    }

    #[test]
    fn entry_hash_depends_on_every_byte() {
        let base = "modified counter to 1234 at step 7";
        let h = entry_hash(base);
        for i in 0..base.len() {
            let mut bytes = base.as_bytes().to_vec();
            bytes[i] ^= 1;
            let changed = String::from_utf8(bytes).unwrap();
            assert_ne!(entry_hash(&changed), h, "byte {i}");
        }
    }
}
