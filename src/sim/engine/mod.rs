//! The simulation engine: pops events in time order and drives one core [`Peer`] per
//! simulated peer, moving its messages over simulated links.
//!
//! * Control messages arrive one link latency (the sum of both ends' latencies) after
//!   they are sent. All messages a peer sends at one instant that arrive at the same
//!   instant travel as **one** queue event (a batch): a verified piece's HAVE to fifty
//!   neighbours costs one heap operation, not fifty. This is equivalent to separate
//!   events because ties break by insertion order and the batch keeps send order.
//! * Blocks are flows in the [`Network`]; a block reaches its receiver one latency after
//!   its last bit left the sender. Control messages do not queue behind data (as if
//!   every connection had a priority lane for them).
//! * Connecting takes a round trip; announces reach the tracker instantly.
//! * Verifying a piece is instantaneous. It fails when a grain of it came corrupted
//!   from a polluter ([`PeerConfig::corrupt`](crate::core::PeerConfig)): the engine
//!   keeps, per peer and piece, which grains it stored corrupted and from whom, as a
//!   tcp host keeps bytes, and hands the core their digests (see `corrupt_digests`).

mod links;
mod transfers;

use super::network::Network;
use super::queue::{EventQueue, Key};
use crate::core::{
    AnnounceEvent, Bitfield, BlockRef, ConnId, Dice, Geometry, GrainDigest, Message, Output, Peer,
    PeerId, Role, Tracker, UnknownStrategy,
};
use crate::metrics::{EndWatch, Ending, LeaveReason, Observer, PeerInfo};
use crate::scenario::population::{Latencies, Member, draw_population, peer_dice, streams};
use crate::scenario::{Scenario, Stop};
use crate::units::{Bytes, SimTime};
use links::Link;
use std::collections::BTreeMap;

/// What a run produced besides the observer's records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Simulated time at the end.
    pub end: SimTime,
    /// Events processed.
    pub events: u64,
    /// Why it stopped.
    pub ending: Ending,
    /// The work no model of the swarm can skip, counted (zero from the tcp backend).
    pub work: Work,
}

/// The work any model of a swarm must do, whatever its engine: the floor under its
/// speed, counted so that a bench can report time per unit of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Work {
    /// HAVEs delivered: chunk completions × neighbours that lacked the chunk and had to
    /// learn of it (a peer sends none to a neighbour that holds the piece).
    pub haves_delivered: u64,
    /// Flow rate changes: a flow's max-min share changed and its completion moved.
    pub rate_changes: u64,
}

/// Progress as a run goes: called every few thousand events.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Simulated time.
    pub now: SimTime,
    /// Leechers done (completed or left).
    pub done: u64,
    /// Leechers in all.
    pub leechers: u64,
    /// Events so far.
    pub events: u64,
}

enum Event {
    Join(u32),
    Deliver(Vec<Delivery>),
    ConnectArrive {
        from: u32,
        to: u32,
    },
    /// `generation` tells the link this reply is about from a later link reusing its
    /// id; `to` is whom `from` dialled (the link id alone may name another link by now).
    ConnectReply {
        from: u32,
        to: u32,
        link: u32,
        generation: u32,
    },
    ConnectFailed {
        from: u32,
        to: u32,
    },
    Leave(u32, LeaveReason),
    Stop,
}

struct Delivery {
    link: u32,
    generation: u32,
    to: u32,
    msg: Message,
    /// For a `Piece` from a polluter: the grains it corrupted.
    corrupt: Corrupt,
}

/// The grains of a block its sender corrupted (as indices in the piece); `None` for an
/// honest block, which costs nothing.
pub(super) type Corrupt = Option<Box<[u32]>>;

struct SimPeer {
    member: Member,
    core: Option<Peer>,
    /// Link id of each of the core's connection slots.
    links: Vec<u32>,
    present: bool,
    completed: bool,
    done: bool,
    /// When its timer is queued for (`None`: not queued).
    timer_at: Option<SimTime>,
    /// Grains it stored corrupted, by piece: (grain, sender). What a tcp host's bytes
    /// would show; cleared when the piece is checked.
    corrupt_grains: BTreeMap<u32, Vec<(u32, u32)>>,
}

const NO_LINK: u32 = u32::MAX;

