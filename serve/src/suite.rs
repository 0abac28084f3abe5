//! `cargo atelier test`: every test stage, one after the other, with a summary.
//!
//! Stages, in order: `native` (`cargo test --workspace`), `loom`, `miri`, `js`
//! (`node --test` with every `*.test.js` of `src/js/tests/` and `benches/browser/harness/tests/`), `build` (as `cargo atelier build`),
//! `types` (`tsc` on the example app in `tests/types/` against the built package, and
//! `npm pack`), `browser`
//! (each `tests/browser/*.html` except `demo.html`, and `serve/tests/pages/*.html`,
//! in its own headless Chromium; `*.noniso.html` pages through `/__noniso/`; with
//! `examples.html`, the Vite example's build from the packed package and the deployment
//! guide's servers, `tests/puppeteer/servers.mjs`), `bench`
//! (the benchmark suite `benches/browser/suite.html` in smoke mode: tiny counts; each
//! benchmark that yields valid statistics is a passed test, timings are never asserted).
//! A failing stage does not stop the others.
//!
//! The FILTER argument:
//! - absent: every stage;
//! - a comma-separated list of stage names, each optionally `stage:ARG`: only those
//!   stages; ARG is passed on as the stage's own filter (a test-name filter for the
//!   cargo stages, `--test-name-pattern` for js, a page-name substring for browser, a
//!   benchmark-id filter for bench). `browser` and `bench` always bring `build` along,
//!   since the pages load the built package;
//! - anything else: a page-name substring; runs `build` and the matching `browser` pages.
//!
//! `ATELIER_SKIP=miri,loom` skips the named stages. `ATELIER_PAGE_QUERY=a=1&b=2` is appended
//! to every browser page's URL (the stress pages read their sizes and seeds from it).
//!
//! The last line printed is `N passed, M failed` (totals over all stages).

use std::process::Command;
use std::time::{Duration, Instant};

use crate::chromium::{find_chromium, run_page, PageOptions, PageRun, CONSOLE_TAIL};
use crate::process::{describe, exit_text, fmt_duration, run_echo};
use crate::repo::Repo;
use crate::report::Report;
use crate::server::{serve, NONISO_PREFIX};
use crate::setup::{self, Needs, MIRI_INSTALL};
use crate::term::clean;
use crate::{bench, build};

/// A test stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// `cargo test --workspace`.
    Native,
    /// The loom models of `atelier-ring`.
    Loom,
    /// `atelier-ring` under miri.
    Miri,
    /// `node --test` on the files [`js_test_files`] lists.
    Js,
    /// The wasm build.
    Build,
    /// `tsc` on an example app against the built package, and `npm pack`.
    Types,
    /// The pages in headless Chromium.
    Browser,
    /// The benchmark suite in smoke mode.
    Bench,
}

impl Stage {
    /// Every stage, in run order.
    pub const ALL: [Stage; 8] = [
        Stage::Native,
        Stage::Loom,
        Stage::Miri,
        Stage::Js,
        Stage::Build,
        Stage::Types,
        Stage::Browser,
        Stage::Bench,
    ];

    /// The stage's name on the command line and in `ATELIER_SKIP`.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Native => "native",
            Stage::Loom => "loom",
            Stage::Miri => "miri",
            Stage::Js => "js",
            Stage::Build => "build",
            Stage::Types => "types",
            Stage::Browser => "browser",
            Stage::Bench => "bench",
        }
    }

    /// The stage with that name.
    pub fn from_name(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// Which stages run, each with its optional filter argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The stages in run order.
    pub stages: Vec<(Stage, Option<String>)>,
}

/// Turns the FILTER argument into a plan (see the module docs for the rule).
pub fn plan(filter: Option<&str>) -> Plan {
    let filter = filter.map(str::trim).filter(|f| !f.is_empty());
    let Some(filter) = filter else {
        return Plan {
            stages: Stage::ALL.into_iter().map(|s| (s, None)).collect(),
        };
    };
    let parts: Option<Vec<(Stage, Option<String>)>> = filter
        .split(',')
        .map(|part| {
            let (name, arg) = match part.split_once(':') {
                Some((n, a)) => (n, Some(a.to_string()).filter(|a| !a.is_empty())),
                None => (part, None),
            };
            Stage::from_name(name.trim()).map(|s| (s, arg))
        })
        .collect();
    let mut stages = match parts {
        Some(p) => p,
        None => vec![
            (Stage::Build, None),
            (Stage::Browser, Some(filter.to_string())),
        ],
    };
    if stages
        .iter()
        .any(|(s, _)| matches!(s, Stage::Types | Stage::Browser | Stage::Bench))
        && !stages.iter().any(|(s, _)| *s == Stage::Build)
    {
        stages.push((Stage::Build, None));
    }
    stages.sort_by_key(|(s, _)| *s);
    stages.dedup_by_key(|(s, _)| *s);
    Plan { stages }
}

