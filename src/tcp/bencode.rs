//! A small, strict bencode decoder and encoder (BEP 3), written by hand.
//!
//! Why not a crate: the info hash of a torrent is the SHA-1 of the info dictionary *exactly
//! as it appears in the file*, unknown keys and all, so the decoder must hand back the
//! original byte span of a dictionary value ([`Decoded::raw`]); re-encoding a parsed
//! value would silently change the hash of any torrent that is not in canonical form.
//! And the lenient crates accept what BEP 3 forbids (leading zeros, `i-0e`, unsorted or
//! duplicate keys, trailing garbage). Accepting such input means two peers can disagree
//! about what a torrent says, or about its info hash; we reject it, with the byte offset
//! and the reason.
//!
//! The decoder never panics on input, checks every length against the bytes that remain
//! before it allocates (so memory stays proportional to the input), and limits nesting to
//! [`MAX_DEPTH`] so hostile input cannot exhaust the stack.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

/// Deepest nesting of lists and dictionaries the decoder accepts. Real torrents and
/// tracker responses nest three or four levels; 64 leaves room and keeps recursion safe.
pub const MAX_DEPTH: usize = 64;

/// A bencoded value.
///
/// Dictionaries are a [`BTreeMap`] keyed by raw bytes, whose iteration order is the
/// byte-wise order bencode requires, so [`encode`] writes canonical output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `i<n>e`
    Int(i64),
    /// `<len>:<bytes>`: a byte string, not necessarily UTF-8.
    Bytes(Vec<u8>),
    /// `l...e`
    List(Vec<Value>),
    /// `d...e`, keys are byte strings.
    Dict(BTreeMap<Vec<u8>, Value>),
}

impl Value {
    /// The integer, if this is an `Int`.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// The bytes, if this is a byte string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The text, if this is a byte string holding valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The elements, if this is a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The map, if this is a dictionary.
    pub fn as_dict(&self) -> Option<&BTreeMap<Vec<u8>, Value>> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// The value under `key`, if this is a dictionary that has it.
    pub fn get(&self, key: &[u8]) -> Option<&Value> {
        self.as_dict().and_then(|d| d.get(key))
    }

    /// A short name of the variant, for error messages ("expected a list, found an integer").
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Int(_) => "an integer",
            Value::Bytes(_) => "a byte string",
            Value::List(_) => "a list",
            Value::Dict(_) => "a dictionary",
        }
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Bytes(s.as_bytes().to_vec())
    }
}

impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Self {
        Value::Bytes(b)
    }
}

/// Why input was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The input ended inside a value (or was empty).
    Truncated,
    /// A byte that cannot start a value (`i`, `l`, `d` or a digit).
    UnexpectedByte(u8),
    /// `i03e` or `05:`: bencode numbers have no leading zeros.
    LeadingZero,
    /// `i-0e`: zero has one spelling.
    NegativeZero,
    /// `ie` or `i-e`: an integer without digits.
    EmptyInteger,
    /// A byte inside an integer or a length that is not a digit.
    NonDigit(u8),
    /// An integer outside `i64`, or a length outside `usize`.
    Overflow,
    /// `-3:`: a byte string cannot have a negative length.
    NegativeLength,
    /// A string length that runs past the end of the input.
    LengthPastEnd {
        /// The declared length.
        len: usize,
        /// Bytes left after the colon.
        remaining: usize,
    },
    /// A dictionary key that is not a byte string.
    NonStringKey,
    /// A dictionary key not greater than the key before it.
    UnsortedKey,
    /// The same dictionary key twice.
    DuplicateKey,
    /// Lists and dictionaries nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// Bytes after the complete top-level value.
    TrailingBytes,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Truncated => write!(f, "input ends inside a value"),
            Reason::UnexpectedByte(b) => {
                write!(f, "byte {} cannot start a value", show_byte(*b))
            }
            Reason::LeadingZero => write!(f, "number has a leading zero"),
            Reason::NegativeZero => write!(f, "negative zero (i-0e)"),
            Reason::EmptyInteger => write!(f, "integer has no digits"),
            Reason::NonDigit(b) => write!(f, "expected a digit, found {}", show_byte(*b)),
            Reason::Overflow => write!(f, "number too large"),
            Reason::NegativeLength => write!(f, "negative string length"),
            Reason::LengthPastEnd { len, remaining } => write!(
                f,
                "string length {len} exceeds the {remaining} bytes remaining"
            ),
            Reason::NonStringKey => write!(f, "dictionary key is not a byte string"),
            Reason::UnsortedKey => write!(f, "dictionary keys are not sorted"),
            Reason::DuplicateKey => write!(f, "duplicate dictionary key"),
            Reason::TooDeep => write!(f, "nested deeper than {MAX_DEPTH} levels"),
            Reason::TrailingBytes => write!(f, "trailing bytes after the value"),
        }
    }
}

