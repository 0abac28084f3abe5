//! `cargo atelier bench [PAGE] [-- args]`: builds, then runs one bench page (default
//! `suite.html`, the whole suite) in headless Chromium with a 15-minute budget, printing
//! its `log` lines as they come and saving its other `data` reports as
//! `target/bench/<name>.json`.
//!
//! The benchmark harness of the pages (`benches/browser/harness/`) does the measuring and
//! the statistics; [`BenchIo`] does what a page cannot: it shows the progress line, writes
//! the run record, the HTML report and the baselines, and measures the CPU time of the
//! browser's processes over the idle windows of the idle-CPU benchmarks.

use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::build;
use crate::chromium::{find_chromium, run_page, PageOptions};
use crate::process::fmt_duration;
use crate::repo::Repo;
use crate::report::Report;
use crate::server::serve;
use crate::setup::{self, Needs};
use crate::suite::{print_page_failure, print_report};
use crate::term::clean;

/// The page `cargo atelier bench` runs when none is named: the whole suite.
pub const DEFAULT_PAGE: &str = "suite";

/// The bench page budget.
pub const BENCH_BUDGET: Duration = Duration::from_secs(15 * 60);

/// Percent-encodes a query component.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Options of the bench pages that never take a value, so `-- --smoke noop` is the flag
/// `smoke` and the filter `noop`, not `smoke=noop`.
pub const BOOLEAN_FLAGS: &[&str] = &["smoke"];

/// Builds the query string from the arguments after `--`:
/// `--key=value` and `key=value` give `key=value`; `--key value` gives `key=value`
/// (unless `key` is one of [`BOOLEAN_FLAGS`]); a lone `--flag` or `word` gives `flag` / `word`.
pub fn query_from_args(args: &[String]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let bare = arg.trim_start_matches('-');
        if let Some((k, v)) = bare.split_once('=') {
            parts.push(format!("{}={}", encode(k), encode(v)));
        } else if arg.starts_with("--")
            && !BOOLEAN_FLAGS.contains(&bare)
            && i + 1 < args.len()
            && !args[i + 1].starts_with("--")
        {
            parts.push(format!("{}={}", encode(bare), encode(&args[i + 1])));
            i += 1;
        } else {
            parts.push(encode(bare));
        }
        i += 1;
    }
    parts.join("&")
}

/// A file stem that is safe to write under `target/bench/`.
pub fn safe_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim_start_matches('.').to_string();
    if s.is_empty() {
        "unnamed".into()
    } else {
        s
    }
}