/// Stage names in `ATELIER_SKIP` (comma- or space-separated); unknown names are reported.
pub fn skipped_stages(var: Option<&str>) -> (Vec<Stage>, Vec<String>) {
    let mut stages = Vec::new();
    let mut unknown = Vec::new();
    for name in var
        .unwrap_or("")
        .split([',', ' '])
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        match Stage::from_name(name) {
            Some(s) => stages.push(s),
            None => unknown.push(name.to_string()),
        }
    }
    (stages, unknown)
}

/// Sums the `test result: ... N passed; M failed; ...` lines of cargo test output.
/// `None` when there is no such line.
pub fn parse_cargo_test(text: &str) -> Option<(u64, u64)> {
    let mut found = false;
    let (mut passed, mut failed) = (0, 0);
    for line in text.lines() {
        let Some(rest) = line.split_once("test result:").map(|(_, r)| r) else {
            continue;
        };
        let count = |word: &str| -> Option<u64> {
            rest.split(';')
                .find_map(|part| part.trim().strip_suffix(word).map(str::trim))
                .and_then(|n| n.rsplit(' ').next())
                .and_then(|n| n.parse().ok())
        };
        if let (Some(p), Some(f)) = (count("passed"), count("failed")) {
            found = true;
            passed += p;
            failed += f;
        }
    }
    found.then_some((passed, failed))
}

/// Reads node's `# pass N` / `# fail N` (TAP) or `ℹ pass N` (spec reporter) lines.
pub fn parse_node_test(text: &str) -> Option<(u64, u64)> {
    let mut pass = None;
    let mut fail = None;
    for line in text.lines() {
        let line = line.trim_start_matches(['#', 'ℹ', ' ']);
        if let Some(n) = line
            .strip_prefix("pass ")
            .and_then(|n| n.trim().parse().ok())
        {
            pass = Some(n);
        } else if let Some(n) = line
            .strip_prefix("fail ")
            .and_then(|n| n.trim().parse().ok())
        {
            fail = Some(n);
        }
    }
    match (pass, fail) {
        (None, None) => None,
        (p, f) => Some((p.unwrap_or(0), f.unwrap_or(0))),
    }
}

/// How one stage ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// It ran: test counts, and a note when something beyond the counts went wrong.
    Ran {
        /// Tests passed.
        passed: u64,
        /// Tests failed.
        failed: u64,
        /// Why it failed outside of the counts (a crash, a build error), if it did.
        note: Option<String>,
    },
    /// It did not run, and why.
    Skipped(String),
}

fn ran(passed: u64, failed: u64) -> Outcome {
    Outcome::Ran {
        passed,
        failed,
        note: None,
    }
}

fn broke(note: String) -> Outcome {
    Outcome::Ran {
        passed: 0,
        failed: 1,
        note: Some(note),
    }
}

/// Runs a cargo-style test command and counts its results. A failing command whose
/// output shows no failing test still counts one failure (a build error, a crash).
fn cargo_stage(cmd: &mut Command, parse: fn(&str) -> Option<(u64, u64)>) -> Outcome {
    println!("    $ {}", describe(cmd));
    let c = match run_echo(cmd) {
        Ok(c) => c,
        Err(e) => return broke(e),
    };
    match (parse(&c.text), c.success) {
        (Some((p, f)), true) => ran(p, f),
        (Some((p, f)), false) if f > 0 => ran(p, f),
        (Some((p, f)), false) => Outcome::Ran {
            passed: p,
            failed: f + 1,
            note: Some(format!(
                "the command failed ({}) without a failing test: see its output above",
                exit_text(c.code)
            )),
        },
        (None, true) => ran(0, 0),
        (None, false) => broke(format!(
            "the command failed ({}) before reporting any test: see its output above",
            exit_text(c.code)
        )),
    }
}

fn native(repo: &Repo, arg: Option<&str>) -> Outcome {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(repo.root()).args(["test", "--workspace"]);
    cmd.args(arg);
    cargo_stage(&mut cmd, parse_cargo_test)
}

fn loom(repo: &Repo, arg: Option<&str>) -> Outcome {
    if !repo.path("ring/tests/loom.rs").is_file() {
        return Outcome::Skipped("ring/tests/loom.rs does not exist yet".into());
    }
    let mut cmd = Command::new("cargo");
    cmd.current_dir(repo.root())
        .args(["test", "-p", "atelier-ring", "--test", "loom", "--release"])
        .args(arg)
        .env("RUSTFLAGS", "--cfg loom")
        .env("CARGO_TARGET_DIR", repo.path("target/loom"));
    cargo_stage(&mut cmd, parse_cargo_test)
}

fn miri(repo: &Repo, arg: Option<&str>, miri_ok: bool) -> Outcome {
    if !miri_ok {
        return broke(format!(
            "miri is not installed for the nightly toolchain and setup could not install it (see the setup error above): run `{MIRI_INSTALL}`"
        ));
    }
    let mut cmd = Command::new("cargo");
    cmd.current_dir(repo.root())
        .args(["+nightly", "miri", "test", "-p", "atelier-ring"])
        .args(arg)
        .env("CARGO_TARGET_DIR", repo.path("target/miri"))
        .env("MIRIFLAGS", "-Zmiri-disable-isolation");
    cargo_stage(&mut cmd, parse_cargo_test)
}

