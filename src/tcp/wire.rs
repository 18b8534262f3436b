//! The BEP 3 peer wire codec: the handshake and the length-prefixed messages.
//!
//! Pure bytes in, bytes out — no sockets, no session state (the shape of rqbit's
//! `peer_binary_protocol`). The tcp event loop reads from a socket into a buffer and asks
//! a [`Decoder`] for whole messages; it encodes outgoing messages into a `Vec<u8>`.
//!
//! Frame layout (BEP 3): a 4-byte big-endian length prefix, then `length` bytes: a 1-byte
//! message id and its payload. A length of zero is a keep-alive.
//!
//! Decisions worth knowing:
//! * Memory is bounded by the decoder's `max_message_len`: a length prefix above it is
//!   rejected as soon as its 4 bytes are visible, before any payload is buffered, so a
//!   hostile `2^31` prefix costs nothing.
//! * Every known id has a fixed payload size (or, for `bitfield` and `piece`, a minimum);
//!   any other size is an error: a peer that sends a 6-byte `have` is broken or hostile.
//! * Unknown ids (extension messages such as BEP 6 / BEP 10 that a peer sends although we
//!   advertise no extension bits) decode to [`WireMessage::Unknown`], not an error, so the
//!   session can ignore them and keep interoperating. Their size is still bounded.

use thiserror::Error;

/// The protocol string of the BEP 3 handshake.
pub const PSTR: &[u8; 19] = b"BitTorrent protocol";
/// Its length, the handshake's first byte.
const PSTR_LEN: u8 = 19;
const _: () = assert!(PSTR.len() == PSTR_LEN as usize);

/// The size of a handshake on the wire: 1 + 19 + 8 + 20 + 20.
pub const HANDSHAKE_LEN: usize = 68;

/// The conventional block size, which every client requests and serves.
pub const BLOCK_SIZE: u32 = crate::core::geometry::WIRE_BLOCK_LEN;

/// The default limit on a message's length prefix: one 16 KiB block plus 13 bytes of
/// header (the `piece` header is 9 bytes; the rest is slack). Raise it for torrents whose
/// bitfield is larger — see [`Decoder::for_torrent`].
pub const DEFAULT_MAX_MESSAGE_LEN: u32 = BLOCK_SIZE + 13;

/// Why bytes from a peer (or a message to encode) are not valid BEP 3.
///
/// `Display` gives one line meant for a log, e.g.
/// `length prefix 2147483648 exceeds limit 16397`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WireError {
    /// The handshake's first byte is not 19.
    #[error("handshake pstrlen is {0}, expected 19")]
    BadPstrLen(u8),
    /// The handshake's protocol string is not "BitTorrent protocol".
    #[error("handshake protocol string is {0:?}, expected \"BitTorrent protocol\"")]
    BadPstr(String),
    /// A length prefix above the decoder's limit.
    #[error("length prefix {len} exceeds limit {limit}")]
    TooLong {
        /// The length prefix the peer sent.
        len: u64,
        /// The decoder's `max_message_len`.
        limit: u32,
    },
    /// A known message id with a payload of the wrong size.
    #[error(
        "{name} message (id {id}) has length {len}, expected {}{expected}",
        if *at_least { "at least " } else { "" }
    )]
    BadLength {
        /// The message's name, e.g. "have".
        name: &'static str,
        /// The message id.
        id: u8,
        /// The length prefix (id byte included).
        len: u32,
        /// The length it must have (or at least have, if `at_least`).
        expected: u32,
        /// Whether `expected` is a minimum rather than the exact length.
        at_least: bool,
    },
}

/// The 68-byte handshake that opens every peer connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Handshake {
    /// The SHA-1 of the torrent's bencoded info dictionary.
    pub info_hash: [u8; 20],
    /// The sender's peer id.
    pub peer_id: [u8; 20],
    /// Extension bits (BEP 4); all zero when we support none.
    pub reserved: [u8; 8],
}

impl Handshake {
    /// A handshake with no extension bits set.
    pub fn new(info_hash: [u8; 20], peer_id: [u8; 20]) -> Self {
        Handshake {
            info_hash,
            peer_id,
            reserved: [0; 8],
        }
    }

