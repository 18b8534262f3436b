//! Typed errors of the tcp backend: why a session could not run ([`SessionError`]) and
//! why a connection ended ([`DropReason`]). Each `Display` is one line meant for a log
//! or an error message; tests and users grep for those words, so they are kept stable.

use super::wire::WireError;
use crate::core::CloseReason;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use thiserror::Error;

/// Why a session could not start or go on.
#[derive(Debug, Error)]
pub enum SessionError {
    /// The async runtime could not be built.
    #[error("cannot start the async runtime: {0}")]
    Runtime(io::Error),
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        source: io::Error,
    },
    /// The torrent's files could not be opened.
    #[error("{path}: {source}")]
    Storage {
        /// The file or folder.
        path: String,
        /// What went wrong.
        source: io::Error,
    },
    /// The torrent names a path that could leave the download folder.
    #[error("unsafe path in torrent: {0}")]
    UnsafePath(io::Error),
    /// The peer's policy names a strategy this build does not know.
    #[error("{}: {source}", source.kind.key())]
    Strategy {
        /// The name and the kind.
        #[from]
        source: crate::core::UnknownStrategy,
    },
}

/// Why a connection ended (or never started).
#[derive(Debug, Error)]
pub enum DropReason {
    /// Dialling took too long.
    #[error("connect to {addr} timed out")]
    ConnectTimeout {
        /// Whom we dialled.
        addr: SocketAddr,
    },
    /// Dialling failed.
    #[error("connect to {addr}: {source}")]
    Connect {
        /// Whom we dialled.
        addr: SocketAddr,
        /// What the OS said.
        source: io::Error,
    },
    /// Reading or writing the socket failed.
    #[error("socket: {0}")]
    Io(#[from] io::Error),
    /// No complete handshake arrived in time.
    #[error("no handshake within {0:?}")]
    HandshakeTimeout(Duration),
    /// The handshake is not BEP 3's.
    #[error("handshake: {0}")]
    Handshake(WireError),
    /// The handshake names another torrent.
    #[error("handshake for another torrent (info hash {0})")]
    WrongTorrent(String),
    /// We dialled ourselves.
    #[error("connected to ourselves")]
    Ourselves,
    /// The peer closed the connection before the handshake ended.
    #[error("closed during the handshake")]
    ClosedInHandshake,
    /// The peer closed the connection.
    #[error("closed by the peer")]
    ClosedByPeer,
    /// We closed it (the peer loop dropped its command channel).
    #[error("closed by us")]
    ClosedByUs,
    /// Nothing arrived, not even a keep-alive, for too long.
    #[error("silent for {0:?}")]
    Silent(Duration),
    /// A frame that does not decode.
    #[error("bad message: {0}")]
    BadMessage(WireError),
    /// A bitfield of the wrong size or with spare bits set.
    #[error("bad bitfield: {0}")]
    BadBitfield(String),
    /// A block we could not store.
    #[error("bad piece: {0}")]
    BadPiece(io::Error),
    /// A request we could not read from storage.
    #[error("cannot serve its request: {0}")]
    CannotServe(io::Error),
    /// The core refused the connection.
    #[error("refused: max_neighbours reached or already connected")]
    Refused,
    /// We are not connectable (behind a NAT, as the scenario says): an inbound
    /// connection is closed before its handshake.
    #[error("refused: this peer is not connectable and takes no incoming connection")]
    NotConnectable,
    /// The connection cap was reached before the handshake, and no connection could
    /// make room.
    #[error("refused: {0} connections already")]
    Full(usize),
    /// At the connection cap, it had not finished its handshake and was the oldest such:
    /// its slot went to a newer connection.
    #[error("evicted: oldest of the connections still in their handshake at the cap")]
    Evicted,
    /// The core closed it, for this reason.
    #[error("{}", .0.describe())]
    Core(CloseReason),
    /// The session ended.
    #[error("session ended")]
    SessionEnded,
}