/// The folders whose JS unit tests the `js` stage runs.
pub const JS_TEST_DIRS: [&str; 2] = ["src/js/tests", "benches/browser/harness/tests"];

/// The JS unit test files: every `*.test.js` (`.mjs`, `.cjs`) under [`JS_TEST_DIRS`], as
/// paths relative to the repository, sorted. `node --test` is given these files rather
/// than the folders: Node 18 and 20 search a folder argument for test files, but from
/// Node 21 on the arguments are file names or glob patterns and a folder is not searched.
pub fn js_test_files(repo: &Repo) -> Vec<String> {
    fn walk(dir: &std::path::Path, rel: &str, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let Ok(name) = e.file_name().into_string() else {
                continue;
            };
            if name.starts_with('.') || name == "node_modules" {
                continue;
            }
            let path = e.path();
            let rel = format!("{rel}/{name}");
            if path.is_dir() {
                walk(&path, &rel, out);
            } else if [".test.js", ".test.mjs", ".test.cjs"]
                .iter()
                .any(|ext| name.ends_with(ext))
            {
                out.push(rel);
            }
        }
    }
    let mut files = Vec::new();
    for dir in JS_TEST_DIRS {
        walk(&repo.path(dir), dir, &mut files);
    }
    files.sort();
    files
}

fn js(repo: &Repo, arg: Option<&str>) -> Outcome {
    let files = js_test_files(repo);
    if files.is_empty() {
        return Outcome::Skipped(format!(
            "no *.test.js file in {}",
            JS_TEST_DIRS.join(" or ")
        ));
    }
    let mut cmd = Command::new("node");
    cmd.current_dir(repo.root()).arg("--test");
    if let Some(a) = arg {
        cmd.arg(format!("--test-name-pattern={a}"));
    }
    cmd.args(&files);
    cargo_stage(&mut cmd, parse_node_test)
}

fn build_stage(repo: &Repo) -> Outcome {
    match build::build(repo) {
        Ok(()) => ran(0, 0),
        Err(e) => broke(e),
    }
}

/// Files the built package must hold (besides the wasm-bindgen glue).
const PACKAGE_FILES: [&str; 7] = [
    "package.json",
    "isolate-sw.js",
    "index.js",
    "index.d.ts",
    "worker.js",
    "worker.d.ts",
    "atelier_wasm_bg.wasm",
];

/// The built package's types and packaging: `tsc` type-checks the example app in
/// `tests/types/` against `target/pkg` (resolved through its `package.json` exports, as an
/// installed package would be; lines marked `@ts-expect-error` must fail), and `npm pack`
/// packs the package with its entries and types.
fn types(repo: &Repo) -> Outcome {
    let dir = repo.path("tests/types");
    let tsc = dir.join("node_modules/typescript/bin/tsc");
    if !tsc.is_file() {
        return broke(format!(
            "{} is missing: `npm ci` in tests/types/ did not run or failed (see setup above)",
            tsc.display()
        ));
    }
    let link = dir.join("node_modules/atelier");
    let _ = std::fs::remove_file(&link);
    #[cfg(unix)]
    if let Err(e) = std::os::unix::fs::symlink(repo.path("target/pkg"), &link) {
        return broke(format!(
            "cannot link {} to target/pkg ({e})",
            link.display()
        ));
    }
    let (mut passed, mut failed) = (0, 0);
    let mut cmd = Command::new("node");
    cmd.current_dir(repo.root())
        .arg(&tsc)
        .args(["-p", "tests/types"]);
    println!("    $ {}", describe(&cmd));
    match run_echo(&mut cmd) {
        Ok(c) if c.success => {
            println!("  ok   tsc: the example app type-checks against target/pkg, and its @ts-expect-error lines fail");
            passed += 1;
        }
        Ok(c) => {
            println!("  FAIL tsc ({}): see its errors above", exit_text(c.code));
            failed += 1;
        }
        Err(e) => return broke(e),
    }
    let mut cmd = Command::new("npm");
    cmd.current_dir(repo.path("target/pkg"))
        .args(["pack", "--dry-run", "--json"]);
    println!("    $ (cd target/pkg && {})", describe(&cmd));
    match crate::process::run_quiet(&mut cmd) {
        Ok(c) if c.success => {
            let missing: Vec<&str> = PACKAGE_FILES
                .iter()
                .copied()
                .filter(|f| !c.text.contains(&format!("\"path\": \"{f}\"")))
                .collect();
            if missing.is_empty() {
                println!(
                    "  ok   npm pack: the package holds its entries, types, wasm and isolate-sw.js"
                );
                passed += 1;
            } else {
                println!("  FAIL npm pack: the package lacks {}", missing.join(", "));
                failed += 1;
            }
        }
        Ok(c) => {
            println!("  FAIL npm pack ({}):\n{}", exit_text(c.code), c.text);
            failed += 1;
        }
        Err(e) => return broke(e),
    }
    ran(passed, failed)
}

