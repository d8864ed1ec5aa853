//! The fast path of line parsing: a scanner for the plain JSON our own
//! writers and most others emit (no escapes, no floats in known fields,
//! one object per line).
//!
//! It fills the same [`Raw`] record serde would, for a fraction of the
//! cost: fields are matched by their bytes and numbers read in place. On
//! anything it does not expect it gives up (`None`) and the caller parses
//! the line with serde, which also gives the precise error message. So the
//! scanner decides nothing: it accepts a subset of what serde accepts and
//! reads it the same way (the tests below compare both on every kind).
//!
//! [`scan_line`] reads a line straight out of the reader's buffer, where
//! the line's end is the newline after the object: the reader then needs
//! neither to search for the newline nor to copy the line.

use std::borrow::Cow;

use super::parse::{Raw, Reason, ReasonObject};

/// The line as a [`Raw`], or `None` to fall back to serde. `line` is
/// one whole line without its newline.
pub(super) fn scan(line: &[u8]) -> Option<Raw<'_>> {
    let mut raw = Raw::default();
    let end = object(line, &mut raw)?;
    (end == line.len()).then_some(raw)
}

/// The first line of `bytes` (the start of a buffer) into `raw`, and
/// the length of the line with its newline; `None` when the line is not
/// one the scanner reads or does not end inside `bytes`.
pub(super) fn scan_line<'a>(bytes: &'a [u8], raw: &mut Raw<'a>) -> Option<usize> {
    let end = object(bytes, raw)?;
    (bytes.get(end) == Some(&b'\n')).then_some(end + 1)
}

/// One object from the start of `b` into `raw` (all fields absent), and
/// where the whitespace after it ends. Strings must be valid UTF-8 (as
/// serde requires); outside them only ASCII is read.
fn object<'a>(b: &'a [u8], raw: &mut Raw<'a>) -> Option<usize> {
    let mut s = Scanner { b, i: 0 };
    s.ws();
    s.eat(b'{')?;
    s.ws();
    if s.peek()? == b'}' {
        s.i += 1;
    } else {
        loop {
            let key = s.key()?;
            s.ws();
            s.eat(b':')?;
            s.ws();
            match key {
                Field::TNs => raw.t_ns = s.opt(Scanner::uint)?,
                Field::Op => raw.op = s.opt(Scanner::uint)?,
                Field::Target => raw.target = s.opt(Scanner::u32)?,
                Field::Priority => raw.priority = s.opt(Scanner::uint)?,
                Field::Effective => raw.effective = s.opt(Scanner::uint)?,
                Field::Parent => raw.parent = s.opt(Scanner::uint)?,
                Field::Budget => raw.budget = s.opt(Scanner::u32)?,
                Field::BatchSize => raw.batch_size = s.opt(Scanner::u32)?,
                Field::Executing => raw.executing = s.opt(Scanner::uint)?,
                Field::ResolutionNs => raw.resolution_ns = s.opt(Scanner::uint)?,
                Field::Retries => raw.retries = s.opt(Scanner::u32)?,
                Field::Attempt => raw.attempt = s.opt(Scanner::u32)?,
                Field::ElapsedNs => raw.elapsed_ns = s.opt(Scanner::uint)?,
                Field::By => raw.by = s.opt(Scanner::uint)?,
                Field::Retry => raw.retry = s.opt(Scanner::u32)?,
                Field::Max => raw.max = s.opt(Scanner::u32)?,
                Field::BackoffNs => raw.backoff_ns = s.opt(Scanner::uint)?,
                Field::ExecutionNs => raw.execution_ns = s.opt(Scanner::uint)?,
                Field::EndToEndNs => raw.end_to_end_ns = s.opt(Scanner::uint)?,
                Field::Number => raw.number = s.opt(Scanner::uint)?,
                Field::Injected => raw.injected = s.opt(Scanner::boolean)?,
                Field::OpType => raw.op_type = s.opt(|s| s.known(op_type_name))?,
                Field::Event => raw.event = s.opt(|s| s.known(kind_name))?,
                Field::Class => raw.class = s.opt(|s| s.known(|b| among(b, &CLASSES)))?,
                Field::Decision => raw.decision = s.opt(|s| s.known(|b| among(b, &DECISIONS)))?,
                Field::From => raw.from = s.opt(|s| s.known(|b| among(b, &STATES)))?,
                Field::EcsId => raw.ecs_id = s.opt(Scanner::cow)?,
                Field::Previous => raw.previous = s.opt(Scanner::cow)?,
                Field::Pending => raw.pending = s.opt(Scanner::uints)?,
                Field::Reason => raw.reason = s.opt(Scanner::reason)?,
                Field::Other => s.skip()?,
            }
            s.ws();
            match s.next()? {
                b',' => s.ws(),
                b'}' => break,
                _ => return None,
            }
        }
    }
    s.ws();
    Some(s.i)
}

