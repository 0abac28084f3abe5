//! The Chromium driver: runs one page in headless Chromium and gathers its reports.
//!
//! One fresh browser per page, with a fresh temporary profile, in a process group of
//! its own that is killed as a whole when the page ends (and by a watchdog process if
//! the driver itself dies), so no browser or profile outlives a run. The page's harness
//! (`serve/js/harness.js`) POSTs reports to the server; the driver reads them off
//! the server's channel, and stops the browser when the page reports `done`, or
//! when a deadline passes:
//! - the page not requested within [`PageOptions::launch_timeout`] (the browser
//!   did not start, or cannot reach the server),
//! - no `hello` within [`PageOptions::hello_timeout`] of the page being served
//!   (the harness never ran: usually a failed import),
//! - no report at all for [`PageOptions::idle_timeout`] (reset by every report),
//! - the absolute cap [`PageOptions::cap`], which a `hello` with `timeoutMs` raises.

use std::collections::HashSet;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::process::fmt_duration;
use crate::report::{Event, Report};
use crate::server::ServerHandle;
use tempfile::TempDir;

/// How many browser log lines are kept per page (the newest ones).
const MAX_LOG_LINES: usize = 5000;
/// How many console lines are printed when a page fails.
pub const CONSOLE_TAIL: usize = 40;

/// The environment variables that name the browser, in the order they are read.
pub const CHROMIUM_VARS: [&str; 3] = ["CHROMIUM", "CHROME", "CHROME_PATH"];

/// Debian's Chromium (what `cargo atelier setup` installs).
pub const DEBIAN_CHROMIUM: &str = "/usr/bin/chromium";

/// Browser names looked for on `PATH`.
const PATH_NAMES: [&str; 5] = [
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "chrome",
];

/// The environment and file system as [`locate_chromium_with`] sees them, so the search
/// order can be tested without a browser.
pub struct Probe<'a> {
    /// An environment variable.
    pub var: &'a dyn Fn(&str) -> Option<OsString>,
    /// Whether a path is a file.
    pub is_file: &'a dyn Fn(&Path) -> bool,
    /// The entries of a directory (none if it cannot be read).
    pub list_dir: &'a dyn Fn(&Path) -> Vec<PathBuf>,
}

/// Where Chromium is, searched in this order:
/// 1. `$CHROMIUM`, `$CHROME`, `$CHROME_PATH`: the first one set is used, and must name a
///    file (an error otherwise, so a typo is not silently replaced by another browser);
/// 2. Debian's `/usr/bin/chromium`;
/// 3. `chromium`, `chromium-browser`, `google-chrome`, `google-chrome-stable`, `chrome`
///    on `PATH`;
/// 4. Playwright's browsers (`$PLAYWRIGHT_BROWSERS_PATH`, else `~/.cache/ms-playwright`):
///    `chromium-<revision>/chrome-linux/chrome` (or `chrome-linux64/`), newest revision first.
///
/// `Ok(None)` when there is none.
pub fn locate_chromium_with(p: &Probe<'_>) -> Result<Option<PathBuf>, String> {
    for var in CHROMIUM_VARS {
        let Some(value) = (p.var)(var).filter(|v| !v.is_empty()) else {
            continue;
        };
        let path = PathBuf::from(value);
        if (p.is_file)(&path) {
            return Ok(Some(path));
        }
        return Err(format!(
            "${var} is set to {}, which is not a file: unset it or point it at a Chromium binary",
            path.display()
        ));
    }
    let debian = Path::new(DEBIAN_CHROMIUM);
    if (p.is_file)(debian) {
        return Ok(Some(debian.to_path_buf()));
    }
    if let Some(path) = (p.var)("PATH") {
        for dir in std::env::split_paths(&path) {
            for name in PATH_NAMES {
                let candidate = dir.join(name);
                if (p.is_file)(&candidate) {
                    return Ok(Some(candidate));
                }
            }
        }
    }
    let cache = (p.var)("PLAYWRIGHT_BROWSERS_PATH")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| (p.var)("HOME").map(|h| PathBuf::from(h).join(".cache/ms-playwright")));
    if let Some(cache) = cache {
        let mut builds: Vec<(u64, PathBuf)> = (p.list_dir)(&cache)
            .into_iter()
            .filter_map(|dir| {
                let name = dir.file_name()?.to_str()?;
                let revision = name.strip_prefix("chromium-")?.parse().ok()?;
                Some((revision, dir))
            })
            .collect();
        builds.sort_by_key(|b| std::cmp::Reverse(b.0));
        for (_, dir) in builds {
            for sub in ["chrome-linux/chrome", "chrome-linux64/chrome"] {
                let candidate = dir.join(sub);
                if (p.is_file)(&candidate) {
                    return Ok(Some(candidate));
                }
            }
        }
    }
    Ok(None)
}