/// The browser test pages: `tests/browser/*.html` but `demo.html`, then
/// `serve/tests/pages/*.html`; as request paths (`/tests/browser/x.html`). A page
/// named `*.noniso.html` is loaded through `/__noniso/`, without the isolation headers.
pub fn browser_pages(repo: &Repo, filter: Option<&str>) -> Vec<String> {
    let mut pages = Vec::new();
    for dir in ["tests/browser", "serve/tests/pages"] {
        let mut names: Vec<String> = std::fs::read_dir(repo.path(dir))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.ends_with(".html") && n != "demo.html")
            .collect();
        names.sort();
        pages.extend(names.into_iter().map(|n| {
            let prefix = if n.ends_with(NONISO_SUFFIX) {
                NONISO_PREFIX
            } else {
                ""
            };
            format!("{prefix}/{dir}/{n}")
        }));
    }
    pages.retain(|p| filter.is_none_or(|f| p.contains(f)));
    // Pages that import the fallback switch run a second time without Atomics.waitAsync.
    let fallback: Vec<String> = pages
        .iter()
        .filter(|p| {
            std::fs::read_to_string(
                repo.path(p.trim_start_matches(NONISO_PREFIX).trim_start_matches('/')),
            )
            .is_ok_and(|src| src.contains(FALLBACK_SWITCH))
        })
        .map(|p| format!("{p}?{FALLBACK_QUERY}"))
        .collect();
    pages.extend(fallback);
    pages
}

/// A page whose source names this module also runs with [`FALLBACK_QUERY`].
pub const FALLBACK_SWITCH: &str = "no-wait-async.js";

/// The query that makes `tests/browser/no-wait-async.js` delete `Atomics.waitAsync` in the
/// page and its workers, so the doorbell fallback (API contract B.10) is tested too.
pub const FALLBACK_QUERY: &str = "nowaitasync=1";

/// Pages whose file name ends so are loaded without the isolation headers.
pub const NONISO_SUFFIX: &str = ".noniso.html";

/// The short name of a page for output lines (`x.html`).
pub fn short_name(page: &str) -> &str {
    page.rsplit('/').next().unwrap_or(page)
}

/// Prints the line for one report as the suite and the bench show it. Everything the
/// page sent goes through [`clean`], line by line.
pub fn print_report(name: &str, report: &Report) {
    let name = clean(name);
    match report {
        Report::Result {
            name: test,
            ok: true,
            ms,
            ..
        } => {
            println!("  ok   {name} :: {} ({} ms)", clean(test), ms.round());
        }
        Report::Result {
            name: test,
            ok: false,
            error,
            ..
        } => {
            let error = error.as_deref().unwrap_or("failed (no message)");
            let mut lines = error.lines();
            println!(
                "  FAIL {name} :: {}: {}",
                clean(test),
                clean(lines.next().unwrap_or(""))
            );
            for l in lines {
                println!("         {}", clean(l));
            }
        }
        Report::Error { message, .. } => {
            let mut lines = message.lines();
            println!(
                "  FAIL {name} :: (page error): {}",
                clean(lines.next().unwrap_or(""))
            );
            for l in lines {
                println!("         {}", clean(l));
            }
        }
        Report::Log { line, .. } => {
            for l in line.split('\n') {
                println!("{}", clean(l.strip_suffix('\r').unwrap_or(l)));
            }
        }
        Report::Hello { .. } | Report::Plan { .. } | Report::Done { .. } | Report::Data { .. } => {}
    }
}

/// Prints what helps diagnose a failed page: the failure, then the console tail
/// (or the browser log tail when the console is empty), all through [`clean`].
pub fn print_page_failure(run: &PageRun) {
    let name = clean(short_name(&run.page));
    if let Some(f) = &run.failure {
        let mut lines = f.lines();
        println!(
            "  FAIL {name} :: (page): {}",
            clean(lines.next().unwrap_or(""))
        );
        for l in lines {
            println!("         {}", clean(l));
        }
    }
    if !run.not_found.is_empty() {
        println!(
            "  requests answered 404: {}",
            clean(&run.not_found.join(", "))
        );
    }
    if run.console.is_empty() {
        println!("  --- browser log of {name} (last 20 lines; no console messages) ---");
        for l in &run.log[run.log.len().saturating_sub(20)..] {
            println!("  | {}", clean(l));
        }
    } else {
        println!("  --- console of {name} (last {CONSOLE_TAIL} lines) ---");
        for l in run.console_tail(CONSOLE_TAIL) {
            println!("  | {}", clean(l));
        }
    }
    println!("  ---");
}

