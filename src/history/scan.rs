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

use std::borrow::Cow;

use super::parse::{Raw, Reason};

/// The line as a [`Raw`], or `None` to fall back to serde.
pub(super) fn scan(line: &[u8]) -> Option<Raw<'_>> {
    // One UTF-8 check for the whole line (as serde makes); strings are
    // then slices of it.
    let text = std::str::from_utf8(line).ok()?;
    let mut s = Scanner {
        b: line,
        text,
        i: 0,
    };
    let mut raw = Raw::default();
    s.ws();
    s.eat(b'{')?;
    s.ws();
    if s.peek()? == b'}' {
        s.i += 1;
    } else {
        loop {
            s.ws();
            let key = s.bytes()?;
            s.ws();
            s.eat(b':')?;
            s.ws();
            match key {
                b"t_ns" => raw.t_ns = s.opt(Scanner::uint)?,
                b"op" => raw.op = s.opt(Scanner::uint)?,
                b"target" => raw.target = s.opt(Scanner::u32)?,
                b"priority" => raw.priority = s.opt(Scanner::uint)?,
                b"effective" => raw.effective = s.opt(Scanner::uint)?,
                b"parent" => raw.parent = s.opt(Scanner::uint)?,
                b"budget" => raw.budget = s.opt(Scanner::u32)?,
                b"batch_size" => raw.batch_size = s.opt(Scanner::u32)?,
                b"executing" => raw.executing = s.opt(Scanner::uint)?,
                b"resolution_ns" => raw.resolution_ns = s.opt(Scanner::uint)?,
                b"retries" => raw.retries = s.opt(Scanner::u32)?,
                b"attempt" => raw.attempt = s.opt(Scanner::u32)?,
                b"elapsed_ns" => raw.elapsed_ns = s.opt(Scanner::uint)?,
                b"by" => raw.by = s.opt(Scanner::uint)?,
                b"retry" => raw.retry = s.opt(Scanner::u32)?,
                b"max" => raw.max = s.opt(Scanner::u32)?,
                b"backoff_ns" => raw.backoff_ns = s.opt(Scanner::uint)?,
                b"execution_ns" => raw.execution_ns = s.opt(Scanner::uint)?,
                b"end_to_end_ns" => raw.end_to_end_ns = s.opt(Scanner::uint)?,
                b"number" => raw.number = s.opt(Scanner::uint)?,
                b"injected" => raw.injected = s.opt(Scanner::boolean)?,
                b"op_type" => raw.op_type = s.opt(Scanner::cow)?,
                b"event" => raw.event = s.opt(Scanner::cow)?,
                b"class" => raw.class = s.opt(Scanner::cow)?,
                b"decision" => raw.decision = s.opt(Scanner::cow)?,
                b"from" => raw.from = s.opt(Scanner::cow)?,
                b"ecs_id" => raw.ecs_id = s.opt(Scanner::cow)?,
                b"previous" => raw.previous = s.opt(Scanner::cow)?,
                b"pending" => raw.pending = s.opt(Scanner::uints)?,
                b"reason" => raw.reason = s.opt(Scanner::reason)?,
                _ => s.skip()?,
            }
            s.ws();
            match s.next()? {
                b',' => continue,
                b'}' => break,
                _ => return None,
            }
        }
    }
    s.ws();
    (s.i == line.len()).then_some(raw)
}

struct Scanner<'a> {
    b: &'a [u8],
    /// The same bytes, checked as UTF-8.
    text: &'a str,
    i: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.i += 1;
        }
    }

    /// `null` as `None`, else the value `f` reads.
    fn opt<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.b[self.i..].starts_with(b"null") {
            self.i += 4;
            return Some(None);
        }
        f(self).map(Some)
    }

    /// A string without escapes, as bytes.
    fn bytes(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.i;
        let len = self.b[start..].iter().position(|&c| c == b'"')?;
        let bytes = &self.b[start..start + len];
        if bytes.iter().any(|&c| c == b'\\' || c < 0x20) {
            return None;
        }
        self.i = start + len + 1;
        Some(bytes)
    }

    /// A string without escapes.
    fn string(&mut self) -> Option<&'a str> {
        let len = self.bytes()?.len();
        // Between two quote bytes: char boundaries.
        self.text.get(self.i - 1 - len..self.i - 1)
    }

    fn cow(&mut self) -> Option<Cow<'a, str>> {
        self.string().map(Cow::Borrowed)
    }

    /// A non-negative integer that fits a u64, and is not a float.
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

    /// A reason: a name, or an object serde reads (a small one).
    fn reason(&mut self) -> Option<Reason<'a>> {
        if self.peek()? == b'"' {
            return self.cow().map(Reason::Name);
        }
        let start = self.i;
        self.skip()?;
        serde_json::from_slice(&self.b[start..self.i])
            .ok()
            .map(Reason::Object)
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
                let number = first == b'-' || first.is_ascii_digit();
                if !(number || matches!(word, b"true" | b"false" | b"null")) {
                    return None;
                }
            }
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::parse::from_raw;

    /// The scanner reads a line as serde does, or gives it up.
    fn same(line: &str) {
        let fast = scan(line.as_bytes()).map(|r| format!("{:?}", from_raw(r)));
        let slow: Result<Raw<'_>, _> = serde_json::from_str(line);
        let slow = slow.map(|r| format!("{:?}", from_raw(r)));
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
        ] {
            assert!(scan(line.as_bytes()).is_none(), "{line}");
            same(line);
        }
    }
}
