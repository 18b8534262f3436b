//! The messages peers exchange, as the core sees them: BEP 3's messages without their
//! encoding. A `Piece` carries only the block reference: the host moves the bytes.

use super::bitfield::Bitfield;
use super::geometry::BlockRef;

/// A peer-to-peer message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// Nothing; keeps the connection open.
    KeepAlive,
    /// The sender will not serve requests.
    Choke,
    /// The sender will serve requests.
    Unchoke,
    /// The sender wants pieces the receiver has.
    Interested,
    /// The sender wants nothing the receiver has.
    NotInterested,
    /// The sender has verified this piece.
    Have(u32),
    /// Every piece the sender has (first message after the handshake).
    Bitfield(Bitfield),
    /// Please send this block.
    Request(BlockRef),
    /// This block (its bytes travel with it, handled by the host).
    Piece(BlockRef),
    /// Never mind that request.
    Cancel(BlockRef),
}
