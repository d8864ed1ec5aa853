//! A history entry, kept as what it is made of.
//!
//! An op's entry reads `<head><argument><tail> op-<id> t=<time>`: a fixed
//! phrase around one argument, the op's id in at least eight lowercase hex
//! digits, and the commit time in microseconds. As text that is one string
//! allocation of 60 to 110 bytes per entry, and a million targets each
//! retain a few; as parts it is 48 bytes inline in the log, and the text is
//! written only when someone reads it (a field read, an address, the store
//! digest, an audit). Its hash, which the history digest folds, is taken
//! over the same text, written into a buffer on the stack rather than a
//! string, so a digest cannot tell the two forms apart. Hashing runs inside
//! every transaction that writes history, usually on cold caches, so it is
//! kept to straight-line code: one buffer, one pass of the hash, hex digits
//! computed rather than looked up.
//!
//! Any other entry (given at creation, appended by the store's API) is kept
//! as its text.

use std::borrow::Cow;
use std::sync::Arc;

use uuid::Uuid;

use super::digest::{entry_hash, entry_hash_bytes};

/// The fixed text around an op entry's argument.
#[derive(Debug, PartialEq, Eq)]
pub struct Phrase {
    pub head: &'static str,
    pub tail: &'static str,
}

/// The one variable part of what an op entry says.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Arg {
    None,
    Int(i64),
    Uint(u64),
    /// Written in the shortest form that reads back to the same `f64`.
    Float(f64),
    /// Written hyphenated, lowercase.
    Uuid(Uuid),
}

/// What an op entry says before its op and time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct What {
    pub phrase: &'static Phrase,
    pub arg: Arg,
}

/// One history entry.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    /// An entry kept as its text.
    Text(Arc<str>),
    /// An op's entry, as its parts.
    Op { what: What, op: u64, at_us: i64 },
}

/// Where an entry's text is written: a string, or a line to hash.
pub(crate) trait Sink {
    fn put(&mut self, s: &str);
    /// ASCII bytes (hex digits, dashes).
    fn put_ascii(&mut self, bytes: &[u8]);
}

impl Sink for String {
    fn put(&mut self, s: &str) {
        self.push_str(s);
    }

    fn put_ascii(&mut self, bytes: &[u8]) {
        self.extend(bytes.iter().map(|&b| char::from(b)));
    }
}

/// Room for an op entry's text on the stack. The longest the workload
/// writes is about 110 bytes; a longer one is hashed from a string.
const LINE_ROOM: usize = 192;

/// An op entry's text written out on the stack, to be hashed. Past its
/// room it only counts, and [`Line::bytes`] says it overflowed.
struct Line {
    buf: [u8; LINE_ROOM],
    len: usize,
}

impl Line {
    fn new() -> Line {
        Line {
            buf: [0; LINE_ROOM],
            len: 0,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        if let Some(room) = self.buf.get_mut(self.len..end) {
            room.copy_from_slice(bytes);
        }
        self.len = end;
    }

    fn bytes(&self) -> Option<&[u8]> {
        self.buf.get(..self.len)
    }
}

impl Sink for Line {
    fn put(&mut self, s: &str) {
        self.push(s.as_bytes());
    }

    fn put_ascii(&mut self, bytes: &[u8]) {
        self.push(bytes);
    }
}

impl Entry {
    /// An op's entry.
    pub fn op(what: What, op: u64, at_us: i64) -> Entry {
        Entry::Op { what, op, at_us }
    }

    /// The entry's text.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Entry::Text(text) => Cow::Borrowed(text),
            Entry::Op { .. } => {
                let mut out = String::with_capacity(112);
                self.write(&mut out);
                Cow::Owned(out)
            }
        }
    }

    /// The entry's text in a shared string (the text itself for a text
    /// entry).
    pub(crate) fn to_arc(&self) -> Arc<str> {
        match self {
            Entry::Text(text) => Arc::clone(text),
            Entry::Op { .. } => Arc::from(self.text()),
        }
    }

    /// The hash of the entry's text ([`entry_hash`]), without allocating
    /// it.
    pub(crate) fn hash(&self) -> u64 {
        match self {
            Entry::Text(text) => entry_hash(text),
            Entry::Op { .. } => {
                let mut line = Line::new();
                self.write(&mut line);
                match line.bytes() {
                    Some(bytes) => entry_hash_bytes(bytes),
                    None => entry_hash(&self.text()),
                }
            }
        }
    }

    /// Write the entry's text into `out`.
    pub(crate) fn write(&self, out: &mut impl Sink) {
        let (what, op, at_us) = match self {
            Entry::Text(text) => return out.put(text),
            Entry::Op { what, op, at_us } => (what, *op, *at_us),
        };
        out.put(what.phrase.head);
        match what.arg {
            Arg::None => {}
            Arg::Int(v) => out.put(itoa::Buffer::new().format(v)),
            Arg::Uint(v) => out.put(itoa::Buffer::new().format(v)),
            Arg::Float(v) => out.put(zmij::Buffer::new().format(v)),
            Arg::Uuid(id) => put_uuid(out, id),
        }
        out.put(what.phrase.tail);
        out.put(" op-");
        put_op_id(out, op);
        out.put(" t=");
        out.put(itoa::Buffer::new().format(at_us));
    }
}

