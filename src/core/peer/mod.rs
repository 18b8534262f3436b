//! The peer state machine: one BitTorrent peer, fed events by its host (the simulator or
//! the tcp loop) and polled for what to do next. The call order a host follows is the
//! core's contract, written in the [`core`](crate::core) module documentation.
//!
//! What the peer decides, it decides here, so the simulator and real sockets run the same
//! peer: whom to dial and which of two crossed connections to keep, what a later bitfield
//! means, which blocks it expects (and so which bytes a host may keep), strict priority
//! (finish started pieces first), the piece picker for new pieces, endgame, request
//! pipelining, interest, the choker for uploads, whom to cut off for bad data, when to
//! announce.
//!
//! The implementation is split by concern: [`conn`] (one neighbour's state),
//! `neighbours` (connecting, crossed dials, closing), `messages` (what each message
//! does), `requests` (pieces in progress, pipelining, endgame, verification), `choking`
//! (upload slots and rechokes) and `timers` (the timer table).

mod choking;
mod conn;
mod messages;
mod neighbours;
mod requests;
mod super_seeding;
mod timers;

pub use conn::Direction;
pub use neighbours::NewConnection;

use super::bitfield::Bitfield;
use super::choker::Choker;
use super::config::{PeerConfig, Role};
use super::geometry::BlockRef;
use super::id::{ConnId, PeerId};
use super::message::Message;
use super::picker::PiecePicker;
use super::random::Dice;
use super::smart_ban::SmartBan;
use super::strategy::{Strategies, UnknownStrategy};
use super::super_seed::SuperSeed;
use super::tracker::AnnounceEvent;
use crate::units::{SimDuration, SimTime};
use conn::ConnTable;
use requests::Partial;
use std::collections::VecDeque;
use timers::{Timer, Timers};

/// The largest block a peer will serve (BEP 3 clients cut off at 128 KiB).
pub const MAX_REQUEST_LEN: u32 = 128 * 1024;

/// Why the peer closes a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// Both ends are seeds: nothing to trade.
    BothComplete,
    /// It broke the protocol (the text says how).
    Protocol(&'static str),
    /// It was proven to have sent bad data, twice (see [`smart_ban`](crate::core::smart_ban)):
    /// banned.
    BadData,
    /// Neither side wants anything from the other, and we need room for new neighbours.
    Useless,
    /// Both ends dialled each other; this is the connection both ends give up.
    CrossedDial,
    /// We are leaving the swarm.
    Leaving,
}

impl CloseReason {
    /// A short explanation for logs.
    pub fn describe(self) -> &'static str {
        match self {
            CloseReason::BothComplete => "both peers are complete",
            CloseReason::Protocol(why) => why,
            CloseReason::BadData => "banned: proven twice to have sent bad data",
            CloseReason::Useless => "nothing to trade either way; making room",
            CloseReason::CrossedDial => "crossed dials: both ends keep the other connection",
            CloseReason::Leaving => "leaving the swarm",
        }
    }
}

/// Something the host must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send `msg` on `conn` (for `Piece`, read the block and send it, then report
    /// [`Peer::handle_block_sent`]).
    Send {
        /// The connection.
        conn: ConnId,
        /// The message.
        msg: Message,
    },
    /// Send `block` on `conn` as [`Send`](Output::Send) of a `Piece` does, with the
    /// bytes of these grains altered (each grain: any change of its bytes will do):
    /// this peer is a polluter ([`PeerConfig::corrupt`]). `grains` are indices in the
    /// piece, of grains the block covers at least in part.
    SendCorrupted {
        /// The connection.
        conn: ConnId,
        /// The block.
        block: BlockRef,
        /// The grains to corrupt, ascending.
        grains: Vec<u32>,
    },
    /// Open a connection to `peer`, then report [`Peer::handle_connected`] or
    /// [`Peer::handle_connect_failed`].
    Connect {
        /// Whom to connect to.
        peer: PeerId,
    },
    /// End the block being sent on `conn` at offset `at` of its piece — or, if the
    /// sender is already past it, at the next grain (16 KiB) boundary — and report
    /// [`Peer::handle_block_sent`] with the part that went: we choked the receiver or it
    /// cancelled (all or the tail of the run), and a run of several wire blocks stops as
    /// a real client would stop between two. A host that sends 16 KiB blocks has
    /// nothing to cut.
    Cut {
        /// The connection.
        conn: ConnId,
        /// Where the block should end, as an offset in its piece.
        at: u32,
    },
    /// Close `conn`; the peer has already forgotten it.
    Disconnect {
        /// The connection.
        conn: ConnId,
        /// Why.
        reason: CloseReason,
    },
    /// Every block of `piece` has arrived: check it, then report
    /// [`Peer::handle_piece_verified`] — with a digest of each grain of the piece as it
    /// was received when it failed, and when it passed if
    /// [`Peer::grain_digests_wanted`] says so.
    Verify {
        /// The piece.
        piece: u32,
    },
    /// Announce to the tracker asking for up to `numwant` peers, then report
    /// [`Peer::handle_tracker_response`] (not for [`AnnounceEvent::Stopped`]).
    Announce {
        /// Why.
        event: AnnounceEvent,
        /// How many peers to ask for.
        numwant: u32,
    },
    /// The last piece verified: the peer is now a seed.
    Completed,
    /// `peer` was proven twice to have sent bad data: the peer will not connect to it
    /// again, and a [`Disconnect`](Output::Disconnect) follows if a connection is open.
    /// For the host's records; it has nothing to do.
    Banned {
        /// The banned peer.
        peer: PeerId,
    },
}