/// A simulation of one scenario with one seed.
pub struct Simulation<'s, O: Observer> {
    scenario: &'s Scenario,
    seed: u64,
    geometry: Geometry,
    now: SimTime,
    queue: EventQueue<Event>,
    peers: Vec<SimPeer>,
    links: Vec<Link>,
    free_links: Vec<u32>,
    net: Network,
    tracker: Tracker,
    tracker_dice: Dice,
    latencies: Latencies,
    obs: O,
    dirty: Vec<u32>,
    outbox: Vec<(SimTime, Delivery)>,
    spare_batches: Vec<Vec<Delivery>>,
    /// Flows that finished a block this event; removed unless given the next.
    idle: Vec<u32>,
    /// A peer's flows and which way each goes (`report_progress`), kept between events.
    scratch_flows: Vec<(u32, crate::core::Way)>,
    watch: EndWatch,
    events: u64,
    haves_delivered: u64,
    /// Tests: check every peer's request bookkeeping after every event.
    #[cfg(test)]
    pub(crate) check_requests: bool,
}

impl<'s, O: Observer> Simulation<'s, O> {
    /// Prepares a run of `scenario` with `seed`, reporting to `obs`. Fails if a group's
    /// policy names a strategy the scenario's registry lacks (possible only for a
    /// scenario built in code: parsing checks the names).
    pub fn new(scenario: &'s Scenario, seed: u64, obs: O) -> Result<Self, UnknownStrategy> {
        let geometry = scenario.file.geometry();
        for g in &scenario.groups {
            let strategies = scenario.strategies.strategies();
            strategies.build(&g.policy, geometry.pieces(), None)?;
        }
        let members = draw_population(scenario, seed);
        let latencies = Latencies::new(scenario, &members);
        let mut queue = EventQueue::default();
        let mut net = Network::default();
        let mut leechers = 0;
        let peers = (0u32..)
            .zip(members)
            .map(|(i, member)| {
                queue.push(member.join, Event::Join(i));
                net.add_peer(i, member.upload, member.download);
                if member.role != Role::Seed {
                    leechers += 1;
                }
                SimPeer {
                    member,
                    core: None,
                    links: Vec::new(),
                    present: false,
                    completed: false,
                    done: false,
                    timer_at: None,
                    corrupt_grains: BTreeMap::new(),
                }
            })
            .collect();
        if let Stop::At(t) = scenario.run.stop {
            queue.push(SimTime::ZERO + t, Event::Stop);
        }

        Ok(Simulation {
            scenario,
            seed,
            geometry,
            now: SimTime::ZERO,
            queue,
            peers,
            links: Vec::new(),
            free_links: Vec::new(),
            net,
            tracker: Tracker::biased(scenario.tracker.peers_per_announce, scenario.tracker.bias()),
            tracker_dice: Dice::new(seed, streams::TRACKER),
            latencies,
            obs,
            dirty: Vec::new(),
            outbox: Vec::new(),
            spare_batches: Vec::new(),
            idle: Vec::new(),
            scratch_flows: Vec::new(),
            watch: EndWatch::new(leechers),
            events: 0,
            haves_delivered: 0,
            #[cfg(test)]
            check_requests: false,
        })
    }

    /// Runs to the end, calling `progress` now and then; returns the outcome and the
    /// observer.
    pub fn run(mut self, mut progress: impl FnMut(Progress)) -> (Outcome, O) {
        let ending = loop {
            if self.scenario.run.stop == Stop::AllComplete && self.watch.all_done() {
                break Ending::AllComplete;
            }
            let Some((at, key, payload)) = self.queue.pop() else {
                break Ending::Stalled;
            };
            self.now = at;
            self.events += 1;
            if self.events.is_multiple_of(65_536) {
                progress(Progress {
                    now: self.now,
                    done: self.watch.done(),
                    leechers: self.watch.leechers(),
                    events: self.events,
                });
            }
            match (key, payload) {
                (Key::Timer(p), _) => self.on_timer(p),
                (Key::Flow(f), _) => self.on_flow_done(f),
                (Key::Once(_), Some(Event::Stop)) => break Ending::TimeLimit,
                (Key::Once(_), Some(event)) => self.on_event(event),
                (Key::Once(_), None) => {}
            }
            self.drain_dirty();
            self.remove_idle_flows();
            // Tests: a leak persists, so a look every few hundred events finds it.
            #[cfg(test)]
            if self.check_requests && self.events.is_multiple_of(256) {
                self.check_every_peer(key);
            }
            if self.watch.stalled(self.now) {
                break Ending::Stalled;
            }
        };
        let outcome = Outcome {
            end: self.now,
            events: self.events,
            ending,
            work: Work {
                haves_delivered: self.haves_delivered,
                rate_changes: self.net.rate_changes(),
            },
        };
        (outcome, self.obs)
    }

