//! Asking the CPU for memory before it is needed.
//!
//! With many targets every op lands on a target no cache holds: its
//! store entity, its monitor slot, its records in the checks. Work that
//! arrives in batches knows those targets ahead of time, so it can ask
//! for each a few items before it gets there ([`ahead`]) and let the loads
//! overlap, instead of waiting for each in turn. A prefetch is only a
//! hint: it changes no result, and on architectures without one it is a
//! no-op.

/// Ask for the cache lines `value` spans, to be read soon.
#[inline(always)]
pub fn read<T>(value: &T) {
    let start = value as *const T as usize;
    let end = start + std::mem::size_of::<T>().max(1);
    let mut line = start & !63;
    while line < end {
        line_at(line as *const u8);
        line += 64;
    }
}

#[inline(always)]
fn line_at(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: SSE is part of every x86_64 CPU, and a prefetch
        // dereferences nothing: it never faults, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Targets from which prefetching pays. Below, every target's state
/// stays in the core's own caches and a prefetch is only more
/// instructions (6 % more at 5 targets).
const FROM_TARGETS: usize = 4096;

/// Whether work over `targets` targets should prefetch.
pub fn pays(targets: usize) -> bool {
    targets >= FROM_TARGETS
}

/// The two stages of [`ahead`]'s pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// What can be found without reading memory: a slot of an array, by
    /// index.
    Far,
    /// What a slot asked for at [`Stage::Far`] points to.
    Near,
}

/// How many items ahead [`ahead`] asks in its second stage (and twice
/// as many in its first): enough for the loads to overlap, few enough
/// that what was asked for is still cached when it is used and that the
/// core's few outstanding misses are not all taken at once.
pub const DISTANCE: usize = 4;

/// A two-stage pipeline of prefetches: `each` over `items` in order, with
/// `far` called for every item `2 × DISTANCE` places before `each`
/// reaches it and `near` `DISTANCE` places before. `far` asks for what can
/// be located without reading memory (a slot in an array by index);
/// `near` for what the slots `far` asked for point to, which it may read
/// by then. `state` is what all three work on.
#[inline]
pub fn ahead<S, T>(
    state: &mut S,
    items: &[T],
    far: impl Fn(&S, &T),
    near: impl Fn(&S, &T),
    mut each: impl FnMut(&mut S, &T),
) {
    for item in items.iter().take(2 * DISTANCE) {
        far(state, item);
    }
    for item in items.iter().take(DISTANCE) {
        near(state, item);
    }
    for (i, item) in items.iter().enumerate() {
        if let Some(later) = items.get(i + 2 * DISTANCE) {
            far(state, later);
        }
        if let Some(later) = items.get(i + DISTANCE) {
            near(state, later);
        }
        each(state, item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What happened to each item, in order.
    #[derive(Debug, PartialEq)]
    enum Call {
        Far(usize),
        Near(usize),
        Each(usize),
    }

    #[test]
    fn every_item_is_asked_for_twice_before_its_turn_and_taken_once_in_order() {
        for len in [
            0,
            1,
            DISTANCE - 1,
            DISTANCE,
            2 * DISTANCE,
            2 * DISTANCE + 1,
            50,
        ] {
            let items: Vec<usize> = (0..len).collect();
            let mut calls = Vec::new();
            // `ask` sees the state only; the calls are logged through a
            // cell beside it.
            let log = std::cell::RefCell::new(Vec::new());
            ahead(
                &mut calls,
                &items,
                |_, &i| log.borrow_mut().push(Call::Far(i)),
                |_, &i| log.borrow_mut().push(Call::Near(i)),
                |calls, &i| {
                    calls.push(i);
                    log.borrow_mut().push(Call::Each(i));
                },
            );
            assert_eq!(calls, items, "len {len}: each in order, once");
            let log = log.into_inner();
            let at = |c: Call| log.iter().position(|x| *x == c);
            for i in 0..len {
                let (far, near, each) = (
                    at(Call::Far(i)).unwrap_or_else(|| panic!("len {len}: far {i}")),
                    at(Call::Near(i)).unwrap_or_else(|| panic!("len {len}: near {i}")),
                    at(Call::Each(i)).unwrap_or_else(|| panic!("len {len}: each {i}")),
                );
                assert!(far < near && near < each, "len {len}, item {i}: {log:?}");
                // Asked for no earlier than the pipeline's depth.
                let taken_before = |p: usize| {
                    log[..p]
                        .iter()
                        .filter(|c| matches!(c, Call::Each(_)))
                        .count()
                };
                assert!(
                    i - taken_before(far) <= 2 * DISTANCE,
                    "len {len}, item {i}: far too early"
                );
                assert!(
                    i - taken_before(near) <= DISTANCE,
                    "len {len}, item {i}: near too early"
                );
            }
            assert_eq!(log.len(), 3 * len, "len {len}: each call once");
        }
    }

    #[test]
    fn prefetching_pays_only_with_many_targets_and_any_value_can_be_asked_for() {
        // Any address, even one past the end of a small value: only hints.
        let small = 7u8;
        read(&small);
        let big = [0u64; 100];
        read(&big);
        assert!(!pays(5) && pays(100_000));
    }
}