/// Packs target/pkg as npm would publish it, installs the tarball into examples/vite (without
/// saving it: the example's package.json stays as a user's would before installing), and
/// builds the example into examples/vite/dist, which tests/browser/examples.html opens.
fn build_vite_example(repo: &Repo) -> Result<(), String> {
    let dir = repo.path("examples/vite");
    let vite = dir.join("node_modules/vite/bin/vite.js");
    if !vite.is_file() {
        return Err(format!(
            "{} is missing: `npm ci` in examples/vite/ did not run or failed (see setup above)",
            vite.display()
        ));
    }
    let target = repo.path("target");
    let mut pack = Command::new("npm");
    pack.current_dir(repo.path("target/pkg"))
        .args(["pack", "--silent", "--pack-destination"])
        .arg(&target);
    println!("    $ (cd target/pkg && {})", describe(&pack));
    let c = crate::process::run_quiet(&mut pack)?;
    let tarball = c
        .text
        .lines()
        .rev()
        .find(|l| l.trim().ends_with(".tgz"))
        .map(str::trim);
    let (true, Some(tarball)) = (c.success, tarball) else {
        return Err(format!(
            "npm pack failed ({}):\n{}",
            exit_text(c.code),
            c.text
        ));
    };
    let mut install = Command::new("npm");
    install
        .current_dir(&dir)
        .args(["install", "--no-save", "--no-audit", "--no-fund"])
        .arg(target.join(tarball));
    println!("    $ (cd examples/vite && {})", describe(&install));
    let c = crate::process::run_quiet(&mut install)?;
    if !c.success {
        return Err(format!(
            "installing {tarball} failed ({}):\n{}",
            exit_text(c.code),
            c.text
        ));
    }
    let mut build = Command::new("node");
    build.current_dir(&dir).arg(&vite).arg("build");
    println!("    $ (cd examples/vite && {})", describe(&build));
    let c = crate::process::run_quiet(&mut build)?;
    if !c.success {
        return Err(format!(
            "vite build failed ({}):\n{}",
            exit_text(c.code),
            c.text
        ));
    }
    Ok(())
}

fn browser(repo: &Repo, arg: Option<&str>, page_query: &str) -> Outcome {
    let pages = browser_pages(repo, arg);
    if pages.is_empty() {
        return Outcome::Skipped(match arg {
            Some(f) => format!("no page name contains {f:?}"),
            None => "no page in tests/browser/ or serve/tests/pages/".into(),
        });
    }
    let Some(chromium) = find_chromium() else {
        return broke("Chromium not found: run `cargo atelier setup` (or set $CHROMIUM)".into());
    };
    let server = match serve(repo.root(), "127.0.0.1", 0) {
        Ok(s) => s,
        Err(e) => return broke(e),
    };
    println!("    {} page(s), served at {}", pages.len(), server.url("/"));
    let (mut passed, mut failed) = (0u64, 0u64);
    // The examples page runs the Vite example's build: the package as users install it.
    if pages
        .iter()
        .any(|p| short_name(p).starts_with("examples.html"))
    {
        match build_vite_example(repo) {
            Ok(()) => {
                println!(
                    "  ok   examples/vite: npm pack of target/pkg installs, and vite build builds"
                );
                passed += 1;
                let (p, f) = recipe_servers(repo, &chromium);
                passed += p;
                failed += f;
            }
            Err(e) => {
                println!("  FAIL examples/vite: {e}");
                failed += 1;
            }
        }
    }
    // `ATELIER_PAGE_QUERY=kills=10000` (or `cargo atelier test kill --kills 10000`) hands
    // every page a query string: the long versions of the seeded stress pages read their
    // sizes from it.
    let query = join_queries(
        &std::env::var("ATELIER_PAGE_QUERY").unwrap_or_default(),
        page_query,
    );
    for page in &pages {
        let name = short_name(page).to_string();
        let target = match (query.is_empty(), page.contains('?')) {
            (true, _) => page.clone(),
            (false, true) => format!("{page}&{}", query.trim_start_matches('?')),
            (false, false) => format!("{page}?{}", query.trim_start_matches('?')),
        };
        let run = run_page(
            &chromium,
            &server,
            &target,
            &PageOptions::default(),
            &mut |r| print_report(&name, r),
        );
        if !run.ok() {
            print_page_failure(&run);
        } else if run.results.is_empty() {
            println!("  warning: {name} reported done without running any test");
        }
        println!(
            "  {name}: passed {}, failed {} ({})",
            run.passed(),
            run.failed(),
            fmt_duration(run.elapsed)
        );
        passed += run.passed() as u64;
        failed += run.failed() as u64;
    }
    // The playground's tour in pictures, for people: target/playground/*.png.
    if pages.iter().any(|p| short_name(p) == "playground.html") {
        let url = server.url(&format!("/{}", crate::server::PLAYGROUND));
        match playground_screenshots(repo, &chromium, &url) {
            Ok(files) => {
                println!("  ok   playground screenshots: {}", files.join(", "));
                passed += 1;
            }
            Err(e) => {
                println!("  FAIL playground screenshots: {e}");
                failed += 1;
            }
        }
    }
    ran(passed, failed)
}