/// A printable rendering of one input byte for error messages.
fn show_byte(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("0x{b:02x}")
    }
}

/// Rejected input: where (byte offset from the start of the input) and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("bencode: at byte {offset}: {reason}")]
pub struct BencodeError {
    /// Offset of the offending byte (or of the start of the offending item).
    pub offset: usize,
    /// What was wrong.
    pub reason: Reason,
}

/// Decodes exactly one value that spans all of `input`.
pub fn decode(input: &[u8]) -> Result<Value, BencodeError> {
    decode_with_spans(input).map(|d| d.value)
}

/// A decoded value together with the original byte spans of its top-level dictionary's
/// values, so a caller can hash a value exactly as it was written.
#[derive(Clone, Debug)]
pub struct Decoded<'a> {
    /// The decoded value.
    pub value: Value,
    input: &'a [u8],
    /// (key, span of its value) for each key of the top-level dictionary, in input order
    /// (which is sorted order, since unsorted input is rejected). Empty unless the top
    /// value is a dictionary.
    spans: Vec<(Vec<u8>, Range<usize>)>,
}

impl<'a> Decoded<'a> {
    /// The original bytes of the top-level dictionary's value for `key` (for a torrent,
    /// `raw(b"info")` is what the info hash is computed over). `None` if the top-level
    /// value is not a dictionary or has no such key.
    pub fn raw(&self, key: &[u8]) -> Option<&'a [u8]> {
        // Keys are sorted and unique (the decoder enforces it), so binary search is exact.
        let i = self
            .spans
            .binary_search_by(|(k, _)| k.as_slice().cmp(key))
            .ok()?;
        self.input.get(self.spans[i].1.clone())
    }
}

/// Decodes like [`decode`] and also records where each top-level dictionary value lies
/// in `input` (see [`Decoded::raw`]).
pub fn decode_with_spans(input: &[u8]) -> Result<Decoded<'_>, BencodeError> {
    let mut d = Decoder {
        input,
        pos: 0,
        spans: Vec::new(),
    };
    let value = d.value(0)?;
    if d.pos != input.len() {
        return Err(d.err(Reason::TrailingBytes));
    }
    Ok(Decoded {
        value,
        input,
        spans: d.spans,
    })
}

/// Encodes `value` in canonical bencode.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(value, &mut out);
    out
}

/// Appends the canonical encoding of `value` to `out`.
///
/// Recursive: values built by hand with extreme nesting can exhaust the stack, values
/// from [`decode`] cannot (they are at most [`MAX_DEPTH`] deep).
pub fn encode_into(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Int(n) => {
            out.push(b'i');
            out.extend_from_slice(n.to_string().as_bytes());
            out.push(b'e');
        }
        Value::Bytes(b) => encode_bytes(b, out),
        Value::List(l) => {
            out.push(b'l');
            for v in l {
                encode_into(v, out);
            }
            out.push(b'e');
        }
        Value::Dict(d) => {
            out.push(b'd');
            for (k, v) in d {
                encode_bytes(k, out);
                encode_into(v, out);
            }
            out.push(b'e');
        }
    }
}

fn encode_bytes(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
    spans: Vec<(Vec<u8>, Range<usize>)>,
}