/// Which way a block moves on a connection, seen from this peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    /// We send it.
    Sending,
    /// We receive it.
    Receiving,
}

/// A BitTorrent peer.
pub struct Peer {
    cfg: PeerConfig,
    dice: Dice,
    have: Bitfield,
    /// Pieces we neither hold nor have started.
    wanted: Bitfield,
    picker: Box<dyn PiecePicker>,
    choker: Box<dyn Choker>,
    seed_choker: Box<dyn Choker>,
    conns: ConnTable,
    /// Peers we dialled whose connection is not up yet.
    pending: Vec<PeerId>,
    /// Peers the tracker named that we have not dialled yet.
    known: VecDeque<PeerId>,
    partials: Vec<Partial>,
    /// Failed pieces' grains, namings and bans.
    smart_ban: SmartBan,
    /// Offers, if this is an initial seed that super-seeds (BEP 16).
    super_seed: Option<SuperSeed>,
    out: VecDeque<Output>,
    timers: Timers,
    /// The announce interval in force: the configured one until a tracker names its own.
    announce_interval: SimDuration,
    last_announce: SimTime,
    started: bool,
    uploaded: u64,
    downloaded: u64,
    scratch_unchoke: Vec<ConnId>,
}

impl Peer {
    /// A peer holding `have`, running the strategies its policy names (looked up in
    /// `strategies`), drawing its random decisions from `dice`.
    pub fn new(
        cfg: PeerConfig,
        have: Bitfield,
        dice: Dice,
        strategies: &Strategies,
    ) -> Result<Peer, UnknownStrategy> {
        let pieces = cfg.geometry.pieces();
        let built = strategies.build(&cfg.policy, pieces, cfg.upload_capacity)?;
        let mut picker = built.picker;
        // Super-seeding is for a peer that starts with the file: one that completes
        // has announced its pieces already, and seeds as fastest-upload would.
        let super_seed = (cfg.policy.seed_choker == crate::core::name::builtin::SUPER_SEED
            && have.is_full())
        .then(SuperSeed::default);
        let mut wanted = Bitfield::full(pieces);
        for p in have.ones() {
            wanted.clear(p);
            picker.unwant(p);
        }
        Ok(Peer {
            announce_interval: cfg.neighbourhood.announce_interval,
            cfg,
            dice,
            have,
            wanted,
            picker,
            choker: built.choker,
            seed_choker: built.seed_choker,
            conns: ConnTable::default(),
            pending: Vec::new(),
            known: VecDeque::new(),
            partials: Vec::new(),
            smart_ban: SmartBan::default(),
            super_seed,
            out: VecDeque::new(),
            timers: Timers::default(),
            last_announce: SimTime::ZERO,
            started: false,
            uploaded: 0,
            downloaded: 0,
            scratch_unchoke: Vec::new(),
        })
    }

    // ------------------------------------------------------------------ queries

    /// Our identity.
    pub fn id(&self) -> PeerId {
        self.cfg.id
    }

    /// Our settings.
    pub fn config(&self) -> &PeerConfig {
        &self.cfg
    }

    /// The pieces we hold.
    pub fn have(&self) -> &Bitfield {
        &self.have
    }