/// The fields the scanner reads; any other key is skipped.
#[derive(Clone, Copy)]
enum Field {
    TNs,
    Op,
    Target,
    Priority,
    Effective,
    Parent,
    Budget,
    BatchSize,
    Executing,
    ResolutionNs,
    Retries,
    Attempt,
    ElapsedNs,
    By,
    Retry,
    Max,
    BackoffNs,
    ExecutionNs,
    EndToEndNs,
    Number,
    Injected,
    OpType,
    Event,
    Class,
    Decision,
    From,
    EcsId,
    Previous,
    Pending,
    Reason,
    Other,
}

/// A known key with its closing quote, as the little-endian number its
/// bytes make, and the mask of those bytes: one comparison matches it.
struct Key {
    bits: u128,
    mask: u128,
    len: usize,
    field: Field,
}

const fn key(name: &[u8], field: Field) -> Key {
    assert!(name.len() < 16);
    let mut bits = 0u128;
    let mut i = 0;
    while i < name.len() {
        bits |= (name[i] as u128) << (8 * i);
        i += 1;
    }
    bits |= (b'"' as u128) << (8 * i);
    let len = name.len() + 1;
    Key {
        bits,
        mask: (1u128 << (8 * len)) - 1,
        len,
        field,
    }
}

/// The value names the format knows, given back as static text: no
/// UTF-8 check of the line's bytes is needed for them.
const CLASSES: [&str; 3] = ["Normal", "Structural", "LowPriority"];
const DECISIONS: [&str; 4] = ["start", "wait", "grace_save", "preempt"];
const STATES: [&str; 3] = ["pending", "executing", "failed"];