    // ------------------------------------------------------------------ events

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Join(p) => self.join(p),
            Event::Deliver(mut batch) => {
                for d in batch.drain(..) {
                    self.deliver(d);
                }
                self.spare_batches.push(batch);
            }
            Event::ConnectArrive { from, to } => self.connect_arrive(from, to),
            Event::ConnectReply {
                from,
                to,
                link,
                generation,
            } => self.connect_reply(from, to, link, generation),
            Event::ConnectFailed { from, to } => {
                let now = self.now;
                if let Some(core) = self.core_mut(from) {
                    core.handle_connect_failed(now, PeerId(u64::from(to)));
                    self.dirty.push(from);
                }
            }
            Event::Leave(p, reason) => self.leave(p, reason),
            Event::Stop => {}
        }
    }

    #[cfg(test)]
    fn check_every_peer(&self, after: Key) {
        for (i, sp) in self.peers.iter().enumerate() {
            if let Some(Err(e)) = sp.core.as_ref().map(Peer::check_requests) {
                panic!("t = {}: peer {i}: {e} (after {after:?})", self.now);
            }
        }
    }

    fn core_mut(&mut self, p: u32) -> Option<&mut Peer> {
        let sp = &mut self.peers[p as usize];
        if sp.present { sp.core.as_mut() } else { None }
    }

    fn join(&mut self, p: u32) {
        let now = self.now;
        let sp = &mut self.peers[p as usize];
        let m = &sp.member;
        let cfg = m.peer_config(self.scenario, PeerId(u64::from(p)));
        let pieces = self.geometry.pieces();
        let have = if m.role == Role::Seed {
            Bitfield::full(pieces)
        } else {
            Bitfield::new(pieces)
        };
        let strategies = self.scenario.strategies.strategies();
        let mut core = Peer::new(cfg, have, peer_dice(self.seed, p), strategies)
            .expect("Simulation::new checked every group's strategies");
        core.start(now);
        sp.core = Some(core);
        sp.present = true;
        self.obs.peer_joined(
            now,
            &PeerInfo {
                peer: p,
                group: m.group,
                role: m.role,
                upload: m.upload,
                download: m.download,
            },
        );
        self.watch.progress(now);
        let (role, linger, abort_at) = (m.role, m.linger, m.abort_at);
        if role == Role::Seed {
            sp.completed = true;
            if let Some(d) = linger {
                self.queue
                    .push(now + d, Event::Leave(p, LeaveReason::Lingered));
            }
        } else if let Some(t) = abort_at {
            self.queue
                .push(t.max(now), Event::Leave(p, LeaveReason::Aborted));
        }
        self.dirty.push(p);
    }

    /// Peer `p` leaves: its core says goodbye (a `Stopped` announce, a disconnect per
    /// connection), which is carried out like any other output, and it is gone.
    fn leave(&mut self, p: u32, reason: LeaveReason) {
        let now = self.now;
        let sp = &mut self.peers[p as usize];
        if !sp.present || (reason == LeaveReason::Aborted && sp.completed) {
            return;
        }
        let held: Vec<u32> = match sp.core.as_mut() {
            Some(core) => {
                core.stop(now);
                core.have().ones().collect()
            }
            None => Vec::new(),
        };
        if sp.member.role != Role::Seed && !sp.done {
            sp.done = true;
            self.watch.leecher_done(now);
        }
        self.drain(p);
        let sp = &mut self.peers[p as usize];
        sp.present = false;
        sp.core = None;
        self.queue.cancel(Key::Timer(p));
        self.obs.peer_left(now, p, &held, reason);
    }

    fn on_timer(&mut self, p: u32) {
        let now = self.now;
        self.peers[p as usize].timer_at = None;
        self.report_progress(p);
        if let Some(core) = self.core_mut(p) {
            core.handle_timeout(now);
            self.dirty.push(p);
        }
        self.reweight_uploads(p);
    }

    fn deliver(&mut self, d: Delivery) {
        let link = &self.links[d.link as usize];
        if !link.alive || link.generation != d.generation {
            return;
        }
        let Some(conn) = link.side(d.to) else { return };
        let from = link.other(d.to);
        if let (Message::Piece(block), Some(bad)) = (&d.msg, &d.corrupt) {
            self.store_corrupt(d.to, conn, from, block, bad);
        }
        let now = self.now;
        let have = matches!(d.msg, Message::Have(_));
        if let Some(core) = self.core_mut(d.to) {
            core.handle_message(now, conn, d.msg);
            self.haves_delivered += u64::from(have);
            self.dirty.push(d.to);
        }
    }

    /// `block` from `from` reaches `to` on `conn` with the grains `bad` corrupted: of
    /// the grains its core keeps, note the corrupted ones (before the core hears of the
    /// block, as a host stores bytes first).
    fn store_corrupt(&mut self, to: u32, conn: ConnId, from: u32, block: &BlockRef, bad: &[u32]) {
        let sp = &mut self.peers[to as usize];
        let Some(core) = sp.core.as_ref().filter(|_| sp.present) else {
            return;
        };
        let kept: Vec<(u32, u32)> = core
            .grains_to_keep(conn, block)
            .filter(|g| bad.contains(g))
            .map(|g| (g, from))
            .collect();
        if !kept.is_empty() {
            sp.corrupt_grains
                .entry(block.piece)
                .or_default()
                .extend(kept);
        }
    }

    /// Peer `p` checks `piece`: it fails if a grain of it was stored corrupted. The
    /// core gets the grains' digests when it failed, or when it asks.
    fn verify(&mut self, p: u32, piece: u32) {
        let now = self.now;
        let bad = self.peers[p as usize].corrupt_grains.remove(&piece);
        let ok = bad.is_none();
        if ok {
            self.obs.piece_verified(now, p, piece);
        } else {
            let bytes = Bytes(u64::from(self.geometry.piece_size(piece)));
            self.obs.piece_failed(now, p, piece, bytes);
        }
        let grains = self.geometry.grains_in(piece);
        let Some(core) = self.core_mut(p) else {
            return;
        };
        let digests = if ok && !core.grain_digests_wanted(piece) {
            Vec::new()
        } else {
            corrupt_digests(grains, bad.as_deref().unwrap_or_default())
        };
        core.handle_piece_verified(now, piece, ok, &digests);
    }

    // ------------------------------------------------------------------ outputs

    /// Carries out the outputs of every peer that heard something, first in, first out:
    /// a peer's event loop handles what reached it in order of arrival, so when answers
    /// tie (equal latencies), the one that was sent first is handled first, as over tcp.
    /// Draining as a stack would hand free upload slots to the newest neighbours instead
    /// (findings 66).
    fn drain_dirty(&mut self) {
        let mut next = 0;
        // Draining may mark more peers (a departure's neighbours): they are carried out too.
        while let Some(&p) = self.dirty.get(next) {
            next += 1;
            self.drain(p);
        }
        self.dirty.clear();
    }

    /// Carries out everything peer `p` asked for.
    fn drain(&mut self, p: u32) {
        let now = self.now;
        while let Some(out) = self.core_mut(p).and_then(Peer::poll_output) {
            match out {
                Output::Send { conn, msg } => self.send(p, conn, msg, None),
                Output::SendCorrupted {
                    conn,
                    block,
                    grains,
                } => self.send(p, conn, Message::Piece(block), Some(grains.into())),
                Output::Connect { peer } => {
                    let Ok(to) = u32::try_from(peer.0) else {
                        continue;
                    };
                    let latency = self.link_latency(p, to);
                    self.queue
                        .push(now + latency, Event::ConnectArrive { from: p, to });
                }
                Output::Cut { conn, at } => self.cut(p, conn, at),
                Output::Disconnect { conn, .. } => {
                    if let Some(&link) = self.peers[p as usize].links.get(conn.0 as usize)
                        && link != NO_LINK
                    {
                        self.close_link(link, Some(p));
                    }
                }
                Output::Verify { piece } => self.verify(p, piece),
                Output::Banned { peer } => {
                    if let Ok(banned) = u32::try_from(peer.0) {
                        self.obs.peer_banned(now, p, banned);
                    }
                }
                Output::Announce { event, numwant } => {
                    let peers = self.tracker.announce_from(
                        PeerId(u64::from(p)),
                        self.peers[p as usize].member.region,
                        event,
                        numwant as usize,
                        &mut self.tracker_dice,
                    );
                    if event != AnnounceEvent::Stopped
                        && let Some(core) = self.core_mut(p)
                    {
                        core.handle_tracker_response(now, &peers, None);
                    }
                }
                Output::Completed => self.complete(p),
            }
        }
        self.flush_outbox();
        self.update_timer(p);
    }

    fn complete(&mut self, p: u32) {
        let now = self.now;
        let sp = &mut self.peers[p as usize];
        if sp.completed {
            return;
        }
        sp.completed = true;
        if !sp.done {
            sp.done = true;
            self.watch.leecher_done(now);
        }
        self.obs.peer_completed(now, p);
        if let Some(d) = self.peers[p as usize].member.linger {
            self.queue
                .push(now + d, Event::Leave(p, LeaveReason::Lingered));
        }
    }

    /// The link `p`'s core knows as `conn`, if it is still open.
    fn link_of(&self, p: u32, conn: ConnId) -> Option<u32> {
        let &link = self.peers[p as usize].links.get(conn.index())?;
        (link != NO_LINK).then_some(link)
    }

    fn send(&mut self, p: u32, conn: ConnId, msg: Message, corrupt: Corrupt) {
        let Some(link_id) = self.link_of(p, conn) else {
            return;
        };
        if let Message::Piece(block) = msg {
            return self.send_block(p, conn, link_id, block, corrupt);
        }
        let link = &mut self.links[link_id as usize];
        let to = link.other(p);
        let direction = link.direction(p);
        // Only chokes wait behind a block: for anything else the flow is not looked up
        // (a HAVE to fifty neighbours would otherwise touch fifty flows).
        let chokes = matches!(msg, Message::Choke | Message::Unchoke);
        if chokes {
            let choked = matches!(msg, Message::Choke);
            self.obs.choke_changed(self.now, p, to, choked);
        }
        let sending = || {
            link.flows[direction]
                .and_then(|f| self.net.flow(f))
                .is_some_and(|f| f.block.is_some())
        };
        if chokes && (!link.held[direction].is_empty() || sending()) {
            link.held[direction].push(msg);
            return;
        }
        let delivery = Delivery {
            link: link_id,
            generation: link.generation,
            to,
            msg,
            corrupt: None,
        };
        self.outbox.push((self.now + link.latency, delivery));
    }

    /// Turns the outbox into one queue event per arrival time.
    fn flush_outbox(&mut self) {
        if self.outbox.is_empty() {
            return;
        }
        // Usually sorted already (one latency per link, and one link per drain).
        if !self.outbox.is_sorted_by_key(|(t, _)| *t) {
            self.outbox.sort_by_key(|(t, _)| *t);
        }
        // Drained in place, so the outbox keeps its capacity from event to event.
        let mut items = self.outbox.drain(..).peekable();
        while let Some((at, first)) = items.next() {
            let mut batch = self.spare_batches.pop().unwrap_or_default();
            batch.push(first);
            while let Some((_, d)) = items.next_if(|(t, _)| *t == at) {
                batch.push(d);
            }
            self.queue.push(at, Event::Deliver(batch));
        }
    }

    fn update_timer(&mut self, p: u32) {
        let sp = &mut self.peers[p as usize];
        let Some(core) = sp.core.as_ref().filter(|_| sp.present) else {
            return;
        };
        let at = core.poll_timeout().map(|t| t.max(self.now));
        if at != sp.timer_at {
            sp.timer_at = at;
            match at {
                Some(at) => self.queue.set(Key::Timer(p), at),
                None => self.queue.cancel(Key::Timer(p)),
            }
        }
    }
}

/// The digests of a piece's `grains` as a peer stored them, for its core: the good
/// grain's digest (all zeros) except for the `bad` grains, each marked with its sender.
/// The core only compares digests, so this is all the simulator needs to stand for the
/// hashes of real bytes.
fn corrupt_digests(grains: u32, bad: &[(u32, u32)]) -> Vec<GrainDigest> {
    let mut digests = vec![GrainDigest([0; 20]); grains as usize];
    for &(g, sender) in bad {
        if let Some(d) = digests.get_mut(g as usize) {
            let mut mark = [0xff; 20];
            mark[..4].copy_from_slice(&sender.to_le_bytes());
            *d = GrainDigest(mark);
        }
    }
    digests
}