/// Runs tests/puppeteer/servers.mjs: Vite's dev and preview servers, nginx and Caddy, each
/// configured as docs/deploying.md says, serve the Vite example to this Chromium. Returns
/// (passed, failed), a test per server.
fn recipe_servers(repo: &Repo, chromium: &std::path::Path) -> (u64, u64) {
    let script = repo.path("tests/puppeteer/servers.mjs");
    let mut cmd = Command::new("node");
    cmd.current_dir(repo.root()).arg(&script).arg(chromium);
    println!("    $ {}", describe(&cmd));
    let c = match crate::process::run_quiet(&mut cmd) {
        Ok(c) => c,
        Err(e) => {
            println!("  FAIL servers: {e}");
            return (0, 1);
        }
    };
    let (mut passed, mut failed) = (0, 0);
    for line in c.text.lines() {
        if let Some(rest) = line.strip_prefix("ok   ") {
            println!("  ok   server {rest}");
            passed += 1;
        } else if let Some(rest) = line.strip_prefix("FAIL ") {
            println!("  FAIL server {rest}");
            failed += 1;
        }
    }
    if !c.success && failed == 0 {
        println!(
            "  FAIL servers: {} ({}):\n{}",
            script.display(),
            exit_text(c.code),
            c.text
        );
        failed += 1;
    }
    (passed, failed)
}

/// Runs tests/puppeteer/playground.mjs (puppeteer-core on this Chromium) against the
/// served playground; returns the files it wrote under target/playground/.
fn playground_screenshots(
    repo: &Repo,
    chromium: &std::path::Path,
    url: &str,
) -> Result<Vec<String>, String> {
    let script = repo.path("tests/puppeteer/playground.mjs");
    if !repo
        .path("tests/puppeteer/node_modules/puppeteer-core")
        .is_dir()
    {
        return Err("tests/puppeteer/node_modules/puppeteer-core is missing: `npm ci` in tests/puppeteer/ did not run or failed (see setup above)".into());
    }
    let out = repo.path("target/playground");
    let mut cmd = Command::new("node");
    cmd.current_dir(repo.root())
        .arg(&script)
        .arg(url)
        .arg(chromium)
        .arg(&out);
    println!("    $ {}", describe(&cmd));
    let c = crate::process::run_quiet(&mut cmd)?;
    if !c.success {
        return Err(format!(
            "{} ({}):\n{}",
            script.display(),
            exit_text(c.code),
            c.text
        ));
    }
    let root = repo.root().display().to_string();
    Ok(c.text
        .lines()
        .filter(|l| l.ends_with(".png"))
        .map(|l| {
            l.trim_start_matches(&root)
                .trim_start_matches('/')
                .to_string()
        })
        .collect())
}

/// The page of the `bench` stage.
pub const BENCH_SMOKE_PAGE: &str = "/benches/browser/suite.html";

/// The benchmark suite in smoke mode (tiny counts), so that it keeps working: each
/// benchmark that produced valid statistics is a passed test (the page's harness tests);
/// the numbers are not looked at. `arg` filters benchmark ids, as `cargo atelier bench -- WORD`.
fn bench_smoke(repo: &Repo, arg: Option<&str>) -> Outcome {
    if !repo.path("benches/browser/suite.html").is_file() {
        return Outcome::Skipped("benches/browser/suite.html does not exist".into());
    }
    let Some(chromium) = find_chromium() else {
        return broke("Chromium not found: run `cargo atelier setup` (or set $CHROMIUM)".into());
    };
    let server = match serve(repo.root(), "127.0.0.1", 0) {
        Ok(s) => s,
        Err(e) => return broke(e),
    };
    let mut args = vec!["smoke".to_string()];
    args.extend(arg.map(|a| format!("filter={a}")));
    let target = format!("{BENCH_SMOKE_PAGE}?{}", bench::query_from_args(&args));
    println!("    {}", server.url(&target));
    let name = short_name(BENCH_SMOKE_PAGE).to_string();
    let mut io = bench::BenchIo::new(repo, false);
    let run = run_page(
        &chromium,
        &server,
        &target,
        &PageOptions::default(),
        &mut |r| {
            // The criterion-style blocks are for `cargo atelier bench`; here only the
            // pass/fail line of each benchmark is printed.
            if !io.handle(r) && !matches!(r, Report::Log { .. } | Report::Data { .. }) {
                print_report(&name, r);
            }
        },
    );
    io.print_saved();
    if !run.ok() {
        print_page_failure(&run);
    } else if run.results.is_empty() {
        println!("  warning: {name} reported done without running any benchmark");
    }
    let errors = io.errors.len() as u64;
    for e in &io.errors {
        println!("  FAIL {name} :: (driver): {e}");
    }
    ran(run.passed() as u64, run.failed() as u64 + errors)
}