fn among(bytes: &[u8], names: &[&'static str]) -> Option<&'static str> {
    names.iter().copied().find(|n| n.as_bytes() == bytes)
}

fn kind_name(bytes: &[u8]) -> Option<&'static str> {
    super::parse::kind_index(bytes).map(|i| super::parse::KINDS[i])
}

fn op_type_name(bytes: &[u8]) -> Option<&'static str> {
    crate::ops::OpType::ALL
        .into_iter()
        .map(crate::ops::OpType::name)
        .find(|n| n.as_bytes() == bytes)
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }

    /// Whitespace inside a line (a newline ends the line).
    #[inline]
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r')) {
            self.i += 1;
        }
    }

    /// `null` as `None`, else the value `f` reads.
    #[inline]
    fn opt<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.peek()? == b'n' {
            if !self.b[self.i..].starts_with(b"null") {
                return None;
            }
            self.i += 4;
            return Some(None);
        }
        f(self).map(Some)
    }

    /// A key (its opening quote next): the known ones are matched in
    /// place, closing quote included, without scanning them first.
    #[inline]
    fn key(&mut self) -> Option<Field> {
        use Field::*;
        self.eat(b'"')?;
        let rest = &self.b[self.i..];
        let candidates: &[Key] = match rest.first()? {
            b't' => const { &[key(b"t_ns", TNs), key(b"target", Target)] },
            b'o' => const { &[key(b"op", Op), key(b"op_type", OpType)] },
            b'p' => {
                const {
                    &[
                        key(b"priority", Priority),
                        key(b"parent", Parent),
                        key(b"pending", Pending),
                        key(b"previous", Previous),
                    ]
                }
            }
            b'e' => {
                const {
                    &[
                        key(b"event", Event),
                        key(b"effective", Effective),
                        key(b"executing", Executing),
                        key(b"elapsed_ns", ElapsedNs),
                        key(b"execution_ns", ExecutionNs),
                        key(b"end_to_end_ns", EndToEndNs),
                        key(b"ecs_id", EcsId),
                    ]
                }
            }
            b'c' => const { &[key(b"class", Class)] },
            b'b' => {
                const {
                    &[
                        key(b"budget", Budget),
                        key(b"batch_size", BatchSize),
                        key(b"by", By),
                        key(b"backoff_ns", BackoffNs),
                    ]
                }
            }
            b'd' => const { &[key(b"decision", Decision)] },
            b'r' => {
                const {
                    &[
                        key(b"reason", Reason),
                        key(b"retries", Retries),
                        key(b"retry", Retry),
                        key(b"resolution_ns", ResolutionNs),
                    ]
                }
            }
            b'a' => const { &[key(b"attempt", Attempt)] },
            b'm' => const { &[key(b"max", Max)] },
            b'i' => const { &[key(b"injected", Injected)] },
            b'f' => const { &[key(b"from", From)] },
            b'n' => const { &[key(b"number", Number)] },
            _ => &[],
        };
        // The next sixteen bytes (zeros past the end: no key's quote
        // matches them).
        let next = match rest.first_chunk::<16>() {
            Some(bytes) => u128::from_le_bytes(*bytes),
            None => {
                let mut next = [0u8; 16];
                next[..rest.len()].copy_from_slice(rest);
                u128::from_le_bytes(next)
            }
        };
        for k in candidates {
            if next & k.mask == k.bits {
                self.i += k.len;
                return Some(k.field);
            }
        }
        // Another key: read as a string (the scanner's rules apply).
        self.i -= 1;
        self.bytes()?;
        Some(Other)
    }

    /// A string: a name `find` knows as static text, or any other text
    /// (checked as UTF-8).
    #[inline]
    fn known(&mut self, find: impl FnOnce(&[u8]) -> Option<&'static str>) -> Option<Cow<'a, str>> {
        let bytes = self.bytes()?;
        Some(Cow::Borrowed(match find(bytes) {
            Some(name) => name,
            None => std::str::from_utf8(bytes).ok()?,
        }))
    }

    /// A string without escapes or control characters, as bytes; one
    /// that is not ASCII must be valid UTF-8.
    #[inline(always)]
    fn bytes(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.i;
        let mut ascii = true;
        let end = loop {
            let j = special(self.b, self.i)?;
            match self.b[j] {
                b'"' => break j,
                c if c >= 0x80 => {
                    ascii = false;
                    self.i = j + 1;
                }
                _ => return None,
            }
        };
        self.i = end + 1;
        let bytes = &self.b[start..end];
        if !ascii {
            std::str::from_utf8(bytes).ok()?;
        }
        Some(bytes)
    }

    /// A string without escapes.
    #[inline]
    fn string(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.bytes()?).ok()
    }

    fn cow(&mut self) -> Option<Cow<'a, str>> {
        self.string().map(Cow::Borrowed)
    }

    /// A non-negative integer that fits a u64, and is not a float.
    #[inline]
    fn uint(&mut self) -> Option<u64> {
        let start = self.i;
        let mut v: u64 = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            self.i += 1;
        }
        let digits = self.i - start;
        let leading_zero = digits > 1 && self.b[start] == b'0';
        let float = matches!(self.peek(), Some(b'.' | b'e' | b'E'));
        (digits > 0 && !leading_zero && !float).then_some(v)
    }

    fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.uint()?).ok()
    }

    fn boolean(&mut self) -> Option<bool> {
        for (text, v) in [(&b"true"[..], true), (b"false", false)] {
            if self.b[self.i..].starts_with(text) {
                self.i += text.len();
                return Some(v);
            }
        }
        None
    }

    fn uints(&mut self) -> Option<Vec<u64>> {
        self.eat(b'[')?;
        let mut v = Vec::with_capacity(8);
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(v);
        }
        loop {
            self.ws();
            v.push(self.uint()?);
            self.ws();
            match self.next()? {
                b',' => continue,
                b']' => return Some(v),
                _ => return None,
            }
        }
    }

    /// A reason: a name, or an object with one key whose value is an
    /// object with one integer field: `{"outranked":{"winner":ID}}`,
    /// `{"injected_fault":{"step":N}}`, `{"preempted":{"by":ID}}`.
    fn reason(&mut self) -> Option<Reason<'a>> {
        if self.peek()? == b'"' {
            return self.cow().map(Reason::Name);
        }
        self.eat(b'{')?;
        self.ws();
        let variant = self.bytes()?;
        self.ws();
        self.eat(b':')?;
        self.ws();
        self.eat(b'{')?;
        self.ws();
        let key = self.bytes()?;
        self.ws();
        self.eat(b':')?;
        self.ws();
        let n = self.uint()?;
        for close in [b'}', b'}'] {
            self.ws();
            self.eat(close)?;
        }
        Some(Reason::Object(match (variant, key) {
            (b"outranked", b"winner") => ReasonObject::Outranked { winner: n },
            (b"injected_fault", b"step") => ReasonObject::InjectedFault {
                step: u8::try_from(n).ok()?,
            },
            (b"preempted", b"by") => ReasonObject::Preempted { by: n },
            _ => return None,
        }))
    }

    /// Step over one value of any kind (strings without escapes).
    fn skip(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => {
                self.bytes()?;
            }
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.bytes()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                return Some(());
                            }
                        }
                        // A line ends at its newline.
                        b'\n' => return None,
                        _ => {}
                    }
                    self.i += 1;
                }
            }
            first => {
                let start = self.i;
                while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b'.'))
                {
                    self.i += 1;
                }
                let word = &self.b[start..self.i];
                let number = (first == b'-' || first.is_ascii_digit()) && json_number(word);
                if !(number || matches!(word, b"true" | b"false" | b"null")) {
                    return None;
                }
            }
        }
        Some(())
    }
}