/// [`locate_chromium_with`] on this machine's environment and file system.
pub fn locate_chromium() -> Result<Option<PathBuf>, String> {
    let list_dir = |dir: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect()
    };
    locate_chromium_with(&Probe {
        var: &|name| std::env::var_os(name),
        is_file: &|path| path.is_file(),
        list_dir: &list_dir,
    })
}

/// Where Chromium is (see [`locate_chromium_with`]); `None` when there is none, or when
/// a variable names a missing file (`cargo atelier setup` explains which).
pub fn find_chromium() -> Option<PathBuf> {
    locate_chromium().ok().flatten()
}

/// Deadlines for one page.
#[derive(Debug, Clone)]
pub struct PageOptions {
    /// Fail if the browser has not requested the page by then (default 30 s).
    pub launch_timeout: Duration,
    /// Fail if the harness has not said `hello` this long after the page was
    /// served (default 10 s).
    pub hello_timeout: Duration,
    /// Fail after this long without any report (default 60 s).
    pub idle_timeout: Duration,
    /// Fail after this long in total (default 120 s); a `hello` with
    /// `timeoutMs` raises both this and the idle timeout to that value.
    pub cap: Duration,
}

impl Default for PageOptions {
    fn default() -> Self {
        PageOptions {
            launch_timeout: Duration::from_secs(30),
            hello_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            cap: Duration::from_secs(120),
        }
    }
}

impl PageOptions {
    /// One budget for everything (benches: 15 minutes).
    pub fn long(budget: Duration) -> Self {
        PageOptions {
            launch_timeout: Duration::from_secs(30).min(budget),
            hello_timeout: Duration::from_secs(30).min(budget),
            idle_timeout: budget,
            cap: budget,
        }
    }
}

/// One test's outcome, as reported by the page.
#[derive(Debug, Clone, PartialEq)]
pub struct TestOutcome {
    /// Test name.
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// Why it failed.
    pub error: Option<String>,
    /// Duration in milliseconds.
    pub ms: f64,
}

/// Everything a page run produced.
#[derive(Debug, Clone, Default)]
pub struct PageRun {
    /// The page path (without query), as the harness reports it.
    pub page: String,
    /// Test results in the order they arrived.
    pub results: Vec<TestOutcome>,
    /// Page errors (uncaught errors, unhandled rejections, worker errors).
    pub errors: Vec<String>,
    /// Whether the page reported `done`.
    pub done: bool,
    /// Why the run failed as a whole (timeout, browser failure), if it did.
    pub failure: Option<String>,
    /// Browser log lines that contain `CONSOLE` (console messages).
    pub console: Vec<String>,
    /// Every browser log line kept (the newest [`MAX_LOG_LINES`]).
    pub log: Vec<String>,
    /// Request paths answered 404 while the page ran (the first 20).
    pub not_found: Vec<String>,
    /// How long the page ran.
    pub elapsed: Duration,
}

impl PageRun {
    /// Tests that passed.
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.ok).count()
    }

    /// Failed tests, plus one per page error, plus one if the run failed as a whole.
    pub fn failed(&self) -> usize {
        self.results.iter().filter(|r| !r.ok).count()
            + self.errors.len()
            + usize::from(self.failure.is_some())
    }

    /// Whether nothing failed.
    pub fn ok(&self) -> bool {
        self.failed() == 0
    }

    /// The last `n` console lines, for a failure report.
    pub fn console_tail(&self, n: usize) -> &[String] {
        &self.console[self.console.len().saturating_sub(n)..]
    }
}

