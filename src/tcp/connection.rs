//! One TCP connection's task: dial (if outbound), handshake, then frame messages both
//! ways, talking to the peer loop over channels ([`Event`] up, [`Cmd`] down).
//!
//! The task is the only place that touches the socket. It checks what only it can
//! check — the handshake's protocol string, info hash, and that we did not dial
//! ourselves, within [`HALF_OPEN_TIMEOUT`] — and decodes frames with the bounded
//! [`wire::Decoder`]. It waits for upload tokens before it writes a block and for
//! download tokens after it reads, so TCP's own flow control slows the sender; the
//! tokens are reserved first come, first served, so the connections of a peer share its
//! limits in turns. In a laboratory swarm a delay line holds each incoming message for
//! the link's latency.
//! What the messages mean is the peer loop's business ([`super::host`]).

use super::clock::Clock;
use super::error::DropReason;
use super::member::index_of_peer_id;
use super::rate_limit::TokenBucket;
use super::tracker_http::AnnounceResponse;
use super::wire::{self, HANDSHAKE_LEN, Handshake, WireMessage};
use crate::core::BlockRef;
use crate::scenario::population::Latencies;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

/// A dial that has not connected by then has failed.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection whose handshake has not completed this long after it opened is dropped.
/// Short, so that connections which never finish theirs (a scanner, a stalled or
/// hostile peer) hold a slot briefly: a BitTorrent handshake is one 68-byte message each
/// way, a round trip on any network a peer is worth having on.
pub const HALF_OPEN_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle connections get a keep-alive this often (BEP 3 suggests two minutes).
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(120);
/// A connection that sent nothing (not even a keep-alive) for this long is dropped.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(240);
/// Half of tokio's timer resolution (1 ms).
const TIMER_HALF_TICK: Duration = Duration::from_micros(500);
/// Bytes read from the socket at once.
const READ_CHUNK: usize = 64 * 1024;

/// What the connection tasks of one session share.
pub(super) struct Shared {
    pub(super) info_hash: [u8; 20],
    pub(super) peer_id: [u8; 20],
    pub(super) clock: Clock,
    pub(super) upload: Mutex<TokenBucket>,
    pub(super) download: Mutex<TokenBucket>,
    pub(super) decoder: wire::Decoder,
    /// In a swarm: this peer's member index and the swarm's link latencies, to delay
    /// incoming messages by the link's latency (as the simulator does).
    pub(super) latency: Option<(u32, Arc<Latencies>)>,
}

/// Peer loop → connection task.
#[derive(Debug)]
pub(super) enum Cmd {
    /// Write these bytes (an encoded message).
    Send(Vec<u8>),
    /// Write this encoded block (after upload tokens), then report `Sent`.
    Piece { block: BlockRef, bytes: Vec<u8> },
}

/// Connection task (or announce task) → peer loop.
#[derive(Debug)]
pub(super) enum Event {
    /// The handshake completed.
    Up {
        token: u64,
        remote_id: [u8; 20],
        tx: mpsc::UnboundedSender<Cmd>,
    },
    /// A message arrived.
    Msg { token: u64, msg: WireMessage },
    /// A block was written to the socket.
    Sent { token: u64, block: BlockRef },
    /// The connection ended (or never started), for this reason.
    Down { token: u64, why: DropReason },
    /// The tracker answered.
    Announced(Result<AnnounceResponse, String>),
    /// The hashing thread checked a piece ([`Hasher`](super::hasher::Hasher)).
    Hashed(super::storage::CheckedPiece),
}

/// How a connection starts.
pub(super) enum Origin {
    /// Someone dialled us.
    Accepted(TcpStream),
    /// We dial this address.
    Dial(SocketAddr),
}

/// The connection task: runs until the connection ends, then reports why.
pub(super) async fn connection(
    token: u64,
    origin: Origin,
    sh: Arc<Shared>,
    events: mpsc::Sender<Event>,
) {
    let why = drive(token, origin, &sh, &events).await;
    let _ = events.send(Event::Down { token, why }).await;
}