    /// The handshake's 68 bytes.
    pub fn encode(&self) -> [u8; HANDSHAKE_LEN] {
        let mut out = [0u8; HANDSHAKE_LEN];
        out[0] = PSTR_LEN;
        out[1..20].copy_from_slice(PSTR);
        out[20..28].copy_from_slice(&self.reserved);
        out[28..48].copy_from_slice(&self.info_hash);
        out[48..68].copy_from_slice(&self.peer_id);
        out
    }

    /// Decodes a handshake from the start of `buf`.
    ///
    /// Returns `Ok(None)` while fewer than 68 bytes are available, but checks what is
    /// already there first, so a peer speaking another protocol is rejected on its first
    /// bytes rather than after we have waited for 68. On success exactly
    /// [`HANDSHAKE_LEN`] bytes were consumed; anything after them is the first message.
    pub fn decode(buf: &[u8]) -> Result<Option<Handshake>, WireError> {
        let Some(&pstrlen) = buf.first() else {
            return Ok(None);
        };
        if usize::from(pstrlen) != PSTR.len() {
            return Err(WireError::BadPstrLen(pstrlen));
        }
        let seen = &buf[1..buf.len().min(20)];
        if seen != &PSTR[..seen.len()] {
            return Err(WireError::BadPstr(
                String::from_utf8_lossy(seen).into_owned(),
            ));
        }
        let Some(hs) = buf.get(..HANDSHAKE_LEN) else {
            return Ok(None);
        };
        let mut out = Handshake::new([0; 20], [0; 20]);
        out.reserved.copy_from_slice(&hs[20..28]);
        out.info_hash.copy_from_slice(&hs[28..48]);
        out.peer_id.copy_from_slice(&hs[48..68]);
        Ok(Some(out))
    }
}

/// One BEP 3 message after the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireMessage {
    /// Length 0: keeps an idle connection open.
    KeepAlive,
    /// Id 0: the sender will not serve our requests.
    Choke,
    /// Id 1: the sender will serve our requests.
    Unchoke,
    /// Id 2: the sender wants pieces we have.
    Interested,
    /// Id 3: the sender wants nothing from us.
    NotInterested,
    /// Id 4: the sender now has this piece.
    Have(u32),
    /// Id 5: the sender's pieces, high bit of the first byte = piece 0. Only valid as the
    /// first message; its size against the torrent is checked by the session, which knows
    /// the piece count.
    Bitfield(Vec<u8>),
    /// Id 6: asks for `length` bytes of piece `index` at `begin`.
    Request {
        /// Piece index.
        index: u32,
        /// Byte offset within the piece.
        begin: u32,
        /// Number of bytes (16 KiB by convention).
        length: u32,
    },
    /// Id 7: a block of data.
    Piece {
        /// Piece index.
        index: u32,
        /// Byte offset within the piece.
        begin: u32,
        /// The block's bytes.
        data: Vec<u8>,
    },
    /// Id 8: withdraws an earlier request.
    Cancel {
        /// Piece index.
        index: u32,
        /// Byte offset within the piece.
        begin: u32,
        /// Number of bytes.
        length: u32,
    },
    /// Id 9: the sender's DHT port (BEP 5).
    Port(u16),
    /// Any other id. The session ignores it; it is decoded rather than rejected so that
    /// peers sending extension messages stay usable. Encoding one with a known id
    /// produces that known message's bytes (the codec does not police it).
    Unknown {
        /// The message id.
        id: u8,
        /// The raw payload.
        payload: Vec<u8>,
    },
}

const ID_CHOKE: u8 = 0;
const ID_UNCHOKE: u8 = 1;
const ID_INTERESTED: u8 = 2;
const ID_NOT_INTERESTED: u8 = 3;
const ID_HAVE: u8 = 4;
const ID_BITFIELD: u8 = 5;
const ID_REQUEST: u8 = 6;
const ID_PIECE: u8 = 7;
const ID_CANCEL: u8 = 8;
const ID_PORT: u8 = 9;