/// Runs the suite and returns whether everything passed. Prints the summary and,
/// last, `N passed, M failed`.
/// Turns the page arguments of `cargo atelier test FILTER --NAME VALUE...` (also
/// `--NAME=VALUE`, and `--NAME` alone for `NAME=1`) into a query string for the pages.
pub fn page_query(args: &[String]) -> Result<String, String> {
    let mut pairs = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let Some(name) = args[i].strip_prefix("--") else {
            return Err(format!(
                "test: {:?} is neither the FILTER (given once, first) nor a page argument --NAME VALUE",
                args[i]
            ));
        };
        let (name, value) = match name.split_once('=') {
            Some((n, v)) => (n.to_string(), v.to_string()),
            None if i + 1 < args.len() && !args[i + 1].starts_with("--") => {
                i += 1;
                (name.to_string(), args[i].clone())
            }
            None => (name.to_string(), "1".to_string()),
        };
        let plain = |s: &str| {
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        if name.is_empty() || !plain(&name) || !plain(&value) {
            return Err(format!(
                "test: page argument --{name} {value:?}: names and values are letters, digits, '-', '_' and '.'"
            ));
        }
        pairs.push(format!("{name}={value}"));
        i += 1;
    }
    Ok(pairs.join("&"))
}

/// Joins two query strings (either may be empty or start with `?`).
fn join_queries(a: &str, b: &str) -> String {
    [a.trim_start_matches('?'), b.trim_start_matches('?')]
        .into_iter()
        .filter(|q| !q.is_empty())
        .collect::<Vec<_>>()
        .join("&")
}

