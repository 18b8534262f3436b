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
//! * Verifying a piece is instantaneous and always succeeds (no corrupt peers yet).

use super::network::Network;
use super::population::{Member, draw_population, streams};
use super::queue::{EventQueue, Key};
use crate::core::{
    AnnounceEvent, Bitfield, ConnId, Dice, Geometry, Message, Output, Peer, PeerConfig, PeerId,
    Tracker, Way,
};
use crate::metrics::{LeaveReason, Observer, PeerInfo};
use crate::scenario::{Role, Scenario, Stop};
use crate::units::{SimDuration, SimTime};

/// A swarm that makes no progress for this long is declared stalled and stopped.
const STALL_LIMIT: SimDuration = SimDuration::from_secs(3600);

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Every leecher completed or left.
    AllComplete,
    /// The scenario's stop time came.
    TimeLimit,
    /// Nothing moved for an hour of simulated time while leechers were unfinished
    /// (for example, every seed left before anyone completed).
    Stalled,
}

/// What a run produced besides the observer's records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Simulated time at the end.
    pub end: SimTime,
    /// Events processed.
    pub events: u64,
    /// Why it stopped.
    pub ending: Ending,
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
}

/// A connection between two simulated peers; `a` dialled `b`.
struct Link {
    a: u32,
    b: u32,
    conn_a: Option<ConnId>,
    conn_b: Option<ConnId>,
    latency: SimDuration,
    generation: u32,
    alive: bool,
    /// Chokes and unchokes sent while a block was on its way, per direction (from `a`,
    /// from `b`). A TCP stream keeps order, so a choke sent mid-block arrives after the
    /// block; delivered at latency alone it would overtake it, the receiver would give
    /// the block up as refused and fetch the piece a second time elsewhere.
    held: [Vec<Message>; 2],
}

impl Link {
    /// 0 for messages from `a`, 1 for messages from `b`.
    fn direction(&self, from: u32) -> usize {
        usize::from(from != self.a)
    }

    fn side(&self, peer: u32) -> Option<ConnId> {
        if peer == self.a {
            self.conn_a
        } else {
            self.conn_b
        }
    }
    fn other(&self, peer: u32) -> u32 {
        if peer == self.a { self.b } else { self.a }
    }
}

struct SimPeer {
    member: Member,
    core: Option<Peer>,
    /// Link id of each of the core's connection slots.
    links: Vec<u32>,
    present: bool,
    completed: bool,
    done: bool,
    timer_at: SimTime,
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
    obs: O,
    dirty: Vec<u32>,
    outbox: Vec<(SimTime, Delivery)>,
    spare_batches: Vec<Vec<Delivery>>,
    leechers: u64,
    leechers_done: u64,
    last_progress: SimTime,
    events: u64,
}

