//! Events waiting for the watermark, in (time, input position) order.
//!
//! Input mostly comes in time order, so most events are appended to a ring buffer, which
//! allocates nothing per event once it has grown. An event that arrives behind the buffer's
//! newest goes to a heap instead: inserting it into the ring buffer would move every event after
//! its place, which costs more than the rest of the event's processing once the out-of-orderness
//! bound holds thousands of events. Taking the next event takes the older of the two fronts.
//!
//! Every event in the heap is older than the ring buffer's newest (it went to the heap because
//! it was), and the ring buffer empties only after its newest, so after every older one: the two
//! never hold the same position. An event at a position already waiting replaces it (a record
//! read again after a restore): in the ring buffer in place, in the heap when taken.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;

use crate::event::Event;

#[derive(Debug, Default)]
pub(super) struct Waiting {
    ring: VecDeque<(Arc<str>, Event)>,
    behind: BinaryHeap<Behind>,
    /// Arrivals into `behind`, so that of two events at one position the later one wins.
    arrivals: u64,
}

/// An event that arrived behind the ring buffer's newest.
#[derive(Debug)]
struct Behind {
    at: (i64, u64),
    arrival: u64,
    key: Arc<str>,
    event: Event,
}

impl PartialEq for Behind {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Behind {}

impl PartialOrd for Behind {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Behind {
    /// Reversed, so that the max-heap's top is the oldest position.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.arrival).cmp(&(self.at, self.arrival))
    }
}

fn at(e: &Event) -> (i64, u64) {
    (e.ts, e.seq)
}

impl Waiting {
    pub(super) fn len(&self) -> usize {
        self.ring.len() + self.behind.len()
    }

    /// Adds an event; one at a position already waiting replaces it.
    pub(super) fn hold(&mut self, key: Arc<str>, event: Event) {
        let pos = at(&event);
        match self.ring.back() {
            Some((_, newest)) if at(newest) >= pos => {
                match self.ring.binary_search_by_key(&pos, |(_, e)| at(e)) {
                    Ok(i) => self.ring[i] = (key, event),
                    Err(_) => {
                        self.arrivals += 1;
                        self.behind.push(Behind { at: pos, arrival: self.arrivals, key, event });
                    }
                }
            }
            _ => self.ring.push_back((key, event)),
        }
    }

    /// The time of the next event.
    pub(super) fn next_time(&self) -> Option<i64> {
        let ring = self.ring.front().map(|(_, e)| at(e));
        let behind = self.behind.peek().map(|b| b.at);
        match (ring, behind) {
            (Some(r), Some(b)) => Some(r.min(b).0),
            (r, b) => r.or(b).map(|(ts, _)| ts),
        }
    }

    /// Takes the next event.
    pub(super) fn pop(&mut self) -> Option<(Arc<str>, Event)> {
        let ring = self.ring.front().map(|(_, e)| at(e));
        let behind = self.behind.peek().map(|b| b.at);
        if behind.is_none() || ring.is_some_and(|r| behind.is_some_and(|b| r < b)) {
            return self.ring.pop_front();
        }
        let mut first = self.behind.pop()?;
        // The same position again: the later arrival wins.
        while let Some(next) = self.behind.peek_mut() {
            if next.at != first.at {
                break;
            }
            let next = std::collections::binary_heap::PeekMut::pop(next);
            if next.arrival > first.arrival {
                first = next;
            }
        }
        Some((first.key, first.event))
    }

    /// Every waiting event, in processing order (for checkpoints).
    pub(super) fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &Event)> {
        let mut behind: Vec<&Behind> = self.behind.iter().collect();
        // Oldest position first; of two arrivals at one position, only the later.
        behind.sort_by(|a, b| b.cmp(a));
        behind.dedup_by(|later, earlier| {
            if later.at == earlier.at {
                std::mem::swap(later, earlier);
                true
            } else {
                false
            }
        });
        let mut behind = behind.into_iter().peekable();
        let mut ring = self.ring.iter().peekable();
        std::iter::from_fn(move || {
            let take_ring = match (ring.peek(), behind.peek()) {
                (Some((_, r)), Some(b)) => at(r) < b.at,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if take_ring {
                ring.next().map(|(k, e)| (k, e))
            } else {
                behind.next().map(|b| (&b.key, &b.event))
            }
        })
    }

    /// Gives back the ring buffer's room after a burst of disorder grew it far beyond what it
    /// holds now.
    pub(super) fn shrink(&mut self) {
        if self.ring.capacity() > 4 * self.ring.len().max(4096) {
            self.ring.shrink_to(2 * self.ring.len().max(4096));
        }
        if self.behind.capacity() > 4 * self.behind.len().max(4096) {
            self.behind.shrink_to(2 * self.behind.len().max(4096));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ts: i64, seq: u64, text: &str) -> Event {
        Event::new(seq, ts, Arc::from(text), Arc::from(Vec::new()))
    }

    fn drain(w: &mut Waiting) -> Vec<(i64, u64, String)> {
        std::iter::from_fn(|| w.pop())
            .map(|(_, e)| (e.ts, e.seq, e.raw().unwrap_or_default().to_string()))
            .collect()
    }

    #[test]
    fn events_come_out_in_time_and_position_order_whatever_the_arrival_order() {
        let mut w = Waiting::default();
        let arrivals = [(5, 1), (3, 2), (9, 3), (3, 4), (1, 5), (9, 6), (7, 7), (2, 8)];
        for (ts, seq) in arrivals {
            w.hold(Arc::from("k"), ev(ts, seq, "x"));
        }
        assert_eq!(w.len(), arrivals.len());
        let mut sorted: Vec<(i64, u64)> = arrivals.to_vec();
        sorted.sort();
        let listed: Vec<(i64, u64)> = w.iter().map(|(_, e)| (e.ts, e.seq)).collect();
        assert_eq!(listed, sorted);
        assert_eq!(w.next_time(), Some(1));
        let got: Vec<(i64, u64)> = drain(&mut w).into_iter().map(|(t, s, _)| (t, s)).collect();
        assert_eq!(got, sorted);
        assert_eq!(w.next_time(), None);
    }

    #[test]
    fn an_event_at_a_position_already_waiting_replaces_it() {
        let mut w = Waiting::default();
        w.hold(Arc::from("k"), ev(5, 1, "a"));
        w.hold(Arc::from("k"), ev(9, 2, "b"));
        // In the ring buffer.
        w.hold(Arc::from("k"), ev(5, 1, "a2"));
        // Behind it, twice.
        w.hold(Arc::from("k"), ev(7, 3, "c"));
        w.hold(Arc::from("k"), ev(7, 3, "c2"));
        let listed: Vec<String> =
            w.iter().map(|(_, e)| e.raw().unwrap_or_default().to_string()).collect();
        assert_eq!(listed, ["a2", "c2", "b"]);
        let got: Vec<String> = drain(&mut w).into_iter().map(|(_, _, t)| t).collect();
        assert_eq!(got, ["a2", "c2", "b"]);
    }
}