/// Runs the bench; returns whether the page finished without failure.
pub fn run(repo: &Repo, page: Option<&str>, args: &[String]) -> Result<bool, String> {
    let page = page.unwrap_or(DEFAULT_PAGE);
    let file = if page.ends_with(".html") {
        page.to_string()
    } else {
        format!("{page}.html")
    };
    let path = repo.path("benches/browser").join(&file);
    if !path.is_file() {
        let available: Vec<String> = std::fs::read_dir(repo.path("benches/browser"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.ends_with(".html"))
            .collect();
        return Err(format!(
            "{} does not exist: pass one of the bench pages ({})",
            path.display(),
            if available.is_empty() {
                "there are none yet".to_string()
            } else {
                available.join(", ")
            }
        ));
    }
    let setup = setup::setup(Needs {
        miri: false,
        ..Needs::ALL
    });
    if let Some(e) = setup.errors.first() {
        return Err(e.clone());
    }
    build::build(repo)?;
    let chromium = find_chromium()
        .ok_or("Chromium not found: run `cargo atelier setup` (or set $CHROMIUM)")?;
    let server = serve(repo.root(), "127.0.0.1", 0)?;
    let query = query_from_args(args);
    let target = if query.is_empty() {
        format!("/benches/browser/{file}")
    } else {
        format!("/benches/browser/{file}?{query}")
    };
    println!(
        "==> bench {} (budget {})",
        server.url(&target),
        fmt_duration(BENCH_BUDGET)
    );
    let out_dir = repo.bench_out_dir();
    let mut io = BenchIo::new(repo, std::io::stdout().is_terminal());
    let mut save_errors = Vec::new();
    let run = run_page(
        &chromium,
        &server,
        &target,
        &PageOptions::long(BENCH_BUDGET),
        &mut |r| {
            if io.handle(r) {
                return;
            }
            io.clear_progress();
            match r {
                Report::Data { name, json, .. } => {
                    let dest = out_dir.join(format!("{}.json", safe_name(name)));
                    match write_json(&dest, json) {
                        Ok(()) => println!("  saved {}", dest.display()),
                        Err(e) => save_errors.push(e),
                    }
                }
                // Each benchmark is a test of the page; its output is the criterion block.
                Report::Result { ok: true, .. } => {}
                _ => print_report(&file, r),
            }
        },
    );
    io.clear_progress();
    io.print_saved();
    save_errors.append(&mut io.errors);
    for e in &save_errors {
        println!("  error: {e}");
    }
    if !run.ok() {
        print_page_failure(&run);
    }
    println!(
        "==> bench {file}: {} ({}; {} passed, {} failed)",
        if run.ok() && save_errors.is_empty() {
            "finished"
        } else {
            "FAILED"
        },
        fmt_duration(run.elapsed),
        run.passed(),
        run.failed()
    );
    Ok(run.ok() && save_errors.is_empty())
}

fn write_text(dest: &Path, text: &str) -> Result<(), String> {
    dest.parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(dest, text))
        .map_err(|e| {
            format!(
                "cannot write {} ({e}): check that target/ is writable",
                dest.display()
            )
        })
}

fn write_json(dest: &Path, json: &Value) -> Result<(), String> {
    write_text(
        dest,
        &serde_json::to_string_pretty(json).unwrap_or_default(),
    )
}

/// The bench harness's requests to the driver (`benches/browser/harness/runner.js`): its
/// `data` reports named `bench:*`. Files go under `target/bench/` (`target/bench/smoke/`
/// for a smoke run), which the server serves at `/target/bench/`, so the page reads back
/// what the driver wrote (baselines, CPU measurements).
pub struct BenchIo {
    bench_dir: PathBuf,
    /// Show `bench:progress` lines (on a terminal only: they overwrite each other).
    show_progress: bool,
    progress_shown: bool,
    /// CPU snapshots at the start of each open idle window, by token.
    windows: HashMap<String, CpuSnapshot>,
    /// Where the run record and the report went, printed at the end.
    saved: Vec<PathBuf>,
    /// Baseline files written, by baseline directory.
    baselines: Vec<(PathBuf, usize)>,
    /// What could not be done, each with the fix.
    pub errors: Vec<String>,
}

