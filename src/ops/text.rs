//! The text values operations write (`text_<n>`, `Updated_<counter>_<t>`),
//! built without `core::fmt`.
//!
//! They avoid the formatting machinery on purpose: it is a large body of
//! code, and on an engine that is mostly idle (100 ops/s) each execution
//! finds it cold, which cost several microseconds per formatted line.
//! Integers go through `itoa`. History entries are kept as their parts and
//! written out by the store the same way (`ecs::Entry`).

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

    pub(crate) fn finish(&mut self) -> String {
        std::mem::take(&mut self.s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_what_the_formatting_machinery_would_write() {
        for v in [0, -1, 42, i64::MIN, i64::MAX] {
            assert_eq!(Line::new().int(v).finish(), v.to_string());
        }
        assert_eq!(Line::new().str("a").uint(7).str("b").finish(), "a7b");
    }
}
