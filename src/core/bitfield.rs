//! Bitfields: which pieces a peer has, in BEP 3's wire order (piece 0 is the high bit of
//! the first byte).

use std::fmt;

/// A fixed-length set of piece indices, with a cached population count.
#[derive(Clone, PartialEq, Eq)]
pub struct Bitfield {
    words: Vec<u64>,
    len: u32,
    count: u32,
}

impl fmt::Debug for Bitfield {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bitfield({}/{})", self.count, self.len)
    }
}

/// A wire bitfield that does not fit the torrent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BitfieldError(pub String);

impl Bitfield {
    /// No pieces out of `len`.
    pub fn new(len: u32) -> Bitfield {
        Bitfield {
            words: vec![0; (len as usize).div_ceil(64)],
            len,
            count: 0,
        }
    }

    /// All `len` pieces.
    pub fn full(len: u32) -> Bitfield {
        let mut b = Bitfield::new(len);
        for w in b.words.iter_mut() {
            *w = u64::MAX;
        }
        if !len.is_multiple_of(64)
            && let Some(last) = b.words.last_mut()
        {
            *last = (1u64 << (len % 64)) - 1;
        }
        b.count = len;
        b
    }

    /// Number of pieces the field covers.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// True if it covers no pieces at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of pieces present.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// True if every piece is present.
    pub fn is_full(&self) -> bool {
        self.count == self.len
    }

    /// Whether `piece` is present (false when out of range).
    #[inline]
    pub fn get(&self, piece: u32) -> bool {
        piece < self.len && self.words[(piece / 64) as usize] & (1 << (piece % 64)) != 0
    }

    /// Adds `piece`; returns true if it was absent.
    #[inline]
    pub fn set(&mut self, piece: u32) -> bool {
        let w = &mut self.words[(piece / 64) as usize];
        let bit = 1 << (piece % 64);
        if *w & bit == 0 {
            *w |= bit;
            self.count += 1;
            true
        } else {
            false
        }
    }

    /// Removes `piece`; returns true if it was present.
    #[inline]
    pub fn clear(&mut self, piece: u32) -> bool {
        let w = &mut self.words[(piece / 64) as usize];
        let bit = 1 << (piece % 64);
        if *w & bit != 0 {
            *w &= !bit;
            self.count -= 1;
            true
        } else {
            false
        }
    }

    /// The 64-bit words, piece `64·i + j` at bit `j` of word `i`.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// Present pieces in increasing order.
    pub fn ones(&self) -> impl Iterator<Item = u32> + '_ {
        (0u32..).zip(&self.words).flat_map(|(i, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let bit = w.trailing_zeros();
                w &= w - 1;
                Some(i * 64 + bit)
            })
        })
    }

    /// Number of pieces present here and absent from `other`.
    pub fn count_missing_from(&self, other: &Bitfield) -> u32 {
        self.words
            .iter()
            .zip(&other.words)
            .map(|(a, b)| (a & !b).count_ones())
            .sum()
    }

    /// The wire form: ⌈len/8⌉ bytes, piece 0 in the high bit of byte 0.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![0u8; (self.len as usize).div_ceil(8)];
        for p in self.ones() {
            out[(p / 8) as usize] |= 0x80 >> (p % 8);
        }
        out
    }

    /// Parses the wire form for a torrent of `len` pieces; the length must match exactly
    /// and the spare bits of the last byte must be zero (BEP 3).
    pub fn from_bytes(bytes: &[u8], len: u32) -> Result<Bitfield, BitfieldError> {
        let expected = (len as usize).div_ceil(8);
        if bytes.len() != expected {
            return Err(BitfieldError(format!(
                "bitfield of {} bytes for {len} pieces (expected {expected})",
                bytes.len()
            )));
        }
        let mut b = Bitfield::new(len);
        for (i, &byte) in (0u32..).zip(bytes) {
            for bit in 0..8u32 {
                if byte & (0x80 >> bit) != 0 {
                    let p = i * 8 + bit;
                    if p >= len {
                        return Err(BitfieldError("bitfield sets spare bits".into()));
                    }
                    b.set(p);
                }
            }
        }
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn full_and_count() {
        let b = Bitfield::full(70);
        assert_eq!(b.count(), 70);
        assert!(b.get(69) && !b.get(70));
        assert_eq!(b.ones().count(), 70);
    }

    #[test]
    fn wire_order_is_high_bit_first() {
        let mut b = Bitfield::new(10);
        b.set(0);
        b.set(9);
        assert_eq!(b.to_bytes(), vec![0x80, 0x40]);
        assert!(Bitfield::from_bytes(&[0x80, 0x20], 10).is_err());
        assert!(Bitfield::from_bytes(&[0x80], 10).is_err());
    }

    proptest! {
        #[test]
        fn wire_round_trip(len in 1u32..300, seed in any::<u64>()) {
            let mut b = Bitfield::new(len);
            let mut s = seed;
            for p in 0..len {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
                if s >> 63 == 1 { b.set(p); }
            }
            let back = Bitfield::from_bytes(&b.to_bytes(), len).unwrap();
            prop_assert_eq!(back, b);
        }
    }
}
