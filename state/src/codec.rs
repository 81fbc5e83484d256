//! Compact, versioned binary encoding for stored values.
//!
//! Every value starts with one format-version byte, written by [`Encoder::new`] and checked by
//! [`Decoder::new`] against the versions the reader supports, so a format change is a new
//! version number and old state is either migrated or refused ([`StateError::VersionMismatch`]),
//! never misread. After the version byte come primitives in the order the owner of the value
//! writes them; the format is not self-describing, so writer and reader must agree.
//!
//! | primitive | bytes |
//! | --- | --- |
//! | `u8` | the byte |
//! | `u64`, lengths | LEB128 varint: 7 bits per byte, low first, high bit = more follows; at most 10 bytes |
//! | `i64` | zigzag (0, -1, 1, -2, ... to 0, 1, 2, 3, ...), then as `u64` |
//! | `f64` | the IEEE 754 bits, 8 bytes little-endian (NaN payloads kept) |
//! | `bool` | 0 or 1 |
//! | bytes, `str` | length as varint, then the bytes (`str`: UTF-8, checked on read) |
//! | `Option<T>` | 0 for `None`; 1 then `T` for `Some` |
//!
//! Decoding never panics on any input: every problem is a [`StateError::Corrupt`] that names the
//! value and the byte offset.

use std::fmt;
use std::ops::RangeInclusive;

use crate::StateError;

/// Writes a value: the version byte, then primitives appended in order.
///
/// ```
/// use cepheus_state::codec::{Decoder, Encoder};
///
/// let mut enc = Encoder::new(1);
/// enc.write_str("user-17").write_i64(-5).write_option(Some(2.5), |e, v| {
///     e.write_f64(v);
/// });
/// let bytes = enc.finish();
///
/// let mut dec = Decoder::new(&bytes, "example", 1..=1)?;
/// assert_eq!(dec.read_str()?, "user-17");
/// assert_eq!(dec.read_i64()?, -5);
/// assert_eq!(dec.read_option(|d| d.read_f64())?, Some(2.5));
/// dec.finish()?;
/// # Ok::<(), cepheus_state::StateError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    /// Starts a value in format `version`.
    pub fn new(version: u8) -> Self {
        Encoder { buf: vec![version] }
    }

    /// Appends one byte.
    pub fn write_u8(&mut self, value: u8) -> &mut Self {
        self.buf.push(value);
        self
    }

    /// Appends a `u64` as a varint (1 byte below 128, at most 10).
    pub fn write_u64(&mut self, mut value: u64) -> &mut Self {
        while value >= 0x80 {
            self.buf.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.buf.push(value as u8);
        self
    }

    /// Appends an `i64`, zigzag-encoded so small magnitudes of either sign stay short.
    pub fn write_i64(&mut self, value: i64) -> &mut Self {
        self.write_u64(((value << 1) ^ (value >> 63)) as u64)
    }

    /// Appends an `f64` bit for bit.
    pub fn write_f64(&mut self, value: f64) -> &mut Self {
        self.buf.extend_from_slice(&value.to_bits().to_le_bytes());
        self
    }

    /// Appends a `bool` as 0 or 1.
    pub fn write_bool(&mut self, value: bool) -> &mut Self {
        self.write_u8(u8::from(value))
    }

    /// Appends a count of items the caller writes next (read back with [`Decoder::read_len`]).
    pub fn write_len(&mut self, len: usize) -> &mut Self {
        self.write_u64(len as u64)
    }

    /// Appends a length-prefixed byte string.
    pub fn write_bytes(&mut self, value: &[u8]) -> &mut Self {
        self.write_len(value.len());
        self.buf.extend_from_slice(value);
        self
    }

    /// Appends a length-prefixed UTF-8 string.
    pub fn write_str(&mut self, value: &str) -> &mut Self {
        self.write_bytes(value.as_bytes())
    }

    /// Appends an option: a presence byte, then `write` for the value if there is one.
    pub fn write_option<T>(
        &mut self,
        value: Option<T>,
        write: impl FnOnce(&mut Self, T),
    ) -> &mut Self {
        match value {
            None => {
                self.write_u8(0);
            }
            Some(v) => {
                self.write_u8(1);
                write(self, v);
            }
        }
        self
    }

    /// The encoded value.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads a value written by [`Encoder`], checking its version and every primitive.
#[derive(Clone, Debug)]
pub struct Decoder<'a> {
    bytes: &'a [u8],
    pos: usize,
    what: &'static str,
    version: u8,
}

