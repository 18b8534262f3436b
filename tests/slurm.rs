//! The README's Slurm recipe for sharded batches, run on a real Slurm cluster: a
//! single-node cluster (munged, slurmctld, slurmd from Debian's `munge` and `slurm-wlm`)
//! that each test starts on this machine and stops when it ends, however it ends.
//!
//! What runs is the README's own text: the fenced `bash` blocks holding the array script
//! (`#SBATCH`), the submission (`--array=1-`) and the resubmission of a failed shard
//! (`scancel`), extracted at test time. Only numbers are filled in: the shard count, the
//! CPUs per task (this machine's nodes are small) and the failed shard. Jobs find the
//! binary under test on PATH, which they inherit from the submitting shell (sbatch's
//! `--export=ALL`), as the README tells users to arrange.
//!
//! Checked:
//! * every shard succeeds: `afterok` lets the merge run, and the merged `index.csv` is
//!   byte for byte the one `swarmlab batch` writes without shards;
//! * one run fails: its shard's task fails, the merge stays pending with
//!   `DependencyNeverSatisfied` and never runs; the README's resubmission reruns that
//!   task, `--resume` redoes only the failed run (the shard's complete run folders keep
//!   their inodes and mtimes), and the new merge matches the unsharded `index.csv`.
//!
//! A machine that cannot run the daemons fails these tests with the reason (a daemon's
//! log); they do not skip.

mod common;

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Shards of the test batch: three, so one shard holds fewer runs than the others.
const SHARDS: u32 = 3;

/// The shard whose run is made to fail.
const FAILING_SHARD: u32 = 2;

/// How long a batch of these tiny jobs may take to be scheduled and run (they take a
/// few seconds; a slow, shared machine gets a wide margin, and the test still ends well
/// within five minutes).
const JOB_LIMIT: Duration = Duration::from_secs(60);

/// How long a daemon may take to come up.
const DAEMON_LIMIT: Duration = Duration::from_secs(30);

/// How long a Slurm client command or a README block may take (they return at once
/// unless the controller is unreachable).
const COMMAND_LIMIT: Duration = Duration::from_secs(30);

/// The test batch: a 2 × 2 sweep with 2 replicates, 8 runs of a few milliseconds each
/// (the scenario of tests/batch.rs).
const TINY: &str = r#"
name = "tiny"
[file]
size = "4 MiB"
chunk_size = "256 KiB"
block_size = "chunk"
[[group]]
name = "seeds"
count = 1
role = "seed"
upload = "5 Mbit/s"
download = "50 Mbit/s"
[[group]]
name = "leechers"
count = 10
upload = { uniform = ["1 Mbit/s", "4 Mbit/s"] }
download = "20 Mbit/s"
join = { uniform = ["0 s", "5 s"] }
[run]
seed = 7
[sweep]
"group.leechers.count" = [5, 12]
"policy.picker" = ["rarest-first", "random"]
replicates = 2
"#;

const RUNS: usize = 8;

#[test]
fn the_readme_array_and_merge_reproduce_the_unsharded_index() {
    // Declared first so it is dropped last: the cluster's files live in it.
    let root = test_root();
    let cluster = Cluster::start(root.path());
    let project = Project::new(&root.path().join("project"));
    let unsharded = project.unsharded_index();

    let (array, merge) = project.submit(&cluster);
    let tasks = cluster.wait_until_finished(&array, JOB_LIMIT);
    assert_eq!(
        tasks.len(),
        SHARDS as usize,
        "one task per shard: {tasks:?}"
    );
    for task in &tasks {
        assert_eq!(
            task.state(),
            "COMPLETED",
            "task {} of the array: {task:?}\nits log:\n{}",
            task.get("ArrayTaskId"),
            task.log()
        );
    }
    let merge = cluster.wait_until_finished(&merge, JOB_LIMIT);
    assert_merged(&merge, &project, &unsharded);
}

