//! Version ids (`ecs_id`s) that name their own entity and version number.
//!
//! An `ecs_id` must look like any random (v4) UUID, be unique, come from the
//! run's seed, and resolve back to `(entity, version number)` quickly. It
//! must also resolve when the version has been *evicted* from the retention
//! window, so that `get` through an old id can say "evicted" and name the
//! lineage instead of "unknown" — without keeping every id ever issued.
//!
//! So instead of drawing ids and remembering them in a map, the store
//! *encrypts* `(tag, entity, number)` with a small keyed permutation:
//!
//! ```text
//!   plaintext (122 bits) = tag (26) | entity index (32) | version number (64)
//!   ciphertext           = 4-round Feistel network over two 61-bit halves
//!                          (multiply-xorshift rounds), round keys drawn
//!                          from the store's seeded RNG
//!   ecs_id               = ciphertext spread over the 122 free bits of a
//!                          v4 UUID (version nibble 4, RFC 4122 variant)
//! ```
//!
//! A Feistel network is a bijection whatever its round function, so ids of
//! distinct versions never collide; decoding runs the rounds backwards and
//! checks the tag (a random 26-bit constant per store), so a UUID this store
//! never issued is recognised as foreign except with probability 2⁻²⁶ — and
//! even then it must also land on an existing entity and version number.
//! Encoding and decoding cost a few nanoseconds and no memory at all.
//!
//! A lineage id is the code of `(entity, 0)`: version numbers start at 1,
//! so it never names a version, and the store needs no map from lineage
//! ids back to entities either.

use rand::RngExt;
use rand::rngs::SmallRng;
use uuid::Uuid;

use super::store::EntityId;

const ROUNDS: usize = 4;
const HALF_BITS: u32 = 61;
const HALF_MASK: u64 = (1 << HALF_BITS) - 1;
const TAG_BITS: u32 = 26;
const TAG_MASK: u32 = (1 << TAG_BITS) - 1;

/// The keyed permutation between `(entity, number)` and `ecs_id`.
#[derive(Clone, Debug)]
pub(crate) struct IdCodec {
    keys: [u64; ROUNDS],
    tag: u32,
}

impl IdCodec {
    /// Draw the round keys and the tag from the store's RNG.
    pub(crate) fn new(rng: &mut SmallRng) -> IdCodec {
        IdCodec {
            keys: [rng.random(), rng.random(), rng.random(), rng.random()],
            tag: rng.random::<u32>() & TAG_MASK,
        }
    }

    /// The id of version `number` of `entity`.
    pub(crate) fn encode(&self, entity: EntityId, number: u64) -> Uuid {
        let plain =
            (u128::from(self.tag) << 96) | (u128::from(entity.0) << 64) | u128::from(number);
        let mut left = (plain >> HALF_BITS) as u64 & HALF_MASK;
        let mut right = plain as u64 & HALF_MASK;
        for key in self.keys {
            let next = left ^ round(right, key);
            left = right;
            right = next;
        }
        let cipher = (u128::from(left) << HALF_BITS) | u128::from(right);
        Uuid::from_u128(spread(cipher))
    }

    /// The lineage id of `entity`: the code of version number 0, which no
    /// version has (versions are numbered from 1). So a lineage id is as
    /// random-looking as a version id, never equals one, and resolves to
    /// its entity without a table.
    /// Version `number`'s `(ecs_id, previous_ecs_id)`: the first version
    /// follows nothing (the nil id), every other the one before it.
    pub(crate) fn version(&self, entity: EntityId, number: u64) -> (Uuid, Uuid) {
        let previous = if number > 1 {
            self.encode(entity, number - 1)
        } else {
            Uuid::nil()
        };
        (self.encode(entity, number), previous)
    }

    pub(crate) fn lineage(&self, entity: EntityId) -> Uuid {
        self.encode(entity, 0)
    }

