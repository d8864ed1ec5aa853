//! An entity's `modification_history`: an append-only log with a window.
//!
//! ```text
//!   global index:  0 1 2 ... dropped-1 | dropped ... len-1
//!                  ---- folded into ---- ---- retained ----
//!                   `dropped_digest`       (entry, hash)
//! ```
//!
//! Entries are only ever appended. Beyond the retention window the oldest
//! are dropped from the front, but their count and their fold
//! (`dropped_digest`) are kept, and `digest` folds every entry ever
//! appended, so both the total length and the digest stay exact. A version
//! snapshot records only the length it saw; its history is the prefix of
//! this log, of which the part still retained can be read back.
//!
//! Entries are kept as their parts (see `entry.rs`) and written out as text
//! when read. The window's room grows by doubling up to the window: most
//! entities of a large run have one or two entries.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;

use super::digest::{HISTORY_DIGEST_SEED, combine};
use super::entry::Entry;

#[derive(Clone, Debug)]
pub(crate) struct HistoryLog {
    /// Retained suffix, oldest first, each entry with its own hash.
    entries: VecDeque<(Entry, u64)>,
    /// Entries dropped from the front.
    dropped: u64,
    /// Fold of the dropped entries.
    dropped_digest: u64,
    /// Fold of every entry ever appended.
    digest: u64,
}

impl HistoryLog {
    pub(crate) fn new() -> HistoryLog {
        HistoryLog {
            entries: VecDeque::new(),
            dropped: 0,
            dropped_digest: HISTORY_DIGEST_SEED,
            digest: HISTORY_DIGEST_SEED,
        }
    }

    /// Ask for the slots the next append writes and drops (see
    /// [`crate::prefetch`]).
    pub(crate) fn prefetch(&self) {
        if let Some(front) = self.entries.front() {
            crate::prefetch::read(front);
        }
        if let Some(back) = self.entries.back() {
            crate::prefetch::read(back);
        }
    }

    /// Entries ever appended.
    pub(crate) fn len(&self) -> u64 {
        self.dropped + self.entries.len() as u64
    }

    /// Digest over every entry ever appended.
    pub(crate) fn digest(&self) -> u64 {
        self.digest
    }

    /// Append one entry, then drop from the front down to `keep` entries.
    pub(crate) fn push(&mut self, entry: Entry, keep: usize) {
        let hash = entry.hash();
        self.push_hashed(entry, hash, keep);
    }

    /// Append an entry whose hash was computed earlier (a staged entry).
    pub(crate) fn push_hashed(&mut self, entry: Entry, hash: u64, keep: usize) {
        self.digest = combine(self.digest, hash);
        if keep == 0 {
            self.drop_one(hash);
            return;
        }
        // Drop before pushing, so the log never holds more than the window.
        while self.entries.len() >= keep {
            let Some((_, old)) = self.entries.pop_front() else {
                break;
            };
            self.drop_one(old);
        }
        let len = self.entries.len();
        if len == self.entries.capacity() {
            // Doubling, never past the window (and not to the next power of
            // two of it): there is one log per entity. `len < keep` here.
            let room = (len * 2).clamp(1, keep);
            self.entries.reserve_exact(room - len);
        }
        self.entries.push_back((entry, hash));
    }

    /// Fold an entry leaving the window into the dropped count and digest.
    fn drop_one(&mut self, hash: u64) {
        self.dropped_digest = combine(self.dropped_digest, hash);
        self.dropped += 1;
    }