async fn drive(
    token: u64,
    origin: Origin,
    sh: &Shared,
    events: &mpsc::Sender<Event>,
) -> DropReason {
    let stream = match open(origin).await {
        Ok(s) => s,
        Err(why) => return why,
    };
    // Small messages (requests, haves) must not wait for Nagle.
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let hs = match handshake(&mut rd, &mut wr, sh).await {
        Ok(hs) => hs,
        Err(why) => return why,
    };
    let inbox = Inbox::new(token, hs.peer_id, sh, events);
    let (tx, rx) = mpsc::unbounded_channel();
    let up = Event::Up {
        token,
        remote_id: hs.peer_id,
        tx,
    };
    if events.send(up).await.is_err() {
        return DropReason::SessionEnded;
    }
    // Reading and writing run side by side, so a block waiting for upload tokens (or a
    // slow write) never stops us reading; whichever ends first ends the connection.
    tokio::select! {
        why = read_loop(rd, sh, &inbox) => why,
        why = write_loop(wr, rx, sh, token, events) => why,
    }
}

async fn open(origin: Origin) -> Result<TcpStream, DropReason> {
    match origin {
        Origin::Accepted(stream) => Ok(stream),
        Origin::Dial(addr) => tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| DropReason::ConnectTimeout { addr })?
            .map_err(|source| DropReason::Connect { addr, source }),
    }
}

/// Sends our handshake and reads theirs: BEP 3's, for our torrent, not from ourselves.
async fn handshake(
    rd: &mut OwnedReadHalf,
    wr: &mut OwnedWriteHalf,
    sh: &Shared,
) -> Result<Handshake, DropReason> {
    wr.write_all(&Handshake::new(sh.info_hash, sh.peer_id).encode())
        .await?;
    let mut buf: Vec<u8> = Vec::with_capacity(HANDSHAKE_LEN);
    let mut scratch = [0u8; HANDSHAKE_LEN];
    let read = async {
        loop {
            if let Some(h) = Handshake::decode(&buf).map_err(DropReason::Handshake)? {
                return Ok::<_, DropReason>(h);
            }
            let n = rd.read(&mut scratch[..HANDSHAKE_LEN - buf.len()]).await?;
            if n == 0 {
                return Err(DropReason::ClosedInHandshake);
            }
            buf.extend_from_slice(&scratch[..n]);
        }
    };
    let hs = tokio::time::timeout(HALF_OPEN_TIMEOUT, read)
        .await
        .map_err(|_| DropReason::HandshakeTimeout(HALF_OPEN_TIMEOUT))??;
    if hs.info_hash != sh.info_hash {
        let hash = super::metainfo::hex(&hs.info_hash);
        return Err(DropReason::WrongTorrent(hash));
    }
    if hs.peer_id == sh.peer_id {
        return Err(DropReason::Ourselves);
    }
    Ok(hs)
}

/// Where decoded messages go: straight to the peer loop, or through a delay line that
/// holds each for the link's latency (a laboratory swarm).
enum Inbox<'a> {
    Direct {
        token: u64,
        events: &'a mpsc::Sender<Event>,
    },
    Delayed {
        line: mpsc::UnboundedSender<(tokio::time::Instant, WireMessage)>,
        delay: Duration,
    },
}

impl<'a> Inbox<'a> {
    fn new(
        token: u64,
        remote_id: [u8; 20],
        sh: &Shared,
        events: &'a mpsc::Sender<Event>,
    ) -> Inbox<'a> {
        let Some((own, all)) = &sh.latency else {
            return Inbox::Direct { token, events };
        };
        // A remote that is not a member (none in a laboratory swarm) gets our own
        // latency only.
        let remote = index_of_peer_id(&remote_id).unwrap_or(u32::MAX);
        let delay = sh.clock.wall(all.link(*own, remote));
        if delay.is_zero() {
            return Inbox::Direct { token, events };
        }
        let (line, mut held) = mpsc::unbounded_channel::<(tokio::time::Instant, WireMessage)>();
        let events = events.clone();
        tokio::spawn(async move {
            while let Some((at, msg)) = held.recv().await {
                // Tokio's timers fire on the first millisecond tick at or after the
                // deadline; aiming half a tick early makes the delay right on average
                // instead of half a millisecond long (which, sped up X times, is X/2 ms
                // of scenario latency).
                let early = at.checked_sub(TIMER_HALF_TICK).unwrap_or(at);
                tokio::time::sleep_until(early).await;
                if events.send(Event::Msg { token, msg }).await.is_err() {
                    break;
                }
            }
        });
        Inbox::Delayed { line, delay }
    }

    async fn deliver(&self, msg: WireMessage) -> Result<(), DropReason> {
        match self {
            Inbox::Direct { token, events } => events
                .send(Event::Msg { token: *token, msg })
                .await
                .map_err(|_| DropReason::SessionEnded),
            Inbox::Delayed { line, delay } => line
                .send((tokio::time::Instant::now() + *delay, msg))
                .map_err(|_| DropReason::SessionEnded),
        }
    }
}