impl BenchIo {
    /// Removes the CPU measurements of earlier runs.
    pub fn new(repo: &Repo, show_progress: bool) -> BenchIo {
        let bench_dir = repo.bench_out_dir();
        for dir in [bench_dir.join("cpu"), bench_dir.join("smoke").join("cpu")] {
            let _ = std::fs::remove_dir_all(dir);
        }
        BenchIo {
            bench_dir,
            show_progress,
            progress_shown: false,
            windows: HashMap::new(),
            saved: Vec::new(),
            baselines: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn root(&self, json: &Value) -> PathBuf {
        if json["smoke"].as_bool() == Some(true) {
            self.bench_dir.join("smoke")
        } else {
            self.bench_dir.clone()
        }
    }

    /// Erases the progress line, if one is shown, before other output.
    pub fn clear_progress(&mut self) {
        if self.progress_shown {
            print!("\r\x1b[2K");
            let _ = std::io::stdout().flush();
            self.progress_shown = false;
        }
    }

    /// Handles a `bench:*` report; false for any other report (the caller's to print).
    pub fn handle(&mut self, report: &Report) -> bool {
        let Report::Data { name, json, .. } = report else {
            return false;
        };
        let Some(kind) = name.strip_prefix("bench:") else {
            return false;
        };
        let result = match kind {
            "progress" => {
                if self.show_progress {
                    let line = json["line"].as_str().unwrap_or("");
                    print!("\r\x1b[2K{}", truncate(&clean(line), 150));
                    let _ = std::io::stdout().flush();
                    self.progress_shown = true;
                }
                Ok(())
            }
            "cpu" => self.cpu(json),
            "baseline" => self.baseline(json),
            "run" => self.run_record(json),
            "report" => self.report(json),
            other => Err(format!(
                "unknown bench request {other:?}: the page and atelier-serve disagree; rebuild atelier-serve"
            )),
        };
        if let Err(e) = result {
            self.errors.push(e);
        }
        true
    }

    fn cpu(&mut self, json: &Value) -> Result<(), String> {
        let token = safe_name(json["token"].as_str().unwrap_or(""));
        match json["phase"].as_str() {
            Some("start") => {
                self.windows
                    .insert(token, CpuSnapshot::take(&profile_prefix()));
                Ok(())
            }
            Some("end") => {
                let end = CpuSnapshot::take(&profile_prefix());
                let start = self.windows.remove(&token).ok_or_else(|| {
                    format!("a CPU window {token:?} ended that never started: a bug in the bench harness")
                })?;
                let dest = self.root(json).join("cpu").join(format!("{token}.json"));
                let window = cpu_window(&start, &end);
                if window["processes"].as_u64() == Some(0) {
                    // The page waits for the file; an error in it fails that benchmark.
                    let e = "no Chromium process of this run found in /proc: the idle-CPU benchmark needs Linux's /proc and the driver's --user-data-dir naming (serve/src/chromium.rs)";
                    return write_json(&dest, &serde_json::json!({ "error": e }));
                }
                write_json(&dest, &window)
            }
            other => Err(format!(
                "bench:cpu with phase {other:?}: expected start or end"
            )),
        }
    }

    /// Saves one benchmark's baseline record, and adds its stem to the baseline's
    /// `index.json` (which the page reads first, instead of probing for absent files).
    fn baseline(&mut self, json: &Value) -> Result<(), String> {
        let name = safe_name(json["baseline"].as_str().unwrap_or("base"));
        let dir = self.root(json).join("baselines").join(name);
        let stem = safe_name(json["stem"].as_str().unwrap_or(""));
        write_json(&dir.join(format!("{stem}.json")), &json["record"])?;
        let index = dir.join("index.json");
        let mut stems: Vec<String> = std::fs::read_to_string(&index)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| {
                v["stems"].as_array().map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
            })
            .unwrap_or_default();
        if !stems.contains(&stem) {
            stems.push(stem);
            stems.sort();
        }
        write_json(&index, &serde_json::json!({ "stems": stems }))?;
        match self.baselines.iter_mut().find(|(d, _)| *d == dir) {
            Some((_, n)) => *n += 1,
            None => self.baselines.push((dir, 1)),
        }
        Ok(())
    }

    fn run_record(&mut self, json: &Value) -> Result<(), String> {
        let root = self.root(json);
        let name = safe_name(json["name"].as_str().unwrap_or("run"));
        let stamp = safe_name(json["stamp"].as_str().unwrap_or("unknown"));
        let latest = root.join(format!("{name}.json"));
        write_json(&latest, &json["record"])?;
        write_json(
            &root.join("runs").join(format!("{stamp}-{name}.json")),
            &json["record"],
        )?;
        self.saved.push(latest);
        Ok(())
    }

    fn report(&mut self, json: &Value) -> Result<(), String> {
        let file = safe_name(json["file"].as_str().unwrap_or("index"));
        let dest = self.root(json).join("report").join(format!("{file}.html"));
        let html = json["html"]
            .as_str()
            .ok_or("bench:report without its html: a bug in the bench harness")?;
        write_text(&dest, html)?;
        self.saved.push(dest);
        Ok(())
    }

    /// Prints where the run record, the report and the baselines went.
    pub fn print_saved(&self) {
        for p in &self.saved {
            println!("  saved {}", p.display());
        }
        for (dir, n) in &self.baselines {
            println!("  saved {n} baseline file(s) in {}", dir.display());
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max - 1).chain(['…']).collect()
    }
}

/// The start of the `--user-data-dir` of the browsers this process launches: the driver
/// (`chromium.rs`) names profiles `<tmp>/atelier-chromium-<our pid>-<random>`, and this
/// process runs one browser at a time, so the prefix finds exactly this run's processes.
fn profile_prefix() -> String {
    format!(
        "--user-data-dir={}",
        std::env::temp_dir()
            .join(format!("atelier-chromium-{}-", std::process::id()))
            .display()
    )
}

/// CPU time of every thread of the processes of this run, at one moment.
struct CpuSnapshot {
    at: Instant,
    /// Nanoseconds on CPU per (pid, tid), from `/proc/<pid>/task/<tid>/schedstat`.
    threads: HashMap<(u32, u32), u64>,
    /// Clock ticks (utime + stime, every thread, dead ones too) per pid, from `/proc/<pid>/stat`.
    ticks: HashMap<u32, u64>,
    /// The process type (`renderer`, `gpu-process`, `utility`, `zygote`, `browser`) per pid.
    kinds: HashMap<u32, String>,
    /// The thread names (`/proc/<pid>/task/<tid>/comm`: `CrRendererMain`, `DedicatedWorker`,
    /// `V8 DefaultWorke`...) per (pid, tid).
    names: HashMap<(u32, u32), String>,
}

impl CpuSnapshot {
    fn take(prefix: &str) -> CpuSnapshot {
        let mut snap = CpuSnapshot {
            at: Instant::now(),
            threads: HashMap::new(),
            ticks: HashMap::new(),
            kinds: HashMap::new(),
            names: HashMap::new(),
        };
        let pids = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()));
        for pid in pids {
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                continue;
            };
            // Zygote-forked helpers (renderers) rewrite their title: the arguments are
            // then one string joined by spaces, not NUL-separated. Search the raw bytes.
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if !cmdline.contains(prefix) {
                continue;
            }
            let kind = cmdline
                .split(' ')
                .find_map(|a| a.strip_prefix("--type="))
                .unwrap_or("browser")
                .to_string();
            snap.kinds.insert(pid, kind);
            if let Some(t) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| stat_ticks(&s))
            {
                snap.ticks.insert(pid, t);
            }
            let tids = std::fs::read_dir(format!("/proc/{pid}/task"))
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()));
            for tid in tids {
                if let Some(ns) =
                    std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/schedstat"))
                        .ok()
                        .and_then(|s| s.split_whitespace().next()?.parse().ok())
                {
                    snap.threads.insert((pid, tid), ns);
                    if let Ok(name) =
                        std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm"))
                    {
                        snap.names.insert((pid, tid), name.trim().to_string());
                    }
                }
            }
        }
        snap
    }
}

