//! The conformance suite every [`StateStore`] must pass, written once for all backends.
//!
//! Each check is a function generic over the store; [`conformance_suite!`](crate::conformance_suite)
//! turns them into one `#[test]` each, given a factory that returns a fresh, empty store:
//!
//! ```
//! mod memory {
//!     cepheus_state::conformance_suite!(cepheus_state::MemoryStore::new);
//! }
//! ```
//!
//! A disk-backed store's factory returns a store that owns its temporary directory. Available
//! to this crate's tests and, with the `testing` feature, to other crates.
//!
//! The checks panic on failure, like any test.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::store::{BatchOp, KeyRange, Space, StateStore, StateView, WriteBatch};

/// Defines one `#[test]` per conformance check, each on a store from `$factory()`.
///
/// `$factory` is any expression callable with no arguments that returns a fresh, empty store
/// (a function path or a closure). Invoke it inside a module of its own.
#[macro_export]
macro_rules! conformance_suite {
    ($factory:expr) => {
        #[test]
        fn put_get_delete() {
            $crate::conformance::put_get_delete(&($factory)());
        }

        #[test]
        fn empty_keys_and_values() {
            $crate::conformance::empty_keys_and_values(&($factory)());
        }

        #[test]
        fn large_keys_and_values() {
            $crate::conformance::large_keys_and_values(&($factory)());
        }

        #[test]
        fn scans_are_in_key_order() {
            $crate::conformance::scans_are_in_key_order(&($factory)());
        }

        #[test]
        fn scans_are_bounded() {
            $crate::conformance::scans_are_bounded(&($factory)());
        }

        #[test]
        fn scan_reads_a_fixed_view() {
            $crate::conformance::scan_reads_a_fixed_view(&($factory)());
        }

        #[test]
        fn batch_applies_in_order() {
            $crate::conformance::batch_applies_in_order(&($factory)());
        }

        #[test]
        fn batches_are_atomic_to_readers() {
            $crate::conformance::batches_are_atomic_to_readers(&($factory)());
        }

        #[test]
        fn snapshots_are_isolated() {
            $crate::conformance::snapshots_are_isolated(&($factory)());
        }

        #[test]
        fn agrees_with_model() {
            $crate::conformance::agrees_with_model($factory);
        }
    };
}

fn get<S: StateView + ?Sized>(store: &S, space: Space, key: &[u8]) -> Option<Vec<u8>> {
    store.get(space, key).expect("get")
}

fn scan<S: StateView + ?Sized>(
    store: &S,
    space: Space,
    range: KeyRange,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    store.scan(space, range).expect("scan").collect::<Result<_, _>>().expect("scan entry")
}

fn keys<S: StateView + ?Sized>(store: &S, space: Space, range: KeyRange) -> Vec<Vec<u8>> {
    scan(store, space, range).into_iter().map(|(k, _)| k).collect()
}

/// Put, overwrite, get and delete, and spaces that do not see each other's keys.
pub fn put_get_delete<S: StateStore + ?Sized>(store: &S) {
    assert_eq!(get(store, Space::Runs, b"user-1"), None, "a fresh store is empty");
    store.put(Space::Runs, b"user-1", b"v1").expect("put");
    assert_eq!(get(store, Space::Runs, b"user-1").as_deref(), Some(&b"v1"[..]));
    store.put(Space::Runs, b"user-1", b"v2").expect("overwrite");
    assert_eq!(get(store, Space::Runs, b"user-1").as_deref(), Some(&b"v2"[..]));

    for space in Space::ALL.into_iter().filter(|&s| s != Space::Runs) {
        assert_eq!(get(store, space, b"user-1"), None, "{space} sees a key put in runs");
        store.put(space, b"user-1", space.name().as_bytes()).expect("put");
    }
    for space in Space::ALL.into_iter().filter(|&s| s != Space::Runs) {
        assert_eq!(get(store, space, b"user-1").as_deref(), Some(space.name().as_bytes()));
    }

    store.delete(Space::Runs, b"user-1").expect("delete");
    assert_eq!(get(store, Space::Runs, b"user-1"), None);
    assert_eq!(get(store, Space::Buffer, b"user-1").as_deref(), Some(&b"buffer"[..]));
    store.delete(Space::Runs, b"user-1").expect("deleting an absent key succeeds");
    store.delete(Space::Runs, b"never-there").expect("deleting an absent key succeeds");
}