    /// `(entity, number)` of an id this store issued; `None` for a foreign
    /// UUID. The caller still checks that entity and version exist.
    pub(crate) fn decode(&self, id: Uuid) -> Option<(EntityId, u64)> {
        let cipher = gather(id.as_u128())?;
        let mut left = (cipher >> HALF_BITS) as u64 & HALF_MASK;
        let mut right = cipher as u64 & HALF_MASK;
        for key in self.keys.iter().rev() {
            let prev = right ^ round(left, *key);
            right = left;
            left = prev;
        }
        let plain = (u128::from(left) << HALF_BITS) | u128::from(right);
        if (plain >> 96) as u32 != self.tag {
            return None;
        }
        Some((EntityId((plain >> 64) as u32), plain as u64))
    }
}

/// The round function: one multiply and a fold of the high half down, which
/// is plenty to scatter consecutive numbers (the Feistel structure, not the
/// round function, is what guarantees uniqueness).
fn round(half: u64, key: u64) -> u64 {
    let x = (half ^ key).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (x ^ (x >> 29)) & HALF_MASK
}

// Bit positions in the UUID's u128 (big-endian) form: the version nibble is
// bits 76..80, the variant bits 62..64.
const VERSION_SHIFT: u32 = 76;
const VARIANT_SHIFT: u32 = 62;
const LOW_BITS: u32 = 62; // payload bits 0..62   → uuid bits 0..62
const MID_BITS: u32 = 12; // payload bits 62..74  → uuid bits 64..76
const HIGH_BITS: u32 = 48; // payload bits 74..122 → uuid bits 80..128

fn spread(payload: u128) -> u128 {
    let low = payload & ((1 << LOW_BITS) - 1);
    let mid = (payload >> LOW_BITS) & ((1 << MID_BITS) - 1);
    let high = (payload >> (LOW_BITS + MID_BITS)) & ((1 << HIGH_BITS) - 1);
    low | (0b10 << VARIANT_SHIFT) | (mid << 64) | (0b0100 << VERSION_SHIFT) | (high << 80)
}

fn gather(uuid: u128) -> Option<u128> {
    if (uuid >> VERSION_SHIFT) & 0xf != 0b0100 || (uuid >> VARIANT_SHIFT) & 0b11 != 0b10 {
        return None;
    }
    let low = uuid & ((1 << LOW_BITS) - 1);
    let mid = (uuid >> 64) & ((1 << MID_BITS) - 1);
    let high = uuid >> 80;
    Some(low | (mid << LOW_BITS) | (high << (LOW_BITS + MID_BITS)))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use uuid::{Variant, Version};

    use super::*;

    fn codec(seed: u64) -> IdCodec {
        IdCodec::new(&mut SmallRng::seed_from_u64(seed))
    }

    #[test]
    fn ids_round_trip_and_look_like_v4_uuids() {
        let c = codec(7);
        for (e, n) in [(0, 1), (1, 2), (u32::MAX, u64::MAX), (42, 1 << 40), (3, 0)] {
            let id = c.encode(EntityId(e), n);
            assert_eq!(id.get_version(), Some(Version::Random), "{id}");
            assert_eq!(id.get_variant(), Variant::RFC4122, "{id}");
            assert_eq!(c.decode(id), Some((EntityId(e), n)), "{id}");
        }
    }

    #[test]
    fn ids_are_distinct_and_seed_dependent() {
        let c = codec(1);
        let mut seen = std::collections::HashSet::new();
        for e in 0..50 {
            for n in 1..50 {
                assert!(seen.insert(c.encode(EntityId(e), n)));
            }
        }
        assert_eq!(
            codec(1).encode(EntityId(0), 1),
            c.encode(EntityId(0), 1),
            "same seed, same ids"
        );
        assert_ne!(codec(2).encode(EntityId(0), 1), c.encode(EntityId(0), 1));
    }

    #[test]
    fn foreign_uuids_are_rejected() {
        let c = codec(3);
        let other = codec(4);
        assert_eq!(c.decode(other.encode(EntityId(0), 1)), None);
        assert_eq!(c.decode(Uuid::nil()), None);
        let mut rng = SmallRng::seed_from_u64(9);
        for _ in 0..1000 {
            let random = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
            assert_eq!(c.decode(random), None, "{random}");
        }
    }
}