impl WireMessage {
    /// The message's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            WireMessage::KeepAlive => "keep-alive",
            WireMessage::Choke => "choke",
            WireMessage::Unchoke => "unchoke",
            WireMessage::Interested => "interested",
            WireMessage::NotInterested => "not-interested",
            WireMessage::Have(_) => "have",
            WireMessage::Bitfield(_) => "bitfield",
            WireMessage::Request { .. } => "request",
            WireMessage::Piece { .. } => "piece",
            WireMessage::Cancel { .. } => "cancel",
            WireMessage::Port(_) => "port",
            WireMessage::Unknown { .. } => "unknown",
        }
    }

    /// The value of this message's length prefix (id byte plus payload).
    pub fn body_len(&self) -> usize {
        match self {
            WireMessage::KeepAlive => 0,
            WireMessage::Choke
            | WireMessage::Unchoke
            | WireMessage::Interested
            | WireMessage::NotInterested => 1,
            WireMessage::Have(_) => 5,
            WireMessage::Bitfield(bits) => 1 + bits.len(),
            WireMessage::Request { .. } | WireMessage::Cancel { .. } => 13,
            WireMessage::Piece { data, .. } => 9 + data.len(),
            WireMessage::Port(_) => 3,
            WireMessage::Unknown { payload, .. } => 1 + payload.len(),
        }
    }

    /// Appends the framed message (length prefix included) to `out`.
    ///
    /// Fails only if the body does not fit a 32-bit length prefix; `out` is then
    /// untouched.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let body_len = self.body_len();
        let prefix = u32::try_from(body_len).map_err(|_| WireError::TooLong {
            len: body_len as u64,
            limit: u32::MAX,
        })?;
        out.reserve(4 + body_len);
        out.extend_from_slice(&prefix.to_be_bytes());
        let mut put3 = |id: u8, a: u32, b: u32, c: u32| {
            out.push(id);
            out.extend_from_slice(&a.to_be_bytes());
            out.extend_from_slice(&b.to_be_bytes());
            out.extend_from_slice(&c.to_be_bytes());
        };
        match self {
            WireMessage::KeepAlive => {}
            WireMessage::Choke => out.push(ID_CHOKE),
            WireMessage::Unchoke => out.push(ID_UNCHOKE),
            WireMessage::Interested => out.push(ID_INTERESTED),
            WireMessage::NotInterested => out.push(ID_NOT_INTERESTED),
            WireMessage::Have(index) => {
                out.push(ID_HAVE);
                out.extend_from_slice(&index.to_be_bytes());
            }
            WireMessage::Bitfield(bits) => {
                out.push(ID_BITFIELD);
                out.extend_from_slice(bits);
            }
            WireMessage::Request {
                index,
                begin,
                length,
            } => put3(ID_REQUEST, *index, *begin, *length),
            WireMessage::Cancel {
                index,
                begin,
                length,
            } => put3(ID_CANCEL, *index, *begin, *length),
            WireMessage::Piece { index, begin, data } => {
                out.push(ID_PIECE);
                out.extend_from_slice(&index.to_be_bytes());
                out.extend_from_slice(&begin.to_be_bytes());
                out.extend_from_slice(data);
            }
            WireMessage::Port(port) => {
                out.push(ID_PORT);
                out.extend_from_slice(&port.to_be_bytes());
            }
            WireMessage::Unknown { id, payload } => {
                out.push(*id);
                out.extend_from_slice(payload);
            }
        }
        Ok(())
    }

    /// The framed message as a new `Vec`.
    pub fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        let mut out = Vec::with_capacity(4 + self.body_len());
        self.encode(&mut out)?;
        Ok(out)
    }

    /// Parses a message body (the bytes after the length prefix; `body.len()` is the
    /// prefix's value, and already known to be within the decoder's limit).
    fn from_body(body: &[u8]) -> Result<WireMessage, WireError> {
        let Some((&id, payload)) = body.split_first() else {
            return Ok(WireMessage::KeepAlive);
        };
        let b = Body {
            id,
            // The body fits the decoder's u32 limit, so this cannot truncate.
            len: u32::try_from(body.len()).unwrap_or(u32::MAX),
            payload,
        };
        Ok(match id {
            ID_CHOKE => b.fixed("choke", 1).map(|()| WireMessage::Choke)?,
            ID_UNCHOKE => b.fixed("unchoke", 1).map(|()| WireMessage::Unchoke)?,
            ID_INTERESTED => b.fixed("interested", 1).map(|()| WireMessage::Interested)?,
            ID_NOT_INTERESTED => b
                .fixed("not-interested", 1)
                .map(|()| WireMessage::NotInterested)?,
            ID_HAVE => {
                b.fixed("have", 5)?;
                WireMessage::Have(b.word(0))
            }
            // An empty bitfield is legal for a zero-piece torrent; the host checks the
            // size against the piece count.
            ID_BITFIELD => WireMessage::Bitfield(payload.to_vec()),
            ID_REQUEST => {
                b.fixed("request", 13)?;
                let (index, begin, length) = b.block();
                WireMessage::Request {
                    index,
                    begin,
                    length,
                }
            }
            ID_CANCEL => {
                b.fixed("cancel", 13)?;
                let (index, begin, length) = b.block();
                WireMessage::Cancel {
                    index,
                    begin,
                    length,
                }
            }
            ID_PIECE => {
                b.at_least("piece", 9)?;
                WireMessage::Piece {
                    index: b.word(0),
                    begin: b.word(4),
                    data: payload[8..].to_vec(),
                }
            }
            ID_PORT => {
                b.fixed("port", 3)?;
                WireMessage::Port(u16::from_be_bytes([payload[0], payload[1]]))
            }
            _ => WireMessage::Unknown {
                id,
                payload: payload.to_vec(),
            },
        })
    }
}

