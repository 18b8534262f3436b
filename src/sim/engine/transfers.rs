//! Blocks on the move: a connection direction's flow in the [`Network`](super::Network),
//! the block it carries, what happens when the block's last bit has left (the sender
//! hears, the receiver gets it one latency later, and so does what was held behind it),
//! cuts (a choke or cancel stops a run of grains at the next grain boundary), what a
//! closing link leaves its receiver, and how far blocks in progress have got when a peer
//! looks at its rates.
//!
//! A flow lives as long as its connection direction has blocks to send: the sender's
//! core hands over the next block as the last one completes, at the same instant, and
//! the flow carries on at the same rate. A flow left without a block at the end of an
//! event is removed (its capacity goes to the others).

use super::{Corrupt, Delivery, Simulation};
use crate::core::{BlockRef, ConnId, Message, Way};
use crate::metrics::Observer;
use crate::sim::queue::Key;
use crate::units::Bytes;

impl<O: Observer> Simulation<'_, O> {
    /// Peer `p` sends `block` on `link` to `to`: on the link's flow in that direction,
    /// started if there is none.
    pub(super) fn send_block(
        &mut self,
        p: u32,
        conn: ConnId,
        link_id: u32,
        block: BlockRef,
        corrupt: Corrupt,
    ) {
        let link = &mut self.links[link_id as usize];
        let (to, direction) = (link.other(p), link.direction(p));
        link.corrupt[direction] = corrupt;
        if let Some(f) = link.flows[direction] {
            self.net.send_next(self.now, f, block);
        } else {
            // The sender's choker may give connections unequal upload shares (PropShare,
            // BitTyrant); a rechoke may change them mid-block (`reweight_uploads`).
            let weight = self
                .core_mut(p)
                .map_or(crate::core::choker::EQUAL_WEIGHT, |core| {
                    core.upload_weight(conn)
                });
            let f = self
                .net
                .start(self.now, p, to, link_id, block, weight, &mut self.obs);
            self.links[link_id as usize].flows[direction] = Some(f);
        }
        self.apply_moved();
    }

    /// Flow `f`'s block has gone: the sender hears at once, the receiver one latency
    /// later, then what was held behind the block.
    pub(super) fn on_flow_done(&mut self, f: u32) {
        let now = self.now;
        let Some(block) = self.net.finish_block(now, f, &mut self.obs) else {
            return;
        };
        let Some(flow) = self.net.flow(f) else {
            return;
        };
        let (from, to, link_id) = (flow.from, flow.to, flow.link);
        self.idle.push(f);
        // A block cut before its first grain carries nothing: only what was held
        // behind it goes on.
        let carried = block.len > 0;
        if carried {
            self.obs
                .block_delivered(now, from, to, Bytes(u64::from(block.len)));
            self.watch.progress(now);
        }
        let link = &self.links[link_id as usize];
        let (generation, latency) = (link.generation, link.latency);
        if let Some(conn) = link.side(from)
            && let Some(core) = self.core_mut(from)
        {
            core.handle_block_sent(now, conn, block);
            self.dirty.push(from);
        }
        // The block, then what was held behind it (the outbox sort is stable).
        let link = &mut self.links[link_id as usize];
        let direction = link.direction(from);
        let held = std::mem::take(&mut link.held[direction]);
        let corrupt = link.corrupt[direction].take();
        let piece = carried.then_some((Message::Piece(block), corrupt));
        for (msg, corrupt) in piece.into_iter().chain(held.into_iter().map(|m| (m, None))) {
            let delivery = Delivery {
                link: link_id,
                generation,
                to,
                msg,
                corrupt,
            };
            self.outbox.push((now + latency, delivery));
        }
        self.flush_outbox();
    }

    /// Removes the flows that finished a block and were given no next one.
    pub(super) fn remove_idle_flows(&mut self) {
        while let Some(f) = self.idle.pop() {
            let Some(flow) = self.net.flow(f) else {
                continue;
            };
            if flow.block.is_some() {
                continue;
            }
            let (link, from) = (flow.link, flow.from);
            self.net.remove(self.now, f, &mut self.obs);
            let link = &mut self.links[link as usize];
            let direction = link.direction(from);
            if link.flows[direction] == Some(f) {
                link.flows[direction] = None;
            }
            self.apply_moved();
        }
    }

    /// The core of `p` asked to end the block it sends on `conn` at offset `at` of its
    /// piece (or at the next grain, if past it).
    pub(super) fn cut(&mut self, p: u32, conn: ConnId, at: u32) {
        let Some(link_id) = self.link_of(p, conn) else {
            return;
        };
        let link = &self.links[link_id as usize];
        let Some(f) = link.flows[link.direction(p)] else {
            return;
        };
        let grain = self.geometry.grain_len();
        if self.net.cut(self.now, f, at, grain, &mut self.obs) {
            self.apply_moved();
        }
    }

    /// Before link `id` closes: what had arrived of the block on its way in `direction`
    /// reaches the receiver (as the 16 KiB blocks that had landed would have), the sender
    /// hears how much went, and the flow stops.
    pub(super) fn salvage(&mut self, id: u32, direction: usize) {
        let now = self.now;
        let link = &self.links[id as usize];
        let Some(f) = link.flows[direction] else {
            return;
        };
        let (from, latency) = (if direction == 0 { link.a } else { link.b }, link.latency);
        let to = link.other(from);
        let grain = self.geometry.grain_len();
        let arrived = self.net.arrived(now, f, latency, grain);
        let block = self.net.flow(f).and_then(|fl| fl.block);
        let corrupt = self.links[id as usize].corrupt[direction].take();
        if let Some(b) = block
            && arrived > 0
        {
            let prefix = BlockRef {
                len: u32::try_from(arrived).unwrap_or(b.len).min(b.len),
                ..b
            };
            self.obs
                .block_delivered(now, from, to, Bytes(u64::from(prefix.len)));
            let link = &self.links[id as usize];
            let (at_from, at_to) = (link.side(from), link.side(to));
            if let Some(conn) = at_from
                && let Some(core) = self.core_mut(from)
            {
                core.handle_block_sent(now, conn, prefix);
                self.dirty.push(from);
            }
            if let Some(conn) = at_to {
                if let Some(bad) = &corrupt {
                    self.store_corrupt(to, conn, from, &prefix, bad);
                }
                if let Some(core) = self.core_mut(to) {
                    core.handle_message(now, conn, Message::Piece(prefix));
                    self.dirty.push(to);
                }
            }
        }
        self.net.remove(now, f, &mut self.obs);
        self.queue.cancel(Key::Flow(f));
        self.links[id as usize].flows[direction] = None;
    }

    /// After a rechoke, the blocks `p` is sending to peers it still unchokes take their
    /// new upload shares at once, as the rest of a chunk would on a real link (16 KiB
    /// blocks at a time); a block to a peer just choked keeps its share to the end.
    pub(super) fn reweight_uploads(&mut self, p: u32) {
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
    /// got, in whole grains: what has gone, and what has landed. Its rates then see what a
    /// real client's would, 16 KiB at a time, even when a block is a whole chunk.
    pub(super) fn report_progress(&mut self, p: u32) {
        let now = self.now;
        let grain = self.geometry.grain_len();
        let mut flows = std::mem::take(&mut self.scratch_flows);
        flows.clear();
        let uploads = self.net.uploads_of(p).iter().map(|&f| (f, Way::Sending));
        let downloads = self
            .net
            .downloads_of(p)
            .iter()
            .map(|&f| (f, Way::Receiving));
        flows.extend(uploads.chain(downloads));
        for &(f, way) in &flows {
            let Some(flow) = self.net.flow(f) else {
                continue;
            };
            let (link, block) = (flow.link, flow.block);
            let Some(block) = block else { continue };
            let link = &self.links[link as usize];
            let (latency, conn) = (link.latency, link.side(p));
            let Some(conn) = conn else { continue };
            let bytes = self.net.take_unreported(now, f, way, latency, grain);
            if bytes == 0 {
                continue;
            }
            if let Some(core) = self.core_mut(p) {
                core.handle_progress(now, conn, block, way, bytes);
            }
        }
        self.scratch_flows = flows;
    }

    /// Moves the completion events of the flows whose rate or block changed.
    pub(super) fn apply_moved(&mut self) {
        for (flow, at) in self.net.take_moved() {
            match at {
                Some(at) => self.queue.set(Key::Flow(flow), at),
                None => self.queue.cancel(Key::Flow(flow)),
            }
        }
    }
}