    /// True once every piece has verified.
    pub fn is_complete(&self) -> bool {
        self.have.is_full()
    }

    /// Open connections.
    pub fn connections(&self) -> u32 {
        self.conns.open()
    }

    /// Bytes of blocks sent whole.
    pub fn uploaded(&self) -> u64 {
        self.uploaded
    }

    /// Bytes of blocks received whole (including duplicates in endgame).
    pub fn downloaded(&self) -> u64 {
        self.downloaded
    }

    /// The next output for the host, if any. Drain it after every input.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When the peer next wants [`Peer::handle_timeout`] (`None`: no timer armed).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<SimTime> {
        self.timers.next()
    }

    /// The neighbour on `conn`.
    pub fn remote_of(&self, conn: ConnId) -> Option<PeerId> {
        self.conns.get(conn).map(|c| c.peer)
    }

    fn uploads(&self) -> bool {
        self.cfg.role != Role::FreeRider
    }

    fn send(&mut self, conn: ConnId, msg: Message) {
        self.out.push_back(Output::Send { conn, msg });
    }

    // ------------------------------------------------------------------ lifecycle

    /// Joins the swarm: announces and starts the timers.
    pub fn start(&mut self, now: SimTime) {
        self.started = true;
        self.announce(now, AnnounceEvent::Started);
        self.timers
            .set(Timer::Rechoke, now + self.cfg.policy.rechoke_interval);
    }

    /// Leaves the swarm: tells the tracker, closes every connection and stops the timers.
    pub fn stop(&mut self, now: SimTime) {
        self.out.push_back(Output::Announce {
            event: AnnounceEvent::Stopped,
            numwant: 0,
        });
        let _ = now;
        // Nothing is owed to neighbours we leave: no requests to re-issue, no slots to
        // refill; the connections simply go.
        for id in self.conns.ids() {
            self.conns.remove(id);
            self.out.push_back(Output::Disconnect {
                conn: id,
                reason: CloseReason::Leaving,
            });
        }
        self.pending.clear();
        self.known.clear();
        self.timers.clear_all();
        self.started = false;
    }

    fn announce(&mut self, now: SimTime, event: AnnounceEvent) {
        self.out.push_back(Output::Announce {
            event,
            numwant: self.cfg.neighbourhood.peers_per_announce,
        });
        self.last_announce = now;
        self.timers
            .set(Timer::Announce, now + self.announce_interval);
    }

    /// Time has reached `now`: rechoke and announce, as due. A host calls it at (or
    /// after) [`Peer::poll_timeout`]; calling it early does nothing that is not due.
    pub fn handle_timeout(&mut self, now: SimTime) {
        if !self.started {
            return;
        }
        if self.timers.is_due(Timer::Rechoke, now) {
            self.rechoke(now);
            self.timers
                .set(Timer::Rechoke, now + self.cfg.policy.rechoke_interval);
        }
        // A starving leecher re-announces early, checked whenever a timer fires (so at
        // least as often as it rechokes).
        let early = self.starving() && now >= self.last_announce + neighbours::EARLY_ANNOUNCE_GAP;
        if early || self.timers.is_due(Timer::Announce, now) {
            self.announce(now, AnnounceEvent::Periodic);
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
impl Peer {
    /// The request bookkeeping is consistent: every grain marked requested n times is
    /// covered by exactly n outstanding requests (received grains may still be covered
    /// by a request that will bring a duplicate). Checked after every event by the
    /// simulator's tests.
    pub(crate) fn check_requests(&self) -> Result<(), String> {
        for p in &self.partials {
            for (g, state) in (0u32..).zip(&p.grains) {
                let covering: usize = self
                    .conns
                    .iter()
                    .map(|(_, c)| {
                        let covers = |r: &&crate::core::BlockRef| {
                            self.cfg
                                .geometry
                                .grain_span(r)
                                .is_some_and(|(f, k)| r.piece == p.piece && f <= g && g < f + k)
                        };
                        c.requested.iter().filter(covers).count()
                    })
                    .sum();
                let expected = match state {
                    requests::GrainState::Requested(k) => usize::from(*k),
                    requests::GrainState::Received => covering,
                    requests::GrainState::Missing => 0,
                };
                if covering != expected {
                    return Err(format!(
                        "piece {} grain {g}: {state:?} but {covering} requests cover it",
                        p.piece
                    ));
                }
            }
        }
        Ok(())
    }
}
