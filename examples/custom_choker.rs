//! A choking strategy defined outside swarmlab, run by swarmlab's own command line.
//!
//! `Debt` unchokes the interested peers we owe the most — what they sent us over the
//! rate window minus what we sent them — plus mainline's optimistic unchokes. It is
//! registered under the name `debt`, and this binary is swarmlab's command line with it
//! added: every subcommand works, and scenario files, `run` (either backend) and
//! `compare --choker` accept `debt` like a built-in name.
//!
//! ```sh
//! cargo run --release --example custom_choker -- compare scenarios/heterogeneous.toml \
//!     --choker tit-for-tat,debt --replicates 4
//! ```
//!
//! A crate of your own does the same with `swarmlab` as a dependency: implement
//! [`Choker`] (its documentation states the contract), register it, and call
//! [`swarmlab::cli::main_with`].

use swarmlab::core::choker::{Candidate, Choker, Optimistic, rank_interested};
use swarmlab::core::{ConnId, Dice, Policy, Strategies};
use swarmlab::units::SimTime;

/// Unchokes the `upload_slots` interested peers with the largest debt (bytes per second
/// they give us beyond what we give them), then optimistic unchokes.
struct Debt {
    slots: usize,
    optimistic: Optimistic,
}

impl Debt {
    fn new(policy: &Policy) -> Debt {
        Debt {
            slots: policy.upload_slots as usize,
            optimistic: Optimistic::new(policy.optimistic_slots, policy.optimistic_interval),
        }
    }
}

impl Choker for Debt {
    fn rechoke(
        &mut self,
        now: SimTime,
        candidates: &[Candidate],
        dice: &mut Dice,
        unchoke: &mut Vec<ConnId>,
    ) {
        let ranked = rank_interested(candidates, dice, |c| {
            c.download_rate.saturating_sub(c.upload_rate)
        });
        unchoke.extend(ranked.iter().take(self.slots).map(|c| c.conn));
        self.optimistic.choose(now, candidates, dice, unchoke);
    }
}

fn main() {
    let mut strategies = Strategies::builtin();
    let added = strategies.add_choker(
        "debt",
        "unchoke the peers we owe most (what they sent us minus what we sent them)",
        |setup| Box::new(Debt::new(setup.policy)),
    );
    if let Err(e) = added {
        eprintln!("custom_choker: {e}");
        std::process::exit(1);
    }
    std::process::exit(swarmlab::cli::main_with(strategies));
}