/// At least eight lowercase hex digits.
fn put_op_id(out: &mut impl Sink, id: u64) {
    let digits = (16 - id.leading_zeros() as usize / 4).max(8);
    let mut buf = [0u8; 16];
    for (i, b) in buf[..digits].iter_mut().enumerate() {
        *b = hex_digit((id >> ((digits - 1 - i) * 4)) as u8);
    }
    out.put_ascii(&buf[..digits]);
}

/// The hyphenated lowercase form, `8-4-4-4-12` hex digits.
fn put_uuid(out: &mut impl Sink, id: Uuid) {
    let mut buf = [0u8; 36];
    let mut at = 0;
    for (i, byte) in id.as_bytes().iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            buf[at] = b'-';
            at += 1;
        }
        buf[at] = hex_digit(byte >> 4);
        buf[at + 1] = hex_digit(*byte);
        at += 2;
    }
    out.put_ascii(&buf);
}

/// The lowercase hex digit of the low four bits.
fn hex_digit(nibble: u8) -> u8 {
    let n = nibble & 0xf;
    if n < 10 { b'0' + n } else { b'a' + n - 10 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecs::digest::entry_hash;

    const SET: Phrase = Phrase {
        head: "set x=",
        tail: "",
    };
    const FROM: Phrase = Phrase {
        head: "from @",
        tail: ".field",
    };
    const DONE: Phrase = Phrase {
        head: "done",
        tail: "",
    };

    fn entries() -> Vec<Entry> {
        let u = Uuid::from_u128(0x67e5_5044_10b1_426f_9247_bb68_0e5f_e0c8);
        let mut out = vec![
            Entry::Text(Arc::from("")),
            Entry::Text(Arc::from("free text, longer than one eight-byte word")),
        ];
        for (what, op, at_us) in [
            (Arg::Int(-42), 0, 0),
            (Arg::Int(i64::MIN), 0xabc, i64::MAX),
            (Arg::Uint(u64::MAX), 0xffff_ffff, 1),
            (Arg::Float(0.1), 0x1_0000_0000, -5),
            (Arg::Float(999.999_999_999), u64::MAX, 1_732_000_000_000_000),
            (Arg::Uuid(u), 7, 8),
        ] {
            out.push(Entry::op(
                What {
                    phrase: &SET,
                    arg: what,
                },
                op,
                at_us,
            ));
        }
        out.push(Entry::op(
            What {
                phrase: &FROM,
                arg: Arg::Uuid(u),
            },
            1,
            2,
        ));
        out.push(Entry::op(
            What {
                phrase: &DONE,
                arg: Arg::None,
            },
            3,
            4,
        ));
        out
    }

    #[test]
    fn an_op_entry_reads_as_its_parts_written_out() {
        let u = Uuid::from_u128(0x67e5_5044_10b1_426f_9247_bb68_0e5f_e0c8);
        let texts: Vec<String> = entries().iter().map(|e| e.text().into_owned()).collect();
        assert_eq!(
            texts[2..],
            [
                "set x=-42 op-00000000 t=0".to_string(),
                format!("set x={} op-00000abc t={}", i64::MIN, i64::MAX),
                format!("set x={} op-ffffffff t=1", u64::MAX),
                "set x=0.1 op-100000000 t=-5".to_string(),
                "set x=999.999999999 op-ffffffffffffffff t=1732000000000000".to_string(),
                format!("set x={u} op-00000007 t=8"),
                format!("from @{u}.field op-00000001 t=2"),
                "done op-00000003 t=4".to_string(),
            ]
        );
    }

    #[test]
    fn an_entry_hashes_as_its_text() {
        for e in entries() {
            assert_eq!(e.hash(), entry_hash(&e.text()), "{e:?}");
            assert_eq!(&*e.to_arc(), &*e.text());
        }
    }

    #[test]
    fn an_entry_as_long_as_the_stack_line_or_longer_hashes_as_its_text() {
        // Besides the head: 20 + 4 + 16 + 3 + 20 bytes.
        let long: &'static str = Box::leak("h".repeat(LINE_ROOM).into_boxed_str());
        for (head, fits) in [(LINE_ROOM - 63, true), (LINE_ROOM - 62, false)] {
            let phrase: &'static Phrase = Box::leak(Box::new(Phrase {
                head: &long[..head],
                tail: "",
            }));
            let e = Entry::op(
                What {
                    phrase,
                    arg: Arg::Uint(u64::MAX),
                },
                u64::MAX,
                i64::MIN,
            );
            let mut line = Line::new();
            e.write(&mut line);
            assert_eq!(line.bytes().is_some(), fits, "head of {head}");
            assert_eq!(e.hash(), entry_hash(&e.text()), "head of {head}");
        }
    }

    #[test]
    fn an_entry_is_small() {
        assert!(std::mem::size_of::<Entry>() <= 48);
    }
}
