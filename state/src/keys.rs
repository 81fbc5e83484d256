//! The key layout: how every stored key is built, per [`Space`].
//!
//! All integers are big-endian and fixed-width, so comparing keys as bytes (what every store
//! does) compares their fields in order, and "all state of rule R", "of rule R on partition P"
//! and "of one key" are contiguous byte ranges ([`rule_range`], [`partition_range`],
//! [`key_range`]): dropping a rule or handing back a partition is one range scan or delete.
//!
//! # Fields
//!
//! | field | bytes | encoding |
//! | --- | --- | --- |
//! | rule | 4 | [`RuleId`], `u32` |
//! | partition | 4 | [`PartitionId`], `u32` |
//! | time | 8 | event time in epoch milliseconds, `i64` with its sign bit flipped, so times before 1970 sort before later ones |
//! | key | 4 + n | the record key's length as `u32`, then its n bytes |
//! | entry, seq | 8 | `u64` |
//!
//! The record key is stored whole, not hashed, so two keys can never share state. Its length
//! comes first, which keeps every key self-delimiting (fields can follow it) and makes the key of
//! one entity an exact prefix. The price is the order among keys: shorter keys sort first, then
//! keys of equal length by their bytes. Nothing depends on that order beyond it being fixed,
//! which keeps timer firing deterministic.
//!
//! # Per space
//!
//! | space | key | value |
//! | --- | --- | --- |
//! | `Runs` | rule, partition, key ([`RunKey`]) | the NFA runs (partial matches) of that key |
//! | `Buffer` | rule, partition, key, entry ([`BufferKey`]) | one event of the key's shared buffer |
//! | `Pending` | rule, partition, time, seq ([`PendingKey`]) | an event held until the watermark passes its time |
//! | `Timers` | rule, partition, time, key ([`TimerKey`]) | what falls due for that key at that time |
//! | `Offsets` | partition ([`OffsetKey`]) | the next source offset to read |
//! | `Meta` | a UTF-8 name | store-wide facts, e.g. [`LAYOUT_KEY`] |
//!
//! `Runs` and `Buffer` share the prefix rule, partition, key, so [`key_range`] finds a key's runs
//! and its buffered events alike. `Pending` and `Timers` put time right after the partition, so
//! [`due_range`] up to a watermark yields what is due in time order; in `Pending`, `seq` is the
//! event's source offset (or any per-partition counter that grows in input order), which keeps
//! events with equal times in input order and makes every entry unique. Offsets belong to the
//! input partition, not to a rule.
//!
//! What a partition number stands for (a topic-partition of the source) is the engine's mapping,
//! kept in `Meta`; replay uses partition 0.

use std::fmt;

use crate::StateError;
use crate::codec::{Decoder, Encoder};
use crate::store::{KeyRange, Space, StateStore, prefix_end};

/// The version of this key layout. A store written with another layout is refused by
/// [`ensure_layout`]; change it whenever an encoding in this file changes.
pub const LAYOUT_VERSION: u8 = 1;

/// The `Meta` key under which a store records its [`LAYOUT_VERSION`].
pub const LAYOUT_KEY: &[u8] = b"layout";

/// A rule's number in the store, assigned by the engine (names are too long to repeat in every
/// key, and rules are renamed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleId(pub u32);

/// An input partition's number in the store, assigned by the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartitionId(pub u32);

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule#{}", self.0)
    }
}

impl fmt::Display for PartitionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "partition#{}", self.0)
    }
}

/// `Runs`: the NFA runs of one record key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RunKey<'a> {
    /// The rule.
    pub rule: RuleId,
    /// The input partition.
    pub partition: PartitionId,
    /// The record key (empty for rules without a key).
    pub key: &'a [u8],
}

/// `Buffer`: one entry of a record key's shared event buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BufferKey<'a> {
    /// The rule.
    pub rule: RuleId,
    /// The input partition.
    pub partition: PartitionId,
    /// The record key.
    pub key: &'a [u8],
    /// The entry's number within the key's buffer.
    pub entry: u64,
}

