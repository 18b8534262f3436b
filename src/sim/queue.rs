//! The event queue: a keyed 4-ary heap ordered by time, ties broken by insertion order,
//! so two runs pop events in exactly the same order.
//!
//! Keys let the simulator move an event it already scheduled: a flow's completion when
//! its share of capacity changes, a peer's timer when the peer asks for another time.
//! Every key is a dense index (a peer, a flow, a payload slot), so where a key sits in the
//! heap is kept in plain arrays indexed by it: moving or cancelling an event hashes
//! nothing, and the heap itself holds small copyable entries.

use crate::units::SimTime;

/// What an event is about; at most one queued event per key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    /// Peer `n`'s timer (the core's `poll_timeout`).
    Timer(u32),
    /// Flow `n` completes.
    Flow(u32),
    /// A one-off event whose payload is in slot `n`.
    Once(u32),
}

impl Key {
    /// Which position table the key lives in, and its index there.
    fn table(self) -> (usize, usize) {
        match self {
            Key::Timer(n) => (0, n as usize),
            Key::Flow(n) => (1, n as usize),
            Key::Once(n) => (2, n as usize),
        }
    }
}

/// A queued event: when, its insertion sequence (the tie-break), and its key.
#[derive(Clone, Copy, Debug)]
struct Entry {
    at: SimTime,
    seq: u64,
    key: Key,
}

impl Entry {
    /// Whether this entry pops before `other`: earlier, or as early and inserted first.
    /// Sequences are unique, so the order is total and the pop order is fixed.
    fn before(&self, other: &Entry) -> bool {
        (self.at, self.seq) < (other.at, other.seq)
    }
}

/// Children per heap node: a 4-ary heap is half as deep as a binary one, and a node's
/// children share a cache line or two, so a pop touches fewer lines.
const ARITY: usize = 4;

/// A position table's mark for a key that is not queued.
const ABSENT: u32 = u32::MAX;

/// Events ordered by (time, insertion sequence).
pub struct EventQueue<E> {
    heap: Vec<Entry>,
    /// Where each key sits in `heap`: one table per kind of key (timers, flows, one-off
    /// slots), indexed by the key's number; [`ABSENT`] when not queued.
    positions: [Vec<u32>; 3],
    payloads: Vec<Option<E>>,
    free: Vec<u32>,
    seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            heap: Vec::new(),
            positions: [Vec::new(), Vec::new(), Vec::new()],
            payloads: Vec::new(),
            free: Vec::new(),
            seq: 0,
        }
    }
}

/// A heap index as stored in a position table: far below 2^32 events are ever queued.
fn narrow(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(ABSENT)
}

impl<E> EventQueue<E> {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn position(&self, key: Key) -> Option<usize> {
        let (table, i) = key.table();
        match self.positions[table].get(i) {
            Some(&p) if p != ABSENT => Some(p as usize),
            _ => None,
        }
    }

    fn set_position(&mut self, key: Key, at: u32) {
        let (table, i) = key.table();
        let table = &mut self.positions[table];
        if table.len() <= i {
            table.resize(i + 1, ABSENT);
        }
        table[i] = at;
    }

    /// Puts `entry` at heap index `i` and records where it is.
    fn place(&mut self, i: usize, entry: Entry) {
        self.heap[i] = entry;
        self.set_position(entry.key, narrow(i));
    }

    /// Moves the entry at `i` towards the root until its parent pops first.
    fn sift_up(&mut self, mut i: usize) {
        let entry = self.heap[i];
        while i > 0 {
            let parent = (i - 1) / ARITY;
            if !entry.before(&self.heap[parent]) {
                break;
            }
            let moved = self.heap[parent];
            self.place(i, moved);
            i = parent;
        }
        self.place(i, entry);
    }

    /// The child of heap node `i` that pops first, if `i` has children.
    fn earliest_child(&self, i: usize) -> Option<usize> {
        let first = ARITY * i + 1;
        let end = (first + ARITY).min(self.heap.len());
        (first..end).reduce(|best, c| {
            if self.heap[c].before(&self.heap[best]) {
                c
            } else {
                best
            }
        })
    }

    /// Moves the entry at `i` towards the leaves until it pops before both children.
    fn sift_down(&mut self, mut i: usize) {
        let entry = self.heap[i];
        while let Some(child) = self.earliest_child(i) {
            if !self.heap[child].before(&entry) {
                break;
            }
            let moved = self.heap[child];
            self.place(i, moved);
            i = child;
        }
        self.place(i, entry);
    }

    /// Fills the hole at the root with `last` (the heap's former last leaf): the hole
    /// goes down to a leaf along the earliest children, then `last` rises from there.
    /// A leaf taken from the bottom nearly always belongs near the bottom, so this skips
    /// most of the comparisons with it a plain sift-down makes (Floyd's trick, as in the
    /// standard library's `BinaryHeap::pop`). The pop order is the same: every entry's
    /// (time, sequence) is unique, so the order is total.
    fn refill_root(&mut self, last: Entry) {
        let mut hole = 0;
        while let Some(child) = self.earliest_child(hole) {
            let moved = self.heap[child];
            self.place(hole, moved);
            hole = child;
        }
        self.heap[hole] = last;
        self.sift_up(hole);
    }