impl Decoder<'_> {
    fn err(&self, reason: Reason) -> BencodeError {
        self.err_at(self.pos, reason)
    }

    fn err_at(&self, offset: usize, reason: Reason) -> BencodeError {
        BencodeError { offset, reason }
    }

    fn peek(&self) -> Result<u8, BencodeError> {
        self.input
            .get(self.pos)
            .copied()
            .ok_or_else(|| self.err(Reason::Truncated))
    }

    /// One value at nesting `depth` (0 for the top-level value).
    fn value(&mut self, depth: usize) -> Result<Value, BencodeError> {
        match self.peek()? {
            b'i' => self.int().map(Value::Int),
            b'0'..=b'9' => self.bytes().map(Value::Bytes),
            b'-' => Err(self.err(Reason::NegativeLength)),
            b'l' => {
                self.enter(depth)?;
                let mut list = Vec::new();
                while self.peek()? != b'e' {
                    list.push(self.value(depth + 1)?);
                }
                self.pos += 1;
                Ok(Value::List(list))
            }
            b'd' => {
                self.enter(depth)?;
                let mut dict = BTreeMap::new();
                let mut last: Option<Vec<u8>> = None;
                while self.peek()? != b'e' {
                    let key_at = self.pos;
                    if !self.peek()?.is_ascii_digit() {
                        return Err(self.err(Reason::NonStringKey));
                    }
                    let key = self.bytes()?;
                    if let Some(prev) = &last {
                        match prev.as_slice().cmp(&key) {
                            std::cmp::Ordering::Less => {}
                            std::cmp::Ordering::Equal => {
                                return Err(self.err_at(key_at, Reason::DuplicateKey));
                            }
                            std::cmp::Ordering::Greater => {
                                return Err(self.err_at(key_at, Reason::UnsortedKey));
                            }
                        }
                    }
                    let start = self.pos;
                    let v = self.value(depth + 1)?;
                    if depth == 0 {
                        self.spans.push((key.clone(), start..self.pos));
                    }
                    // Keys are checked sorted, so inserting never replaces an entry.
                    dict.insert(key.clone(), v);
                    last = Some(key);
                }
                self.pos += 1;
                Ok(Value::Dict(dict))
            }
            other => Err(self.err(Reason::UnexpectedByte(other))),
        }
    }

    /// Steps past the `l`/`d` of a container at `depth`, refusing to go too deep.
    fn enter(&mut self, depth: usize) -> Result<(), BencodeError> {
        if depth >= MAX_DEPTH {
            return Err(self.err(Reason::TooDeep));
        }
        self.pos += 1;
        Ok(())
    }

    /// `i<digits>e` with an optional minus sign, no leading zeros and no `-0`.
    fn int(&mut self) -> Result<i64, BencodeError> {
        self.pos += 1; // 'i'
        let negative = self.peek()? == b'-';
        if negative {
            self.pos += 1;
        }
        let digits_at = self.pos;
        let magnitude = self.digits(b'e')?;
        let digits = &self.input[digits_at..self.pos];
        self.pos += 1; // 'e'
        if digits.is_empty() {
            return Err(self.err_at(digits_at, Reason::EmptyInteger));
        }
        if digits[0] == b'0' && digits.len() > 1 {
            return Err(self.err_at(digits_at, Reason::LeadingZero));
        }
        if negative && magnitude == 0 {
            return Err(self.err_at(digits_at - 1, Reason::NegativeZero));
        }
        let signed = if negative {
            -i128::from(magnitude)
        } else {
            i128::from(magnitude)
        };
        i64::try_from(signed).map_err(|_| self.err_at(digits_at, Reason::Overflow))
    }

    /// `<len>:<bytes>`; the length is checked against the remaining input before any
    /// allocation, so a forged length cannot make us reserve memory.
    fn bytes(&mut self) -> Result<Vec<u8>, BencodeError> {
        let len_at = self.pos;
        let len = self.digits(b':')?;
        let digits = &self.input[len_at..self.pos];
        if digits.is_empty() {
            // Unreachable from `value` (it checked for a digit), kept for safety.
            return Err(self.err_at(len_at, Reason::EmptyInteger));
        }
        if digits[0] == b'0' && digits.len() > 1 {
            return Err(self.err_at(len_at, Reason::LeadingZero));
        }
        self.pos += 1; // ':'
        let remaining = self.input.len() - self.pos;
        let len = usize::try_from(len).map_err(|_| self.err_at(len_at, Reason::Overflow))?;
        if len > remaining {
            return Err(self.err_at(len_at, Reason::LengthPastEnd { len, remaining }));
        }
        let b = self.input[self.pos..self.pos + len].to_vec();
        self.pos += len;
        Ok(b)
    }

    /// Reads decimal digits up to (not past) `end`, returning their value. An empty digit
    /// run returns 0 and is judged by the caller, which knows what it is parsing.
    fn digits(&mut self, end: u8) -> Result<u64, BencodeError> {
        let mut n: u64 = 0;
        loop {
            let b = self.peek()?;
            if b == end {
                return Ok(n);
            }
            if !b.is_ascii_digit() {
                return Err(self.err(Reason::NonDigit(b)));
            }
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(b - b'0')))
                .ok_or_else(|| self.err(Reason::Overflow))?;
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reason(input: &[u8]) -> Reason {
        match decode(input) {
            Ok(v) => panic!("{:?} decoded to {v:?}", String::from_utf8_lossy(input)),
            Err(e) => e.reason,
        }
    }

    fn dict(pairs: &[(&str, Value)]) -> Value {
        Value::Dict(
            pairs
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn decodes_each_kind() {
        assert_eq!(decode(b"i42e"), Ok(Value::Int(42)));
        assert_eq!(decode(b"i-42e"), Ok(Value::Int(-42)));
        assert_eq!(decode(b"i0e"), Ok(Value::Int(0)));
        assert_eq!(decode(b"4:spam"), Ok(Value::from("spam")));
        assert_eq!(decode(b"0:"), Ok(Value::Bytes(vec![])));
        assert_eq!(
            decode(b"l4:spami7ee"),
            Ok(Value::List(vec![Value::from("spam"), Value::Int(7)]))
        );
        assert_eq!(
            decode(b"d3:cow3:moo4:spamle1:xdee"),
            Ok(dict(&[
                ("cow", Value::from("moo")),
                ("spam", Value::List(vec![])),
                ("x", dict(&[])),
            ]))
        );
    }

    #[test]
    fn integer_extremes() {
        assert_eq!(decode(b"i9223372036854775807e"), Ok(Value::Int(i64::MAX)));
        assert_eq!(decode(b"i-9223372036854775808e"), Ok(Value::Int(i64::MIN)));
        assert_eq!(reason(b"i9223372036854775808e"), Reason::Overflow);
        assert_eq!(reason(b"i-9223372036854775809e"), Reason::Overflow);
        assert_eq!(reason(b"i99999999999999999999999e"), Reason::Overflow);
        let v = Value::Int(i64::MIN);
        assert_eq!(decode(&encode(&v)), Ok(v));
    }

    #[test]
    fn rejects_malformed_integers() {
        assert_eq!(reason(b"i03e"), Reason::LeadingZero);
        assert_eq!(reason(b"i00e"), Reason::LeadingZero);
        assert_eq!(reason(b"i-03e"), Reason::LeadingZero);
        assert_eq!(reason(b"i-0e"), Reason::NegativeZero);
        assert_eq!(reason(b"ie"), Reason::EmptyInteger);
        assert_eq!(reason(b"i-e"), Reason::EmptyInteger);
        assert_eq!(reason(b"i1.5e"), Reason::NonDigit(b'.'));
        assert_eq!(reason(b"i+5e"), Reason::NonDigit(b'+'));
        assert_eq!(reason(b"i 5e"), Reason::NonDigit(b' '));
        assert_eq!(reason(b"i--5e"), Reason::NonDigit(b'-'));
        assert_eq!(reason(b"i12"), Reason::Truncated);
        assert_eq!(reason(b"i"), Reason::Truncated);
    }

    #[test]
    fn rejects_malformed_strings() {
        assert_eq!(reason(b"05:hello"), Reason::LeadingZero);
        assert_eq!(reason(b"00:"), Reason::LeadingZero);
        assert_eq!(reason(b"-3:abc"), Reason::NegativeLength);
        assert_eq!(
            reason(b"5:abc"),
            Reason::LengthPastEnd {
                len: 5,
                remaining: 3
            }
        );
        // A huge declared length fails on the check, without trying to allocate it.
        assert!(matches!(
            reason(b"18446744073709551615:x"),
            Reason::LengthPastEnd { .. } | Reason::Overflow
        ));
        assert_eq!(reason(b"99999999999999999999999:x"), Reason::Overflow);
        assert_eq!(reason(b"3x:abc"), Reason::NonDigit(b'x'));
        assert_eq!(reason(b"3"), Reason::Truncated);
    }

    #[test]
    fn rejects_bad_structure() {
        assert_eq!(reason(b""), Reason::Truncated);
        assert_eq!(reason(b"l"), Reason::Truncated);
        assert_eq!(reason(b"li1e"), Reason::Truncated);
        assert_eq!(reason(b"d3:foo"), Reason::Truncated);
        assert_eq!(reason(b"d3:fooi1e"), Reason::Truncated);
        assert_eq!(reason(b"x"), Reason::UnexpectedByte(b'x'));
        assert_eq!(reason(b"e"), Reason::UnexpectedByte(b'e'));
        assert_eq!(reason(b"i1ei2e"), Reason::TrailingBytes);
        assert_eq!(reason(b"dei"), Reason::TrailingBytes);
        assert_eq!(reason(b"di1ei2ee"), Reason::NonStringKey);
        assert_eq!(reason(b"dle1:ae"), Reason::NonStringKey);
    }

    #[test]
    fn rejects_unsorted_and_duplicate_keys() {
        let e = decode(b"d1:bi1e1:ai2ee").unwrap_err();
        assert_eq!(e.reason, Reason::UnsortedKey);
        assert_eq!(e.offset, 7, "offset of the offending key");
        assert_eq!(reason(b"d1:ai1e1:ai2ee"), Reason::DuplicateKey);
        // Byte order, not length order: "ab" < "b" and "a" < "ab".
        assert!(decode(b"d1:ai1e2:abi2e1:bi3ee").is_ok());
        assert_eq!(reason(b"d2:abi1e1:ai2ee"), Reason::UnsortedKey);
        // Nested dictionaries are checked too.
        assert_eq!(reason(b"d1:ad1:zi1e1:yi2eee"), Reason::UnsortedKey);
    }

    #[test]
    fn error_offsets_point_at_the_problem() {
        let e = decode(b"l i1ee").unwrap_err();
        assert_eq!(e.offset, 1);
        let e = decode(b"li1ei03ee").unwrap_err();
        assert_eq!((e.offset, e.reason), (5, Reason::LeadingZero));
        let e = decode(b"i1ex").unwrap_err();
        assert_eq!((e.offset, e.reason.clone()), (3, Reason::TrailingBytes));
        assert_eq!(
            e.to_string(),
            "bencode: at byte 3: trailing bytes after the value"
        );
    }

    #[test]
    fn depth_is_bounded() {
        let ok = [vec![b'l'; MAX_DEPTH], vec![b'e'; MAX_DEPTH]].concat();
        assert!(decode(&ok).is_ok());
        let deep = [vec![b'l'; MAX_DEPTH + 1], vec![b'e'; MAX_DEPTH + 1]].concat();
        assert_eq!(reason(&deep), Reason::TooDeep);
        // Far deeper than any stack could take if recursion were unbounded.
        let hostile = vec![b'l'; 1_000_000];
        assert_eq!(reason(&hostile), Reason::TooDeep);
        let hostile = b"d1:a".repeat(100_000);
        assert_eq!(reason(&hostile), Reason::TooDeep);
    }

    #[test]
    fn raw_spans_are_the_original_bytes() {
        let input = b"d8:announce3:url4:infod1:xi1e3:zzz0:ee";
        let d = decode_with_spans(input).unwrap();
        assert_eq!(d.raw(b"info"), Some(&b"d1:xi1e3:zzz0:e"[..]));
        assert_eq!(d.raw(b"announce"), Some(&b"3:url"[..]));
        assert_eq!(d.raw(b"missing"), None);
        // Only the top level is indexed.
        assert_eq!(d.raw(b"x"), None);
        assert_eq!(decode_with_spans(b"li1ee").unwrap().raw(b"info"), None);
    }

    #[test]
    fn encode_is_canonical() {
        let v = dict(&[
            ("b", Value::Int(-1)),
            ("a", Value::List(vec![Value::from("x"), Value::Int(0)])),
        ]);
        assert_eq!(encode(&v), b"d1:al1:xi0ee1:bi-1ee");
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(Value::Int),
            proptest::collection::vec(any::<u8>(), 0..16).prop_map(Value::Bytes),
        ];
        leaf.prop_recursive(6, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::List),
                proptest::collection::btree_map(
                    proptest::collection::vec(any::<u8>(), 0..8),
                    inner,
                    0..8
                )
                .prop_map(Value::Dict),
            ]
        })
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(v in arb_value()) {
            let bytes = encode(&v);
            prop_assert_eq!(decode(&bytes), Ok(v));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            // Accepted input must be canonical: re-encoding gives back the same bytes.
            if let Ok(v) = decode(&bytes) {
                prop_assert_eq!(encode(&v), bytes);
            }
        }

        #[test]
        fn decode_never_panics_on_near_bencode(
            bytes in proptest::collection::vec(
                prop_oneof![Just(b'i'), Just(b'l'), Just(b'd'), Just(b'e'), Just(b':'),
                            Just(b'-'), Just(b'0'), Just(b'1'), Just(b'9'), any::<u8>()],
                0..128,
            )
        ) {
            if let Ok(v) = decode(&bytes) {
                prop_assert_eq!(encode(&v), bytes);
            }
        }
    }
}