/// The command line used for one page (without the URL); `$ATELIER_CHROMIUM_ARGS`
/// (whitespace-separated) is appended. `--expose-gc` gives pages `gc()`: the benchmarks'
/// paired rounds collect garbage before each timed round (benches/browser/harness/runner.js).
pub fn chromium_args(profile: &Path) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--js-flags=--expose-gc",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        format!("--user-data-dir={}", profile.display()),
        "--enable-logging=stderr".to_string(),
        "--v=0".to_string(),
    ])
    .chain(
        std::env::var("ATELIER_CHROMIUM_ARGS")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string),
    )
    .collect()
}

/// A fresh, empty browser profile, removed when dropped. Named
/// `<tmp>/atelier-chromium-<our pid>-<random>`: the benchmark driver finds this run's
/// browser processes by that prefix of their `--user-data-dir`.
fn fresh_profile_dir() -> Result<TempDir, String> {
    tempfile::Builder::new()
        .prefix(&format!("atelier-chromium-{}-", std::process::id()))
        .tempdir()
        .map_err(|e| {
            format!(
                "cannot create a browser profile in {} ({e}): check that the temp directory is writable (TMPDIR)",
                std::env::temp_dir().display()
            )
        })
}

fn collect_lines<R: Read + Send + 'static>(from: R, sink: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(from);
        let mut line = Vec::new();
        while let Ok(n) = reader.read_until(b'\n', &mut line) {
            if n == 0 {
                break;
            }
            let text = String::from_utf8_lossy(&line).trim_end().to_string();
            if let Ok(mut lines) = sink.lock() {
                if lines.len() >= MAX_LOG_LINES {
                    lines.remove(0);
                }
                lines.push(text);
            }
            line.clear();
        }
    });
}

/// The ids of the live processes whose command line names `profile`: the browser and
/// every helper it started (renderers, GPU, network service, zygotes) carry its
/// `--user-data-dir`, even after they have been reparented.
fn processes_using(profile: &Path) -> Vec<u32> {
    let needle = format!("--user-data-dir={}", profile.display()).into_bytes();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|cmd| cmd.split(|b| *b == 0).any(|arg| arg == needle.as_slice()))
                .unwrap_or(false)
        })
        .collect()
}