/// An empty value is present (not absent), and the empty key is a key like any other.
pub fn empty_keys_and_values<S: StateStore + ?Sized>(store: &S) {
    store.put(Space::Meta, b"empty", b"").expect("put empty value");
    assert_eq!(get(store, Space::Meta, b"empty"), Some(Vec::new()));
    store.put(Space::Meta, b"", b"root").expect("put empty key");
    assert_eq!(get(store, Space::Meta, b"").as_deref(), Some(&b"root"[..]));
    assert_eq!(
        scan(store, Space::Meta, KeyRange::all()),
        [(Vec::new(), b"root".to_vec()), (b"empty".to_vec(), Vec::new())],
        "the empty key sorts first and empty values are scanned"
    );
    store.delete(Space::Meta, b"").expect("delete empty key");
    assert_eq!(get(store, Space::Meta, b""), None);
    assert_eq!(get(store, Space::Meta, b"empty"), Some(Vec::new()));
}

/// Keys of 64 KiB and values of 4 MiB go in and come out whole.
pub fn large_keys_and_values<S: StateStore + ?Sized>(store: &S) {
    let key: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
    let value: Vec<u8> = (0..4 * 1024 * 1024).map(|i| (i % 241) as u8).collect();
    store.put(Space::Buffer, &key, &value).expect("put large");
    assert!(get(store, Space::Buffer, &key) == Some(value.clone()), "large value round-trips");

    let mut longer = key.clone();
    longer.push(0);
    store.put(Space::Buffer, &longer, b"x").expect("put longer");
    let found = scan(store, Space::Buffer, KeyRange::prefix(key.clone()));
    assert_eq!(found.len(), 2);
    assert!(found[0].0 == key && found[0].1 == value && found[1].0 == longer);
    // A key that differs from the large one only in its last byte is a neighbour, not a match.
    let mut sibling = key.clone();
    *sibling.last_mut().expect("key is not empty") ^= 1;
    assert_eq!(get(store, Space::Buffer, &sibling), None);
}

/// Scans return entries in ascending byte order of keys, whatever the insertion order, with the
/// values that belong to them.
pub fn scans_are_in_key_order<S: StateStore + ?Sized>(store: &S) {
    let mut wanted: Vec<Vec<u8>> = vec![
        vec![0xFF, 0xFF],
        vec![1, 0xFF],
        vec![0],
        vec![1],
        vec![0xFF],
        vec![1, 0],
        vec![0, 0],
        vec![2],
        vec![1, 0, 0],
        vec![0x7F, 0x80],
    ];
    for key in &wanted {
        let value: Vec<u8> = key.iter().map(|b| b.wrapping_add(1)).collect();
        store.put(Space::Timers, key, &value).expect("put");
    }
    wanted.sort();
    let found = scan(store, Space::Timers, KeyRange::all());
    assert_eq!(found.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(), wanted);
    for (key, value) in found {
        assert_eq!(value, key.iter().map(|b| b.wrapping_add(1)).collect::<Vec<_>>());
    }
}

/// Prefix and half-open ranges include exactly their keys, and a scan never leaves its space.
pub fn scans_are_bounded<S: StateStore + ?Sized>(store: &S) {
    for key in [&[1u8][..], &[1, 0], &[1, 0xFF], &[1, 0xFF, 0xFF], &[2], &[2, 0], &[3], &[0xFF]] {
        store.put(Space::Pending, key, b"p").expect("put");
    }
    store.put(Space::Runs, &[1, 5], b"other space").expect("put");

    assert_eq!(
        keys(store, Space::Pending, KeyRange::prefix(vec![1])),
        [vec![1], vec![1, 0], vec![1, 0xFF], vec![1, 0xFF, 0xFF]]
    );
    assert_eq!(
        keys(store, Space::Pending, KeyRange::prefix(vec![1, 0xFF])),
        [vec![1, 0xFF], vec![1, 0xFF, 0xFF]]
    );
    assert_eq!(keys(store, Space::Pending, KeyRange::prefix(vec![0xFF])), [vec![0xFF]]);
    assert!(keys(store, Space::Pending, KeyRange::prefix(vec![4])).is_empty());
    assert_eq!(
        keys(store, Space::Pending, KeyRange::new(vec![1, 0], vec![2, 0])),
        [vec![1, 0], vec![1, 0xFF], vec![1, 0xFF, 0xFF], vec![2]],
        "start is included, end excluded"
    );
    assert_eq!(
        keys(store, Space::Pending, KeyRange::new(vec![1, 1], vec![2, 1])),
        [vec![1, 0xFF], vec![1, 0xFF, 0xFF], vec![2], vec![2, 0]],
        "bounds need not be stored keys"
    );
    assert_eq!(
        keys(store, Space::Pending, KeyRange { start: vec![2, 0], end: None }),
        [vec![2, 0], vec![3], vec![0xFF]]
    );
    assert!(keys(store, Space::Pending, KeyRange::new(vec![2], vec![2])).is_empty());
    assert!(keys(store, Space::Pending, KeyRange::new(vec![3], vec![1])).is_empty());
    assert_eq!(keys(store, Space::Runs, KeyRange::all()), [vec![1, 5]]);
}

