//! swarmlab against SimGrid on SimGrid's own BitTorrent example, in the same run: builds
//! the example (`benches/simgrid/`, SimGrid 3.32's `examples/cpp/app-bittorrent/`,
//! unchanged) against Debian's `libsimgrid-dev` with `g++`, runs it on a cluster of
//! `SIMGRID_PEERS` + 1 peers (default 1,000 leechers and one seed; the example's
//! `cluster_backbone.xml` links: 125 MB/s, 50 µs, a 2.25 GB/s 500 µs backbone), then
//! simulates the same swarm with swarmlab (10 pieces × 5 blocks of 16 KiB, everyone at
//! t = 0, 1 Gbit/s, 600 µs between two peers) with the full recorder, and prints both
//! wall and CPU times and their ratio.
//!
//! The two do not simulate the same span: SimGrid's peers run to their deadline (5000 s,
//! the example's) and its tracker admits one peer per simulated second, so its swarm
//! needs over 1,000 simulated seconds to assemble; swarmlab's run ends when every leecher
//! has completed. The ratio is the time a researcher waits for the answer to the same
//! question with either tool.
//!
//! `cargo bench --bench simgrid` (needs `g++` and `libsimgrid-dev`; says so and exits 1
//! without them). `.ci/run` does not run it.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn fail(why: &str) -> ! {
    eprintln!("simgrid bench: {why}");
    std::process::exit(1);
}

fn platform(hosts: u32) -> String {
    format!(
        r#"<?xml version='1.0'?>
<!DOCTYPE platform SYSTEM "https://simgrid.org/simgrid.dtd">
<platform version="4.1">
  <cluster id="cluster0" prefix="node-" radical="0-{last}" suffix=".simgrid.org"
           speed="1Gf" bw="125MBps" lat="50us" bb_bw="2.25GBps" bb_lat="500us"/>
</platform>
"#,
        last = hosts - 1
    )
}

/// The tracker on node 0, the seed on node 1, the leechers after it (the example's ids
/// and deadlines).
fn deployment(leechers: u32) -> String {
    let mut text = String::from(
        "<?xml version='1.0'?>\n<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n\
         <platform version=\"4.1\">\n  <actor host=\"node-0.simgrid.org\" function=\"tracker\">\
         <argument value=\"3000\"/></actor>\n",
    );
    for host in 1..=leechers + 1 {
        let seed = if host == 1 {
            "<argument value=\"1\"/>"
        } else {
            ""
        };
        text += &format!(
            "  <actor host=\"node-{host}.simgrid.org\" function=\"peer\"><argument value=\"{}\"/>\
             <argument value=\"5000\"/>{seed}</actor>\n",
            host + 1
        );
    }
    text + "</platform>\n"
}

fn main() {
    let leechers: u32 = std::env::var("SIMGRID_PEERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/simgrid");
    let dir = tempfile::tempdir().unwrap_or_else(|e| fail(&format!("temporary folder: {e}")));
    let binary = dir.path().join("s4u-app-bittorrent");
    let built = Command::new("g++")
        .args(["-O2", "-std=c++17", "-o"])
        .arg(&binary)
        .args([
            "s4u-bittorrent.cpp",
            "s4u-peer.cpp",
            "s4u-tracker.cpp",
            "-lsimgrid",
        ])
        .current_dir(&source)
        .status();
    if !built.is_ok_and(|s| s.success()) {
        fail("could not build SimGrid's example (install g++ and libsimgrid-dev)");
    }
    let write = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap_or_else(|e| fail(&format!("{name}: {e}")));
        path
    };
    let platform = write("platform.xml", platform(leechers + 2));
    let deployment = write("deployment.xml", deployment(leechers));

    let (cpu0, started) = (common::cpu_s(true), Instant::now());
    let run = Command::new(&binary)
        .arg(&platform)
        .arg(&deployment)
        .arg("--log=root.thres:critical")
        .output()
        .unwrap_or_else(|e| fail(&format!("running SimGrid's example: {e}")));
    let (sg_wall, sg_cpu) = (started.elapsed().as_secs_f64(), common::cpu_s(true) - cpu0);
    if !run.status.success() {
        fail(&format!(
            "SimGrid's example failed: {}",
            String::from_utf8_lossy(&run.stderr)
        ));
    }

    let scenario = common::simgrid_swarm(leechers);
    let (cpu0, started) = (common::cpu_s(false), Instant::now());
    let (outcome, result) = swarmlab::run::simulate(&scenario, scenario.run.seed, |_| {})
        .unwrap_or_else(|e| fail(&e.to_string()));
    let (sl_wall, sl_cpu) = (started.elapsed().as_secs_f64(), common::cpu_s(false) - cpu0);
    let s = &result.summary;
    println!("peers                 1 seed + {leechers} leechers, 10 pieces x 5 blocks of 16 KiB");
    println!(
        "SimGrid 3.32 example  {sg_wall:.2} s wall, {sg_cpu:.2} s CPU (to its 5000 s deadline)"
    );
    println!(
        "swarmlab              {sl_wall:.3} s wall, {sl_cpu:.2} s CPU, {} events, {}/{} complete, makespan {:.3} s",
        outcome.events,
        s.completed,
        leechers,
        s.makespan.map_or(f64::NAN, |d| d.as_secs_f64())
    );
    println!(
        "ratio                 {:.0}x wall, {:.0}x CPU",
        sg_wall / sl_wall,
        sg_cpu / sl_cpu.max(0.01)
    );
}