/// `utime + stime` (fields 14 and 15) of a `/proc/<pid>/stat` line.
fn stat_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) may hold spaces and parentheses: count after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state), so field n is at index n - 3.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The CPU used between two snapshots, as JSON for the page: milliseconds and percent of
/// one core, in total and per process type. Threads that started in between count from
/// zero; threads that ended in between are missed by schedstat (the tick count keeps them,
/// at 10 ms resolution, and is given alongside as a check).
fn cpu_window(start: &CpuSnapshot, end: &CpuSnapshot) -> Value {
    let wall_ns = end.at.duration_since(start.at).as_nanos().max(1) as f64;
    let mut by_kind: BTreeMap<String, f64> = BTreeMap::new();
    let mut by_thread: BTreeMap<String, f64> = BTreeMap::new();
    let mut total_ns = 0.0;
    for (key, ns) in &end.threads {
        let before = start.threads.get(key).copied().unwrap_or(0);
        let d = ns.saturating_sub(before) as f64;
        total_ns += d;
        let kind = end.kinds.get(&key.0).cloned().unwrap_or_default();
        if kind == "renderer" && d > 0.0 {
            let name = end.names.get(key).cloned().unwrap_or_default();
            *by_thread.entry(name).or_default() += d;
        }
        *by_kind.entry(kind).or_default() += d;
    }
    let tick_ns = 1e9 / 100.0; // USER_HZ is 100 on Linux
    let ticks_ns: f64 = end
        .ticks
        .iter()
        .map(|(pid, t)| {
            t.saturating_sub(start.ticks.get(pid).copied().unwrap_or(0)) as f64 * tick_ns
        })
        .sum();
    let pct = |ns: f64| ns / wall_ns * 100.0;
    let renderer_ns = by_kind.get("renderer").copied().unwrap_or(0.0);
    serde_json::json!({
        "wallMs": wall_ns / 1e6,
        "processes": end.kinds.len(),
        "threads": end.threads.len(),
        "method": "schedstat of every thread",
        "cpuMs": {
            "total": total_ns / 1e6,
            "renderer": renderer_ns / 1e6,
            "byType": by_kind.iter().map(|(k, v)| (k.clone(), Value::from(v / 1e6))).collect::<serde_json::Map<_, _>>(),
            "statTicks": ticks_ns / 1e6,
        },
        "pct": {
            "total": pct(total_ns),
            "renderer": pct(renderer_ns),
            "byType": by_kind.iter().map(|(k, v)| (k.clone(), Value::from(pct(*v)))).collect::<serde_json::Map<_, _>>(),
            "rendererThreads": by_thread.iter().map(|(k, v)| (k.clone(), Value::from(pct(*v)))).collect::<serde_json::Map<_, _>>(),
            "statTicks": pct(ticks_ns),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn builds_queries() {
        assert_eq!(query_from_args(&v(&[])), "");
        assert_eq!(
            query_from_args(&v(&[
                "--size=1024",
                "--iters",
                "10",
                "quick",
                "a b=c&d",
                "--flag"
            ])),
            "size=1024&iters=10&quick&a%20b=c%26d&flag"
        );
        assert_eq!(
            query_from_args(&v(&["--smoke", "noop", "--baseline", "main"])),
            "smoke&noop&baseline=main"
        );
    }

    #[test]
    fn reads_cpu_ticks_from_proc_stat() {
        // The command name may hold spaces and parentheses.
        let line = "4242 (Chrome (x) y) S 1 2 3 4 5 6 7 8 9 10 150 25 0 0 20 0 30 0";
        assert_eq!(stat_ticks(line), Some(175));
        assert_eq!(stat_ticks("garbage"), None);
        let own = std::fs::read_to_string("/proc/self/stat").unwrap();
        assert!(stat_ticks(&own).is_some());
    }

    fn snapshot(ms: u64, threads: &[((u32, u32), u64)], kinds: &[(u32, &str)]) -> CpuSnapshot {
        let base = Instant::now();
        CpuSnapshot {
            at: base + Duration::from_millis(ms),
            threads: threads.iter().copied().collect(),
            ticks: kinds.iter().map(|(p, _)| (*p, ms / 10)).collect(),
            kinds: kinds.iter().map(|(p, k)| (*p, k.to_string())).collect(),
            names: threads
                .iter()
                .map(|(k, _)| (*k, format!("t{}", k.1)))
                .collect(),
        }
    }

    #[test]
    fn cpu_window_sums_threads_by_process_type() {
        let kinds = [(1, "browser"), (2, "renderer")];
        let start = snapshot(0, &[((1, 1), 1_000_000), ((2, 2), 5_000_000)], &kinds);
        // 2 s later: the browser used 10 ms, the renderer's main thread 30 ms and a new
        // worker thread 20 ms.
        let mut end = snapshot(
            0,
            &[
                ((1, 1), 11_000_000),
                ((2, 2), 35_000_000),
                ((2, 3), 20_000_000),
            ],
            &kinds,
        );
        end.at = start.at + Duration::from_secs(2);
        let w = cpu_window(&start, &end);
        let close = |v: &Value, x: f64| (v.as_f64().unwrap() - x).abs() < 1e-9;
        assert!(close(&w["wallMs"], 2000.0), "{w}");
        assert!(close(&w["cpuMs"]["total"], 60.0), "{w}");
        assert!(close(&w["cpuMs"]["renderer"], 50.0), "{w}");
        assert!(close(&w["pct"]["renderer"], 2.5), "{w}");
        assert!(close(&w["pct"]["total"], 3.0), "{w}");
        assert!(close(&w["pct"]["byType"]["browser"], 0.5), "{w}");
        assert!(close(&w["pct"]["rendererThreads"]["t3"], 1.0), "{w}");
        assert_eq!(w["processes"], 2);
    }

    #[test]
    fn bench_io_writes_runs_reports_baselines_and_cpu_windows() {
        let dir = std::env::temp_dir().join(format!("atelier-bench-io-{}", std::process::id()));
        let repo = Repo::at(&dir);
        let mut io = BenchIo::new(&repo, false);
        let data = |name: &str, json: Value| Report::Data {
            page: "/benches/browser/suite.html".into(),
            name: name.into(),
            json,
        };
        assert!(!io.handle(&Report::Log {
            page: "/p".into(),
            line: "x".into()
        }));
        assert!(!io.handle(&data("dispatch", serde_json::json!({}))));
        assert!(io.handle(&data(
            "bench:progress",
            serde_json::json!({"line": "Warming up"})
        )));
        assert!(io.handle(&data(
            "bench:run",
            serde_json::json!({"smoke": false, "name": "suite", "stamp": "2026-11-26T00-00-00", "record": {"a": 1}})
        )));
        assert!(io.handle(&data(
            "bench:report",
            serde_json::json!({"smoke": true, "file": "index", "html": "<!doctype html>"})
        )));
        for stem in ["b.x", "a.y", "b.x"] {
            assert!(io.handle(&data(
                "bench:baseline",
                serde_json::json!({"smoke": false, "baseline": "main", "stem": stem, "record": {"values": [1, 2]}})
            )));
        }
        assert!(io.handle(&data(
            "bench:cpu",
            serde_json::json!({"token": "t1", "phase": "start", "smoke": false})
        )));
        assert!(io.handle(&data(
            "bench:cpu",
            serde_json::json!({"token": "t1", "phase": "end", "smoke": false})
        )));
        assert!(io.handle(&data(
            "bench:cpu",
            serde_json::json!({"token": "never", "phase": "end"})
        )));
        assert!(io.handle(&data("bench:bogus", serde_json::json!({}))));
        assert_eq!(io.errors.len(), 2, "{:?}", io.errors);
        assert!(io.errors[0].contains("never started"), "{:?}", io.errors);
        assert!(
            io.errors[1].contains("unknown bench request"),
            "{:?}",
            io.errors
        );

        let read = |p: &str| std::fs::read_to_string(dir.join(p)).unwrap();
        let json = |p: &str| serde_json::from_str::<Value>(&read(p)).unwrap();
        assert_eq!(json("target/bench/suite.json")["a"], 1);
        assert_eq!(
            json("target/bench/runs/2026-11-26T00-00-00-suite.json")["a"],
            1
        );
        assert_eq!(
            read("target/bench/smoke/report/index.html"),
            "<!doctype html>"
        );
        assert_eq!(
            json("target/bench/baselines/main/index.json")["stems"],
            serde_json::json!(["a.y", "b.x"])
        );
        assert_eq!(json("target/bench/baselines/main/b.x.json")["values"][1], 2);
        // No browser of this process is running: the window says so instead of a zero.
        assert!(read("target/bench/cpu/t1.json").contains("no Chromium process"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn truncates_long_progress_lines() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("abcdef", 4), "abc…");
    }

    #[test]
    fn safe_names() {
        assert_eq!(safe_name("dispatch-latency"), "dispatch-latency");
        assert_eq!(safe_name("../../etc/x"), "_.._etc_x");
        assert_eq!(safe_name("a b/c"), "a_b_c");
        assert_eq!(safe_name(""), "unnamed");
    }
}