pub fn run(repo: &Repo, filter: Option<&str>, page_query: &str) -> bool {
    let started = Instant::now();
    let plan = plan(filter);
    let skip_var = std::env::var("ATELIER_SKIP").ok();
    let (skip, unknown) = skipped_stages(skip_var.as_deref());
    if !unknown.is_empty() {
        println!(
            "warning: ATELIER_SKIP names unknown stage(s) {}: the stages are {}",
            unknown.join(", "),
            Stage::ALL.map(Stage::name).join(", ")
        );
    }
    let runs = |s: Stage| plan.stages.iter().any(|(p, _)| *p == s) && !skip.contains(&s);
    let needs = Needs {
        rust_src: runs(Stage::Build),
        miri: runs(Stage::Miri),
        chromium: runs(Stage::Browser) || runs(Stage::Bench),
        wasm_bindgen: runs(Stage::Build),
        npm: runs(Stage::Bench),
        types: runs(Stage::Types),
        examples: runs(Stage::Browser),
    };
    let setup = if needs == Needs::NONE {
        setup::Outcome::default()
    } else {
        println!("== setup");
        setup::setup(needs)
    };
    for e in &setup.errors {
        println!("setup error: {e}");
    }

    let mut results: Vec<(Stage, Outcome, Duration)> = Vec::new();
    for (stage, arg) in &plan.stages {
        let arg = arg.as_deref();
        let t = Instant::now();
        println!();
        let outcome = if skip.contains(stage) {
            Outcome::Skipped("ATELIER_SKIP".into())
        } else {
            println!("== {}", stage.name());
            match stage {
                Stage::Native => native(repo, arg),
                Stage::Loom => loom(repo, arg),
                Stage::Miri => miri(repo, arg, setup.miri_ok),
                Stage::Js => js(repo, arg),
                Stage::Build => build_stage(repo),
                Stage::Types => types(repo),
                Stage::Browser => browser(repo, arg, page_query),
                Stage::Bench => bench_smoke(repo, arg),
            }
        };
        match &outcome {
            Outcome::Ran {
                passed,
                failed,
                note,
            } => {
                if let Some(n) = note {
                    println!("  {} stage failed: {n}", stage.name());
                }
                println!(
                    "== {}: passed {passed}, failed {failed} ({})",
                    stage.name(),
                    fmt_duration(t.elapsed())
                );
            }
            Outcome::Skipped(why) => println!("== {}: skipped ({why})", stage.name()),
        }
        results.push((*stage, outcome, t.elapsed()));
    }

    println!();
    println!("== summary ({})", fmt_duration(started.elapsed()));
    let (mut passed, mut failed) = (0, 0);
    for (stage, outcome, took) in &results {
        match outcome {
            Outcome::Ran {
                passed: p,
                failed: f,
                note,
            } => {
                passed += p;
                failed += f;
                let status = if *f == 0 { "ok  " } else { "FAIL" };
                let note = note
                    .as_deref()
                    .map(|n| format!(" - {}", n.lines().next().unwrap_or("")))
                    .unwrap_or_default();
                println!(
                    "  {status} {:<8} passed {p}, failed {f} ({}){note}",
                    stage.name(),
                    fmt_duration(*took)
                );
            }
            Outcome::Skipped(why) => println!("  skip {:<8} {why}", stage.name()),
        }
    }
    println!("{passed} passed, {failed} failed");
    failed == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &Plan) -> Vec<(&'static str, Option<&str>)> {
        p.stages
            .iter()
            .map(|(s, a)| (s.name(), a.as_deref()))
            .collect()
    }

    #[test]
    fn page_arguments_become_the_query_string() {
        let q = |args: &[&str]| page_query(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>());
        assert_eq!(q(&[]).unwrap(), "");
        assert_eq!(
            q(&["--calls", "100000", "--seed=7"]).unwrap(),
            "calls=100000&seed=7"
        );
        assert_eq!(
            q(&["--verbose", "--seed", "7"]).unwrap(),
            "verbose=1&seed=7"
        );
        assert!(q(&["calls"]).unwrap_err().contains("neither the FILTER"));
        assert!(q(&["--calls", "1&x=2"])
            .unwrap_err()
            .contains("letters, digits"));
        assert_eq!(join_queries("?a=1", "b=2"), "a=1&b=2");
        assert_eq!(join_queries("", "b=2"), "b=2");
        assert_eq!(join_queries("a=1", ""), "a=1");
    }

    #[test]
    fn plans_from_the_filter() {
        assert_eq!(plan(None).stages.len(), 8);
        assert_eq!(plan(Some("")).stages.len(), 8);
        assert_eq!(
            names(&plan(Some("types"))),
            vec![("build", None), ("types", None)]
        );
        assert_eq!(
            names(&plan(Some("browser"))),
            vec![("build", None), ("browser", None)]
        );
        assert_eq!(
            names(&plan(Some("ring_"))),
            vec![("build", None), ("browser", Some("ring_"))]
        );
        assert_eq!(
            names(&plan(Some("miri,native:ring"))),
            vec![("native", Some("ring")), ("miri", None)]
        );
        assert_eq!(
            names(&plan(Some("browser:cancel"))),
            vec![("build", None), ("browser", Some("cancel"))]
        );
        assert_eq!(names(&plan(Some("js"))), vec![("js", None)]);
        assert_eq!(
            names(&plan(Some("bench:noop"))),
            vec![("build", None), ("bench", Some("noop"))]
        );
    }

    #[test]
    fn reads_atelier_skip() {
        let (s, u) = skipped_stages(Some("miri, loom,bogus"));
        assert_eq!(s, vec![Stage::Miri, Stage::Loom]);
        assert_eq!(u, vec!["bogus".to_string()]);
        assert_eq!(skipped_stages(None).0, vec![]);
    }

    #[test]
    fn parses_cargo_test_output() {
        let out = "running 3 tests\n\
            test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s\n\
            test result: FAILED. 10 passed; 2 failed; 1 ignored; 0 measured; 0 filtered out; finished in 1.00s\n\
            test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n";
        assert_eq!(parse_cargo_test(out), Some((13, 2)));
        assert_eq!(parse_cargo_test("error[E0425]: cannot find value"), None);
    }

    #[test]
    fn parses_node_test_output() {
        let tap = "TAP version 13\n# tests 5\n# suites 0\n# pass 4\n# fail 1\n# cancelled 0\n";
        assert_eq!(parse_node_test(tap), Some((4, 1)));
        let spec = "ℹ tests 2\nℹ pass 2\nℹ fail 0\n";
        assert_eq!(parse_node_test(spec), Some((2, 0)));
        assert_eq!(parse_node_test("nothing"), None);
    }

    #[test]
    fn lists_browser_pages() {
        let dir = std::env::temp_dir().join(format!("atelier-suite-pages-{}", std::process::id()));
        for f in [
            "tests/browser/demo.html",
            "tests/browser/b.html",
            "tests/browser/a.noniso.html",
            "tests/browser/helper.js",
            "tests/browser/sub/deep.html",
            "serve/tests/pages/selftest.html",
        ] {
            let p = dir.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            let src = if f.ends_with("b.html") {
                "import './no-wait-async.js';"
            } else {
                ""
            };
            std::fs::write(p, src).unwrap();
        }
        let repo = Repo::at(&dir);
        assert_eq!(
            browser_pages(&repo, None),
            vec![
                "/__noniso/tests/browser/a.noniso.html",
                "/tests/browser/b.html",
                "/serve/tests/pages/selftest.html",
                "/tests/browser/b.html?nowaitasync=1",
            ]
        );
        assert_eq!(
            browser_pages(&repo, Some("self")),
            vec!["/serve/tests/pages/selftest.html"]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn lists_js_test_files() {
        let dir = std::env::temp_dir().join(format!("atelier-suite-js-{}", std::process::id()));
        for f in [
            "src/js/tests/b.test.js",
            "src/js/tests/a.test.js",
            "src/js/tests/codec.bench.mjs",
            "src/js/tests/helper.js",
            "src/js/tests/sub/deep.test.mjs",
            "src/js/tests/node_modules/x.test.js",
            "benches/browser/harness/tests/stats.test.js",
            "benches/browser/harness/tests/.hidden.test.js",
        ] {
            let p = dir.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        let repo = Repo::at(&dir);
        assert_eq!(
            js_test_files(&repo),
            vec![
                "benches/browser/harness/tests/stats.test.js",
                "src/js/tests/a.test.js",
                "src/js/tests/b.test.js",
                "src/js/tests/sub/deep.test.mjs",
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(js_test_files(&Repo::at(&dir)).is_empty());
    }

    #[test]
    fn short_names() {
        assert_eq!(short_name("/tests/browser/x.html"), "x.html");
    }
}
