//! The text operations write — history entries, text values, addresses —
//! built without `core::fmt`.
//!
//! The executor and the replay both describe a commit with these builders,
//! so the two produce the same bytes. They avoid the formatting machinery
//! on purpose: it is a large body of code, and on an engine that is mostly
//! idle (100 ops/s) each execution finds it cold, which cost several
//! microseconds per formatted line. Integers go through `itoa`, floats
//! through `zmij` (shortest round-trip form), UUIDs through their own
//! encoder.

use uuid::Uuid;

use crate::ops::OpId;

/// A line of text under construction.
#[derive(Debug, Default)]
pub(crate) struct Line {
    s: String,
}

impl Line {
    pub(crate) fn new() -> Line {
        Line {
            s: String::with_capacity(128),
        }
    }

    pub(crate) fn str(&mut self, text: &str) -> &mut Line {
        self.s.push_str(text);
        self
    }

    pub(crate) fn int(&mut self, v: i64) -> &mut Line {
        self.s.push_str(itoa::Buffer::new().format(v));
        self
    }

    pub(crate) fn uint(&mut self, v: u64) -> &mut Line {
        self.s.push_str(itoa::Buffer::new().format(v));
        self
    }

    /// Shortest form that reads back to the same `f64`.
    pub(crate) fn float(&mut self, v: f64) -> &mut Line {
        self.s.push_str(zmij::Buffer::new().format(v));
        self
    }

    /// `op-` and at least eight lowercase hex digits, as `OpId`'s
    /// `Display`.
    pub(crate) fn op(&mut self, id: OpId) -> &mut Line {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.s.push_str("op-");
        let digits = (16 - id.0.leading_zeros() as usize / 4).max(8);
        for i in (0..digits).rev() {
            self.s
                .push(char::from(HEX[((id.0 >> (i * 4)) & 0xf) as usize]));
        }
        self
    }

    /// Canonical hyphenated lowercase form.
    pub(crate) fn uuid(&mut self, id: Uuid) -> &mut Line {
        let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
        self.s.push_str(id.hyphenated().encode_lower(&mut buf));
        self
    }

    pub(crate) fn finish(&mut self) -> String {
        std::mem::take(&mut self.s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_what_the_formatting_machinery_would_write() {
        for id in [0, 1, 0xabc, 0xffff_ffff, 0x1_0000_0000, u64::MAX] {
            assert_eq!(Line::new().op(OpId(id)).finish(), OpId(id).to_string());
        }
        for v in [0, -1, 42, i64::MIN, i64::MAX] {
            assert_eq!(Line::new().int(v).finish(), v.to_string());
        }
        let u = Uuid::from_u128(0x67e5_5044_10b1_426f_9247_bb68_0e5f_e0c8);
        assert_eq!(Line::new().uuid(u).finish(), u.hyphenated().to_string());
        assert_eq!(Line::new().str("a").uint(7).str("b").finish(), "a7b");
    }

    #[test]
    fn floats_read_back_exactly() {
        for v in [
            0.0,
            1.5,
            999.999_999_999,
            1e-7,
            123_456_789.123,
            f64::MIN_POSITIVE,
        ] {
            let text = Line::new().float(v).finish();
            assert_eq!(text.parse::<f64>().ok(), Some(v), "{text}");
        }
    }
}
