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
    let bytes = entry.as_bytes();
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

/// [`entry_hash`] of text written in pieces: the same words, the same
/// result, whatever the pieces.
pub(crate) struct EntryHasher {
    h: u64,
    /// Bytes of the word being filled.
    word: [u8; 8],
    fill: usize,
    len: u64,
}

impl EntryHasher {
    pub(crate) fn new() -> EntryHasher {
        EntryHasher {
            h: FNV_OFFSET,
            word: [0; 8],
            fill: 0,
            len: 0,
        }
    }

    pub(crate) fn write(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len() as u64;
        if self.fill > 0 {
            let take = bytes.len().min(8 - self.fill);
            self.word[self.fill..self.fill + take].copy_from_slice(&bytes[..take]);
            self.fill += take;
            bytes = &bytes[take..];
            if self.fill < 8 {
                return;
            }
            self.h = (self.h ^ u64::from_le_bytes(self.word)).wrapping_mul(FNV_PRIME);
            self.fill = 0;
        }
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.h = (self.h ^ u64::from_le_bytes(word)).wrapping_mul(FNV_PRIME);
        }
        let tail = chunks.remainder();
        self.word[..tail.len()].copy_from_slice(tail);
        self.fill = tail.len();
    }

    pub(crate) fn finish(mut self) -> u64 {
        if self.fill > 0 {
            self.word[self.fill..].fill(0);
            self.h = (self.h ^ u64::from_le_bytes(self.word)).wrapping_mul(FNV_PRIME);
        }
        (self.h ^ self.len).wrapping_mul(FNV_PRIME)
    }
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
    fn text_hashed_in_pieces_hashes_as_a_whole() {
        let text =
            "borrow counter <- @67e55044-10b1-426f-9247-bb680e5fe0c8.source_counter op-1 t=2";
        for len in 0..text.len() {
            let whole = &text[..len];
            for cuts in [[0, 0], [1, 2], [3, 11], [7, 8], [8, 16], [5, 30]] {
                let [a, b] = cuts.map(|c| c.min(len));
                let mut h = EntryHasher::new();
                for piece in [&whole[..a], &whole[a..b], &whole[b..]] {
                    h.write(piece.as_bytes());
                }
                assert_eq!(h.finish(), entry_hash(whole), "{whole:?} cut at {a}, {b}");
            }
        }
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
