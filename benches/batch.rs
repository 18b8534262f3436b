//! Batch throughput: a batch of 16 short runs at `--jobs 1` and `--jobs 2` in the same
//! process, the speedup between them, and the per-run overhead of the batch machinery
//! (planning files, the pool, reading summaries back, the index) over a plain
//! `run_to_folder` loop. Each figure is the best of a few repetitions, since other work
//! on a shared machine only ever makes a repetition slower.
//!
//! Run: `cargo bench --bench batch` (set `BATCH_BENCH_REPS` to change the repetitions).
//! On a shared machine read "cores busy" and the load average next to the speedup: a
//! speedup well under 2 with about one core busy means the second core was taken.

use std::path::PathBuf;
use std::time::{Duration, Instant};
use swarmlab::batch::{BatchOptions, Plan, Shard, run_plan};
use swarmlab::run::run_to_folder;
use swarmlab::scenario::Scenario;

const RUNS: u32 = 16;

const SCENARIO: &str = r#"
name = "bench"
[file]
size = "64 MiB"
chunk_size = "256 KiB"
block_size = "chunk"
[[group]]
name = "seeds"
count = 1
role = "seed"
upload = "10 Mbit/s"
download = "100 Mbit/s"
latency = "20 ms"
[[group]]
name = "leechers"
count = 200
upload = { uniform = ["1 Mbit/s", "4 Mbit/s"] }
download = "20 Mbit/s"
latency = "40 ms"
join = { uniform = ["0 s", "10 s"] }
[run]
seed = 11
"#;

fn best(reps: u32, mut f: impl FnMut() -> Duration) -> Duration {
    (0..reps).map(|_| f()).min().unwrap_or_default()
}

/// This process's CPU time (user + system) from /proc, where there is one: CPU time
/// over wall time shows how many cores a batch kept busy, which separates "the pool
/// does not parallelise" from "other work on the machine took the second core".
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and
    // 13th of those, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Cores kept busy while `f` ran (CPU time / wall time), if measurable.
fn busy(f: impl FnOnce()) -> Option<f64> {
    let (cpu, wall) = (cpu_time()?, Instant::now());
    f();
    let (cpu, wall) = (cpu_time()?.saturating_sub(cpu), wall.elapsed());
    Some(cpu.as_secs_f64() / wall.as_secs_f64())
}

fn main() {
    let reps: u32 = std::env::var("BATCH_BENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let scenario = Scenario::from_str_named(SCENARIO, "bench.toml").expect("bench scenario");
    let plan = Plan::from_scenarios(vec![(PathBuf::from("bench.toml"), scenario)], Some(RUNS))
        .expect("plan");
    let tmp = tempfile::tempdir().expect("tempdir");

    let batch = |jobs: usize| {
        best(reps, || {
            let out = tmp.path().join(format!("jobs-{jobs}"));
            let _ = std::fs::remove_dir_all(&out);
            let options = BatchOptions {
                jobs,
                out,
                shard: Shard::WHOLE,
                plots: false,
                resume: false,
            };
            let started = Instant::now();
            let report = run_plan(&plan, &options, |_, _| {}).expect("batch");
            assert!(report.failures.is_empty());
            started.elapsed()
        })
    };
    let load = || {
        std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|_| "n/a".into())
    };
    let load_before = load();
    let plain = best(reps, || {
        let out = tmp.path().join("loop");
        let _ = std::fs::remove_dir_all(&out);
        let started = Instant::now();
        for r in &plan.runs {
            run_to_folder(&r.scenario, r.seed, &out.join(&r.folder), false, |_| {}).expect("run");
        }
        started.elapsed()
    });
    let one = batch(1);
    let two = batch(2);

    let cores = |jobs: usize| {
        let out = tmp.path().join(format!("busy-{jobs}"));
        let options = BatchOptions {
            jobs,
            out,
            shard: Shard::WHOLE,
            plots: false,
            resume: false,
        };
        busy(|| {
            run_plan(&plan, &options, |_, _| {}).expect("batch");
        })
        .map_or("n/a".to_string(), |c| format!("{c:.2}"))
    };
    let (busy1, busy2) = (cores(1), cores(2));
    // CPU time per run hardly depends on what else the machine runs, so it measures
    // the batch machinery's cost even when wall-clock figures are noisy.
    let cpu_per_run = |f: &mut dyn FnMut()| {
        let before = cpu_time()?;
        f();
        Some((cpu_time()? - before).as_secs_f64() * 1e3 / plan.runs.len() as f64)
    };
    let cpu_loop = cpu_per_run(&mut || {
        let out = tmp.path().join("cpu-loop");
        for r in &plan.runs {
            run_to_folder(&r.scenario, r.seed, &out.join(&r.folder), false, |_| {}).expect("run");
        }
    });
    let cpu_batch = cpu_per_run(&mut || {
        let options = BatchOptions {
            jobs: 1,
            out: tmp.path().join("cpu-batch"),
            shard: Shard::WHOLE,
            plots: false,
            resume: false,
        };
        run_plan(&plan, &options, |_, _| {}).expect("batch");
    });

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let n = plan.runs.len() as f64;
    println!(
        "batch of {} runs (200 leechers, 64 MiB, fast mode), best of {reps}:",
        plan.runs.len()
    );
    println!(
        "  plain run_to_folder loop  {:>8.1} ms  ({:.2} ms/run)",
        ms(plain),
        ms(plain) / n
    );
    println!(
        "  batch --jobs 1            {:>8.1} ms  ({:.2} ms/run)",
        ms(one),
        ms(one) / n
    );
    println!("  batch --jobs 2            {:>8.1} ms", ms(two));
    println!(
        "  speedup jobs 2 / jobs 1   {:>8.2}x",
        one.as_secs_f64() / two.as_secs_f64()
    );
    println!("  cores busy (CPU/wall)     {busy1} at --jobs 1, {busy2} at --jobs 2");
    if let (Some(l), Some(b)) = (cpu_loop, cpu_batch) {
        println!(
            "  CPU time per run          {l:.2} ms in a plain loop, {b:.2} ms in a batch ({:+.2} ms)",
            b - l
        );
    }
    println!(
        "  load average              {load_before} before, {} after",
        load()
    );
    println!(
        "  wall overhead per run     {:>8.2} ms  ({:+.1} %)",
        (ms(one) - ms(plain)) / n,
        (one.as_secs_f64() / plain.as_secs_f64() - 1.0) * 100.0
    );
}