#[test]
fn a_failed_shard_holds_the_merge_back_until_the_readme_resubmission() {
    let root = test_root();
    let cluster = Cluster::start(root.path());
    let project = Project::new(&root.path().join("project"));
    let unsharded = project.unsharded_index();

    // Shard K holds runs K-1, K-1+N, … of the plan (the unsharded index lists the plan's
    // runs in order). A file where its first run's folder goes makes that run fail.
    let shard_runs: Vec<String> = index_folders(&unsharded)
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i as u32 % SHARDS + 1 == FAILING_SHARD)
        .map(|(_, folder)| folder)
        .collect();
    assert_eq!(shard_runs.len(), 3, "{shard_runs:?}");
    let shard_dir = project.shard_dir(FAILING_SHARD);
    let failing = shard_dir.join(&shard_runs[0]);
    fs::create_dir_all(failing.parent().expect("a run folder has a parent"))
        .expect("create the failing run's parent folder");
    fs::write(&failing, "in the way of a run folder").expect("write the obstacle");

    let (array, merge) = project.submit(&cluster);
    let tasks = cluster.wait_until_finished(&array, JOB_LIMIT);
    assert_eq!(
        tasks.len(),
        SHARDS as usize,
        "one task per shard: {tasks:?}"
    );
    for task in &tasks {
        let expected = if task.get("ArrayTaskId") == FAILING_SHARD.to_string() {
            "FAILED"
        } else {
            "COMPLETED"
        };
        assert_eq!(task.state(), expected, "{task:?}\nits log:\n{}", task.log());
    }
    let failed = tasks
        .iter()
        .find(|t| t.state() == "FAILED")
        .expect("the failed task");
    assert_eq!(failed.get("ExitCode"), "1:0", "{failed:?}");
    assert!(
        failed
            .log()
            .contains(&format!("run {} failed", shard_runs[0])),
        "the failed shard's log does not name its failed run:\n{}",
        failed.log()
    );

    // afterok can no longer be met: the merge is held for good and never runs.
    let held = cluster.poll(
        &format!("merge job {merge} to be held with DependencyNeverSatisfied"),
        JOB_LIMIT,
        || {
            let job = cluster.job(&merge).into_iter().next()?;
            (job.get("Reason") == "DependencyNeverSatisfied").then_some(job)
        },
    );
    assert_eq!(held.state(), "PENDING", "{held:?}");
    assert!(
        !project.merged_dir().exists(),
        "the held merge wrote output"
    );

    let kept: Vec<(&String, Fingerprint)> = shard_runs[1..]
        .iter()
        .map(|run| (run, Fingerprint::of(&shard_dir.join(run))))
        .collect();
    fs::remove_file(&failing).expect("remove the obstacle");

    let (task, merge_again) = project.resubmit(&cluster, FAILING_SHARD, &merge);
    let cancelled = cluster.wait_until_finished(&merge, JOB_LIMIT);
    assert_eq!(cancelled[0].state(), "CANCELLED", "{cancelled:?}");
    assert!(
        !Path::new(cancelled[0].get("StdOut")).exists(),
        "the held merge ran before it was cancelled: {cancelled:?}"
    );

    let rerun = cluster.wait_until_finished(&task, JOB_LIMIT);
    assert_eq!(rerun.len(), 1, "{rerun:?}");
    assert_eq!(
        rerun[0].state(),
        "COMPLETED",
        "{:?}\n{}",
        rerun[0],
        rerun[0].log()
    );
    assert!(
        rerun[0]
            .log()
            .contains("3 runs: 1 ran, 2 skipped (complete), 0 failed"),
        "--resume did not redo exactly the failed run:\n{}",
        rerun[0].log()
    );
    for (run, before) in &kept {
        assert_eq!(
            &Fingerprint::of(&shard_dir.join(run)),
            before,
            "{run} was rewritten by the resubmitted shard"
        );
    }
    assert!(
        failing.join("summary.csv").is_file(),
        "the failed run was not redone"
    );

    let merge = cluster.wait_until_finished(&merge_again, JOB_LIMIT);
    assert_merged(&merge, &project, &unsharded);
}