impl<'s, O: Observer> Simulation<'s, O> {
    /// Prepares a run of `scenario` with `seed`, reporting to `obs`.
    pub fn new(scenario: &'s Scenario, seed: u64, obs: O) -> Self {
        let geometry = Geometry::new(
            scenario.file.size,
            scenario.file.chunk_size,
            scenario.file.block_len(),
        );
        let members = draw_population(scenario, seed);
        let mut queue = EventQueue::default();
        let mut net = Network::default();
        let mut leechers = 0;
        let peers = members
            .into_iter()
            .enumerate()
            .map(|(i, member)| {
                queue.push(member.join, Event::Join(i as u32));
                net.add_peer(i as u32, member.upload, member.download);
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
                    timer_at: SimTime::NEVER,
                }
            })
            .collect();
        if let Stop::At(t) = scenario.run.stop {
            queue.push(SimTime::ZERO + t, Event::Stop);
        }
        Simulation {
            scenario,
            seed,
            geometry,
            now: SimTime::ZERO,
            queue,
            peers,
            links: Vec::new(),
            free_links: Vec::new(),
            net,
            tracker: Tracker::new(scenario.tracker.peers_per_announce),
            tracker_dice: Dice::new(seed, streams::TRACKER),
            obs,
            dirty: Vec::new(),
            outbox: Vec::new(),
            spare_batches: Vec::new(),
            leechers,
            leechers_done: 0,
            last_progress: SimTime::ZERO,
            events: 0,
        }
    }

    /// Runs to the end, calling `progress` now and then; returns the outcome and the
    /// observer.
    pub fn run(mut self, mut progress: impl FnMut(Progress)) -> (Outcome, O) {
        let ending = loop {
            if self.scenario.run.stop == Stop::AllComplete && self.leechers_done == self.leechers {
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
                    done: self.leechers_done,
                    leechers: self.leechers,
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
            if self.leechers_done < self.leechers
                && self.now.since(self.last_progress) > STALL_LIMIT
            {
                break Ending::Stalled;
            }
        };
        let outcome = Outcome {
            end: self.now,
            events: self.events,
            ending,
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
                    core.handle_connect_failed(now, PeerId(to as u64));
                    self.dirty.push(from);
                }
            }
            Event::Leave(p, reason) => self.leave(p, reason),
            Event::Stop => {}
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
        let group = &self.scenario.groups[m.group];
        let cfg = PeerConfig {
            id: PeerId(p as u64),
            geometry: self.geometry,
            policy: group.policy.clone(),
            role: m.role,
            min_neighbours: self.scenario.tracker.min_neighbours,
            max_neighbours: self.scenario.tracker.max_neighbours,
            announce_interval: self.scenario.tracker.announce_interval,
            upload_capacity: Some(m.upload),
        };
        let pieces = self.geometry.pieces();
        let have = if m.role == Role::Seed {
            Bitfield::full(pieces)
        } else {
            Bitfield::new(pieces)
        };
        let mut core = Peer::new(
            cfg,
            have,
            Dice::new(self.seed, streams::PEER_BASE + p as u64),
        );
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

    fn leave(&mut self, p: u32, reason: LeaveReason) {
        let now = self.now;
        let sp = &mut self.peers[p as usize];
        if !sp.present || (reason == LeaveReason::Aborted && sp.completed) {
            return;
        }
        sp.present = false;
        let mut core = sp.core.take().expect("present peers have a core");
        core.stop(now);
        let held: Vec<u32> = core.have().ones().collect();
        if sp.member.role != Role::Seed && !sp.done {
            sp.done = true;
            self.leechers_done += 1;
            self.last_progress = now;
        }
        self.tracker.forget(PeerId(p as u64));
        self.queue.cancel(Key::Timer(p));
        let links = std::mem::take(&mut sp.links);
        for link in links.into_iter().filter(|&l| l != NO_LINK) {
            self.close_link(link, Some(p));
        }
        self.obs.peer_left(now, p, &held, reason);
    }

    fn on_timer(&mut self, p: u32) {
        let now = self.now;
        self.peers[p as usize].timer_at = SimTime::NEVER;
        self.report_progress(p);
        if let Some(core) = self.core_mut(p) {
            core.handle_timeout(now);
            self.dirty.push(p);
        }
        self.reweight_uploads(p);
    }

    /// After a rechoke, the blocks `p` is sending to peers it still unchokes take their
    /// new upload shares at once, as the rest of a chunk would on a real link (16 KiB
    /// blocks at a time); a block to a peer just choked keeps its share to the end.
    /// Without this, in fast mode PropShare's and BitTyrant's shares applied a whole
    /// chunk late.
    fn reweight_uploads(&mut self, p: u32) {
        let Some(core) = self.peers[p as usize].core.as_ref() else {
            return;
        };
        let links = &self.links;
        self.net.reweight(
            self.now,
            p,
            |f| {
                let conn = links[f.link as usize].side(p)?;
                (!core.is_choking(conn)).then(|| core.upload_weight(conn))
            },
            &mut self.obs,
        );
        self.apply_moved();
    }

    /// Tells peer `p`, before it rechokes, how far the blocks it sends and receives have
    /// got, so its rates see bytes as they move (a real client sees 16 KiB blocks land;
    /// fast mode's whole chunks would otherwise count only when they finish).
    fn report_progress(&mut self, p: u32) {
        let now = self.now;
        let flows: Vec<(u32, Way)> = (self.net.uploads_of(p).iter())
            .map(|&f| (f, Way::Sending))
            .chain(
                self.net
                    .downloads_of(p)
                    .iter()
                    .map(|&f| (f, Way::Receiving)),
            )
            .collect();
        for (f, way) in flows {
            let Some(flow) = self.net.flow(f) else {
                continue;
            };
            let (link, block) = (flow.link, flow.block);
            let Some(conn) = self.links[link as usize].side(p) else {
                continue;
            };
            let bytes = self.net.take_unreported(now, f, way);
            if bytes == 0 {
                continue;
            }
            if let Some(core) = self.core_mut(p) {
                core.handle_progress(now, conn, block, way, bytes);
            }
        }
    }

    fn deliver(&mut self, d: Delivery) {
        let link = &self.links[d.link as usize];
        if !link.alive || link.generation != d.generation {
            return;
        }
        let Some(conn) = link.side(d.to) else { return };
        let now = self.now;
        if let Some(core) = self.core_mut(d.to) {
            core.handle_message(now, conn, d.msg);
            self.dirty.push(d.to);
        }
    }

    // ------------------------------------------------------------------ connections

    fn link_latency(&self, a: u32, b: u32) -> SimDuration {
        self.peers[a as usize].member.latency + self.peers[b as usize].member.latency
    }

    fn connect_arrive(&mut self, from: u32, to: u32) {
        let now = self.now;
        let latency = self.link_latency(from, to);
        let from_present = self.peers[from as usize].present;
        let accepted = match self.core_mut(to) {
            Some(core) if from_present => core.handle_connected(now, PeerId(from as u64), false),
            _ => None,
        };
        let Some(conn_b) = accepted else {
            self.queue
                .push(now + latency, Event::ConnectFailed { from, to });
            return;
        };
        let link = self.new_link(Link {
            a: from,
            b: to,
            conn_a: None,
            conn_b: Some(conn_b),
            latency,
            generation: 0,
            alive: true,
            held: Default::default(),
        });
        self.bind(to, conn_b, link);
        // Scheduled before `to`'s first messages (its bitfield), which arrive at the same
        // instant: ties break by insertion order, so `from` knows the link by then.
        let generation = self.links[link as usize].generation;
        self.queue.push(
            now + latency,
            Event::ConnectReply {
                from,
                to,
                link,
                generation,
            },
        );
        self.dirty.push(to);
    }

    fn connect_reply(&mut self, from: u32, to: u32, link: u32, generation: u32) {
        let now = self.now;
        let l = &self.links[link as usize];
        // The link may have closed before the reply arrived and its id been reused by
        // another connection since. Without the generation check `from` would bind to
        // that other link: its dial would stay pending forever and it would keep a
        // connection nobody closes (seen as rare hour-long stalls).
        if !l.alive || l.generation != generation {
            if let Some(core) = self.core_mut(from) {
                core.handle_connect_failed(now, PeerId(to as u64));
                self.dirty.push(from);
            }
            return;
        }
        let accepted = self
            .core_mut(from)
            .and_then(|core| core.handle_connected(now, PeerId(to as u64), true));
        match accepted {
            Some(conn_a) => {
                self.links[link as usize].conn_a = Some(conn_a);
                self.bind(from, conn_a, link);
                self.dirty.push(from);
            }
            None => self.close_link(link, Some(from)),
        }
    }

    fn new_link(&mut self, mut link: Link) -> u32 {
        match self.free_links.pop() {
            Some(id) => {
                link.generation = self.links[id as usize].generation + 1;
                self.links[id as usize] = link;
                id
            }
            None => {
                self.links.push(link);
                self.links.len() as u32 - 1
            }
        }
    }

    fn bind(&mut self, p: u32, conn: ConnId, link: u32) {
        let links = &mut self.peers[p as usize].links;
        if links.len() <= conn.0 as usize {
            links.resize(conn.0 as usize + 1, NO_LINK);
        }
        links[conn.0 as usize] = link;
    }

    /// Closes a link; the peers at its ends other than `closer` (which already knows)
    /// hear of it now, and its flows stop.
    fn close_link(&mut self, id: u32, closer: Option<u32>) {
        let now = self.now;
        let link = &mut self.links[id as usize];
        if !link.alive {
            return;
        }
        link.alive = false;
        let ends = [(link.a, link.conn_a), (link.b, link.conn_b)];
        for (peer, conn) in ends {
            let Some(conn) = conn else { continue };
            let sp = &mut self.peers[peer as usize];
            if sp.links.get(conn.0 as usize) == Some(&id) {
                sp.links[conn.0 as usize] = NO_LINK;
            }
            if Some(peer) != closer
                && let Some(core) = self.core_mut(peer)
            {
                core.handle_disconnected(now, conn);
                self.dirty.push(peer);
            }
        }
        for (peer, _) in ends {
            let flows: Vec<u32> = self
                .net
                .uploads_of(peer)
                .iter()
                .copied()
                .filter(|&f| self.net.flow(f).is_some_and(|fl| fl.link == id))
                .collect();
            for f in flows {
                self.net.remove(now, f, &mut self.obs);
                self.queue.cancel(Key::Flow(f));
            }
        }
        self.apply_moved();
        self.free_links.push(id);
    }

    // ------------------------------------------------------------------ transfers

    fn on_flow_done(&mut self, f: u32) {
        let now = self.now;
        let Some(flow) = self.net.remove(now, f, &mut self.obs) else {
            return;
        };
        self.apply_moved();
        self.obs.block_delivered(
            now,
            flow.from,
            flow.to,
            crate::units::Bytes(flow.block.len as u64),
        );
        self.last_progress = now;
        let link = &self.links[flow.link as usize];
        let (generation, latency) = (link.generation, link.latency);
        if let Some(conn) = link.side(flow.from)
            && let Some(core) = self.core_mut(flow.from)
        {
            core.handle_block_sent(now, conn, flow.block);
            self.dirty.push(flow.from);
        }
        // The block, then what was held behind it (the outbox sort is stable).
        let link = &mut self.links[flow.link as usize];
        let held = std::mem::take(&mut link.held[link.direction(flow.from)]);
        for msg in std::iter::once(Message::Piece(flow.block)).chain(held) {
            self.outbox.push((
                now + latency,
                Delivery {
                    link: flow.link,
                    generation,
                    to: flow.to,
                    msg,
                },
            ));
        }
        self.flush_outbox();
    }

    fn apply_moved(&mut self) {
        let moved: Vec<(u32, SimTime)> = self.net.take_moved().collect();
        for (flow, at) in moved {
            if at == SimTime::NEVER {
                self.queue.cancel(Key::Flow(flow));
            } else {
                self.queue.set(Key::Flow(flow), at);
            }
        }
    }

    // ------------------------------------------------------------------ outputs

    fn drain_dirty(&mut self) {
        while let Some(p) = self.dirty.pop() {
            self.drain(p);
        }
    }

    /// Carries out everything peer `p` asked for.
    fn drain(&mut self, p: u32) {
        let now = self.now;
        while let Some(out) = self.core_mut(p).and_then(Peer::poll_output) {
            match out {
                Output::Send { conn, msg } => self.send(p, conn, msg),
                Output::Connect { peer } => {
                    let to = peer.0 as u32;
                    let latency = self.link_latency(p, to);
                    self.queue
                        .push(now + latency, Event::ConnectArrive { from: p, to });
                }
                Output::Disconnect { conn, .. } => {
                    if let Some(&link) = self.peers[p as usize].links.get(conn.0 as usize)
                        && link != NO_LINK
                    {
                        self.close_link(link, Some(p));
                    }
                }
                Output::Verify { piece } => {
                    self.obs.piece_verified(now, p, piece);
                    if let Some(core) = self.core_mut(p) {
                        core.handle_piece_verified(now, piece, true);
                    }
                }
                Output::Announce { event } => {
                    let want = self.scenario.tracker.peers_per_announce as usize;
                    let peers = self.tracker.announce(
                        PeerId(p as u64),
                        event,
                        want,
                        &mut self.tracker_dice,
                    );
                    if event != AnnounceEvent::Stopped
                        && let Some(core) = self.core_mut(p)
                    {
                        core.handle_tracker_response(now, &peers);
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
            self.leechers_done += 1;
        }
        self.last_progress = now;
        self.obs.peer_completed(now, p);
        if let Some(d) = self.peers[p as usize].member.linger {
            self.queue
                .push(now + d, Event::Leave(p, LeaveReason::Lingered));
        }
    }

    fn send(&mut self, p: u32, conn: ConnId, msg: Message) {
        let Some(&link_id) = self.peers[p as usize].links.get(conn.0 as usize) else {
            return;
        };
        if link_id == NO_LINK {
            return;
        }
        let link = &mut self.links[link_id as usize];
        let to = link.other(p);
        let direction = link.direction(p);
        let chokes = matches!(msg, Message::Choke | Message::Unchoke);
        if chokes && (!link.held[direction].is_empty() || self.net.is_sending(p, link_id)) {
            link.held[direction].push(msg);
            return;
        }
        if let Message::Piece(block) = msg {
            // The sender's choker may give connections unequal upload shares
            // (PropShare, BitTyrant); a rechoke may change it mid-block
            // (`reweight_uploads`).
            let weight = self
                .core_mut(p)
                .map_or(crate::core::choker::EQUAL_WEIGHT, |core| {
                    core.upload_weight(conn)
                });
            self.net
                .start(self.now, p, to, link_id, block, weight, &mut self.obs);
            self.apply_moved();
            return;
        }
        let delivery = Delivery {
            link: link_id,
            generation: link.generation,
            to,
            msg,
        };
        self.outbox.push((self.now + link.latency, delivery));
    }

    /// Turns the outbox into one queue event per arrival time.
    fn flush_outbox(&mut self) {
        if self.outbox.is_empty() {
            return;
        }
        self.outbox.sort_by_key(|(t, _)| *t);
        let mut items = std::mem::take(&mut self.outbox).into_iter().peekable();
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
        let at = core.poll_timeout().max(self.now);
        if at != sp.timer_at {
            sp.timer_at = at;
            if at == SimTime::NEVER {
                self.queue.cancel(Key::Timer(p));
            } else {
                self.queue.set(Key::Timer(p), at);
            }
        }
    }
}