/// A message body being parsed: its id, its length (id included) and its payload.
struct Body<'a> {
    id: u8,
    len: u32,
    payload: &'a [u8],
}

impl Body<'_> {
    /// The body must be exactly `expected` bytes long.
    fn fixed(&self, name: &'static str, expected: u32) -> Result<(), WireError> {
        self.check(name, expected, self.len == expected, false)
    }

    /// The body must be at least `expected` bytes long.
    fn at_least(&self, name: &'static str, expected: u32) -> Result<(), WireError> {
        self.check(name, expected, self.len >= expected, true)
    }

    fn check(
        &self,
        name: &'static str,
        expected: u32,
        ok: bool,
        at_least: bool,
    ) -> Result<(), WireError> {
        if ok {
            return Ok(());
        }
        Err(WireError::BadLength {
            name,
            id: self.id,
            len: self.len,
            expected,
            at_least,
        })
    }

    /// The big-endian word at `at` of the payload (its length was checked).
    fn word(&self, at: usize) -> u32 {
        let p = self.payload;
        u32::from_be_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]])
    }

    /// A request's or cancel's index, begin and length.
    fn block(&self) -> (u32, u32, u32) {
        (self.word(0), self.word(4), self.word(8))
    }
}

/// An incremental decoder of framed messages with a bound on message size.
///
/// Feed it a buffer that the socket appends to; it takes whole frames off the front.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoder {
    max_message_len: u32,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(DEFAULT_MAX_MESSAGE_LEN)
    }
}

impl Decoder {
    /// A decoder that rejects any length prefix above `max_message_len` (id byte plus
    /// payload). The payload it allocates for one message never exceeds that.
    pub fn new(max_message_len: u32) -> Self {
        Decoder { max_message_len }
    }

    /// A decoder sized for a torrent: room for its bitfield and for `piece` messages
    /// carrying blocks of up to `max_block` bytes.
    pub fn for_torrent(num_pieces: u32, max_block: u32) -> Self {
        let bitfield = 1 + num_pieces.div_ceil(8);
        let piece = max_block.saturating_add(9);
        Decoder::new(bitfield.max(piece).max(DEFAULT_MAX_MESSAGE_LEN))
    }

    /// The largest length prefix this decoder accepts.
    pub fn max_message_len(&self) -> u32 {
        self.max_message_len
    }

    /// Parses the first frame of `buf` without consuming it.
    ///
    /// `Ok(None)`: the frame is not complete yet. `Ok(Some((msg, n)))`: the frame was `n`
    /// bytes. An error means the connection should be dropped: the stream cannot be
    /// resynchronised.
    pub fn decode_slice(&self, buf: &[u8]) -> Result<Option<(WireMessage, usize)>, WireError> {
        let Some(prefix) = buf.get(..4) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        // Checked before waiting for the body, so an oversize frame is never buffered.
        if len > self.max_message_len {
            return Err(WireError::TooLong {
                len: u64::from(len),
                limit: self.max_message_len,
            });
        }
        let frame_len = 4 + len as usize;
        let Some(body) = buf.get(4..frame_len) else {
            return Ok(None);
        };
        Ok(Some((WireMessage::from_body(body)?, frame_len)))
    }

