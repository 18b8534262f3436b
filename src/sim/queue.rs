//! The event queue: a keyed priority queue (the `priority-queue` crate) ordered by time,
//! ties broken by insertion order, so two runs pop events in exactly the same order.
//!
//! Keys let the simulator move an event it already scheduled: a flow's completion when
//! its share of capacity changes, a peer's timer when the peer asks for another time.

use crate::units::SimTime;
use priority_queue::PriorityQueue;
use std::cmp::Reverse;

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

/// Events ordered by (time, insertion sequence).
pub struct EventQueue<E> {
    heap: PriorityQueue<Key, Reverse<(SimTime, u64)>>,
    payloads: Vec<Option<E>>,
    free: Vec<u32>,
    seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            heap: PriorityQueue::new(),
            payloads: Vec::new(),
            free: Vec::new(),
            seq: 0,
        }
    }
}

impl<E> EventQueue<E> {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Schedules `key` at `at`, replacing any earlier schedule of the same key (which then
    /// counts as newly inserted for tie-breaking).
    pub fn set(&mut self, key: Key, at: SimTime) {
        let prio = Reverse((at, self.next_seq()));
        self.heap.push(key, prio);
    }

    /// Removes `key` if it is scheduled.
    pub fn cancel(&mut self, key: Key) {
        self.heap.remove(&key);
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
        let (key, Reverse((at, _))) = self.heap.pop()?;
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
}
