//! `atelier-serve`: the `cargo atelier` commands (the alias in `.cargo/config.toml`
//! runs this binary). Argument parsing only; the work lives in the library.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Instant;

use atelier_serve::process::fmt_duration;
use atelier_serve::repo::Repo;
use atelier_serve::report::{Event, Report};
use atelier_serve::server::{serve, ServerHandle, PLAYGROUND};
use atelier_serve::setup::{self, Needs};
use atelier_serve::term::clean;
use atelier_serve::{bench, build, suite};

const HELP: &str = "\
cargo atelier <command> [options]      (runs atelier-serve from the repository root)

Commands:
  setup                 Idempotent machine setup: rust-src (stable), miri + rust-src
                        (nightly, installing the nightly toolchain if missing), Chromium
                        from apt if none is found, the wasm-bindgen CLI of the version
                        Cargo.lock pins if missing, `npm ci` in benches/ (Comlink) and
                        tests/types/ if node_modules is missing or stale.
  build                 setup (rust-src, wasm-bindgen CLI), then build the runtime for
                        the browser into target/pkg/ (wasm build with build-std,
                        wasm-bindgen --target web, JS glue) and check that the wasm
                        memory is shared.
  serve [--port N] [--host H]
                        Serve the repository with COOP/COEP/CORP headers (default
                        127.0.0.1:8787; --port 0 picks a free port). /pkg/ is target/pkg/.
                        Reports from pages opened by hand are printed here.
  demo [--port N] [--host H]
                        setup, build, then serve and print the playground's URL
                        (examples/playground/).
  test [FILTER] [--NAME VALUE...]
                        setup, then every stage: native, loom, miri, js, build, browser
                        (tests/browser/*.html and serve/tests/pages/*.html;
                        *.noniso.html pages load through /__noniso/, not isolated), bench
                        (the benchmark suite in smoke mode: each benchmark that yields
                        valid statistics is a passed test; timings are never asserted).
                        A failing stage does not stop the others. Ends with the line
                        `N passed, M failed` and exits non-zero if anything failed.
                        --NAME VALUE pairs (also --NAME=VALUE) become the pages' query
                        string, added to $ATELIER_PAGE_QUERY: the long stress runs, e.g.
                        `test chaos --calls 100000 --seed 7`, `test kill --kills 10000`.
  bench [PAGE] [-- ARGS]
                        setup, build, then run benches/browser/PAGE.html (default
                        suite.html: the whole suite; dispatch.html: floor and no-op calls)
                        in headless Chromium with ARGS as its query string (--k=v, --k v,
                        k=v, --flag, WORD), 15-minute budget. Prints criterion-style
                        results, ratios against the peers and the targets; writes the run
                        record target/bench/suite.json (and runs/), the HTML report
                        target/bench/report/index.html, and baselines under
                        target/bench/baselines/NAME/ (smoke runs: under target/bench/smoke/).
                        ARGS: --smoke (tiny counts), --save-baseline NAME, --baseline NAME,
                        --warm-up-time S, --measurement-time S, --sample-size N,
                        --nresamples N, --noise-threshold X, --significance-level X,
                        --confidence-level X, --idle-window S, --idle-windows N, and WORDs
                        that filter benchmark ids. See docs/benchmarks.md.
  help                  This text.

FILTER for `test`:
  (none)                every stage
  STAGE[,STAGE...]      only these stages (native, loom, miri, js, build, browser,
                        bench); `browser` and `bench` bring `build` along, since the
                        pages load target/pkg.
  STAGE:ARG             pass ARG on as that stage's filter: the test-name filter of
                        `cargo test` (native, loom, miri), --test-name-pattern (js),
                        a page-name substring (browser), a benchmark-id substring (bench).
                        E.g. `native:ring,browser:cancel`, `bench:noop`.
  anything else         a page-name substring: runs build and the matching browser pages,
                        e.g. `cargo atelier test selftest`.

Environment:
  ATELIER_SKIP=miri,loom   skip these stages of `test` (also: bench).
  CHROMIUM=/path/to/chrome use this browser (also read: CHROME, CHROME_PATH) instead of
                           /usr/bin/chromium, PATH or Playwright's cache.
  ATELIER_CHROMIUM_ARGS    extra Chromium flags (whitespace-separated) for the driver.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--port N` / `--host H` (also `--port=N`); anything else is an error.
fn server_options(args: &[String], default_port: u16) -> Result<(String, u16), String> {
    let mut host = "127.0.0.1".to_string();
    let mut port = default_port;
    let mut i = 0;
    while i < args.len() {
        let (key, inline) = match args[i].split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (args[i].as_str(), None),
        };
        let mut value = || -> Result<String, String> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            i += 1;
            args.get(i)
                .cloned()
                .ok_or_else(|| format!("{key} needs a value, e.g. {key} 8787"))
        };
        match key {
            "--port" | "-p" => {
                let v = value()?;
                port = v
                    .parse()
                    .map_err(|_| format!("--port {v:?} is not a port number: pass 0-65535"))?;
            }
            "--host" => host = value()?,
            other => {
                return Err(format!(
                    "unknown option {other:?}: this command takes --port N and --host H (see `cargo atelier help`)"
                ))
            }
        }
        i += 1;
    }
    Ok((host, port))
}

/// The URL a person should open (an unspecified bind address is shown as 127.0.0.1).
fn public_url(server: &ServerHandle, path: &str) -> String {
    let mut addr = server.addr();
    if addr.ip().is_unspecified() {
        addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port());
    }
    format!("http://{addr}{path}")
}

/// Prints the reports of pages opened by hand, until the process is stopped.
fn print_events_forever(server: &ServerHandle) -> Result<bool, String> {
    loop {
        match server.events().recv() {
            Ok(Event::Report(r)) => {
                let page = suite::short_name(r.page()).to_string();
                match &r {
                    Report::Done { passed, failed, .. } => {
                        println!("  {}: done, passed {passed}, failed {failed}", clean(&page))
                    }
                    Report::Data { name, .. } => {
                        println!("  {}: data report \"{}\"", clean(&page), clean(name))
                    }
                    _ => suite::print_report(&page, &r),
                }
            }
            Ok(Event::NotFound { path }) => println!("  404 {}", clean(&path)),
            Ok(Event::PageServed { .. }) => {}
            Err(_) => return Err("the server stopped unexpectedly: restart it".into()),
        }
    }
}

fn warn_if_public(host: &str) {
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        println!("warning: serving the whole repository on {host}, not only on this machine");
    }
}

/// What `build` and `demo` need installed (rust-src, the wasm-bindgen CLI), then the build.
fn setup_and_build(repo: &Repo) -> Result<(), String> {
    let out = setup::setup(Needs {
        rust_src: true,
        wasm_bindgen: true,
        ..Needs::NONE
    });
    if let Some(e) = out.errors.first() {
        return Err(e.clone());
    }
    build::build(repo)
}

fn run(args: &[String]) -> Result<bool, String> {
    let Some(command) = args.first().map(String::as_str) else {
        print!("{HELP}");
        return Ok(false);
    };
    let rest = &args[1..];
    if rest.iter().any(|a| a == "--help" || a == "-h") && command != "bench" {
        print!("{HELP}");
        return Ok(true);
    }
    match command {
        "help" | "--help" | "-h" => {
            print!("{HELP}");
            Ok(true)
        }
        "setup" => {
            if let Some(extra) = rest.first() {
                return Err(format!("setup takes no arguments (got {extra:?})"));
            }
            let t = Instant::now();
            let out = setup::setup(Needs::ALL);
            for e in &out.errors {
                eprintln!("error: {e}");
            }
            println!(
                "setup {} ({})",
                if out.errors.is_empty() {
                    "done"
                } else {
                    "FAILED"
                },
                fmt_duration(t.elapsed())
            );
            Ok(out.errors.is_empty())
        }
        "build" => {
            if let Some(extra) = rest.first() {
                return Err(format!("build takes no arguments (got {extra:?})"));
            }
            let repo = Repo::locate()?;
            let t = Instant::now();
            setup_and_build(&repo)?;
            println!(
                "build done ({}): the package is in {}",
                fmt_duration(t.elapsed()),
                repo.pkg_dir().display()
            );
            Ok(true)
        }
        "serve" => {
            let (host, port) = server_options(rest, 8787)?;
            let repo = Repo::locate()?;
            warn_if_public(&host);
            let server = serve(repo.root(), &host, port)?;
            println!("Serving {}", public_url(&server, "/"));
            if !repo.pkg_dir().is_dir() {
                println!("note: target/pkg/ does not exist yet: run `cargo atelier build` so /pkg/ can be served");
            }
            print_events_forever(&server)
        }
        "demo" => {
            let (host, port) = server_options(rest, 8787)?;
            let repo = Repo::locate()?;
            setup_and_build(&repo)?;
            warn_if_public(&host);
            let server = serve(repo.root(), &host, port)?;
            if !repo.path(PLAYGROUND).is_file() {
                println!("note: {PLAYGROUND} does not exist; the index lists what there is");
            }
            let url = public_url(&server, &format!("/{PLAYGROUND}"));
            let bar = "=".repeat(url.len() + 8);
            println!("\n{bar}\n    {url}\n{bar}\nOpen the playground at the URL above (Ctrl-C stops the server).\n");
            println!("Serving {}", public_url(&server, "/"));
            print_events_forever(&server)
        }
        "test" => {
            let (filter, page_args) = match rest.first() {
                Some(f) if !f.starts_with("--") => (Some(f.as_str()), &rest[1..]),
                _ => (None, rest),
            };
            let query = suite::page_query(page_args)?;
            let repo = Repo::locate()?;
            Ok(suite::run(&repo, filter, &query))
        }
        "bench" => {
            let (page, bench_args) = match rest.iter().position(|a| a == "--") {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &[][..]),
            };
            if page.len() > 1 {
                return Err(format!(
                    "bench takes one PAGE (got {}): put the page's arguments after `--`",
                    page.join(" ")
                ));
            }
            let repo = Repo::locate()?;
            bench::run(&repo, page.first().map(String::as_str), bench_args)
        }
        other => Err(format!(
            "unknown command {other:?}: see `cargo atelier help`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_server_options() {
        assert_eq!(
            server_options(&v(&[]), 8787).unwrap(),
            ("127.0.0.1".into(), 8787)
        );
        assert_eq!(
            server_options(&v(&["--port", "0", "--host=0.0.0.0"]), 8787).unwrap(),
            ("0.0.0.0".into(), 0)
        );
        assert!(server_options(&v(&["--port"]), 1)
            .unwrap_err()
            .contains("needs a value"));
        assert!(server_options(&v(&["--port", "x"]), 1)
            .unwrap_err()
            .contains("not a port"));
        assert!(server_options(&v(&["--bogus"]), 1)
            .unwrap_err()
            .contains("unknown option"));
    }
}
