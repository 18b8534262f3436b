//! Links between simulated peers: dialling (a round trip), accepting, binding a link to
//! the connection ids each end's core uses, and closing.

use super::{Event, NO_LINK, Simulation};
use crate::core::{ConnId, Direction, Message, NewConnection, PeerId};
use crate::metrics::Observer;
use crate::units::SimDuration;

/// A connection between two simulated peers; `a` dialled `b`.
pub(super) struct Link {
    pub(super) a: u32,
    pub(super) b: u32,
    pub(super) conn_a: Option<ConnId>,
    pub(super) conn_b: Option<ConnId>,
    pub(super) latency: SimDuration,
    pub(super) generation: u32,
    pub(super) alive: bool,
    /// Chokes and unchokes sent while a block was on its way, per direction (from `a`,
    /// from `b`). A TCP stream keeps order, so a choke sent mid-block arrives after the
    /// block; delivered at latency alone it would overtake it, the receiver would give
    /// the block up as refused and fetch the piece a second time elsewhere.
    pub(super) held: [Vec<Message>; 2],
    /// The flow carrying blocks in each direction, while there are blocks to carry.
    pub(super) flows: [Option<u32>; 2],
    /// The grains its sender corrupted of the block each flow carries.
    pub(super) corrupt: [super::Corrupt; 2],
}

impl Link {
    /// 0 for messages from `a`, 1 for messages from `b`.
    pub(super) fn direction(&self, from: u32) -> usize {
        usize::from(from != self.a)
    }

    /// The connection id `peer` knows this link by.
    pub(super) fn side(&self, peer: u32) -> Option<ConnId> {
        if peer == self.a {
            self.conn_a
        } else {
            self.conn_b
        }
    }
    /// The peer at the other end from `peer`.
    pub(super) fn other(&self, peer: u32) -> u32 {
        if peer == self.a { self.b } else { self.a }
    }
}

/// A connection from simulated peer `from`, as the peer it reaches sees it: the
/// simulator's dial rank is the peer's index.
pub(super) fn inbound_from(from: u32) -> NewConnection {
    NewConnection {
        peer: PeerId(u64::from(from)),
        direction: Direction::Inbound,
        rank: u64::from(from),
    }
}

/// A connection to simulated peer `to`, as the peer that dialled it sees it.
pub(super) fn outbound_to(to: u32) -> NewConnection {
    NewConnection {
        peer: PeerId(u64::from(to)),
        direction: Direction::Outbound,
        rank: u64::from(to),
    }
}

impl<O: Observer> Simulation<'_, O> {
    /// Both ends' own latencies, plus the `[network]` latency between their regions.
    pub(super) fn link_latency(&self, a: u32, b: u32) -> SimDuration {
        self.latencies.link(a, b)
    }

    pub(super) fn connect_arrive(&mut self, from: u32, to: u32) {
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
            flows: [None, None],
            corrupt: Default::default(),
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

    pub(super) fn connect_reply(&mut self, from: u32, to: u32, link: u32, generation: u32) {
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
                self.obs.connected(now, from, to);
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
    /// hear of it now, and its flows stop. A block on its way in fast mode leaves its
    /// receiver the grains that had arrived, as 16 KiB blocks would have.
    pub(super) fn close_link(&mut self, id: u32, closer: Option<u32>) {
        let now = self.now;
        let link = &mut self.links[id as usize];
        if !link.alive {
            return;
        }
        for direction in 0..2 {
            self.salvage(id, direction);
        }
        let link = &mut self.links[id as usize];
        link.alive = false;
        if link.conn_a.is_some() && link.conn_b.is_some() {
            let (a, b) = (link.a, link.b);
            self.obs.disconnected(now, a, b);
        }
        let link = &self.links[id as usize];
        let ends = [(link.a, link.conn_a), (link.b, link.conn_b)];
        for (peer, conn) in ends {
            let Some(conn) = conn else { continue };
            let sp = &mut self.peers[peer as usize];
            if sp.links.get(conn.index()) == Some(&id) {
                sp.links[conn.index()] = NO_LINK;
            }
            if Some(peer) != closer
                && let Some(core) = self.core_mut(peer)
            {
                core.handle_disconnected(now, conn);
                self.dirty.push(peer);
            }
        }
        self.apply_moved();
        self.free_links.push(id);
    }
}