/// Checks that the merge job completed, merged every shard, and wrote the unsharded
/// batch's index.csv byte for byte.
fn assert_merged(merge: &[Job], project: &Project, unsharded: &[u8]) {
    assert_eq!(merge.len(), 1, "{merge:?}");
    let merge = &merge[0];
    assert_eq!(
        merge.state(),
        "COMPLETED",
        "{merge:?}\nits log:\n{}",
        merge.log()
    );
    let expected = format!("merged {RUNS} runs from {SHARDS} shards");
    assert!(
        merge.log().contains(&expected),
        "merge log:\n{}",
        merge.log()
    );
    let index = project.merged_dir().join("index.csv");
    let merged = fs::read(&index).unwrap_or_else(|e| panic!("{}: {e}", index.display()));
    assert!(
        merged == unsharded,
        "the merged index.csv differs from the unsharded batch's:\n{}\n--- unsharded:\n{}",
        String::from_utf8_lossy(&merged),
        String::from_utf8_lossy(unsharded)
    );
}

/// A temporary folder for one test, readable by all: munged refuses a socket in a
/// folder others cannot enter.
fn test_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("create a temporary folder");
    make_enterable(root.path());
    root
}

fn make_enterable(dir: &Path) {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod 755 {}: {e}", dir.display()));
}

/// A folder laid out as the README expects a project to be: scenarios in `scenarios/`,
/// the array script as `shards.sbatch`, results under `results/batch/`. Jobs are
/// submitted from it, so they run in it.
struct Project {
    dir: PathBuf,
}

impl Project {
    fn new(dir: &Path) -> Project {
        fs::create_dir_all(dir.join("scenarios")).expect("create the project folder");
        fs::write(dir.join("scenarios/tiny.toml"), TINY).expect("write the scenario");
        let script = readme_block("#SBATCH");
        let script = fill(&script, "N=", &SHARDS.to_string());
        // The README asks for more CPUs than this machine's node has; a task asking for
        // more would wait for ever.
        let script = fill(&script, "#SBATCH --cpus-per-task=", "1");
        fs::write(dir.join("shards.sbatch"), script).expect("write shards.sbatch");
        Project {
            dir: dir.to_path_buf(),
        }
    }

    /// Runs the same batch without shards, on this machine, and returns its index.csv.
    fn unsharded_index(&self) -> Vec<u8> {
        let mut batch = Command::new(common::bin());
        batch
            .args(["batch", "scenarios/", "--no-plots", "--out", "unsharded"])
            .current_dir(&self.dir);
        let o = output_within(batch, COMMAND_LIMIT).expect("run the unsharded batch");
        assert!(o.status.success(), "unsharded batch: {}", text(&o.stderr));
        let index = fs::read(self.dir.join("unsharded/index.csv")).expect("unsharded index");
        assert_eq!(
            index_folders(&index).len(),
            RUNS,
            "{}",
            String::from_utf8_lossy(&index)
        );
        index
    }

    fn shard_dir(&self, k: u32) -> PathBuf {
        self.dir.join(format!("results/batch/shard-{k}"))
    }

    fn merged_dir(&self) -> PathBuf {
        self.dir.join("results/batch/all")
    }

    /// Runs the README's submission block; returns the array's and the merge's job ids.
    fn submit(&self, cluster: &Cluster) -> (String, String) {
        let block = readme_block("--array=1-");
        let block = fill(&block, "--array=1-", &SHARDS.to_string());
        let printed = cluster.run_block(&block, &self.dir, &[]);
        two_job_ids(&printed)
    }

    /// Runs the README's resubmission block for shard `k`, with `$mergeid` the held
    /// merge as the user's shell would still have it; returns the new task's and the new
    /// merge's job ids.
    fn resubmit(&self, cluster: &Cluster, k: u32, held_merge: &str) -> (String, String) {
        let block = readme_block("scancel");
        let block = fill(&block, "K=", &k.to_string());
        let printed = cluster.run_block(&block, &self.dir, &[("mergeid", held_merge)]);
        two_job_ids(&printed)
    }
}