/// A scan reads the store as it was when the scan was created.
pub fn scan_reads_a_fixed_view<S: StateStore + ?Sized>(store: &S) {
    for key in [b"a", b"c", b"e"] {
        store.put(Space::Runs, key, b"old").expect("put");
    }
    let mut scan = store.scan(Space::Runs, KeyRange::all()).expect("scan");
    let first = scan.next().expect("an entry").expect("no error");
    assert_eq!(first, (b"a".to_vec(), b"old".to_vec()));
    store.put(Space::Runs, b"b", b"new").expect("put");
    store.put(Space::Runs, b"c", b"new").expect("put");
    store.delete(Space::Runs, b"e").expect("delete");
    let rest: Vec<_> = scan.collect::<Result<_, _>>().expect("no error");
    assert_eq!(rest, [(b"c".to_vec(), b"old".to_vec()), (b"e".to_vec(), b"old".to_vec())]);
}

/// Operations in a batch apply in order, the last on a key winning, across spaces.
pub fn batch_applies_in_order<S: StateStore + ?Sized>(store: &S) {
    store.put(Space::Runs, b"kept", b"before").expect("put");
    store.put(Space::Runs, b"revived", b"before").expect("put");
    store.write(WriteBatch::new()).expect("an empty batch is fine");

    let mut batch = WriteBatch::new();
    batch.put(Space::Runs, *b"gone", *b"1");
    batch.delete(Space::Runs, *b"gone");
    batch.delete(Space::Runs, *b"revived");
    batch.put(Space::Runs, *b"revived", *b"after");
    batch.put(Space::Timers, *b"twice", *b"first");
    batch.put(Space::Timers, *b"twice", *b"second");
    batch.put(Space::Offsets, *b"p0", *b"42");
    store.write(batch).expect("write");

    assert_eq!(get(store, Space::Runs, b"gone"), None, "put then delete leaves it absent");
    assert_eq!(get(store, Space::Runs, b"revived").as_deref(), Some(&b"after"[..]));
    assert_eq!(get(store, Space::Runs, b"kept").as_deref(), Some(&b"before"[..]));
    assert_eq!(get(store, Space::Timers, b"twice").as_deref(), Some(&b"second"[..]));
    assert_eq!(get(store, Space::Offsets, b"p0").as_deref(), Some(&b"42"[..]));
}

/// No reader, through gets, scans or snapshots, ever sees part of a batch.
///
/// A writer thread rewrites a group of keys in two spaces, all to the same round number, one
/// batch per round; readers check that everything they see belongs to one round.
pub fn batches_are_atomic_to_readers<S: StateStore + ?Sized>(store: &S) {
    const ROUNDS: u32 = 300;
    const GROUP: [&[u8]; 4] = [b"k1", b"k2", b"k3", b"k4"];
    let round_batch = |round: u32| {
        let mut batch = WriteBatch::new();
        for key in GROUP {
            batch.put(Space::Runs, key, round.to_be_bytes());
        }
        // Odd rounds also hold an extra key; even rounds delete it.
        if round % 2 == 1 {
            batch.put(Space::Runs, *b"k5", round.to_be_bytes());
        } else {
            batch.delete(Space::Runs, *b"k5");
        }
        batch.put(Space::Offsets, *b"p", round.to_be_bytes());
        batch
    };
    store.write(round_batch(0)).expect("write");
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut reads = 0u32;
            while !done.load(Ordering::Acquire) || reads == 0 {
                let snapshot = store.snapshot().expect("snapshot");
                let (round, offset) = check_round(&*snapshot);
                assert_eq!(round, offset, "a snapshot saw two rounds across spaces");
                check_round(store);
                reads += 1;
            }
        });
        for round in 1..=ROUNDS {
            store.write(round_batch(round)).expect("write");
        }
        done.store(true, Ordering::Release);
        reader.join().expect("reader thread");
    });
    let (round, _) = check_round(store);
    assert_eq!(round, ROUNDS.to_be_bytes(), "the last batch is visible");
}

