//! Values that expressions compute with.
//!
//! An event's fields are decoded once into [`Val`]s (only the fields the loaded rules read);
//! conditions and templates compute on them. [`Val::Missing`] is "no such field": comparing it
//! with anything is false, and arithmetic on it stays missing, so a rule never fails at run time
//! on an event that lacks a field or has one of another type.

use std::cmp::Ordering;
use std::sync::Arc;

/// A JSON value, plus `Missing` for an absent field.
#[derive(Debug, Clone, Default)]
pub enum Val {
    #[default]
    Missing,
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Arc<str>),
    List(Arc<[Val]>),
    /// An object, kept as JSON (rules compare scalars; objects are only passed through).
    Object(Arc<serde_json::Map<String, serde_json::Value>>),
}

impl Val {
    /// Converts a decoded JSON value.
    pub fn from_json(v: &serde_json::Value) -> Val {
        match v {
            serde_json::Value::Null => Val::Null,
            serde_json::Value::Bool(b) => Val::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Val::Int(i),
                None => Val::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Val::Str(Arc::from(s.as_str())),
            serde_json::Value::Array(items) => {
                Val::List(items.iter().map(Val::from_json).collect())
            }
            serde_json::Value::Object(map) => Val::Object(Arc::new(map.clone())),
        }
    }

    /// The JSON form; `Missing` becomes `null`, a non-finite float `null` too.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Val::Missing | Val::Null => serde_json::Value::Null,
            Val::Bool(b) => (*b).into(),
            Val::Int(i) => (*i).into(),
            Val::Float(f) => {
                serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into)
            }
            Val::Str(s) => serde_json::Value::String(s.to_string()),
            Val::List(items) => items.iter().map(Val::to_json).collect(),
            Val::Object(map) => serde_json::Value::Object((**map).clone()),
        }
    }

    pub fn is_missing(&self) -> bool {
        matches!(self, Val::Missing)
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Val::Int(i) => Some(*i as f64),
            Val::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// Text for string interpolation: strings as they are, `Missing` as nothing, others as JSON.
    pub fn to_text(&self) -> String {
        match self {
            Val::Missing => String::new(),
            Val::Str(s) => s.to_string(),
            Val::Float(f) => format_float(*f),
            other => other.to_json().to_string(),
        }
    }

    /// Equality as `==` sees it: numbers compare by value across int and float; `Missing`
    /// equals nothing (not even `Missing`).
    pub fn equals(&self, other: &Val) -> bool {
        match (self, other) {
            (Val::Missing, _) | (_, Val::Missing) => false,
            (Val::Null, Val::Null) => true,
            (Val::Bool(a), Val::Bool(b)) => a == b,
            (Val::Int(a), Val::Int(b)) => a == b,
            (Val::Str(a), Val::Str(b)) => a == b,
            (Val::List(a), Val::List(b)) => {
                a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x.equals(y))
            }
            (Val::Object(a), Val::Object(b)) => a == b,
            (a, b) => match (a.as_f64(), b.as_f64()) {
                (Some(x), Some(y)) => x == y,
                _ => false,
            },
        }
    }

    /// Order for `< <= > >=`: numbers with numbers, strings with strings; otherwise none.
    pub fn compare(&self, other: &Val) -> Option<Ordering> {
        match (self, other) {
            (Val::Int(a), Val::Int(b)) => Some(a.cmp(b)),
            (Val::Str(a), Val::Str(b)) => Some(a.cmp(b)),
            (a, b) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        }
    }
}

/// Floats print without a trailing `.0` noise only when they are whole and small; otherwise as
/// Rust prints them (shortest form that reads back).
pub fn format_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 { format!("{}", f as i64) } else { format!("{f}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_compares_false_with_everything() {
        assert!(!Val::Missing.equals(&Val::Missing));
        assert!(!Val::Missing.equals(&Val::Null));
        assert_eq!(Val::Missing.compare(&Val::Int(1)), None);
    }

    #[test]
    fn numbers_compare_across_int_and_float() {
        assert!(Val::Int(2).equals(&Val::Float(2.0)));
        assert_eq!(Val::Int(2).compare(&Val::Float(2.5)), Some(Ordering::Less));
        assert_eq!(Val::Str("a".into()).compare(&Val::Int(1)), None);
    }

    #[test]
    fn json_round_trip_keeps_types() {
        let j: serde_json::Value = serde_json::json!({"a": [1, 2.5, "x", null, true]});
        assert_eq!(Val::from_json(&j).to_json(), j);
    }
}
