//! `cargo atelier bench [PAGE] [-- args]`: builds, then runs one bench page in
//! headless Chromium with a 15-minute budget, printing its `log` lines as they come
//! and saving its `data` reports as `target/bench/<name>.json`.

use std::time::Duration;

use crate::build;
use crate::chromium::{find_chromium, run_page, PageOptions};
use crate::process::fmt_duration;
use crate::repo::Repo;
use crate::report::Report;
use crate::server::serve;
use crate::setup::{self, Needs};
use crate::suite::{print_page_failure, print_report};

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

/// Builds the query string from the arguments after `--`:
/// `--key=value` and `key=value` give `key=value`; `--key value` gives `key=value`;
/// a lone `--flag` or `word` gives `flag` / `word`.
pub fn query_from_args(args: &[String]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let bare = arg.trim_start_matches('-');
        if let Some((k, v)) = bare.split_once('=') {
            parts.push(format!("{}={}", encode(k), encode(v)));
        } else if arg.starts_with("--") && i + 1 < args.len() && !args[i + 1].starts_with("--") {
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
    let page = page.unwrap_or("index");
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
    let mut save_errors = Vec::new();
    let run = run_page(
        &chromium,
        &server,
        &target,
        &PageOptions::long(BENCH_BUDGET),
        &mut |r| {
            if let Report::Data { name, json, .. } = r {
                let dest = out_dir.join(format!("{}.json", safe_name(name)));
                let written = std::fs::create_dir_all(&out_dir).and_then(|()| {
                    std::fs::write(
                        &dest,
                        serde_json::to_string_pretty(json).unwrap_or_default(),
                    )
                });
                match written {
                    Ok(()) => println!("  saved {}", dest.display()),
                    Err(e) => save_errors.push(format!("cannot write {} ({e})", dest.display())),
                }
            } else {
                print_report(&file, r);
            }
        },
    );
    for e in &save_errors {
        println!("  error: {e}: check that target/ is writable");
    }
    if !run.ok() {
        print_page_failure(&run);
    }
    println!(
        "==> bench {file}: {} ({})",
        if run.ok() && save_errors.is_empty() {
            "finished"
        } else {
            "FAILED"
        },
        fmt_duration(run.elapsed)
    );
    Ok(run.ok() && save_errors.is_empty())
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
    }

    #[test]
    fn safe_names() {
        assert_eq!(safe_name("dispatch-latency"), "dispatch-latency");
        assert_eq!(safe_name("../../etc/x"), "_.._etc_x");
        assert_eq!(safe_name("a b/c"), "a_b_c");
        assert_eq!(safe_name(""), "unnamed");
    }
}