/// The first byte from `i` on that ends or spoils a plain string: a
/// quote, a backslash, a control character or a byte outside ASCII.
/// Eight bytes at a time: a flag in each byte's high bit, and the first
/// flag is exact (a borrow only carries past a byte already flagged).
#[inline]
fn special(b: &[u8], mut i: usize) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = ONES << 7;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v;
    while let Some(chunk) = b.get(i..i + 8) {
        let x = u64::from_le_bytes(chunk.try_into().ok()?);
        let flags = (zero(x ^ (ONES * u64::from(b'"')))
            | zero(x ^ (ONES * u64::from(b'\\')))
            | zero(x & !(ONES * 0x1f))
            | x)
            & HIGH;
        if flags != 0 {
            return Some(i + (flags.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b[i..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c))
        .map(|p| i + p)
}

/// Whether `w` is a JSON number: `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn json_number(w: &[u8]) -> bool {
    fn digits(w: &[u8], i: &mut usize) -> usize {
        let start = *i;
        while w.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    }
    let mut i = usize::from(w.first() == Some(&b'-'));
    let int_start = i;
    let n = digits(w, &mut i);
    if n == 0 || (n > 1 && w[int_start] == b'0') {
        return false;
    }
    if w.get(i) == Some(&b'.') {
        i += 1;
        if digits(w, &mut i) == 0 {
            return false;
        }
    }
    if matches!(w.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(w.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(w, &mut i) == 0 {
            return false;
        }
    }
    i == w.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::parse::from_raw;

    /// The scanner reads a line as serde does, or gives it up.
    fn same(line: &str) {
        let fast = scan(line.as_bytes()).map(|mut r| format!("{:?}", from_raw(&mut r)));
        let slow: Result<Raw<'_>, _> = serde_json::from_str(line);
        let slow = slow.map(|mut r| format!("{:?}", from_raw(&mut r)));
        if let Some(fast) = fast {
            assert_eq!(Ok(fast), slow.map_err(|e| e.to_string()), "{line}");
        }
    }

    #[test]
    fn reads_every_kind_as_serde_does() {
        for line in [
            r#"{"t_ns":2611964,"op":0,"target":0,"op_type":"version_entity","priority":10,"event":"OperationSubmitted","effective":10,"class":"Normal","parent":null,"budget":5,"batch_size":8}"#,
            r#"{"t_ns":1,"op":3,"target":2,"priority":5,"event":"OperationConflict","pending":[3, 4,5],"executing":null,"decision":"start","resolution_ns":0}"#,
            r#"{"t_ns":1,"op":4,"target":2,"priority":5,"event":"OperationRejected","from":"pending","reason":{"outranked":{"winner":3}},"retries":0}"#,
            r#"{"t_ns":1,"op":4,"target":2,"priority":5,"event":"OperationRejected","from":"failed","reason":"budget_spent","retries":2}"#,
            r#"{"t_ns":1,"op":4,"target":2,"priority":5,"event":"OperationFailed","reason":{"injected_fault":{"step":2}},"attempt":1,"injected":true}"#,
            r#"{"t_ns":9,"op":4,"target":2,"priority":5,"event":"OperationCompleted","execution_ns":0,"end_to_end_ns":5,"effect":{"type":"borrowed","field":"text","value":"a b, c","from":"3f2a8b0e-0000-4000-8000-000000000001","at_us":-7}}"#,
            r#"{"t_ns":9,"op":4,"target":2,"priority":5,"event":"EntityVersioned","ecs_id":"3f2a8b0e-0000-4000-8000-000000000001","previous":"3f2a8b0e-0000-4000-8000-000000000002","number":3}"#,
            r#" { "t_ns" : 1 , "op" : 1, "target":0,"priority":5,"event":"OperationRetry","retry":1,"max":2,"backoff_ns":5,"extra":[true,null,{"x":1.5e3}] } "#,
        ] {
            assert!(scan(line.as_bytes()).is_some(), "{line}");
            same(line);
        }
    }

    #[test]
    fn gives_up_on_what_it_does_not_expect() {
        for line in [
            r#"{"t_ns":1.5,"op":1}"#,
            r#"{"t_ns":-1,"op":1}"#,
            r#"{"t_ns":01,"op":1}"#,
            r#"{"event":"Operation\u0053ubmitted"}"#,
            r#"{"op":1} trailing"#,
            r#"{"op":1,"x":tru}"#,
            r#"{"target":4294967296}"#,
            r#"{"op":1"#,
            r#"{"op":1,"x":1..2}"#,
            r#"{"op":1,"x":-}"#,
            r#"{"op":1,"x":01}"#,
            r#"{"op":1,"x":1e}"#,
            r#"{"op":1,"reason":{"outranked":{"winner":3,"x":1}}}"#,
            r#"{"op":1,"reason":{"injected_fault":{"step":256}}}"#,
            "{\"op\":1,\"x\":\"\u{7}\"}",
            "{\"op\":1,\"x\":\"a\nb\"}",
        ] {
            assert!(scan(line.as_bytes()).is_none(), "{line}");
            same(line);
        }
        // Not UTF-8 inside a string.
        assert!(scan(b"{\"op\":1,\"x\":\"\xff\"}").is_none());
    }

    #[test]
    fn reads_what_serde_reads_beyond_ascii_and_in_other_forms() {
        for line in [
            r#"{"t_ns":1,"op":1,"target":0,"priority":5,"event":"OperationSubmitted","budget":0,"class":"Normal","note":"grüße ✓"}"#,
            r#"{"t_ns":1,"op":4,"target":2,"priority":5,"event":"OperationFailed","reason":{ "preempted" : { "by" : 3 } },"injected":false}"#,
            r#"{"t_ns":1,"op":1,"target":0,"priority":5,"event":"OperationStarted","x":-0.5E+3,"y":0,"z":[]}"#,
            r#"{"t_nsx":7,"t_ns":1,"o":1,"op":1,"op_typ":"x","op_type":"nope","target":0,"priority":5,"event":"OperationRetry","retryx":9,"retry":1,"retries_":3,"max":2,"backoff_ns":5,"":0,"ü":1}"#,
            r#"{"t_ns":1,"op":1,"target":0,"priority":5,"event":"OperationSubmitted","budget":0,"class":"Other","effective":7}"#,
            r#"{"t_ns":1,"op":1,"target":0,"priority":5,"event":"OperationConflict","pending":[1],"decision":"grace_save","executing":2}"#,
            r#"{"t_ns":1,"op":1,"target":0,"priority":5,"event":"OperationCancelled","from":"failed"}"#,
            r#"{"t_ns":1,"op":1,"target":0,"priority":5,"event":"OperationCancelled","from":"gone"}"#,
            r#"{"t_ns":1,"op":1,"target":0,"priority":5,"event":"OperationExploded"}"#,
        ] {
            assert!(scan(line.as_bytes()).is_some(), "{line}");
            same(line);
        }
    }

    #[test]
    fn special_finds_the_first_byte_that_ends_a_plain_string() {
        let plain = b"abcdefghijklmnopqrstuvwxyz0123456789 -_:,{}[]";
        for len in 0..plain.len() {
            for (c, found) in [
                (b'"', true),
                (b'\\', true),
                (0u8, true),
                (0x1f, true),
                (0x7f, false),
                (0xc3, true),
                (b' ', false),
            ] {
                let mut line = plain[..len].to_vec();
                line.push(c);
                line.extend_from_slice(b"\"\\\x01");
                let want = if found { len } else { len + 1 };
                assert_eq!(special(&line, 0), Some(want), "{len} {c:#x}");
                // From any start before it.
                assert_eq!(special(&line, len / 2), Some(want), "{len} {c:#x}");
            }
            assert_eq!(special(&plain[..len], 0), None);
        }
    }

    #[test]
    fn a_line_in_a_buffer_ends_at_its_newline() {
        let line = |text: &str| {
            let mut raw = Raw::default();
            scan_line(text.as_bytes(), &mut raw).map(|len| (raw.op, len))
        };
        let two = "{\"op\":1} \r\n{\"op\":2}\n";
        assert_eq!(line(two), Some((Some(1), 11)));
        assert_eq!(line(&two[11..]), Some((Some(2), 9)));
        // Cut before its newline, or followed by more than whitespace.
        assert_eq!(line("{\"op\":1}"), None);
        assert_eq!(line("{\"op\":1} x\n"), None);
        assert_eq!(line("{\"op\":1,\"x\":{\"y\":\n1}}\n"), None);
        assert_eq!(line("\n{\"op\":1}\n"), None);
    }
}
