//! End to end: the driver runs real pages in headless Chromium. Skipped (with a
//! note) when no Chromium is installed. The four pages run in parallel, each with
//! its own server, to stay within a few seconds.

use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use atelier_serve::chromium::{find_chromium, run_page, PageOptions, PageRun};
use atelier_serve::report::Report;
use atelier_serve::server::serve;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the repository root")
}

fn run(
    chromium: PathBuf,
    page: &'static str,
    opts: PageOptions,
) -> thread::JoinHandle<(PageRun, Vec<Report>)> {
    thread::spawn(move || {
        let server = serve(&repo_root(), "127.0.0.1", 0).expect("a server");
        let mut reports = Vec::new();
        let run = run_page(&chromium, &server, page, &opts, &mut |r| {
            reports.push(r.clone())
        });
        (run, reports)
    })
}

fn explain(run: &PageRun) -> String {
    format!("{run:#?}\nconsole:\n{}", run.console_tail(40).join("\n"))
}

#[test]
fn driver_runs_pages_in_chromium() {
    let Some(chromium) = find_chromium() else {
        eprintln!(
            "note: skipping the Chromium driver test: no Chromium (run `cargo atelier setup`)"
        );
        return;
    };
    // The broken page fails by its hello timeout, which starts when the page is served.
    let no_hello = PageOptions {
        hello_timeout: Duration::from_secs(2),
        ..PageOptions::default()
    };
    // The blocking page fails by its idle timeout, once its harness has said hello.
    let idle = PageOptions {
        idle_timeout: Duration::from_secs(2),
        ..PageOptions::default()
    };
    let selftest = run(
        chromium.clone(),
        "/serve/tests/pages/selftest.html",
        PageOptions::default(),
    );
    let failing = run(
        chromium.clone(),
        "/serve/tests/fixtures/failing.html",
        PageOptions::default(),
    );
    let broken = run(
        chromium.clone(),
        "/serve/tests/fixtures/broken-import.html",
        no_hello,
    );
    let blocking = run(chromium, "/serve/tests/fixtures/blocking.html", idle);

    // Join every run before asserting, so a failed assertion leaves no browser behind.
    let selftest = selftest.join().unwrap();
    let failing = failing.join().unwrap();
    let broken = broken.join().unwrap();
    let blocking = blocking.join().unwrap();

    let (r, reports) = selftest;
    assert!(r.ok() && r.done, "{}", explain(&r));
    assert_eq!(r.passed(), 5, "{}", explain(&r));
    assert!(
        matches!(reports.first(), Some(Report::Hello { .. })),
        "{reports:?}"
    );
    assert!(
        matches!(
            reports.last(),
            Some(Report::Done {
                passed: 5,
                failed: 0,
                ..
            })
        ),
        "{reports:?}"
    );

    let (r, _) = failing;
    assert!(r.done && r.failure.is_none(), "{}", explain(&r));
    let outcome: Vec<(&str, bool)> = r.results.iter().map(|t| (t.name.as_str(), t.ok)).collect();
    assert_eq!(
        outcome,
        vec![
            ("passes", true),
            ("fails", false),
            ("times out", false),
            ("waits", true)
        ],
        "{}",
        explain(&r)
    );
    assert!(r.results[1]
        .error
        .as_deref()
        .unwrap()
        .contains("deliberate failure"));
    assert!(r.results[2]
        .error
        .as_deref()
        .unwrap()
        .contains("timed out after 200 ms"));
    assert!(
        r.errors.iter().any(|e| e.contains("deliberate rejection")),
        "{}",
        explain(&r)
    );
    assert!(
        r.errors.iter().any(|e| e.contains("no-such-worker.js")),
        "{}",
        explain(&r)
    );
    assert_eq!(r.failed(), 2 + r.errors.len());
    // The harness logs each result to the console; Chromium prints it on stderr.
    assert!(
        r.console.iter().any(|l| l.contains("deliberate failure")),
        "console lines were not captured: {}",
        explain(&r)
    );

    let (r, _) = broken;
    let f = r.failure.clone().unwrap_or_default();
    assert!(f.contains("of the page being served"), "{}", explain(&r));
    assert!(f.contains("/pkg/no-such-module.js"), "{}", explain(&r));

    let (r, reports) = blocking;
    let f = r.failure.clone().unwrap_or_default();
    assert!(
        f.contains("tests that had not reported: spins, after"),
        "{}",
        explain(&r)
    );
    assert!(reports
        .iter()
        .any(|r| matches!(r, Report::Log { line, .. } if line == "first ran")));
}