/// Checks one consistent view for [`batches_are_atomic_to_readers`]: every value in `Runs` is
/// from the same round, the extra key is present exactly in odd rounds; returns the round seen in
/// `Runs` and the one seen in `Offsets`.
fn check_round<V: StateView + ?Sized>(view: &V) -> (Vec<u8>, Vec<u8>) {
    let entries = scan(view, Space::Runs, KeyRange::all());
    let round = entries[0].1.clone();
    assert!(entries.iter().all(|(_, v)| *v == round), "a scan saw two rounds: {entries:?}");
    let odd = round.last().is_some_and(|b| b % 2 == 1);
    assert_eq!(entries.len(), if odd { 5 } else { 4 }, "partial batch: {entries:?}");
    let offset = get(view, Space::Offsets, b"p").expect("offset present");
    (round, offset)
}

/// A snapshot sees every write completed before it and none after, in gets and scans, while the
/// store moves on.
pub fn snapshots_are_isolated<S: StateStore + ?Sized>(store: &S) {
    store.put(Space::Runs, b"a", b"1").expect("put");
    store.put(Space::Runs, b"b", b"1").expect("put");
    let first = store.snapshot().expect("snapshot");

    store.put(Space::Runs, b"a", b"2").expect("put");
    store.delete(Space::Runs, b"b").expect("delete");
    let mut batch = WriteBatch::new();
    batch.put(Space::Runs, *b"c", *b"2");
    batch.put(Space::Meta, *b"m", *b"2");
    store.write(batch).expect("write");
    let second = store.snapshot().expect("snapshot");
    store.put(Space::Runs, b"d", b"3").expect("put");

    assert_eq!(get(&*first, Space::Runs, b"a").as_deref(), Some(&b"1"[..]));
    assert_eq!(get(&*first, Space::Runs, b"b").as_deref(), Some(&b"1"[..]));
    assert_eq!(get(&*first, Space::Meta, b"m"), None);
    assert_eq!(keys(&*first, Space::Runs, KeyRange::all()), [b"a".to_vec(), b"b".to_vec()]);

    assert_eq!(get(&*second, Space::Runs, b"a").as_deref(), Some(&b"2"[..]));
    assert_eq!(get(&*second, Space::Meta, b"m").as_deref(), Some(&b"2"[..]));
    assert_eq!(keys(&*second, Space::Runs, KeyRange::all()), [b"a".to_vec(), b"c".to_vec()]);

    assert_eq!(
        keys(store, Space::Runs, KeyRange::all()),
        [b"a".to_vec(), b"c".to_vec(), b"d".to_vec()]
    );
    drop(first);
    assert_eq!(get(&*second, Space::Runs, b"d"), None, "dropping one snapshot leaves the other");
}

/// One step of a random history.
#[derive(Clone, Debug)]
enum Op {
    Put(Space, Vec<u8>, Vec<u8>),
    Delete(Space, Vec<u8>),
    Write(Vec<BatchOp>),
    Get(Space, Vec<u8>),
    Scan(Space, KeyRange),
    Snapshot,
    /// Reads from the n-th live snapshot (modulo how many there are).
    ReadSnapshot(usize, Space, KeyRange),
}

/// The naive model: one map over (space, key).
type Model = BTreeMap<(Space, Vec<u8>), Vec<u8>>;

/// Few spaces and a three-byte alphabet, so random operations often hit the same keys and the
/// edges of ranges (0x00 and 0xFF).
fn space() -> impl Strategy<Value = Space> {
    prop::sample::select(vec![Space::Runs, Space::Timers, Space::Meta])
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(vec![0u8, 1, 0xFF]), 0..3)
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..3)
}

fn range() -> impl Strategy<Value = KeyRange> {
    prop_oneof![
        key().prop_map(KeyRange::prefix),
        (key(), prop::option::of(key())).prop_map(|(start, end)| KeyRange { start, end }),
    ]
}