/// The README's fenced ```bash block containing `needle`; exactly one must.
fn readme_block(needle: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        let fence = line.trim_start();
        match current.as_mut() {
            None if fence == "```bash" => current = Some(String::new()),
            None => {}
            Some(_) if fence == "```" => blocks.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    let mut found: Vec<String> = blocks.into_iter().filter(|b| b.contains(needle)).collect();
    assert_eq!(
        found.len(),
        1,
        "README.md should have exactly one ```bash block containing {needle:?}"
    );
    found.remove(0)
}

/// Replaces the number that follows `marker` (at a line start or after a space) with
/// `value`; the marker must occur exactly once, so a README edit that moves it fails
/// here rather than running something else.
fn fill(text: &str, marker: &str, value: &str) -> String {
    let starts: Vec<usize> = text
        .match_indices(marker)
        .map(|(i, _)| i)
        .filter(|&i| i == 0 || matches!(text.as_bytes()[i - 1], b'\n' | b' '))
        .filter(|&i| text[i + marker.len()..].starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert_eq!(
        starts.len(),
        1,
        "expected {marker:?} followed by a number exactly once in:\n{text}"
    );
    let from = starts[0] + marker.len();
    let digits = text[from..]
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len() - from);
    format!("{}{value}{}", &text[..from], &text[from + digits..])
}

/// The job ids in a README block's closing `echo` ("… job 12, … job 13").
fn two_job_ids(printed: &str) -> (String, String) {
    let words: Vec<&str> = printed.split_whitespace().collect();
    let ids: Vec<String> = words
        .windows(2)
        .filter(|w| w[0] == "job")
        .map(|w| w[1].trim_end_matches([',', ';', '.']).to_string())
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()))
        .collect();
    assert_eq!(ids.len(), 2, "expected two job ids in: {printed}");
    (ids[0].clone(), ids[1].clone())
}

/// The `folder` column of an index.csv, in order.
fn index_folders(index: &[u8]) -> Vec<String> {
    let mut reader = csv::Reader::from_reader(index);
    reader
        .records()
        .map(|r| r.expect("index.csv is CSV")[0].to_string())
        .collect()
}

/// What changes when a run folder is written again: a run is written into
/// `<folder>.partial` and renamed into place, so a rewritten folder has a new inode, and
/// its summary a new inode and mtime.
#[derive(Debug, PartialEq, Eq)]
struct Fingerprint {
    folder_inode: u64,
    summary_inode: u64,
    summary_mtime: (i64, i64),
}

impl Fingerprint {
    fn of(folder: &Path) -> Fingerprint {
        let meta = |p: &Path| fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let summary = meta(&folder.join("summary.csv"));
        Fingerprint {
            folder_inode: meta(folder).ino(),
            summary_inode: summary.ino(),
            summary_mtime: (summary.mtime(), summary.mtime_nsec()),
        }
    }
}

/// One record of `scontrol show job --oneliner`: an array task or a plain job.
struct Job(HashMap<String, String>);

/// The fields worth reading in a failure message (a record has about seventy).
impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fields = [
            "JobId",
            "ArrayJobId",
            "ArrayTaskId",
            "JobName",
            "JobState",
            "Reason",
            "ExitCode",
            "Dependency",
            "StdOut",
        ];
        let shown: Vec<String> = fields
            .iter()
            .filter(|k| self.0.contains_key(**k))
            .map(|k| format!("{k}={}", self.get(k)))
            .collect();
        write!(f, "Job({})", shown.join(" "))
    }
}

impl Job {
    fn get(&self, key: &str) -> &str {
        self.0.get(key).map_or("", String::as_str)
    }

    fn state(&self) -> &str {
        self.get("JobState")
    }

    /// The job's output (Slurm expands the `--output` pattern into `StdOut`).
    fn log(&self) -> String {
        fs::read_to_string(self.get("StdOut"))
            .unwrap_or_else(|e| format!("(no log at {:?}: {e})", self.get("StdOut")))
    }

    fn is_finished(&self) -> bool {
        !matches!(
            self.state(),
            "PENDING" | "RUNNING" | "CONFIGURING" | "COMPLETING" | "REQUEUED" | "SUSPENDED"
        )
    }
}

/// A single-node Slurm cluster on this machine: its configuration, and its daemons in
/// start order (munged, slurmctld, slurmd).
struct Cluster {
    /// The test's folder: the cluster's own files are in `root/slurm`, and jobs are
    /// submitted from folders under it.
    root: PathBuf,
    dir: PathBuf,
    conf: PathBuf,
    daemons: Vec<Daemon>,
}