/// `Pending`: an event held until the watermark passes its time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PendingKey {
    /// The rule.
    pub rule: RuleId,
    /// The input partition.
    pub partition: PartitionId,
    /// The event time, epoch milliseconds.
    pub time: i64,
    /// The source offset (input order among equal times).
    pub seq: u64,
}

/// `Timers`: something falls due for a record key at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerKey<'a> {
    /// The rule.
    pub rule: RuleId,
    /// The input partition.
    pub partition: PartitionId,
    /// When the timer falls due, epoch milliseconds.
    pub time: i64,
    /// The record key.
    pub key: &'a [u8],
}

/// `Offsets`: the position of one input partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OffsetKey {
    /// The input partition.
    pub partition: PartitionId,
}

impl RunKey<'_> {
    /// The stored key.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = scoped(self.rule, self.partition, 4 + self.key.len());
        push_key(&mut out, self.key);
        out
    }
}

impl<'a> RunKey<'a> {
    /// Reads a stored `Runs` key.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, StateError> {
        let mut r = Reader::new(bytes, "runs key");
        let key = RunKey { rule: r.rule()?, partition: r.partition()?, key: r.key()? };
        r.finish()?;
        Ok(key)
    }
}

impl BufferKey<'_> {
    /// The stored key.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = scoped(self.rule, self.partition, 4 + self.key.len() + 8);
        push_key(&mut out, self.key);
        out.extend_from_slice(&self.entry.to_be_bytes());
        out
    }
}

impl<'a> BufferKey<'a> {
    /// Reads a stored `Buffer` key.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, StateError> {
        let mut r = Reader::new(bytes, "buffer key");
        let key = BufferKey {
            rule: r.rule()?,
            partition: r.partition()?,
            key: r.key()?,
            entry: r.u64("entry")?,
        };
        r.finish()?;
        Ok(key)
    }
}

impl PendingKey {
    /// The stored key.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = scoped(self.rule, self.partition, 16);
        out.extend_from_slice(&time_bytes(self.time));
        out.extend_from_slice(&self.seq.to_be_bytes());
        out
    }

    /// Reads a stored `Pending` key.
    pub fn decode(bytes: &[u8]) -> Result<Self, StateError> {
        let mut r = Reader::new(bytes, "pending key");
        let key = PendingKey {
            rule: r.rule()?,
            partition: r.partition()?,
            time: r.time()?,
            seq: r.u64("seq")?,
        };
        r.finish()?;
        Ok(key)
    }
}

impl TimerKey<'_> {
    /// The stored key.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = scoped(self.rule, self.partition, 8 + 4 + self.key.len());
        out.extend_from_slice(&time_bytes(self.time));
        push_key(&mut out, self.key);
        out
    }
}

impl<'a> TimerKey<'a> {
    /// Reads a stored `Timers` key.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, StateError> {
        let mut r = Reader::new(bytes, "timer key");
        let key =
            TimerKey { rule: r.rule()?, partition: r.partition()?, time: r.time()?, key: r.key()? };
        r.finish()?;
        Ok(key)
    }
}

impl OffsetKey {
    /// The stored key.
    pub fn encode(&self) -> Vec<u8> {
        self.partition.0.to_be_bytes().to_vec()
    }

    /// Reads a stored `Offsets` key.
    pub fn decode(bytes: &[u8]) -> Result<Self, StateError> {
        let mut r = Reader::new(bytes, "offset key");
        let key = OffsetKey { partition: r.partition()? };
        r.finish()?;
        Ok(key)
    }
}

/// Everything of `rule` in `Runs`, `Buffer`, `Pending` and `Timers`.
pub fn rule_range(rule: RuleId) -> KeyRange {
    KeyRange::prefix(rule.0.to_be_bytes())
}

/// Everything of `rule` on `partition` in `Runs`, `Buffer`, `Pending` and `Timers`.
pub fn partition_range(rule: RuleId, partition: PartitionId) -> KeyRange {
    KeyRange::prefix(scoped(rule, partition, 0))
}

/// The runs (in `Runs`) or the buffered events (in `Buffer`) of one record key.
pub fn key_range(rule: RuleId, partition: PartitionId, key: &[u8]) -> KeyRange {
    KeyRange::prefix(RunKey { rule, partition, key }.encode())
}

