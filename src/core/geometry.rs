//! Pieces and blocks: how a file of a given size splits into pieces (chunks) and request
//! blocks, and the block references that messages carry.
//!
//! A peer tracks what it holds of a piece in *grains*: 16 KiB wire blocks (or the block
//! size, if smaller). A request asks for a run of grains — one with 16 KiB blocks, a
//! whole chunk in the simulator's fast mode — and a delivery may be a prefix of the run
//! (a choke or cancel stops a sender at the next grain boundary), so both modes account
//! for the same 16 KiB units.

use crate::units::Bytes;

/// The block size every BitTorrent client requests and serves on the wire (BEP 3
/// practice). The simulator may use bigger blocks to save events; settings counted in
/// blocks (the request pipeline) are counted in blocks of this size.
pub const WIRE_BLOCK_LEN: u32 = 16 * 1024;

/// A block: `len` bytes at `offset` in piece `piece`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockRef {
    /// Piece index.
    pub piece: u32,
    /// Byte offset within the piece.
    pub offset: u32,
    /// Length in bytes.
    pub len: u32,
}

/// The shape of a torrent: total size, piece length and block length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    total: u64,
    piece_len: u32,
    block_len: u32,
    pieces: u32,
}

impl Geometry {
    /// A torrent of `total` bytes in pieces of `piece_len`, requested in `block_len` blocks
    /// (clamped to the piece length).
    pub fn new(total: Bytes, piece_len: Bytes, block_len: Bytes) -> Geometry {
        let narrow = |b: Bytes| u32::try_from(b.0.max(1)).unwrap_or(u32::MAX);
        let piece_len = narrow(piece_len);
        let block_len = narrow(block_len).min(piece_len);
        Geometry {
            total: total.0,
            piece_len,
            block_len,
            pieces: u32::try_from(total.0.div_ceil(u64::from(piece_len))).unwrap_or(u32::MAX),
        }
    }

    /// Number of pieces.
    pub fn pieces(&self) -> u32 {
        self.pieces
    }

    /// Total size in bytes.
    pub fn total(&self) -> Bytes {
        Bytes(self.total)
    }

    /// The nominal piece length.
    pub fn piece_len(&self) -> u32 {
        self.piece_len
    }

    /// The nominal block length.
    pub fn block_len(&self) -> u32 {
        self.block_len
    }

    /// Length of piece `piece` (the last one may be short).
    pub fn piece_size(&self, piece: u32) -> u32 {
        let start = piece as u64 * self.piece_len as u64;
        let len = self
            .total
            .saturating_sub(start)
            .min(u64::from(self.piece_len));
        // At most piece_len, a u32.
        u32::try_from(len).unwrap_or(self.piece_len)
    }

    /// Number of blocks in piece `piece`.
    pub fn blocks_in(&self, piece: u32) -> u32 {
        self.piece_size(piece).div_ceil(self.block_len)
    }

    /// Block `index` of piece `piece`.
    pub fn block(&self, piece: u32, index: u32) -> BlockRef {
        let offset = index * self.block_len;
        let len = (self.piece_size(piece) - offset).min(self.block_len);
        BlockRef { piece, offset, len }
    }

    /// The tracking unit: the wire block (16 KiB), or the block size if it is smaller
    /// (their greatest common divisor, so both are whole numbers of grains).
    pub fn grain_len(&self) -> u32 {
        gcd(self.block_len, WIRE_BLOCK_LEN)
    }

    /// Grains a request covers at most (1 with 16 KiB blocks; a chunk's in fast mode).
    pub fn grains_per_request(&self) -> u32 {
        self.block_len / self.grain_len()
    }

    /// Number of grains in piece `piece`.
    pub fn grains_in(&self, piece: u32) -> u32 {
        self.piece_size(piece).div_ceil(self.grain_len())
    }

    /// The run of `count` grains of `piece` starting at grain `first` (clipped to the
    /// piece).
    pub fn grain_run(&self, piece: u32, first: u32, count: u32) -> BlockRef {
        let grain = self.grain_len();
        let offset = first * grain;
        let size = self.piece_size(piece);
        let len = (count * grain).min(size.saturating_sub(offset));
        BlockRef { piece, offset, len }
    }

    /// The grains `b` covers — `(first, count)` — if `b` starts on a grain boundary and
    /// ends on one (or at the end of its piece).
    pub fn grain_span(&self, b: &BlockRef) -> Option<(u32, u32)> {
        let grain = self.grain_len();
        let size = self.piece_size(b.piece);
        let end = b.offset.checked_add(b.len)?;
        let aligned = b.offset.is_multiple_of(grain) && (end.is_multiple_of(grain) || end == size);
        if b.piece >= self.pieces || b.len == 0 || end > size || !aligned {
            return None;
        }
        Some((b.offset / grain, b.len.div_ceil(grain)))
    }

    /// True if `b` is exactly one of this torrent's blocks (as we request them) or, more
    /// permissively, any in-range span of a piece no longer than `max_len`.
    pub fn is_valid_request(&self, b: &BlockRef, max_len: u32) -> bool {
        b.piece < self.pieces
            && b.len > 0
            && b.len <= max_len
            && (b.offset as u64 + b.len as u64) <= self.piece_size(b.piece) as u64
    }

    /// The block index of `b` within its piece, if `b` is aligned to our block grid.
    pub fn block_index(&self, b: &BlockRef) -> Option<u32> {
        if b.piece >= self.pieces || !b.offset.is_multiple_of(self.block_len) {
            return None;
        }
        let index = b.offset / self.block_len;
        (index < self.blocks_in(b.piece) && self.block(b.piece, index) == *b).then_some(index)
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a.max(1) } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_piece_and_block_are_short() {
        let g = Geometry::new(Bytes(100_000), Bytes(32_768), Bytes(16_384));
        assert_eq!(g.pieces(), 4);
        assert_eq!(g.piece_size(3), 100_000 - 3 * 32_768);
        assert_eq!(g.blocks_in(3), 1);
        assert_eq!(g.block(3, 0).len, 1_696);
        assert_eq!(g.block_index(&g.block(1, 1)), Some(1));
        assert!(!g.is_valid_request(
            &BlockRef {
                piece: 3,
                offset: 0,
                len: 2000
            },
            1 << 17
        ));
    }

    #[test]
    fn grains_are_wire_blocks_and_runs_are_their_multiples() {
        // Fast mode: 256 KiB blocks over 16 KiB grains, last piece short.
        let g = Geometry::new(Bytes(600 << 10), Bytes(256 << 10), Bytes(256 << 10));
        assert_eq!((g.grain_len(), g.grains_per_request()), (16 << 10, 16));
        assert_eq!(g.grains_in(2), 6); // 88 KiB
        let run = g.grain_run(2, 4, 16);
        assert_eq!((run.offset, run.len), (64 << 10, 24 << 10));
        assert_eq!(g.grain_span(&run), Some((4, 2)));
        // A prefix of a run ends on a grain boundary; anything else does not.
        let half = BlockRef {
            piece: 0,
            offset: 0,
            len: 8 << 10,
        };
        assert_eq!(g.grain_span(&half), None);
        // Blocks smaller than a wire block are grains themselves.
        let small = Geometry::new(Bytes(64 << 10), Bytes(32 << 10), Bytes(4 << 10));
        assert_eq!(
            (small.grain_len(), small.grains_per_request()),
            (4 << 10, 1)
        );
    }
}