impl Cluster {
    /// Starts munged, slurmctld and slurmd with everything (key, sockets, state, spool,
    /// logs) in `root/slurm`, on ports free a moment ago, and waits until the node takes
    /// jobs.
    fn start(root: &Path) -> Cluster {
        let dir = root.join("slurm");
        for sub in ["state", "spool"] {
            fs::create_dir_all(dir.join(sub)).expect("create the cluster's folders");
        }
        make_enterable(&dir);
        let mut cluster = Cluster {
            root: root.to_path_buf(),
            dir: dir.clone(),
            conf: dir.join("slurm.conf"),
            daemons: Vec::new(),
        };

        let key = dir.join("munge.key");
        let socket = dir.join("munge.socket");
        let keyfile = format!("--keyfile={}", key.display());
        checked(command("mungekey", &["--create", &keyfile]), "mungekey");
        let mut munged = Command::new("munged");
        munged
            .arg("--foreground")
            .arg(format!("--key-file={}", key.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--pid-file={}", dir.join("munged.pid").display()))
            .arg(format!("--seed-file={}", dir.join("munged.seed").display()))
            .arg(format!("--log-file={}", dir.join("munged.log").display()));
        cluster.daemons.push(Daemon::start("munged", munged, &dir));
        cluster.poll("munged to create its socket", DAEMON_LIMIT, || {
            socket.exists().then_some(())
        });

        fs::write(&cluster.conf, slurm_conf(&dir, &socket)).expect("write slurm.conf");
        // An empty plugin stack, so /etc/slurm/plugstack.conf (if any) is not read.
        fs::write(dir.join("plugstack.conf"), "").expect("write plugstack.conf");

        let slurmctld = cluster.command("slurmctld");
        cluster
            .daemons
            .push(Daemon::start("slurmctld", in_foreground(slurmctld), &dir));
        cluster.poll("slurmctld to answer a ping", DAEMON_LIMIT, || {
            let mut ping = cluster.command("scontrol");
            ping.arg("ping");
            let o = output_within(ping, COMMAND_LIMIT).ok()?;
            text(&o.stdout).contains("is UP").then_some(())
        });

        let slurmd = cluster.command("slurmd");
        cluster
            .daemons
            .push(Daemon::start("slurmd", in_foreground(slurmd), &dir));
        cluster.poll(
            "the node to be idle (slurmd registered)",
            DAEMON_LIMIT,
            || {
                let mut sinfo = cluster.command("sinfo");
                sinfo.args(["--noheader", "--Node", "--format=%T"]);
                let o = output_within(sinfo, COMMAND_LIMIT).ok()?;
                (text(&o.stdout).trim() == "idle").then_some(())
            },
        );
        cluster
    }

    /// A Slurm command (client or daemon) for this cluster: its configuration, and the
    /// binary under test first on PATH, so jobs (which get the submitter's environment)
    /// find `swarmlab`. Slurm variables of an enclosing job are not passed on.
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy().into_owned();
            if name.starts_with("SLURM_") || name.starts_with("SBATCH_") {
                cmd.env_remove(name);
            }
        }
        let bin_dir = Path::new(common::bin())
            .parent()
            .expect("the binary is in a folder");
        let path = std::env::var("PATH").unwrap_or_default();
        cmd.env("SLURM_CONF", &self.conf)
            .env("SBATCH_EXPORT", "ALL")
            .env("PATH", format!("{}:{path}", bin_dir.display()))
            .current_dir(&self.dir);
        cmd
    }

    /// Runs a README block with bash (stopping at its first failing command) in
    /// `project`, with extra environment `env`; returns what it printed.
    fn run_block(&self, block: &str, project: &Path, env: &[(&str, &str)]) -> String {
        let mut bash = self.command("bash");
        bash.args(["-euo", "pipefail", "-c", block])
            .current_dir(project);
        for (name, value) in env {
            bash.env(name, value);
        }
        let o = output_within(bash, COMMAND_LIMIT)
            .unwrap_or_else(|e| panic!("README block failed to run: {e}\n{block}"));
        assert!(
            o.status.success(),
            "README block failed ({}): {}\n{block}{}",
            o.status,
            text(&o.stderr),
            self.diagnostics()
        );
        text(&o.stdout)
    }