    /// The retained entries, oldest first.
    pub(crate) fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().map(|(e, _)| e)
    }

    /// The texts of the retained entries, oldest first.
    pub(crate) fn retained(&self) -> impl Iterator<Item = Cow<'_, str>> {
        self.entries().map(Entry::text)
    }

    /// The texts of the retained entries in shared strings, oldest first.
    pub(crate) fn retained_arcs(&self) -> impl Iterator<Item = Arc<str>> {
        self.entries().map(Entry::to_arc)
    }

    /// The retained part of the first `len` entries, in shared strings,
    /// oldest first.
    pub(crate) fn retained_prefix(&self, len: u64) -> impl Iterator<Item = Arc<str>> {
        let take = len.saturating_sub(self.dropped);
        self.retained_arcs()
            .take(usize::try_from(take).unwrap_or(usize::MAX))
    }

    /// Recompute what can be recomputed and compare with what is stored:
    /// each retained entry's hash, and the fold of the dropped digest over
    /// the retained entries against the running digest.
    pub(crate) fn audit(&self, keep: usize) -> Result<(), String> {
        let mut acc = self.dropped_digest;
        for (i, (entry, hash)) in self.entries.iter().enumerate() {
            if entry.hash() != *hash {
                return Err(format!(
                    "history entry {} was altered after it was appended",
                    self.dropped + i as u64
                ));
            }
            acc = combine(acc, *hash);
        }
        if acc != self.digest {
            return Err(format!(
                "history digest {:#018x} does not match the fold of the dropped digest over the \
                 {} retained entries ({acc:#018x})",
                self.digest,
                self.entries.len()
            ));
        }
        if self.entries.len() > keep {
            return Err(format!(
                "history retains {} entries, more than the window of {keep}",
                self.entries.len()
            ));
        }
        if self.dropped > 0 && self.entries.len() < keep {
            return Err(format!(
                "history dropped {} entries while only {} of a window of {keep} are retained",
                self.dropped,
                self.entries.len()
            ));
        }
        Ok(())
    }

    /// Test hook: alter a retained entry's text behind the log's back.
    pub(crate) fn corrupt(&mut self) -> bool {
        match self.entries.back_mut() {
            Some((entry, _)) => {
                *entry = Entry::Text(Arc::from(format!("{}~", entry.text())));
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecs::history_digest_step;

    #[test]
    fn window_drops_from_the_front_and_keeps_exact_count_and_digest() {
        let mut log = HistoryLog::new();
        let mut expected = HISTORY_DIGEST_SEED;
        for i in 0..100 {
            let e = format!("entry {i}");
            expected = history_digest_step(expected, &e);
            log.push(Entry::Text(Arc::from(e)), 4);
        }
        assert_eq!(log.len(), 100);
        assert_eq!(log.digest(), expected);
        let kept: Vec<Cow<'_, str>> = log.retained().collect();
        assert_eq!(kept, ["entry 96", "entry 97", "entry 98", "entry 99"]);
        let prefix: Vec<Arc<str>> = log.retained_prefix(98).collect();
        assert_eq!(prefix, [Arc::from("entry 96"), Arc::from("entry 97")]);
        assert_eq!(log.retained_prefix(50).count(), 0);
        assert_eq!(log.audit(4), Ok(()));
        assert_eq!(log.entries.capacity(), 4, "exactly the window");
    }

    #[test]
    fn room_doubles_up_to_the_window() {
        let mut log = HistoryLog::new();
        let mut rooms = Vec::new();
        for i in 0..8 {
            log.push(Entry::Text(Arc::from(format!("{i}"))), 6);
            rooms.push(log.entries.capacity());
        }
        assert_eq!(rooms, [1, 2, 4, 4, 6, 6, 6, 6]);
        assert_eq!(log.audit(6), Ok(()));
    }

    #[test]
    fn zero_window_keeps_nothing_but_counts_everything() {
        let mut log = HistoryLog::new();
        log.push(Entry::Text(Arc::from("a")), 0);
        log.push(Entry::Text(Arc::from("b")), 0);
        assert_eq!(log.len(), 2);
        assert_eq!(log.retained().count(), 0);
        assert_eq!(log.entries.capacity(), 0, "nothing allocated");
        let expected = history_digest_step(history_digest_step(HISTORY_DIGEST_SEED, "a"), "b");
        assert_eq!(log.digest(), expected);
        assert_eq!(log.audit(0), Ok(()));
    }

    #[test]
    fn audit_catches_an_altered_entry() {
        let mut log = HistoryLog::new();
        log.push(Entry::Text(Arc::from("a")), 8);
        assert!(log.corrupt());
        let err = log.audit(8).unwrap_err();
        assert!(err.contains("entry 0"), "{err}");
    }
}