fn kill_pids(pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg("-KILL")
        .args(pids.iter().map(u32::to_string))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Kills every process of the group `pgid` (a browser and the helpers it started).
fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// What the watchdog runs: it waits until its standard input ends (the driver closed it,
/// or the driver died, however it died), then kills the browser's process group (`$1`)
/// and removes its profile (`$2`).
/// (`kill -9 -PGID`: dash's `kill` takes neither `--` nor `-s KILL` before a group.)
const WATCHDOG: &str = r#"read -r _; kill -9 "-$1" 2>/dev/null; sleep 1; rm -rf -- "$2""#;

/// Starts the watchdog of a browser whose process group is `pgid`. It runs in a process
/// group of its own, so the Ctrl-C that stops the driver does not stop it.
fn start_watchdog(pgid: u32, profile: &Path) -> Option<Child> {
    Command::new("sh")
        .args(["-c", WATCHDOG, "atelier-watchdog", &pgid.to_string()])
        .arg(profile)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .ok()
}

/// A running browser, started in a process group of its own (its id is the browser's
/// pid). Dropping it, on every path out of [`run_page`] (a return, a panic), kills the
/// whole group and every other process that uses its profile, then removes the profile.
/// If the driver itself dies (killed, Ctrl-C), the watchdog does the same.
struct Browser {
    child: Child,
    watchdog: Option<Child>,
    profile: Option<TempDir>,
}

impl Browser {
    fn profile(&self) -> &Path {
        self.profile.as_ref().map_or(Path::new(""), |p| p.path())
    }

    fn stop(&mut self) {
        // The watchdog first: it would otherwise also act on the group once we let go.
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
        // The browser is not reaped yet, so its pid, which names the group, is not reused.
        kill_group(self.child.id());
        let mut pids = processes_using(self.profile());
        pids.push(self.child.id());
        kill_pids(&pids);
        let _ = self.child.wait();
        // Helpers die asynchronously; sweep until none is left (killed ones are
        // zombies with an empty command line, so they no longer match).
        for _ in 0..40 {
            let left = processes_using(self.profile());
            if left.is_empty() {
                break;
            }
            kill_pids(&left);
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.stop();
        let Some(profile) = self.profile.take() else {
            return;
        };
        let path = profile.path().to_path_buf();
        if profile.close().is_err() {
            // A helper can still be flushing files for a moment after the kill.
            std::thread::sleep(Duration::from_millis(200));
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// Runs `target` (a path with optional query, e.g. `/tests/browser/x.html?a=1`) in a
/// fresh headless Chromium, feeding every report of that page to `on_report` as it
/// arrives, and returns what the page reported.
pub fn run_page(
    chromium: &Path,
    server: &ServerHandle,
    target: &str,
    opts: &PageOptions,
    on_report: &mut dyn FnMut(&Report),
) -> PageRun {
    let page = target
        .split(['?', '#'])
        .next()
        .unwrap_or(target)
        .to_string();
    let mut run = PageRun {
        page: page.clone(),
        ..PageRun::default()
    };
    let started = Instant::now();
    // Reports left over from an earlier page belong to nobody now.
    while server.events().try_recv().is_ok() {}

    let profile = match fresh_profile_dir() {
        Ok(p) => p,
        Err(e) => {
            run.failure = Some(e);
            return run;
        }
    };
    let url = server.url(target);
    let mut cmd = Command::new(chromium);
    cmd.args(chromium_args(profile.path()))
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            run.failure = Some(format!(
                "cannot start {} ({e}): run `cargo atelier setup` to install Chromium, or point $CHROMIUM at a Chromium binary",
                chromium.display()
            ));
            return run;
        }
    };
    let watchdog = start_watchdog(child.id(), profile.path());
    let mut browser = Browser {
        child,
        watchdog,
        profile: Some(profile),
    };
    let log = Arc::new(Mutex::new(Vec::new()));
    if let Some(out) = browser.child.stdout.take() {
        collect_lines(out, log.clone());
    }
    if let Some(err) = browser.child.stderr.take() {
        collect_lines(err, log.clone());
    }

    let mut served: Option<Instant> = None;
    let mut hello = false;
    let mut plan: Option<Vec<String>> = None;
    let mut reported: HashSet<String> = HashSet::new();
    let mut not_found: Vec<String> = Vec::new();
    let mut stray: Vec<String> = Vec::new();
    let mut idle = opts.idle_timeout;
    let mut cap = opts.cap;
    let mut last_activity = Instant::now();

    loop {
        if let Ok(Some(status)) = browser.child.try_wait() {
            run.failure = Some(format!(
                "Chromium exited on its own ({status}) before the page reported done: see the browser log below"
            ));
            break;
        }
        let now = Instant::now();
        // Before the hello, only the launch and hello timeouts (and the cap) apply:
        // a browser that is slow to start is not an idle page.
        let deadline = match (hello, served) {
            (true, _) => (started + cap).min(last_activity + idle),
            (false, Some(at)) => (started + cap).min(at + opts.hello_timeout),
            (false, None) => (started + cap).min(started + opts.launch_timeout),
        };
        if now >= deadline {
            run.failure = Some(timeout_message(
                &TimeoutState {
                    served: served.map(|at| at.elapsed()),
                    hello,
                    plan: plan.as_deref(),
                    reported: &reported,
                    not_found: &not_found,
                    stray: &stray,
                },
                started.elapsed(),
                idle,
                cap,
                last_activity.elapsed(),
            ));
            break;
        }
        let wait = (deadline - now).min(Duration::from_millis(250));
        match server.events().recv_timeout(wait) {
            Ok(Event::Report(report)) => {
                if report.page() != page {
                    stray.push(format!("{} (a {} report)", report.page(), kind_of(&report)));
                    continue;
                }
                last_activity = Instant::now();
                on_report(&report);
                match report {
                    Report::Hello { timeout_ms, .. } => {
                        hello = true;
                        if let Some(ms) = timeout_ms {
                            let t = Duration::from_millis(ms);
                            cap = cap.max(t);
                            idle = idle.max(t);
                        }
                    }
                    Report::Plan { tests, .. } => {
                        hello = true;
                        plan = Some(tests);
                    }
                    Report::Result {
                        name,
                        ok,
                        error,
                        ms,
                        ..
                    } => {
                        reported.insert(name.clone());
                        run.results.push(TestOutcome {
                            name,
                            ok,
                            error,
                            ms,
                        });
                    }
                    Report::Error { message, .. } => run.errors.push(message),
                    Report::Done { .. } => {
                        run.done = true;
                        break;
                    }
                    Report::Log { .. } | Report::Data { .. } => {}
                }
            }
            Ok(Event::PageServed { path }) => {
                if path == page && served.is_none() {
                    served = Some(Instant::now());
                }
            }
            Ok(Event::NotFound { path }) => {
                if not_found.len() < 20 {
                    not_found.push(path);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                run.failure = Some("the HTTP server stopped while the page was running: this is a bug in atelier-serve".into());
                break;
            }
        }
    }

    drop(browser);
    // Give the log readers a moment to drain what the browser wrote last.
    std::thread::sleep(Duration::from_millis(20));
    run.log = log.lock().map(|l| l.clone()).unwrap_or_default();
    run.console = run
        .log
        .iter()
        .filter(|l| l.contains("CONSOLE"))
        .cloned()
        .collect();
    run.elapsed = started.elapsed();
    run.not_found = not_found;
    run
}

fn kind_of(r: &Report) -> &'static str {
    match r {
        Report::Hello { .. } => "hello",
        Report::Plan { .. } => "plan",
        Report::Result { .. } => "result",
        Report::Done { .. } => "done",
        Report::Error { .. } => "error",
        Report::Log { .. } => "log",
        Report::Data { .. } => "data",
    }
}

struct TimeoutState<'a> {
    /// How long ago the page itself was served, if it was.
    served: Option<Duration>,
    hello: bool,
    plan: Option<&'a [String]>,
    reported: &'a HashSet<String>,
    not_found: &'a [String],
    stray: &'a [String],
}

fn timeout_message(
    s: &TimeoutState<'_>,
    elapsed: Duration,
    idle: Duration,
    cap: Duration,
    quiet_for: Duration,
) -> String {
    let mut msg = if let (false, None) = (s.hello, s.served) {
        format!(
            "timed out: Chromium did not request the page within {} of launch: it failed to \
             start or cannot reach the server; see the browser log below",
            fmt_duration(elapsed)
        )
    } else if let (false, Some(since)) = (s.hello, s.served) {
        format!(
            "timed out: no report within {} of the page being served. The page never ran \
             /serve/js/harness.js (a failed import stops the whole module graph; the harness \
             must be imported first), or it cannot reach the server",
            fmt_duration(since)
        )
    } else if elapsed >= cap {
        format!(
            "timed out after {} (the page's cap; raise it with <meta name=\"atelier-timeout-ms\" content=\"...\">)",
            fmt_duration(elapsed)
        )
    } else {
        format!(
            "timed out: no report for {} (idle limit {}); a test may be blocking the main thread",
            fmt_duration(quiet_for),
            fmt_duration(idle)
        )
    };
    match s.plan {
        Some(plan) => {
            let missing: Vec<&str> = plan
                .iter()
                .filter(|t| !s.reported.contains(*t))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                msg.push_str(&format!(
                    "; tests that had not reported: {}",
                    missing.join(", ")
                ));
            }
        }
        None if s.hello => msg.push_str("; done() was never called, so no test ran"),
        None => {}
    }
    if !s.not_found.is_empty() {
        msg.push_str(&format!(
            "; requests answered 404: {} (for /pkg/ run `cargo atelier build`)",
            s.not_found.join(", ")
        ));
    }
    if !s.stray.is_empty() {
        msg.push_str(&format!(
            "; reports arrived for other pages: {} (the page field must be location.pathname)",
            s.stray.join(", ")
        ));
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Runs the search on a fake machine: `vars`, and `files` (with the folders above them).
    fn locate(vars: &[(&str, &str)], files: &[&str]) -> Result<Option<PathBuf>, String> {
        let vars: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        let files: Vec<PathBuf> = files.iter().map(PathBuf::from).collect();
        let list_dir = |dir: &Path| -> Vec<PathBuf> {
            let mut children: Vec<PathBuf> = files
                .iter()
                .filter_map(|f| {
                    let rest = f.strip_prefix(dir).ok()?;
                    Some(dir.join(rest.components().next()?))
                })
                .collect();
            children.sort();
            children.dedup();
            children
        };
        locate_chromium_with(&Probe {
            var: &|name| vars.get(name).cloned(),
            is_file: &|path| files.iter().any(|f| f == path),
            list_dir: &list_dir,
        })
    }

    /// Whether any process is left in the group `pgid` (killed zombies not counted).
    fn group_alive(pgid: u32) -> bool {
        std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .any(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                    // pid (comm) state ppid pgrp ...
                    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
                    let fields: Vec<&str> = after.split_whitespace().collect();
                    fields.first() != Some(&"Z")
                        && fields.get(2) == Some(&pgid.to_string().as_str())
                })
            })
    }

    #[test]
    fn the_watchdog_cleans_up_when_the_driver_is_gone() {
        // A stand-in browser: a process group with a helper, and a profile.
        let profile = fresh_profile_dir().unwrap().keep();
        std::fs::write(profile.join("Local State"), "{}").unwrap();
        let mut browser = Command::new("sh")
            .args(["-c", "sleep 30 & sleep 30"])
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = browser.id();
        let mut watchdog = start_watchdog(pgid, &profile).expect("sh runs");
        std::thread::sleep(Duration::from_millis(100));
        assert!(group_alive(pgid));
        // What the end of the driver does to the watchdog: its standard input closes.
        drop(watchdog.stdin.take());
        let _ = browser.wait();
        let deadline = Instant::now() + Duration::from_secs(5);
        while (group_alive(pgid) || profile.exists()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = watchdog.wait();
        assert!(
            !group_alive(pgid),
            "the browser's group outlived the driver"
        );
        assert!(!profile.exists(), "the profile outlived the driver");
    }

    #[test]
    fn kills_a_whole_process_group() {
        let mut browser = Command::new("sh")
            .args(["-c", "sleep 30 & sleep 30"])
            .process_group(0)
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let pgid = browser.id();
        assert!(group_alive(pgid));
        kill_group(pgid);
        let _ = browser.wait();
        let deadline = Instant::now() + Duration::from_secs(2);
        while group_alive(pgid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!group_alive(pgid), "a helper outlived the group kill");
    }

    #[test]
    fn finds_chromium_in_order() {
        let all = [
            "/opt/env/chromium",
            "/opt/chrome/chrome",
            "/usr/bin/chromium",
            "/usr/local/bin/google-chrome",
            "/home/u/.cache/ms-playwright/chromium-1097/chrome-linux/chrome",
            "/home/u/.cache/ms-playwright/chromium-1200/chrome-linux/chrome",
            "/home/u/.cache/ms-playwright/chromium-999/chrome-linux/chrome",
        ];
        let home = ("HOME", "/home/u");
        let path = ("PATH", "/usr/local/bin:/bin");
        let found = |vars: &[(&str, &str)], files: &[&str]| {
            locate(vars, files)
                .unwrap()
                .map(|p| p.display().to_string())
        };
        // The variables first, in their order.
        assert_eq!(
            found(
                &[
                    home,
                    path,
                    ("CHROMIUM", "/opt/env/chromium"),
                    ("CHROME", "/opt/chrome/chrome")
                ],
                &all
            )
            .as_deref(),
            Some("/opt/env/chromium")
        );
        assert_eq!(
            found(&[home, path, ("CHROME", "/opt/chrome/chrome")], &all).as_deref(),
            Some("/opt/chrome/chrome")
        );
        assert_eq!(
            found(&[home, path, ("CHROME_PATH", "/opt/chrome/chrome")], &all).as_deref(),
            Some("/opt/chrome/chrome")
        );
        // Then Debian's, then PATH, then Playwright's newest build.
        assert_eq!(
            found(&[home, path], &all).as_deref(),
            Some("/usr/bin/chromium")
        );
        assert_eq!(
            found(&[home, path], &all[3..]).as_deref(),
            Some("/usr/local/bin/google-chrome")
        );
        assert_eq!(
            found(&[home, path], &all[4..]).as_deref(),
            Some("/home/u/.cache/ms-playwright/chromium-1200/chrome-linux/chrome")
        );
        let linux64 = "/pw/chromium-1300/chrome-linux64/chrome";
        assert_eq!(
            found(
                &[home, ("PLAYWRIGHT_BROWSERS_PATH", "/pw")],
                &[all[4], linux64]
            )
            .as_deref(),
            Some(linux64)
        );
        assert_eq!(found(&[home, path], &[]), None);
        // A variable that names nothing is an error, not a silent fallback.
        let e = locate(&[("CHROME", "/nope/chrome")], &all).unwrap_err();
        assert!(e.contains("$CHROME") && e.contains("/nope/chrome"), "{e}");
        // An empty variable counts as unset.
        assert_eq!(
            found(&[("CHROMIUM", ""), path], &all).as_deref(),
            Some("/usr/bin/chromium")
        );
    }

    #[test]
    fn timeout_message_lists_missing_tests() {
        let plan = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let reported: HashSet<String> = ["a".to_string()].into_iter().collect();
        let s = TimeoutState {
            served: Some(Duration::from_secs(61)),
            hello: true,
            plan: Some(&plan),
            reported: &reported,
            not_found: &[],
            stray: &[],
        };
        let m = timeout_message(
            &s,
            Duration::from_secs(61),
            Duration::from_secs(60),
            Duration::from_secs(120),
            Duration::from_secs(60),
        );
        assert!(m.contains("no report for 60.0 s"), "{m}");
        assert!(m.ends_with("tests that had not reported: b, c"), "{m}");
    }

    #[test]
    fn timeout_message_without_hello_names_the_harness_and_404s() {
        let reported = HashSet::new();
        let nf = vec!["/pkg/atelier_wasm.js".to_string()];
        let s = TimeoutState {
            served: Some(Duration::from_secs(10)),
            hello: false,
            plan: None,
            reported: &reported,
            not_found: &nf,
            stray: &[],
        };
        let m = timeout_message(
            &s,
            Duration::from_secs(20),
            Duration::from_secs(60),
            Duration::from_secs(120),
            Duration::from_secs(20),
        );
        assert!(
            m.contains("no report within 10.0 s of the page being served"),
            "{m}"
        );
        assert!(m.contains("harness.js"), "{m}");
        assert!(m.contains("/pkg/atelier_wasm.js"), "{m}");
        assert!(m.contains("cargo atelier build"), "{m}");
    }

    #[test]
    fn counts_failures() {
        let mut r = PageRun::default();
        r.results.push(TestOutcome {
            name: "a".into(),
            ok: true,
            error: None,
            ms: 1.0,
        });
        r.results.push(TestOutcome {
            name: "b".into(),
            ok: false,
            error: Some("x".into()),
            ms: 1.0,
        });
        r.errors.push("boom".into());
        assert_eq!((r.passed(), r.failed()), (1, 2));
        r.failure = Some("timeout".into());
        assert_eq!(r.failed(), 3);
        assert!(!r.ok());
    }
}