    /// The records of job `id` (one per array task); none once Slurm forgets it.
    fn job(&self, id: &str) -> Vec<Job> {
        let mut scontrol = self.command("scontrol");
        scontrol.args(["--oneliner", "show", "job", id]);
        let Ok(o) = output_within(scontrol, COMMAND_LIMIT) else {
            return Vec::new();
        };
        text(&o.stdout)
            .lines()
            .filter(|l| l.starts_with("JobId="))
            .map(|l| {
                Job(l
                    .split_whitespace()
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect())
            })
            .collect()
    }

    /// Waits until no record of job `id` is pending or running; returns its records,
    /// array tasks sorted by task id.
    fn wait_until_finished(&self, id: &str, limit: Duration) -> Vec<Job> {
        let mut jobs = self.poll(&format!("job {id} to finish"), limit, || {
            let jobs = self.job(id);
            (!jobs.is_empty() && jobs.iter().all(Job::is_finished)).then_some(jobs)
        });
        jobs.sort_by_key(|j| j.get("ArrayTaskId").parse::<u32>().unwrap_or(0));
        jobs
    }

    /// Calls `check` until it returns something, at most `limit`; fails naming `what`,
    /// with the queue and the daemons' logs, if it never does or a daemon died.
    fn poll<T>(&self, what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
        let start = Instant::now();
        loop {
            if let Some(found) = check() {
                return found;
            }
            if let Some(dead) = self.daemons.iter().find(|d| d.has_exited()) {
                panic!(
                    "{} exited while waiting for {what}: this machine cannot run the Slurm cluster{}",
                    dead.name,
                    self.diagnostics()
                );
            }
            if start.elapsed() > limit {
                panic!(
                    "timed out after {limit:?} waiting for {what}{}",
                    self.diagnostics()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The queue and the end of every daemon's log, for a failure message.
    fn diagnostics(&self) -> String {
        let mut out = String::new();
        if self.daemons.len() > 1 {
            let mut squeue = self.command("squeue");
            squeue.args(["--all", "--format=%i %j %T %r"]);
            if let Ok(o) = output_within(squeue, Duration::from_secs(10)) {
                out.push_str(&format!("\n--- squeue:\n{}", text(&o.stdout)));
            }
        }
        for d in &self.daemons {
            out.push_str(&format!("\n--- {} log (end):\n{}", d.name, d.log_tail()));
        }
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Jobs are not children of slurmd (slurmstepd detaches into its own session), so
        // stopping the daemons would leave running jobs behind: cancel them first.
        if self.daemons.len() == 3 && !self.daemons.iter().any(Daemon::has_exited) {
            let mut scancel = self.command("scancel");
            scancel.args(["--user", "root"]);
            let _ = output_within(scancel, Duration::from_secs(10));
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                let mut squeue = self.command("squeue");
                squeue.args(["--noheader", "--states=RUNNING,COMPLETING"]);
                match output_within(squeue, Duration::from_secs(10)) {
                    Ok(o) if o.status.success() && o.stdout.is_empty() => break,
                    Ok(_) => std::thread::sleep(Duration::from_millis(200)),
                    Err(_) => break,
                }
            }
        }
        // slurmd, slurmctld, then munged, which the other two need while they stop.
        while let Some(daemon) = self.daemons.pop() {
            drop(daemon);
        }
        kill_processes_working_in(&self.root);
    }
}

/// slurm.conf for a one-node cluster on this machine, everything under `dir`.
fn slurm_conf(dir: &Path, munge_socket: &Path) -> String {
    let host = checked(command("hostname", &["-s"]), "hostname -s");
    let host = host.trim();
    // `slurmd -C` prints this machine's node line (CPUs, sockets, RealMemory …); a node
    // configured with more than it has would be drained.
    let hardware = checked(command("slurmd", &["-C"]), "slurmd -C");
    let node = hardware
        .lines()
        .find(|l| l.starts_with("NodeName="))
        .unwrap_or_else(|| panic!("`slurmd -C` printed no NodeName line:\n{hardware}"));
    let node_name = node
        .split_whitespace()
        .next()
        .and_then(|w| w.strip_prefix("NodeName="))
        .expect("NodeName=… starts the line");
    let d = dir.display();
    let (ctld_port, slurmd_port) = two_free_ports();
    format!(
        "# A one-node cluster for tests/slurm.rs, everything in {d}.
ClusterName=swarmlabtest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
# Everything runs as root here.
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={socket}
CredType=cred/munge
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
PlugStackConfig={d}/plugstack.conf
# No cgroups: processes tracked through their parents, tasks not confined.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
MailProg=/bin/true
# CPUs are the consumable resource (not memory), so two 1-CPU tasks share a 2-CPU node.
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
# Keep finished jobs visible to scontrol for the whole test.
MinJobAge=3600
SlurmctldDebug=info
SlurmdDebug=info
{node} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=test Nodes={node_name} Default=YES MaxTime=INFINITE State=UP
",
        socket = munge_socket.display(),
    )
}

/// Two distinct loopback ports that were free a moment ago.
fn two_free_ports() -> (u16, u16) {
    let a = common::free_port();
    loop {
        let b = common::free_port();
        if b != a {
            return (a, b);
        }
    }
}

/// A daemon in the foreground (`-D`): it stays the test's child and logs to stderr.
fn in_foreground(mut daemon: Command) -> Command {
    daemon.arg("-D");
    daemon
}

/// `program` with `args`.
fn command(program: &str, args: &[&str]) -> Command {
    let mut c = Command::new(program);
    c.args(args);
    c
}

/// A daemon run by the test in its own process group; dropping it stops the whole group
/// (daemons fork helpers, e.g. slurmctld's slurmscriptd): TERM, then KILL after a
/// bounded wait.
struct Daemon {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(name: &'static str, mut cmd: Command, dir: &Path) -> Daemon {
        let log = dir.join(format!("{name}.log"));
        let file = fs::File::create(&log).expect("create a daemon log");
        let child = cmd
            .current_dir(dir)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("clone a log handle"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e} ({INSTALL})"));
        Daemon { name, child, log }
    }

    fn has_exited(&self) -> bool {
        matches!(process_state(self.child.id()), None | Some('Z'))
    }

    fn log_tail(&self) -> String {
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let group = self.child.id();
        signal_group(group, "TERM");
        let start = Instant::now();
        while !self.has_exited() && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(50));
        }
        // Before reaping the leader, so its id (the group's) cannot be reused yet.
        signal_group(group, "KILL");
        let _ = self.child.wait();
    }
}

/// The state letter of process `pid` (`R`, `S`, `Z` …), `None` if it is gone.
fn process_state(pid: u32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name in parentheses may hold spaces; the state follows it.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

fn signal_group(group: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([format!("-{signal}"), "--".into(), format!("-{group}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Kills what is left of the cluster's jobs after its daemons stopped: slurmstepd
/// works in slurmd's folder and jobs in their submission folder, both under `root`.
fn kill_processes_working_in(root: &Path) {
    let Ok(entries) = fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        if fs::read_link(entry.path().join("cwd")).is_ok_and(|cwd| cwd.starts_with(root)) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
}

const INSTALL: &str = "the Slurm tests need Debian's packages: apt-get install -y slurm-wlm munge";

/// Runs a setup command that must succeed; returns its stdout.
fn checked(cmd: Command, what: &str) -> String {
    let o = output_within(cmd, COMMAND_LIMIT).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        o.status.success(),
        "{what} failed ({}): {}",
        o.status,
        text(&o.stderr)
    );
    text(&o.stdout)
}

/// Runs `cmd` to completion, killing it after `limit`.
fn output_within(mut cmd: Command, limit: Duration) -> Result<Output, String> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e} ({INSTALL})"))?;
    // Read both pipes while waiting, so a chatty command cannot block on a full pipe.
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{program} did not finish within {limit:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for {program}: {e}")),
        }
    };
    Ok(Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