/// Reads, throttles and decodes until the connection ends.
async fn read_loop(mut rd: OwnedReadHalf, sh: &Shared, inbox: &Inbox<'_>) -> DropReason {
    let (limited, read_max) = {
        let bucket = sh.download.lock().unwrap_or_else(|e| e.into_inner());
        // A limited read takes at most half the bucket: a read that needs the whole
        // bucket waits for it to be full, and the tokens of a late wake-up are lost.
        let half = usize::try_from(bucket.burst() / 2).unwrap_or(usize::MAX);
        let max = if bucket.is_unlimited() {
            READ_CHUNK
        } else {
            READ_CHUNK.min(half.max(1))
        };
        (!bucket.is_unlimited(), max)
    };
    let mut scratch = vec![0u8; READ_CHUNK];
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let n = match tokio::time::timeout(IDLE_TIMEOUT, rd.read(&mut scratch[..read_max])).await {
            Err(_) => return DropReason::Silent(IDLE_TIMEOUT),
            Ok(Err(e)) => return DropReason::Io(e),
            Ok(Ok(0)) => return DropReason::ClosedByPeer,
            Ok(Ok(n)) => n,
        };
        if limited {
            wait_until(reserve(&sh.download, sh.clock, n as u64)).await;
        }
        buf.extend_from_slice(&scratch[..n]);
        // The decoder refuses an oversize length prefix before its body is buffered, so
        // `buf` stays under one frame plus one read.
        loop {
            match sh.decoder.decode(&mut buf) {
                Ok(Some(msg)) => {
                    if let Err(why) = inbox.deliver(msg).await {
                        return why;
                    }
                }
                Ok(None) => break,
                Err(e) => return DropReason::BadMessage(e),
            }
        }
    }
}

/// Writes what the peer loop sends until it drops the channel. Blocks wait here for
/// upload tokens while control messages (requests, haves, chokes) go out at once: a
/// request must not wait behind a block we are slow to send.
async fn write_loop(
    mut wr: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Cmd>,
    sh: &Shared,
    token: u64,
    events: &mpsc::Sender<Event>,
) -> DropReason {
    let mut pieces: VecDeque<(BlockRef, Vec<u8>)> = VecDeque::new();
    // When the front block may go. Its tokens are reserved once, as it reaches the
    // front, so the control messages written meanwhile do not cost it its turn among
    // the connections sharing the upload bucket.
    let mut front_due: Option<tokio::time::Instant> = None;
    loop {
        if front_due.is_none()
            && let Some((_, bytes)) = pieces.front()
        {
            front_due = Some(reserve(&sh.upload, sh.clock, bytes.len() as u64));
        }
        let turn = async move {
            match front_due {
                Some(at) => wait_until(at).await,
                None => std::future::pending::<()>().await,
            }
        };
        let written = tokio::select! {
            biased;
            cmd = tokio::time::timeout(KEEPALIVE_INTERVAL, rx.recv()) => match cmd {
                Err(_) => wr.write_all(&[0, 0, 0, 0]).await,
                Ok(None) => return DropReason::ClosedByUs,
                Ok(Some(Cmd::Send(bytes))) => wr.write_all(&bytes).await,
                Ok(Some(Cmd::Piece { block, bytes })) => {
                    pieces.push_back((block, bytes));
                    Ok(())
                }
            },
            () = turn => match pieces.pop_front() {
                Some((block, bytes)) => {
                    front_due = None;
                    match wr.write_all(&bytes).await {
                        Ok(()) => match events.send(Event::Sent { token, block }).await {
                            Ok(()) => Ok(()),
                            Err(_) => return DropReason::SessionEnded,
                        },
                        Err(e) => Err(e),
                    }
                }
                None => Ok(()),
            },
        };
        if let Err(e) = written {
            return DropReason::Io(e);
        }
    }
}

/// Reserves `n` bytes of `bucket` and returns when they may go. Connections sharing the
/// bucket are served in the order they reserve ([`TokenBucket::reserve`]).
fn reserve(bucket: &Mutex<TokenBucket>, clock: Clock, n: u64) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    let wait = bucket
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .reserve(clock.micros(), n);
    now + Duration::from_micros(wait)
}

/// Sleeps until `at`, without a trip through the timer when it has passed (tokio's
/// timer ticks once a millisecond: an unlimited connection must not wait for a tick
/// per block).
async fn wait_until(at: tokio::time::Instant) {
    if at > tokio::time::Instant::now() {
        tokio::time::sleep_until(at).await;
    }
}