    /// Takes the entry at heap index `i` out, keeping the heap ordered.
    fn remove_at(&mut self, i: usize) -> Entry {
        let removed = self.heap[i];
        let (table, n) = removed.key.table();
        self.positions[table][n] = ABSENT;
        let last = self.heap.pop().unwrap_or(removed);
        if i == 0 && !self.heap.is_empty() {
            self.refill_root(last);
        } else if i < self.heap.len() {
            self.heap[i] = last;
            // The last leaf may belong above or below the hole it fills.
            if i > 0 && last.before(&self.heap[(i - 1) / ARITY]) {
                self.sift_up(i);
            } else {
                self.sift_down(i);
            }
        }
        removed
    }

    /// Schedules `key` at `at`, replacing any earlier schedule of the same key (which then
    /// counts as newly inserted for tie-breaking).
    pub fn set(&mut self, key: Key, at: SimTime) {
        let seq = self.next_seq();
        let entry = Entry { at, seq, key };
        match self.position(key) {
            Some(i) => {
                let earlier = entry.before(&self.heap[i]);
                self.heap[i] = entry;
                if earlier {
                    self.sift_up(i);
                } else {
                    self.sift_down(i);
                }
            }
            None => {
                self.heap.push(entry);
                self.sift_up(self.heap.len() - 1);
            }
        }
    }

    /// Removes `key` if it is scheduled.
    pub fn cancel(&mut self, key: Key) {
        if let Some(i) = self.position(key) {
            self.remove_at(i);
        }
    }

    /// Schedules a one-off event.
    pub fn push(&mut self, at: SimTime, event: E) {
        let slot = match self.free.pop() {
            Some(s) => {
                self.payloads[s as usize] = Some(event);
                s
            }
            None => {
                self.payloads.push(Some(event));
                // Far below 2^32 queued events.
                u32::try_from(self.payloads.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.set(Key::Once(slot), at);
    }

    /// The next event: its time, key and (for one-off events) payload.
    pub fn pop(&mut self) -> Option<(SimTime, Key, Option<E>)> {
        if self.heap.is_empty() {
            return None;
        }
        let Entry { at, key, .. } = self.remove_at(0);
        let payload = match key {
            Key::Once(slot) => {
                self.free.push(slot);
                self.payloads[slot as usize].take()
            }
            _ => None,
        };
        Some((at, key, payload))
    }

    /// Number of queued events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ties_break_by_insertion_order_and_keys_move() {
        let mut q = EventQueue::default();
        q.push(SimTime(5), "b");
        q.push(SimTime(5), "c");
        q.push(SimTime(1), "a");
        q.set(Key::Timer(0), SimTime(3));
        q.set(Key::Timer(0), SimTime(9));
        let order: Vec<String> = std::iter::from_fn(|| q.pop())
            .map(|(t, k, e)| {
                format!(
                    "{}:{}",
                    t.0,
                    e.map(str::to_string).unwrap_or(format!("{k:?}"))
                )
            })
            .collect();
        assert_eq!(order, ["1:a", "5:b", "5:c", "9:Timer(0)"]);
    }

    /// One operation on the queue, for the model test.
    #[derive(Clone, Debug)]
    enum Op {
        Set(Key, u64),
        Cancel(Key),
        Push(u64),
        Pop,
    }

    fn key() -> impl Strategy<Value = Key> {
        prop_oneof![
            (0u32..8).prop_map(Key::Timer),
            (0u32..8).prop_map(Key::Flow),
            (0u32..8).prop_map(Key::Once),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (key(), 0u64..20).prop_map(|(k, t)| Op::Set(k, t)),
            key().prop_map(Op::Cancel),
            (0u64..20).prop_map(Op::Push),
            Just(Op::Pop),
        ]
    }

    proptest! {
        /// Against a plain list sorted on every pop: the same events come out in the same
        /// order (earliest, then first inserted), whatever the mix of moves and cancels.
        #[test]
        fn pops_in_the_order_of_a_sorted_list(ops in proptest::collection::vec(op(), 0..200)) {
            let mut q: EventQueue<u64> = EventQueue::default();
            // The model: (time, seq, key, payload), at most one entry per key.
            let mut model: Vec<(u64, u64, Key, Option<u64>)> = Vec::new();
            let mut seq = 0;
            let mut free: Vec<u32> = Vec::new();
            let mut slots = 0u32;
            for op in ops {
                match op {
                    // One-off keys belong to payloads: only `push` makes them.
                    Op::Set(Key::Once(_), _) | Op::Cancel(Key::Once(_)) => {}
                    Op::Set(k, t) => {
                        seq += 1;
                        model.retain(|e| e.2 != k);
                        model.push((t, seq, k, None));
                        q.set(k, SimTime(t));
                    }
                    Op::Cancel(k) => {
                        model.retain(|e| e.2 != k);
                        q.cancel(k);
                    }
                    Op::Push(t) => {
                        seq += 1;
                        let slot = free.pop().unwrap_or_else(|| { slots += 1; slots - 1 });
                        model.push((t, seq, Key::Once(slot), Some(seq)));
                        q.push(SimTime(t), seq);
                    }
                    Op::Pop => {
                        model.sort_by_key(|e| (e.0, e.1));
                        let expected = (!model.is_empty()).then(|| model.remove(0));
                        if let Some((_, _, Key::Once(s), _)) = expected {
                            free.push(s);
                        }
                        let got = q.pop();
                        prop_assert_eq!(
                            got.map(|(t, k, p)| (t.0, k, p)),
                            expected.map(|(t, _, k, p)| (t, k, p))
                        );
                    }
                }
                prop_assert_eq!(q.len(), model.len());
            }
        }
    }
}
