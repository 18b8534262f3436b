//! The payload of a laboratory swarm (`run --backend tcp`): pseudo-random bytes drawn
//! from the run seed, any range of which can be made again on demand.
//!
//! A swarm of 200 peers of a 64 MiB file would hold 200 copies of it (12.8 GiB of files
//! or page cache) if every peer kept what it downloaded. It need not: the bytes are a
//! function of the run seed and their position, so a peer serving a block makes it
//! afresh, and a peer receiving a piece checks it against the torrent's SHA-1 and then
//! only marks it held (see [`Storage::lab`](super::storage::Storage::lab)). Every byte
//! still crosses a real socket and is hashed; none is kept.
//!
//! The generator is counter-based so that a range costs only its own length: the
//! 8-byte word `i` of the payload is the `i+1`-th output of SplitMix64 started from a
//! key derived from the seed, i.e. `mix(key + (i+1)·γ)`, little-endian. It is written
//! here (not borrowed from a library) so that a run's payload, and so its torrent, stays
//! the same across library upgrades.

use crate::core::random::splitmix64;
use sha1::{Digest, Sha1};
use std::io::{self, Write};
use std::path::Path;

/// SplitMix64's increment (the golden ratio in 64 bits).
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// "payload" in ASCII: the payload's own stream, apart from every other draw of a run.
const STREAM: u64 = 0x0070_6179_6c6f_6164;

/// The payload of a run: `len` bytes determined by the run seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LabPayload {
    key: u64,
    len: u64,
}

impl LabPayload {
    /// The `len`-byte payload of the run seeded with `seed`.
    pub fn new(seed: u64, len: u64) -> LabPayload {
        let mut state = seed ^ STREAM;
        LabPayload {
            key: splitmix64(&mut state),
            len,
        }
    }

    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The 8-byte word `i` (bytes `8i .. 8i+8`).
    fn word(&self, i: u64) -> [u8; 8] {
        let mut state = self.key.wrapping_add(i.wrapping_mul(GAMMA));
        splitmix64(&mut state).to_le_bytes()
    }

    /// Fills `out` with the payload's bytes from `pos` on. Bytes past the end of the
    /// payload are an error (nothing is written then).
    pub fn fill(&self, pos: u64, out: &mut [u8]) -> io::Result<()> {
        let end = pos.checked_add(out.len() as u64);
        if end.is_none_or(|e| e > self.len) {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "bytes {pos}+{} lie past the payload's {} bytes",
                    out.len(),
                    self.len
                ),
            ));
        }
        // The head, up to the first word boundary.
        // Below 8: fits.
        let skip = usize::from(u8::try_from(pos % 8).unwrap_or(0));
        let head = if skip == 0 {
            0
        } else {
            (8 - skip).min(out.len())
        };
        if head > 0 {
            out[..head].copy_from_slice(&self.word(pos / 8)[skip..skip + head]);
        }
        let first = pos.div_ceil(8);
        let whole = ((out.len() - head) / 8) as u64;
        let mut words = out[head..].chunks_exact_mut(8);
        for (i, w) in (first..).zip(&mut words) {
            w.copy_from_slice(&self.word(i));
        }
        let tail = words.into_remainder();
        if !tail.is_empty() {
            let n = tail.len();
            tail.copy_from_slice(&self.word(first + whole)[..n]);
        }
        Ok(())
    }

    /// The SHA-1 of every `piece_length` bytes (the last piece may be shorter): the
    /// `pieces` of its torrent. Holds one piece in memory.
    pub fn piece_hashes(&self, piece_length: u64) -> io::Result<Vec<[u8; 20]>> {
        let plen = usize::try_from(piece_length)
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| invalid(format!("piece length {piece_length} out of range")))?;
        let mut buf = vec![0u8; plen];
        let mut out =
            Vec::with_capacity(usize::try_from(self.len.div_ceil(piece_length)).unwrap_or(0));
        let mut pos = 0;
        while pos < self.len {
            let n = usize::try_from((self.len - pos).min(piece_length)).unwrap_or(plen);
            self.fill(pos, &mut buf[..n])?;
            out.push(Sha1::digest(&buf[..n]).into());
            pos += n as u64;
        }
        Ok(out)
    }

    /// Writes the whole payload to `path` (a laboratory run that keeps real files).
    pub fn write_to(&self, path: &Path) -> io::Result<()> {
        let mut out = io::BufWriter::new(std::fs::File::create(path)?);
        let mut buf = vec![0u8; 1 << 16];
        let mut pos = 0;
        while pos < self.len {
            let n = usize::try_from((self.len - pos).min(buf.len() as u64)).unwrap_or(buf.len());
            self.fill(pos, &mut buf[..n])?;
            out.write_all(&buf[..n])?;
            pos += n as u64;
        }
        out.flush()
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The payload as one sequential SplitMix64 stream, the definition `fill` must meet.
    fn sequential(p: &LabPayload) -> Vec<u8> {
        let mut state = p.key;
        let mut v = Vec::new();
        while (v.len() as u64) < p.len {
            v.extend_from_slice(&splitmix64(&mut state).to_le_bytes());
        }
        v.truncate(usize::try_from(p.len).unwrap());
        v
    }

    proptest! {
        #[test]
        fn any_range_is_the_stream_s_range(seed: u64, len in 0u64..300, a in 0u64..300, b in 0u64..300) {
            let p = LabPayload::new(seed, len);
            let all = sequential(&p);
            let (from, to) = (a.min(b).min(len), a.max(b).min(len));
            let (from_i, to_i) = (usize::try_from(from).unwrap(), usize::try_from(to).unwrap());
            let mut got = vec![0u8; to_i - from_i];
            p.fill(from, &mut got).unwrap();
            prop_assert_eq!(&got[..], &all[from_i..to_i]);
        }
    }

    #[test]
    fn ranges_past_the_end_are_refused() {
        let p = LabPayload::new(1, 100);
        assert!(p.fill(95, &mut [0; 6]).is_err());
        assert!(p.fill(u64::MAX, &mut [0; 2]).is_err());
        assert!(p.fill(100, &mut []).is_ok());
    }

    #[test]
    fn the_file_and_the_hashes_are_the_payload_s() {
        let d = tempfile::tempdir().unwrap();
        let p = LabPayload::new(5, 100_003);
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        p.write_to(&a).unwrap();
        LabPayload::new(5, 100_003).write_to(&b).unwrap();
        let bytes = std::fs::read(&a).unwrap();
        assert_eq!(bytes, sequential(&p));
        assert_eq!(bytes, std::fs::read(&b).unwrap());
        assert_ne!(p, LabPayload::new(6, 100_003));
        let hashes = p.piece_hashes(16_384).unwrap();
        assert_eq!(hashes.len(), 7);
        for (h, piece) in hashes.iter().zip(bytes.chunks(16_384)) {
            assert_eq!(*h, <[u8; 20]>::from(Sha1::digest(piece)));
        }
    }
}