    /// Takes the first complete message off the front of `buf`.
    ///
    /// `Ok(None)` leaves `buf` untouched until more bytes arrive; call again after each
    /// read until it returns `None`. The caller should read at most
    /// `4 + max_message_len` bytes ahead, and then only while this keeps returning
    /// messages, so the buffer stays bounded too.
    pub fn decode(&self, buf: &mut Vec<u8>) -> Result<Option<WireMessage>, WireError> {
        match self.decode_slice(buf)? {
            Some((msg, used)) => {
                buf.drain(..used);
                Ok(Some(msg))
            }
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all_messages() -> Vec<WireMessage> {
        vec![
            WireMessage::KeepAlive,
            WireMessage::Choke,
            WireMessage::Unchoke,
            WireMessage::Interested,
            WireMessage::NotInterested,
            WireMessage::Have(7),
            WireMessage::Bitfield(vec![0b1010_0000, 0xff]),
            WireMessage::Request {
                index: 1,
                begin: 16384,
                length: 16384,
            },
            WireMessage::Piece {
                index: 2,
                begin: 0,
                data: vec![1, 2, 3],
            },
            WireMessage::Cancel {
                index: 1,
                begin: 0,
                length: 16384,
            },
            WireMessage::Port(6881),
            WireMessage::Unknown {
                id: 20,
                payload: vec![0, b'd', b'e'],
            },
        ]
    }

    #[test]
    fn known_encodings_match_bep3() {
        assert_eq!(WireMessage::KeepAlive.to_bytes().unwrap(), [0, 0, 0, 0]);
        assert_eq!(WireMessage::Interested.to_bytes().unwrap(), [0, 0, 0, 1, 2]);
        assert_eq!(
            WireMessage::Have(0x0102_0304).to_bytes().unwrap(),
            [0, 0, 0, 5, 4, 1, 2, 3, 4]
        );
        assert_eq!(
            WireMessage::Request {
                index: 1,
                begin: 2,
                length: 3
            }
            .to_bytes()
            .unwrap(),
            [0, 0, 0, 13, 6, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]
        );
        assert_eq!(
            WireMessage::Port(0x1ae1).to_bytes().unwrap(),
            [0, 0, 0, 3, 9, 0x1a, 0xe1]
        );
    }

    #[test]
    fn every_message_round_trips_in_one_buffer() {
        let mut buf = Vec::new();
        for m in all_messages() {
            m.encode(&mut buf).unwrap();
        }
        let dec = Decoder::default();
        for m in all_messages() {
            assert_eq!(dec.decode(&mut buf).unwrap(), Some(m));
        }
        assert_eq!(dec.decode(&mut buf).unwrap(), None);
        assert!(buf.is_empty());
    }

    #[test]
    fn huge_prefix_rejected_before_body_arrives() {
        let mut buf = vec![0x80, 0, 0, 0];
        let err = Decoder::default().decode(&mut buf).unwrap_err();
        assert_eq!(
            err.to_string(),
            "length prefix 2147483648 exceeds limit 16397"
        );
    }

    #[test]
    fn limit_is_inclusive_and_configurable() {
        let piece = WireMessage::Piece {
            index: 0,
            begin: 0,
            data: vec![0; 16384 + 4],
        };
        let bytes = piece.to_bytes().unwrap();
        assert_eq!(bytes.len(), 4 + 16397);
        let mut buf = bytes.clone();
        assert_eq!(Decoder::default().decode(&mut buf).unwrap(), Some(piece));
        let mut buf = bytes;
        assert!(Decoder::new(16396).decode(&mut buf).is_err());
        // A 100,000-piece torrent needs a 12,501-byte bitfield body: under the default;
        // a million pieces need more.
        assert_eq!(
            Decoder::for_torrent(1_000_000, 16384).max_message_len(),
            125_001
        );
    }

    #[test]
    fn wrong_payload_lengths_rejected() {
        let cases: &[&[u8]] = &[
            &[0, 0, 0, 6, 4, 0, 0, 0, 1, 0], // have with 5-byte payload
            &[0, 0, 0, 4, 4, 0, 0, 0],       // have with 3-byte payload
            &[0, 0, 0, 2, 0, 0],             // choke with a payload
            &[0, 0, 0, 12, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], // short request
            &[0, 0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0], // piece without full header
            &[0, 0, 0, 2, 9, 0],             // short port
        ];
        for case in cases {
            let mut buf = case.to_vec();
            let err = Decoder::default().decode(&mut buf).unwrap_err();
            assert!(matches!(err, WireError::BadLength { .. }), "{err}");
        }
        let mut buf = vec![0, 0, 0, 6, 4, 0, 0, 0, 1, 0];
        assert_eq!(
            Decoder::default().decode(&mut buf).unwrap_err().to_string(),
            "have message (id 4) has length 6, expected 5"
        );
    }

    #[test]
    fn handshake_round_trip_and_rejections() {
        let hs = Handshake {
            info_hash: [0xab; 20],
            peer_id: *b"-SL0001-abcdefghijkl",
            reserved: [0, 0, 0, 0, 0, 0x10, 0, 1],
        };
        let bytes = hs.encode();
        assert_eq!(&bytes[..20], b"\x13BitTorrent protocol");
        assert_eq!(Handshake::decode(&bytes).unwrap(), Some(hs));
        // Incomplete but plausible: wait.
        assert_eq!(Handshake::decode(&bytes[..40]).unwrap(), None);
        assert_eq!(Handshake::decode(&[]).unwrap(), None);
        // Wrong protocol: fail on the first bytes.
        assert_eq!(
            Handshake::decode(b"GET / HTTP/1.1").unwrap_err(),
            WireError::BadPstrLen(b'G')
        );
        assert!(matches!(
            Handshake::decode(b"\x13BitTorrent protocoX"),
            Err(WireError::BadPstr(_))
        ));
    }

    fn arb_message() -> impl Strategy<Value = WireMessage> {
        let bytes = || proptest::collection::vec(any::<u8>(), 0..600);
        prop_oneof![
            Just(WireMessage::KeepAlive),
            Just(WireMessage::Choke),
            Just(WireMessage::Unchoke),
            Just(WireMessage::Interested),
            Just(WireMessage::NotInterested),
            any::<u32>().prop_map(WireMessage::Have),
            bytes().prop_map(WireMessage::Bitfield),
            (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(index, begin, length)| {
                WireMessage::Request {
                    index,
                    begin,
                    length,
                }
            }),
            (any::<u32>(), any::<u32>(), bytes())
                .prop_map(|(index, begin, data)| WireMessage::Piece { index, begin, data }),
            (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(index, begin, length)| {
                WireMessage::Cancel {
                    index,
                    begin,
                    length,
                }
            }),
            any::<u16>().prop_map(WireMessage::Port),
            (10u8.., bytes()).prop_map(|(id, payload)| WireMessage::Unknown { id, payload }),
        ]
    }

    proptest! {
        #[test]
        fn round_trip_under_any_chunking(
            msgs in proptest::collection::vec(arb_message(), 0..20),
            cuts in proptest::collection::vec(1usize..700, 0..40),
        ) {
            let mut wire = Vec::new();
            for m in &msgs {
                m.encode(&mut wire).unwrap();
            }
            let dec = Decoder::default();
            let mut buf = Vec::new();
            let mut got = Vec::new();
            let mut rest = &wire[..];
            let mut cuts = cuts.into_iter().chain(std::iter::repeat(usize::MAX));
            while !rest.is_empty() {
                let n = cuts.next().unwrap_or(usize::MAX).min(rest.len());
                buf.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
                while let Some(m) = dec.decode(&mut buf).unwrap() {
                    got.push(m);
                }
            }
            prop_assert_eq!(got, msgs);
            prop_assert!(buf.is_empty());
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            data in proptest::collection::vec(any::<u8>(), 0..2000),
            cuts in proptest::collection::vec(1usize..300, 0..20),
            limit in 0u32..2000,
        ) {
            let dec = Decoder::new(limit);
            let mut buf = Vec::new();
            let mut rest = &data[..];
            let mut cuts = cuts.into_iter().chain(std::iter::repeat(usize::MAX));
            'feed: while !rest.is_empty() {
                let n = cuts.next().unwrap_or(usize::MAX).min(rest.len());
                buf.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
                loop {
                    match dec.decode(&mut buf) {
                        Ok(Some(m)) => prop_assert!(m.body_len() <= limit as usize),
                        Ok(None) => break,
                        Err(_) => break 'feed,
                    }
                }
                // Bounded buffering: an undecoded remainder is never a whole frame.
                prop_assert!(buf.len() < 4 + limit as usize + 300);
            }
            let _ = Handshake::decode(&data);
        }
    }
}