impl<'a> Decoder<'a> {
    /// Starts reading `bytes`, a value of kind `what` (named in errors, e.g. `"nfa runs"`),
    /// whose version byte must be in `supported`; the caller branches on [`Decoder::version`]
    /// when it reads more than one.
    pub fn new(
        bytes: &'a [u8],
        what: &'static str,
        supported: RangeInclusive<u8>,
    ) -> Result<Self, StateError> {
        let Some(&version) = bytes.first() else {
            return Err(StateError::corrupt(format!("{what}: empty value, no format version")));
        };
        if !supported.contains(&version) {
            return Err(StateError::VersionMismatch { what, found: version, supported });
        }
        Ok(Decoder { bytes, pos: 1, what, version })
    }

    /// The format version of the value.
    pub fn version(&self) -> u8 {
        self.version
    }

    /// How many bytes are left to read.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// A [`StateError::Corrupt`] naming this value and the current offset, for problems the
    /// caller finds in what it decoded (an unknown tag, an impossible count).
    pub fn error(&self, problem: impl fmt::Display) -> StateError {
        self.error_at(self.pos, problem)
    }

    fn error_at(&self, at: usize, problem: impl fmt::Display) -> StateError {
        StateError::corrupt(format!("{} at byte {at}: {problem}", self.what))
    }