/// The entries of `rule` on `partition` in `Timers` or `Pending` whose time is at most
/// `up_to` (inclusive), in time order: what a watermark of `up_to` makes due. `i64::MAX` (the
/// end of time) takes all of them.
pub fn due_range(rule: RuleId, partition: PartitionId, up_to: i64) -> KeyRange {
    let start = scoped(rule, partition, 8);
    let end = match up_to.checked_add(1) {
        Some(after) => {
            let mut end = start.clone();
            end.extend_from_slice(&time_bytes(after));
            Some(end)
        }
        None => prefix_end(&start),
    };
    KeyRange { start, end }
}

/// Checks that `store` uses this build's key layout, recording it if the store has none yet.
///
/// Call once when opening a store, before anything else reads it: a store written with another
/// layout fails with [`StateError::VersionMismatch`] (or [`StateError::Corrupt`] if the record
/// is unreadable), so the daemon refuses to start instead of misreading keys.
pub fn ensure_layout<S: StateStore + ?Sized>(store: &S) -> Result<(), StateError> {
    match store.get(Space::Meta, LAYOUT_KEY)? {
        Some(value) => {
            Decoder::new(&value, "key layout", LAYOUT_VERSION..=LAYOUT_VERSION)?.finish()
        }
        None => store.put(Space::Meta, LAYOUT_KEY, &Encoder::new(LAYOUT_VERSION).finish()),
    }
}

/// The `[rule][partition]` prefix, with room for `more` bytes.
fn scoped(rule: RuleId, partition: PartitionId, more: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + more);
    out.extend_from_slice(&rule.0.to_be_bytes());
    out.extend_from_slice(&partition.0.to_be_bytes());
    out
}

/// Flipping the sign bit maps `i64::MIN..=i64::MAX` onto `0..=u64::MAX` in order.
fn time_bytes(time: i64) -> [u8; 8] {
    ((time as u64) ^ (1 << 63)).to_be_bytes()
}

fn push_key(out: &mut Vec<u8>, key: &[u8]) {
    // Record keys come from records, which sources bound far below 4 GiB (Kafka's limit is
    // 2 GiB), and the engine caps key length well before that.
    let len = u32::try_from(key.len()).expect("record keys are shorter than 4 GiB");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(key);
}

