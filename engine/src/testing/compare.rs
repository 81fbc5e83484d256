//! Comparing expected records (triggers or matches) with what the rules produced.
//!
//! An expectation is a *subset* of a record: every field it names must be there with an equal
//! value; fields it leaves out are not checked. Mappings compare as subsets at every depth,
//! lists element by element with the same length, numbers by value (`1` equals `1.0`).
//! Expectations and records are paired one to one, in any order: a maximum matching, so an
//! expectation that fits several records never takes the only record another one fits.

use serde_json::{Map, Value};

/// Whether `actual` has everything `expected` says.
pub fn subset(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            e.iter().all(|(k, ev)| a.get(k).is_some_and(|av| subset(ev, av)))
        }
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(ev, av)| subset(ev, av))
        }
        (Value::Number(e), Value::Number(a)) => match (e.as_f64(), a.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => e == a,
        },
        (e, a) => e == a,
    }
}

/// Whether `actual` has everything the expected `fields` say.
pub fn fits(fields: &Map<String, Value>, actual: &Value) -> bool {
    actual
        .as_object()
        .is_some_and(|a| fields.iter().all(|(k, ev)| a.get(k).is_some_and(|av| subset(ev, av))))
}

/// Pairs each expectation with a distinct record it fits, pairing as many as possible.
/// Returns, per expectation, the index of its record (or `None`).
pub fn assign(expected: &[&Map<String, Value>], actual: &[Value]) -> Vec<Option<usize>> {
    let fits_table: Vec<Vec<usize>> = expected
        .iter()
        .map(|e| (0..actual.len()).filter(|&j| fits(e, &actual[j])).collect())
        .collect();
    let mut owner: Vec<Option<usize>> = vec![None; actual.len()];
    for i in 0..expected.len() {
        let mut seen = vec![false; actual.len()];
        augment(i, &fits_table, &mut owner, &mut seen);
    }
    let mut out = vec![None; expected.len()];
    for (j, o) in owner.iter().enumerate() {
        if let Some(i) = o {
            out[*i] = Some(j);
        }
    }
    out
}

/// Kuhn's augmenting path: gives expectation `i` a record, moving earlier pairs if needed.
fn augment(
    i: usize,
    fits_table: &[Vec<usize>],
    owner: &mut [Option<usize>],
    seen: &mut [bool],
) -> bool {
    for &j in &fits_table[i] {
        if seen[j] {
            continue;
        }
        seen[j] = true;
        if owner[j].is_none_or(|k| augment(k, fits_table, owner, seen)) {
            owner[j] = Some(i);
            return true;
        }
    }
    false
}

/// How one expected field compares with a record.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldDiff {
    Same { field: String, value: Value },
    Differs { field: String, expected: Value, actual: Value },
    Missing { field: String, expected: Value },
}

/// Field by field, how `actual` differs from the expected `fields`.
pub fn diff(fields: &Map<String, Value>, actual: &Value) -> Vec<FieldDiff> {
    fields
        .iter()
        .map(|(k, ev)| match actual.get(k) {
            Some(av) if subset(ev, av) => FieldDiff::Same { field: k.clone(), value: av.clone() },
            Some(av) => {
                FieldDiff::Differs { field: k.clone(), expected: ev.clone(), actual: av.clone() }
            }
            None => FieldDiff::Missing { field: k.clone(), expected: ev.clone() },
        })
        .collect()
}

/// The record most like the expectation: the most fields equal, records no other expectation
/// took first, then the earliest. `None` when there is no record.
pub fn closest(fields: &Map<String, Value>, actual: &[Value], taken: &[bool]) -> Option<usize> {
    (0..actual.len()).max_by_key(|&j| {
        let same =
            diff(fields, &actual[j]).iter().filter(|d| matches!(d, FieldDiff::Same { .. })).count();
        (same, !taken[j], std::cmp::Reverse(j))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn subsets_at_every_depth_lists_whole_numbers_by_value() {
        let actual = json!({"a": 1.0, "m": {"x": 1, "y": 2}, "l": [1, {"p": 1, "q": 2}]});
        assert!(fits(&map(json!({"a": 1})), &actual));
        assert!(fits(&map(json!({"m": {"y": 2}})), &actual));
        assert!(fits(&map(json!({"l": [1, {"q": 2}]})), &actual));
        assert!(!fits(&map(json!({"l": [1]})), &actual), "lists compare with their length");
        assert!(!fits(&map(json!({"a": "1"})), &actual), "a string is not a number");
        assert!(!fits(&map(json!({"b": null})), &actual), "a missing field is not null");
    }

    #[test]
    fn assignment_does_not_let_a_loose_expectation_steal_a_record() {
        let actual = vec![json!({"k": "a", "v": 1}), json!({"k": "a", "v": 2})];
        let loose = map(json!({"k": "a"}));
        let tight = map(json!({"v": 1}));
        assert_eq!(assign(&[&loose, &tight], &actual), vec![Some(1), Some(0)]);
        assert_eq!(assign(&[&tight, &tight], &actual), vec![Some(0), None]);
    }

    #[test]
    fn closest_prefers_more_equal_fields() {
        let actual = vec![json!({"k": "b", "v": 1}), json!({"k": "a", "v": 2})];
        let e = map(json!({"k": "a", "v": 3}));
        assert_eq!(closest(&e, &actual, &[false, false]), Some(1));
        assert_eq!(closest(&e, &[], &[]), None);
    }
}