    fn take(&mut self, n: usize, reading: &str) -> Result<&'a [u8], StateError> {
        if n > self.remaining() {
            return Err(self
                .error(format_args!("{reading} needs {n} bytes, only {} left", self.remaining())));
        }
        let taken = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(taken)
    }

    /// Reads one byte.
    pub fn read_u8(&mut self) -> Result<u8, StateError> {
        Ok(self.take(1, "a byte")?[0])
    }

    /// Reads a varint `u64`.
    pub fn read_u64(&mut self) -> Result<u64, StateError> {
        let start = self.pos;
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let Some(&byte) = self.bytes.get(self.pos) else {
                return Err(self.error_at(start, "varint ends early"));
            };
            // The 10th byte carries bit 63 only; more would overflow.
            if shift == 63 && byte > 1 {
                return Err(self.error_at(start, "varint overflows 64 bits"));
            }
            self.pos += 1;
            value |= u64::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        // Not reached: the 10th byte is at most 1, so it has no continuation bit.
        Err(self.error_at(start, "varint longer than 10 bytes"))
    }

    /// Reads a zigzag `i64`.
    pub fn read_i64(&mut self) -> Result<i64, StateError> {
        let z = self.read_u64()?;
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }

    /// Reads an `f64`.
    pub fn read_f64(&mut self) -> Result<f64, StateError> {
        let bytes = self.take(8, "an f64")?;
        let mut raw = [0; 8];
        raw.copy_from_slice(bytes);
        Ok(f64::from_bits(u64::from_le_bytes(raw)))
    }

    /// Reads a `bool`; any byte but 0 or 1 is corrupt.
    pub fn read_bool(&mut self) -> Result<bool, StateError> {
        let at = self.pos;
        match self.read_u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(self.error_at(at, format_args!("bool byte is {other}, not 0 or 1"))),
        }
    }

    /// Reads a count written by [`Encoder::write_len`].
    ///
    /// The count is checked against the bytes left, assuming each item takes at least one byte,
    /// so `Vec::with_capacity(count)` is safe on hostile input. Do not use it for items that
    /// encode to zero bytes.
    pub fn read_len(&mut self) -> Result<usize, StateError> {
        let start = self.pos;
        let len = self.read_u64()?;
        match usize::try_from(len) {
            Ok(len) if len <= self.remaining() => Ok(len),
            _ => Err(self.error_at(
                start,
                format_args!("count {len} exceeds the {} bytes left", self.remaining()),
            )),
        }
    }

    /// Reads a length-prefixed byte string, borrowed from the input.
    pub fn read_bytes(&mut self) -> Result<&'a [u8], StateError> {
        let len = self.read_len()?;
        self.take(len, "a byte string")
    }

    /// Reads a length-prefixed UTF-8 string, borrowed from the input.
    pub fn read_str(&mut self) -> Result<&'a str, StateError> {
        let start = self.pos;
        let bytes = self.read_bytes()?;
        std::str::from_utf8(bytes)
            .map_err(|err| self.error_at(start, format_args!("string is not UTF-8 ({err})")))
    }

    /// Reads an option written by [`Encoder::write_option`], using `read` for the value.
    pub fn read_option<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<T, StateError>,
    ) -> Result<Option<T>, StateError> {
        let at = self.pos;
        match self.read_u8()? {
            0 => Ok(None),
            1 => read(self).map(Some),
            other => Err(self.error_at(at, format_args!("option tag is {other}, not 0 or 1"))),
        }
    }

    /// Ends reading; bytes left over mean the value is not what the reader expected.
    pub fn finish(self) -> Result<(), StateError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(self.error(format_args!("{n} unread bytes after the value"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One primitive, for generating random value layouts.
    #[derive(Clone, Debug)]
    enum Item {
        U8(u8),
        U64(u64),
        I64(i64),
        F64(f64),
        Bool(bool),
        Bytes(Vec<u8>),
        Str(String),
        OptU64(Option<u64>),
    }

    fn item() -> impl Strategy<Value = Item> {
        prop_oneof![
            any::<u8>().prop_map(Item::U8),
            any::<u64>().prop_map(Item::U64),
            any::<i64>().prop_map(Item::I64),
            any::<f64>().prop_map(Item::F64),
            any::<bool>().prop_map(Item::Bool),
            proptest::collection::vec(any::<u8>(), 0..20).prop_map(Item::Bytes),
            ".{0,10}".prop_map(Item::Str),
            any::<Option<u64>>().prop_map(Item::OptU64),
        ]
    }

    fn encode(version: u8, items: &[Item]) -> Vec<u8> {
        let mut enc = Encoder::new(version);
        for item in items {
            match item {
                Item::U8(v) => enc.write_u8(*v),
                Item::U64(v) => enc.write_u64(*v),
                Item::I64(v) => enc.write_i64(*v),
                Item::F64(v) => enc.write_f64(*v),
                Item::Bool(v) => enc.write_bool(*v),
                Item::Bytes(v) => enc.write_bytes(v),
                Item::Str(v) => enc.write_str(v),
                Item::OptU64(v) => enc.write_option(*v, |e, v| {
                    e.write_u64(v);
                }),
            };
        }
        enc.finish()
    }

    /// Reads `bytes` with the layout of `items`, returning what was read.
    fn decode(bytes: &[u8], layout: &[Item]) -> Result<Vec<Item>, StateError> {
        let mut dec = Decoder::new(bytes, "test value", 1..=3)?;
        let mut out = Vec::new();
        for item in layout {
            out.push(match item {
                Item::U8(_) => Item::U8(dec.read_u8()?),
                Item::U64(_) => Item::U64(dec.read_u64()?),
                Item::I64(_) => Item::I64(dec.read_i64()?),
                Item::F64(_) => Item::F64(dec.read_f64()?),
                Item::Bool(_) => Item::Bool(dec.read_bool()?),
                Item::Bytes(_) => Item::Bytes(dec.read_bytes()?.to_vec()),
                Item::Str(_) => Item::Str(dec.read_str()?.to_owned()),
                Item::OptU64(_) => Item::OptU64(dec.read_option(|d| d.read_u64())?),
            });
        }
        dec.finish()?;
        Ok(out)
    }

    fn same(a: &Item, b: &Item) -> bool {
        match (a, b) {
            // Bit equality: NaN must come back as the same NaN.
            (Item::F64(x), Item::F64(y)) => x.to_bits() == y.to_bits(),
            (Item::U8(x), Item::U8(y)) => x == y,
            (Item::U64(x), Item::U64(y)) => x == y,
            (Item::I64(x), Item::I64(y)) => x == y,
            (Item::Bool(x), Item::Bool(y)) => x == y,
            (Item::Bytes(x), Item::Bytes(y)) => x == y,
            (Item::Str(x), Item::Str(y)) => x == y,
            (Item::OptU64(x), Item::OptU64(y)) => x == y,
            _ => false,
        }
    }

    proptest! {
        #[test]
        fn values_round_trip(version in 1u8..=3, items in proptest::collection::vec(item(), 0..12)) {
            let bytes = encode(version, &items);
            let decoded = decode(&bytes, &items).unwrap();
            prop_assert_eq!(decoded.len(), items.len());
            for (a, b) in items.iter().zip(&decoded) {
                prop_assert!(same(a, b), "{:?} came back as {:?}", a, b);
            }
        }

        #[test]
        fn truncated_values_are_corrupt(
            items in proptest::collection::vec(item(), 1..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let bytes = encode(1, &items);
            // Keep the version byte; drop at least one byte of the body.
            let keep = 1 + cut.index(bytes.len() - 1);
            prop_assume!(keep < bytes.len());
            let err = decode(&bytes[..keep], &items).unwrap_err();
            prop_assert!(matches!(err, StateError::Corrupt(_)), "{}", err);
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..64),
            layout in proptest::collection::vec(item(), 0..12),
        ) {
            // Any outcome but a panic is fine; errors must be of the documented kinds.
            if let Err(err) = decode(&bytes, &layout) {
                let documented =
                    matches!(err, StateError::Corrupt(_) | StateError::VersionMismatch { .. });
                prop_assert!(documented, "unexpected error kind: {}", err);
            }
        }

        #[test]
        fn small_magnitudes_stay_short(v in -64i64..64) {
            prop_assert_eq!(Encoder::new(1).write_i64(v).clone().finish().len(), 2);
        }
    }

    #[test]
    fn unknown_version_is_a_mismatch() {
        let bytes = Encoder::new(7).finish();
        match Decoder::new(&bytes, "nfa runs", 1..=2) {
            Err(StateError::VersionMismatch { what, found, supported }) => {
                assert_eq!((what, found, supported), ("nfa runs", 7, 1..=2));
            }
            other => panic!("expected a version mismatch, got {other:?}"),
        }
    }

    #[test]
    fn empty_value_is_corrupt() {
        let err = Decoder::new(&[], "offsets", 1..=1).unwrap_err();
        assert_eq!(err.to_string(), "corrupt state: offsets: empty value, no format version");
    }

    #[test]
    fn varint_limits() {
        let max = Encoder::new(1).write_u64(u64::MAX).clone().finish();
        assert_eq!(max.len(), 11, "version byte + 10 varint bytes");
        let mut dec = Decoder::new(&max, "v", 1..=1).unwrap();
        assert_eq!(dec.read_u64().unwrap(), u64::MAX);

        // Eleven continuation bytes: the 10th byte is > 1, so it overflows.
        let too_long = [1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02];
        let err = Decoder::new(&too_long, "v", 1..=1).unwrap().read_u64().unwrap_err();
        assert_eq!(err.to_string(), "corrupt state: v at byte 1: varint overflows 64 bits");
    }

    #[test]
    fn errors_name_value_and_offset() {
        let bytes = [1, 5, b'a'];
        let err = Decoder::new(&bytes, "pending event", 1..=1).unwrap().read_str().unwrap_err();
        assert_eq!(
            err.to_string(),
            "corrupt state: pending event at byte 1: count 5 exceeds the 1 bytes left"
        );
        let bytes = [1, 2];
        let err = Decoder::new(&bytes, "run", 1..=1).unwrap().read_bool().unwrap_err();
        assert_eq!(err.to_string(), "corrupt state: run at byte 1: bool byte is 2, not 0 or 1");
        let bytes = [1, 0, 9];
        let mut dec = Decoder::new(&bytes, "run", 1..=1).unwrap();
        assert!(!dec.read_bool().unwrap());
        assert_eq!(
            dec.finish().unwrap_err().to_string(),
            "corrupt state: run at byte 2: 1 unread bytes after the value"
        );
    }

    #[test]
    fn invalid_utf8_is_corrupt() {
        let bytes = [1, 2, 0xC3, 0x28];
        let err = Decoder::new(&bytes, "name", 1..=1).unwrap().read_str().unwrap_err();
        assert!(err.to_string().starts_with("corrupt state: name at byte 1: string is not UTF-8"));
    }
}
