//! Pieces and blocks: how a file of a given size splits into pieces (chunks) and request
//! blocks, and the block references that messages carry.

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
}
