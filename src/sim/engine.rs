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
use super::queue::{EventQueue, Key};
use crate::core::{
    AnnounceEvent, Bitfield, ConnId, Dice, Direction, Geometry, Message, NewConnection, Output,
    Peer, PeerId, Role, Tracker, UnknownStrategy, Way,
};
use crate::metrics::{EndWatch, Ending, LeaveReason, Observer, PeerInfo};
use crate::scenario::population::{Member, draw_population, peer_dice, streams};
use crate::scenario::{Scenario, Stop};
use crate::units::{SimDuration, SimTime};

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
    /// When its timer is queued for (`None`: not queued).
    timer_at: Option<SimTime>,
}

const NO_LINK: u32 = u32::MAX;

/// A connection from simulated peer `from`, as the peer it reaches sees it: the
/// simulator's dial rank is the peer's index.
fn inbound_from(from: u32) -> NewConnection {
    NewConnection {
        peer: PeerId(u64::from(from)),
        direction: Direction::Inbound,
        rank: u64::from(from),
    }
}

/// A connection to simulated peer `to`, as the peer that dialled it sees it.
fn outbound_to(to: u32) -> NewConnection {
    NewConnection {
        peer: PeerId(u64::from(to)),
        direction: Direction::Outbound,
        rank: u64::from(to),
    }
}

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
    watch: EndWatch,
    events: u64,
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
            tracker: Tracker::new(scenario.tracker.peers_per_announce),
            tracker_dice: Dice::new(seed, streams::TRACKER),
            obs,
            dirty: Vec::new(),
            outbox: Vec::new(),
            spare_batches: Vec::new(),
            watch: EndWatch::new(leechers),
            events: 0,
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
            if self.watch.stalled(self.now) {
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
                    core.handle_connect_failed(now, PeerId(u64::from(to)));
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
            Some(core) if from_present => core.handle_connected(now, inbound_from(from)),
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
                core.handle_connect_failed(now, PeerId(u64::from(to)));
                self.dirty.push(from);
            }
            return;
        }
        let accepted = self
            .core_mut(from)
            .and_then(|core| core.handle_connected(now, outbound_to(to)));
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
                // Far below 2^32 links: a run would need terabytes of memory first.
                u32::try_from(self.links.len() - 1).unwrap_or(u32::MAX)
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
        self.watch.progress(now);
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
                    let Ok(to) = u32::try_from(peer.0) else {
                        continue;
                    };
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
                Output::Announce { event, numwant } => {
                    let peers = self.tracker.announce(
                        PeerId(u64::from(p)),
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