/// Reads fixed-width fields off a stored key; every shortfall is `Corrupt`.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Reader { bytes, pos: 0, what }
    }

    fn take<const N: usize>(&mut self, field: &str) -> Result<[u8; N], StateError> {
        let end = self.pos + N;
        let bytes = self.bytes.get(self.pos..end).ok_or_else(|| self.short(field))?;
        self.pos = end;
        let mut out = [0; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn short(&self, field: &str) -> StateError {
        StateError::corrupt(format!(
            "{} of {} bytes ends inside the {field} (byte {})",
            self.what,
            self.bytes.len(),
            self.pos
        ))
    }

    fn rule(&mut self) -> Result<RuleId, StateError> {
        Ok(RuleId(u32::from_be_bytes(self.take("rule")?)))
    }

    fn partition(&mut self) -> Result<PartitionId, StateError> {
        Ok(PartitionId(u32::from_be_bytes(self.take("partition")?)))
    }

    fn time(&mut self) -> Result<i64, StateError> {
        Ok((u64::from_be_bytes(self.take("time")?) ^ (1 << 63)) as i64)
    }

    fn u64(&mut self, field: &str) -> Result<u64, StateError> {
        Ok(u64::from_be_bytes(self.take(field)?))
    }

    fn key(&mut self) -> Result<&'a [u8], StateError> {
        let len = u32::from_be_bytes(self.take("key length")?);
        let end = usize::try_from(len).ok().and_then(|len| self.pos.checked_add(len));
        let key =
            end.and_then(|end| self.bytes.get(self.pos..end)).ok_or_else(|| self.short("key"))?;
        self.pos += key.len();
        Ok(key)
    }

    fn finish(self) -> Result<(), StateError> {
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(StateError::corrupt(format!(
                "{} of {} bytes has {} bytes after its last field",
                self.what,
                self.bytes.len(),
                self.bytes.len() - self.pos
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemoryStore, StateView};
    use proptest::prelude::*;

    // Small ranges for rule, partition and keys, so generated pairs often tie on a prefix and
    // the later fields decide the order.
    fn rule() -> impl Strategy<Value = RuleId> {
        prop_oneof![0u32..3, Just(u32::MAX)].prop_map(RuleId)
    }

    fn partition() -> impl Strategy<Value = PartitionId> {
        prop_oneof![0u32..3, Just(u32::MAX)].prop_map(PartitionId)
    }

    fn time() -> impl Strategy<Value = i64> {
        prop_oneof![-3i64..3, any::<i64>(), Just(i64::MIN), Just(i64::MAX)]
    }

    fn record_key() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(prop_oneof![Just(0u8), Just(1), Just(0xFF)], 0..4)
    }

    /// The documented order among record keys: length, then bytes.
    fn key_order(key: &[u8]) -> (usize, &[u8]) {
        (key.len(), key)
    }

    proptest! {
        #[test]
        fn timer_keys_round_trip_and_sort_by_time_then_key(
            a in (rule(), partition(), time(), record_key()),
            b in (rule(), partition(), time(), record_key()),
        ) {
            let ka = TimerKey { rule: a.0, partition: a.1, time: a.2, key: &a.3 };
            let kb = TimerKey { rule: b.0, partition: b.1, time: b.2, key: &b.3 };
            let (ea, eb) = (ka.encode(), kb.encode());
            prop_assert_eq!(TimerKey::decode(&ea).unwrap(), ka);
            prop_assert_eq!(
                ea.cmp(&eb),
                (a.0, a.1, a.2, key_order(&a.3)).cmp(&(b.0, b.1, b.2, key_order(&b.3)))
            );
        }

        #[test]
        fn pending_keys_round_trip_and_sort_by_time_then_seq(
            a in (rule(), partition(), time(), any::<u64>()),
            b in (rule(), partition(), time(), any::<u64>()),
        ) {
            let ka = PendingKey { rule: a.0, partition: a.1, time: a.2, seq: a.3 };
            let kb = PendingKey { rule: b.0, partition: b.1, time: b.2, seq: b.3 };
            prop_assert_eq!(PendingKey::decode(&ka.encode()).unwrap(), ka);
            prop_assert_eq!(ka.encode().cmp(&kb.encode()), a.cmp(&b));
        }

        #[test]
        fn run_and_buffer_keys_round_trip_and_sort_by_key_then_entry(
            a in (rule(), partition(), record_key(), 0u64..3),
            b in (rule(), partition(), record_key(), 0u64..3),
        ) {
            let run = RunKey { rule: a.0, partition: a.1, key: &a.2 };
            let encoded = run.encode();
            prop_assert_eq!(RunKey::decode(&encoded).unwrap(), run);
            let ka = BufferKey { rule: a.0, partition: a.1, key: &a.2, entry: a.3 };
            let kb = BufferKey { rule: b.0, partition: b.1, key: &b.2, entry: b.3 };
            let encoded = ka.encode();
            prop_assert_eq!(BufferKey::decode(&encoded).unwrap(), ka);
            prop_assert_eq!(
                ka.encode().cmp(&kb.encode()),
                (a.0, a.1, key_order(&a.2), a.3).cmp(&(b.0, b.1, key_order(&b.2), b.3))
            );
        }

        #[test]
        fn ranges_hold_exactly_their_keys(
            k in (rule(), partition(), time(), record_key(), any::<u64>()),
            q in (rule(), partition(), time(), record_key()),
        ) {
            let (rule, partition, time, key, seq) = k;
            let timer = TimerKey { rule, partition, time, key: &key }.encode();
            let pending = PendingKey { rule, partition, time, seq }.encode();
            let run = RunKey { rule, partition, key: &key }.encode();
            let buffer = BufferKey { rule, partition, key: &key, entry: seq }.encode();
            let same_rule = rule == q.0;
            let same_partition = same_rule && partition == q.1;
            for stored in [&timer, &pending, &run, &buffer] {
                prop_assert_eq!(rule_range(q.0).contains(stored), same_rule);
                prop_assert_eq!(partition_range(q.0, q.1).contains(stored), same_partition);
            }
            let due = due_range(q.0, q.1, q.2);
            prop_assert_eq!(due.contains(&timer), same_partition && time <= q.2);
            prop_assert_eq!(due.contains(&pending), same_partition && time <= q.2);
            let of_key = key_range(q.0, q.1, &q.3);
            prop_assert_eq!(of_key.contains(&run), same_partition && key == q.3);
            prop_assert_eq!(of_key.contains(&buffer), same_partition && key == q.3);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            // Only the outcome kind matters: a value or a Corrupt error, never a panic.
            let results = [
                RunKey::decode(&bytes).err(),
                BufferKey::decode(&bytes).err(),
                PendingKey::decode(&bytes).err(),
                TimerKey::decode(&bytes).err(),
                OffsetKey::decode(&bytes).err(),
            ];
            for err in results.into_iter().flatten() {
                prop_assert!(matches!(err, StateError::Corrupt(_)));
            }
        }
    }

    #[test]
    fn layout_matches_the_documented_bytes() {
        let timer = TimerKey { rule: RuleId(1), partition: PartitionId(2), time: -1, key: b"u7" };
        assert_eq!(
            timer.encode(),
            [
                0, 0, 0, 1, // rule
                0, 0, 0, 2, // partition
                0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, // time -1, sign bit flipped
                0, 0, 0, 2, b'u', b'7', // key length, key
            ]
        );
        assert_eq!(OffsetKey { partition: PartitionId(9) }.encode(), [0, 0, 0, 9]);
    }

    #[test]
    fn due_range_to_end_of_time_takes_every_time() {
        let (rule, partition) = (RuleId(u32::MAX), PartitionId(u32::MAX));
        let range = due_range(rule, partition, i64::MAX);
        assert_eq!(range.end, None, "nothing sorts after the last rule's last partition");
        let last = TimerKey { rule, partition, time: i64::MAX, key: &[0xFF; 8] }.encode();
        assert!(range.contains(&last));
        let range = due_range(RuleId(0), PartitionId(0), i64::MAX);
        assert!(
            range.contains(
                &PendingKey {
                    rule: RuleId(0),
                    partition: PartitionId(0),
                    time: i64::MAX,
                    seq: u64::MAX
                }
                .encode()
            )
        );
        assert!(
            !range.contains(
                &RunKey { rule: RuleId(0), partition: PartitionId(1), key: b"" }.encode()
            )
        );
    }

    #[test]
    fn truncated_and_padded_keys_are_corrupt() {
        let run = RunKey { rule: RuleId(3), partition: PartitionId(0), key: b"child-42" }.encode();
        let err = RunKey::decode(&run[..run.len() - 1]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "corrupt state: runs key of 19 bytes ends inside the key (byte 12)"
        );
        let mut padded = run.clone();
        padded.push(0);
        let err = RunKey::decode(&padded).unwrap_err();
        assert_eq!(
            err.to_string(),
            "corrupt state: runs key of 21 bytes has 1 bytes after its last field"
        );
        // A length field claiming more than the whole address space must not overflow.
        let mut huge = run[..8].to_vec();
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(RunKey::decode(&huge), Err(StateError::Corrupt(_))));
    }

    #[test]
    fn ensure_layout_records_then_checks_the_version() {
        let store = MemoryStore::new();
        ensure_layout(&store).unwrap();
        assert_eq!(store.get(Space::Meta, LAYOUT_KEY).unwrap(), Some(vec![LAYOUT_VERSION]));
        ensure_layout(&store).unwrap();
        store.put(Space::Meta, LAYOUT_KEY, &[LAYOUT_VERSION + 1]).unwrap();
        assert!(matches!(
            ensure_layout(&store),
            Err(StateError::VersionMismatch { what: "key layout", .. })
        ));
        store.put(Space::Meta, LAYOUT_KEY, &[]).unwrap();
        assert!(matches!(ensure_layout(&store), Err(StateError::Corrupt(_))));
    }
}