fn batch_op() -> impl Strategy<Value = BatchOp> {
    prop_oneof![
        (space(), key(), value()).prop_map(|(space, key, value)| BatchOp::Put {
            space,
            key,
            value
        }),
        (space(), key()).prop_map(|(space, key)| BatchOp::Delete { space, key }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (space(), key(), value()).prop_map(|(s, k, v)| Op::Put(s, k, v)),
        2 => (space(), key()).prop_map(|(s, k)| Op::Delete(s, k)),
        2 => prop::collection::vec(batch_op(), 0..6).prop_map(Op::Write),
        2 => (space(), key()).prop_map(|(s, k)| Op::Get(s, k)),
        2 => (space(), range()).prop_map(|(s, r)| Op::Scan(s, r)),
        1 => Just(Op::Snapshot),
        2 => (any::<usize>(), space(), range()).prop_map(|(i, s, r)| Op::ReadSnapshot(i, s, r)),
    ]
}

fn model_scan(model: &Model, space: Space, range: &KeyRange) -> Vec<(Vec<u8>, Vec<u8>)> {
    model
        .iter()
        .filter(|((s, k), _)| *s == space && range.contains(k))
        .map(|((_, k), v)| (k.clone(), v.clone()))
        .collect()
}

fn apply(model: &mut Model, op: BatchOp) {
    match op {
        BatchOp::Put { space, key, value } => {
            model.insert((space, key), value);
        }
        BatchOp::Delete { space, key } => {
            model.remove(&(space, key));
        }
    }
}

/// Runs `ops` on `store` and on the model; every read must agree.
fn check_history<S: StateStore + ?Sized>(store: &S, ops: Vec<Op>) -> Result<(), TestCaseError> {
    // Snapshots are bounded so long histories do not pile up copies.
    const LIVE_SNAPSHOTS: usize = 3;
    let mut model = Model::new();
    let mut snapshots: Vec<(Box<dyn StateView + '_>, Model)> = Vec::new();
    for op in ops {
        match op {
            Op::Put(space, key, value) => {
                store.put(space, &key, &value).expect("put");
                model.insert((space, key), value);
            }
            Op::Delete(space, key) => {
                store.delete(space, &key).expect("delete");
                model.remove(&(space, key));
            }
            Op::Write(ops) => {
                let mut batch = WriteBatch::new();
                for op in &ops {
                    match op.clone() {
                        BatchOp::Put { space, key, value } => batch.put(space, key, value),
                        BatchOp::Delete { space, key } => batch.delete(space, key),
                    }
                }
                store.write(batch).expect("write");
                ops.into_iter().for_each(|op| apply(&mut model, op));
            }
            Op::Get(space, key) => {
                prop_assert_eq!(get(store, space, &key), model.get(&(space, key.clone())).cloned());
            }
            Op::Scan(space, range) => {
                prop_assert_eq!(
                    scan(store, space, range.clone()),
                    model_scan(&model, space, &range)
                );
            }
            Op::Snapshot => {
                if snapshots.len() == LIVE_SNAPSHOTS {
                    snapshots.remove(0);
                }
                snapshots.push((store.snapshot().expect("snapshot"), model.clone()));
            }
            Op::ReadSnapshot(n, space, range) => {
                if let Some((snapshot, seen)) = snapshots.get(n % snapshots.len().max(1)) {
                    prop_assert_eq!(
                        scan(&**snapshot, space, range.clone()),
                        model_scan(seen, space, &range)
                    );
                    prop_assert_eq!(
                        get(&**snapshot, space, &range.start),
                        seen.get(&(space, range.start.clone())).cloned()
                    );
                }
            }
        }
    }
    for space in Space::ALL {
        prop_assert_eq!(
            scan(store, space, KeyRange::all()),
            model_scan(&model, space, &KeyRange::all())
        );
    }
    Ok(())
}

/// Random histories of puts, deletes, batches, gets, scans and snapshots, applied to a fresh
/// store from `factory` and to a naive model (one `BTreeMap` over `(space, key)`), agree on
/// every read. Failing histories are shrunk and reported.
///
/// The number of histories follows proptest's `PROPTEST_CASES` (256 by default).
pub fn agrees_with_model<S: StateStore, F: Fn() -> S>(factory: F) {
    let config = Config { failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let histories = prop::collection::vec(op(), 0..40);
    if let Err(err) = runner.run(&histories, |ops| check_history(&factory(), ops)) {
        panic!("store and model disagree: {err}");
    }
}
