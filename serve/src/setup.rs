//! `cargo atelier setup`: idempotent machine setup.
//!
//! - `rust-src` for the stable toolchain (the wasm build's `-Z build-std` needs it),
//! - `miri` and `rust-src` for the floating `nightly` toolchain (the miri stage),
//!   installing that toolchain (minimal profile) when it is missing,
//! - Chromium from Debian's packages when none is found (see
//!   [`locate_chromium_with`](crate::chromium::locate_chromium_with) for where it looks),
//! - the `wasm-bindgen` CLI at exactly the version `Cargo.lock` pins for the
//!   `wasm-bindgen` crate (a CLI of another version cannot bind the module),
//! - the types check's npm packages (`npm ci` in `tests/types/`, for TypeScript),
//! - for the examples' checks: Vite (`examples/vite/`), puppeteer-core (`tests/puppeteer/`),
//!   and Debian's nginx and caddy when missing (the deployment guide's recipes),
//! - the benchmarks' npm packages (`npm ci` in `benches/`, for Comlink) when
//!   `benches/node_modules` is missing or older than `benches/package-lock.json`.
//!
//! Each step prints what it does and how long it took; a step whose tool is
//! already there costs about a second.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::chromium::locate_chromium;
use crate::process::{describe, exit_text, run_echo, run_quiet, step_end, step_start, tail};
use crate::repo::Repo;

/// The one command that makes the miri stage work, for error messages.
pub const MIRI_INSTALL: &str =
    "rustup toolchain install nightly --profile minimal --component miri,rust-src";

/// Which parts of the setup a command needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// `rust-src` for stable (the wasm build).
    pub rust_src: bool,
    /// `miri` + `rust-src` for nightly.
    pub miri: bool,
    /// A Chromium binary.
    pub chromium: bool,
    /// The wasm-bindgen CLI.
    pub wasm_bindgen: bool,
    /// The benchmarks' npm packages (`benches/node_modules`).
    pub npm: bool,
    /// The types check's npm packages (`tests/types/node_modules`: TypeScript).
    pub types: bool,
    /// What the examples' checks need: Vite (`examples/vite/`), puppeteer-core for the
    /// playground's screenshots and the servers' checks (`tests/puppeteer/`), nginx and Caddy.
    pub examples: bool,
}

impl Needs {
    /// Everything.
    pub const ALL: Needs = Needs {
        rust_src: true,
        miri: true,
        chromium: true,
        wasm_bindgen: true,
        npm: true,
        types: true,
        examples: true,
    };
    /// Nothing.
    pub const NONE: Needs = Needs {
        rust_src: false,
        miri: false,
        chromium: false,
        wasm_bindgen: false,
        npm: false,
        types: false,
        examples: false,
    };
}

/// How the setup went.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Steps that failed, each with cause and fix.
    pub errors: Vec<String>,
    /// Whether `cargo +nightly miri` is usable (a failure is in `errors` too).
    pub miri_ok: bool,
    /// Whether the benchmarks' npm packages are installed.
    pub npm_ok: bool,
}

/// Runs the steps in `needs`, printing each. Never stops at the first failure.
pub fn setup(needs: Needs) -> Outcome {
    let mut out = Outcome::default();
    if needs.rust_src {
        if let Err(e) = rust_src() {
            out.errors.push(e);
        }
    }
    if needs.miri {
        match miri() {
            Ok(()) => out.miri_ok = true,
            Err(e) => out.errors.push(e),
        }
    }
    if needs.chromium {
        if let Err(e) = chromium() {
            out.errors.push(e);
        }
    }
    if needs.wasm_bindgen {
        if let Err(e) = wasm_bindgen() {
            out.errors.push(e);
        }
    }
    if needs.npm {
        match npm_packages(
            "benches",
            "the benchmarks (benches/: Comlink)",
            "the Comlink benchmarks",
        ) {
            Ok(()) => out.npm_ok = true,
            Err(e) => println!("warning: {e}"),
        }
    }
    if needs.types {
        if let Err(e) = npm_packages(
            "tests/types",
            "the types check (tests/types/: TypeScript)",
            "the types stage",
        ) {
            out.errors.push(e);
        }
    }
    if needs.examples {
        if let Err(e) = recipe_servers() {
            out.errors.push(e);
        }
        for (rel, what, who) in [
            (
                "examples/vite",
                "the Vite example (examples/vite/: Vite)",
                "the Vite example's build",
            ),
            (
                "tests/puppeteer",
                "the playground's screenshots and the servers' checks (tests/puppeteer/: puppeteer-core)",
                "the playground's screenshots and the servers' checks",
            ),
        ] {
            if let Err(e) = npm_packages(rel, what, who) {
                out.errors.push(e);
            }
        }
    }
    out
}

fn rustup_add(toolchain: &str, components: &[&str]) -> Result<(), String> {
    let mut cmd = Command::new("rustup");
    cmd.args(["component", "add"])
        .args(components)
        .args(["--toolchain", toolchain]);
    let c = run_quiet(&mut cmd)?;
    if c.success {
        Ok(())
    } else {
        Err(format!(
            "`{}` failed:\n{}\n(check that the `{toolchain}` toolchain is installed: `rustup toolchain list`)",
            describe(&cmd),
            tail(&c.text, 10)
        ))
    }
}

fn rust_src() -> Result<(), String> {
    let t = step_start("rust-src for the stable toolchain (wasm build-std)");
    rustup_add("stable", &["rust-src"])?;
    step_end(t, "rust-src present");
    Ok(())
}

/// Whether `rustup toolchain list` names the floating `channel` (`nightly`), not only
/// dated ones (`nightly-2026-05-20-...`).
pub fn has_toolchain(list: &str, channel: &str) -> bool {
    list.lines()
        .filter_map(|l| l.split_whitespace().next())
        .any(|name| {
            name == channel
                || name.strip_prefix(channel).is_some_and(|rest| {
                    rest.starts_with('-') && !rest[1..].starts_with(|c: char| c.is_ascii_digit())
                })
        })
}

/// `miri` and `rust-src` for nightly: added to an installed nightly (which is not
/// updated), or the nightly toolchain installed with them (rustup's automatic installs
/// may be off, so this asks for it). Then checks that `cargo +nightly miri` runs.
fn miri() -> Result<(), String> {
    let t = step_start("miri and rust-src for the nightly toolchain");
    let fail = |e: String| {
        format!("miri is not usable, so the miri stage will fail: {e}\ninstall it with `{MIRI_INSTALL}`")
    };
    let list = run_quiet(Command::new("rustup").args(["toolchain", "list"])).map_err(fail)?;
    if has_toolchain(&list.text, "nightly") {
        rustup_add("nightly", &["miri", "rust-src"]).map_err(fail)?;
    } else {
        println!("    the nightly toolchain is not installed: installing it (minimal profile)");
        let mut cmd = Command::new("rustup");
        cmd.args(MIRI_INSTALL.split(' ').skip(1));
        println!("    $ {}", describe(&cmd));
        let c = run_echo(&mut cmd).map_err(fail)?;
        if !c.success {
            return Err(fail(format!(
                "`{}` failed ({}): rustup must reach static.rust-lang.org (see its output above)",
                describe(&cmd),
                exit_text(c.code)
            )));
        }
    }
    let mut check = Command::new("cargo");
    check.args(["+nightly", "miri", "--version"]);
    let c = run_quiet(&mut check).map_err(fail)?;
    if !c.success {
        return Err(fail(format!(
            "`{}` failed:\n{}",
            describe(&check),
            tail(&c.text, 10)
        )));
    }
    step_end(t, &format!("{} present", c.text.trim()));
    Ok(())
}

static APT_UPDATED: AtomicBool = AtomicBool::new(false);

/// `apt-get install`s `package` (after one `apt-get update` per run); `or` is the other fix
/// an error names.
fn apt_install(package: &str, or: &str) -> Result<(), String> {
    if !APT_UPDATED.swap(true, Ordering::SeqCst) {
        let mut update = Command::new("apt-get");
        update
            .arg("update")
            .env("DEBIAN_FRONTEND", "noninteractive");
        println!("    $ {}", describe(&update));
        let c = run_echo(&mut update)?;
        if !c.success {
            return Err(format!(
                "`apt-get update` failed ({}): apt needs root and the Debian package mirror; run it by hand to see why",
                exit_text(c.code)
            ));
        }
    }
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "--no-install-recommends", package])
        .env("DEBIAN_FRONTEND", "noninteractive");
    println!("    $ {}", describe(&install));
    let c = run_echo(&mut install)?;
    if c.success {
        Ok(())
    } else {
        Err(format!(
            "`{}` failed ({}): install {package} by hand, or {or}",
            describe(&install),
            exit_text(c.code)
        ))
    }
}

/// The web servers whose recipes in docs/deploying.md `tests/puppeteer/servers.mjs` runs:
/// (Debian package, binary).
const RECIPE_SERVERS: [(&str, &str); 2] =
    [("nginx", "/usr/sbin/nginx"), ("caddy", "/usr/bin/caddy")];

/// nginx and Caddy, from Debian's packages when missing (their services are not started:
/// the test runs each in the foreground on a free port).
fn recipe_servers() -> Result<(), String> {
    let t = step_start("nginx and Caddy (the deployment guide's recipes)");
    let mut found = Vec::new();
    for (package, binary) in RECIPE_SERVERS {
        if !Path::new(binary).is_file() {
            println!("    {binary} not found: installing Debian's {package} package");
            apt_install(
                package,
                "skip the examples' server checks with a page filter that leaves out examples.html",
            )?;
        }
        found.push(binary);
    }
    step_end(t, &format!("found {}", found.join(", ")));
    Ok(())
}

fn chromium() -> Result<(), String> {
    let t = step_start("Chromium");
    if let Some(p) = locate_chromium()? {
        step_end(t, &format!("found {}", p.display()));
        return Ok(());
    }
    println!("    not found ($CHROMIUM, $CHROME, $CHROME_PATH, /usr/bin/chromium, PATH, Playwright's cache): installing Debian's chromium package");
    apt_install("chromium", "set $CHROMIUM to a Chromium binary")?;
    match locate_chromium()? {
        Some(p) => {
            step_end(t, &format!("installed {}", p.display()));
            Ok(())
        }
        None => Err(
            "apt-get installed chromium but /usr/bin/chromium is missing: set $CHROMIUM to the browser binary"
                .into(),
        ),
    }
}

/// The version of `package` in a `Cargo.lock` text. An error if it is missing, or if the
/// lock file holds several versions of it (the one to match would be ambiguous).
pub fn lock_version(lock: &str, package: &str) -> Result<String, String> {
    let mut versions: Vec<String> = Vec::new();
    let mut name: Option<&str> = None;
    let unquote = |v: &str| v.trim().trim_matches('"').to_string();
    for line in lock.lines().map(str::trim) {
        if line == "[[package]]" {
            name = None;
        } else if let Some(v) = line.strip_prefix("name = ") {
            name = Some(v.trim().trim_matches('"'));
        } else if let Some(v) = line.strip_prefix("version = ") {
            if name == Some(package) {
                versions.push(unquote(v));
            }
        }
    }
    versions.dedup();
    match versions.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(format!(
            "Cargo.lock has no `{package}` package: the runtime must depend on it (run `cargo update -p {package}` after adding it)"
        )),
        many => Err(format!(
            "Cargo.lock holds several versions of `{package}` ({}): pin one with `=` in Cargo.toml so the CLI can match it",
            many.join(", ")
        )),
    }
}

/// The wasm-bindgen CLI version the build needs: the `wasm-bindgen` crate's version in
/// the repository's `Cargo.lock` (the CLI must match it exactly).
pub fn wasm_bindgen_wanted(repo: &Repo) -> Result<String, String> {
    let path = repo.path("Cargo.lock");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "cannot read {} ({e}): run `cargo generate-lockfile` in the repository",
            path.display()
        )
    })?;
    lock_version(&text, "wasm-bindgen").map_err(|e| format!("{}: {e}", path.display()))
}

fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
}

/// Where setup installs the wasm-bindgen CLI `version`: a folder of its own per version,
/// `$CARGO_HOME/atelier/wasm-bindgen-cli-<version>` (`~/.cargo/...`), which outlives
/// `cargo clean` and never shadows another project's `wasm-bindgen` on `PATH`.
pub fn wasm_bindgen_root(version: &str) -> Option<PathBuf> {
    cargo_home().map(|h| {
        h.join("atelier")
            .join(format!("wasm-bindgen-cli-{version}"))
    })
}

/// The `wasm-bindgen` binaries worth asking for their version, in order: setup's own
/// install of `version`, the one on `PATH`, the one in `$CARGO_HOME/bin`.
fn wasm_bindgen_candidates(version: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(root) = wasm_bindgen_root(version) {
        out.push(root.join("bin").join("wasm-bindgen"));
    }
    if let Some(path) = std::env::var_os("PATH") {
        out.extend(
            std::env::split_paths(&path)
                .map(|d| d.join("wasm-bindgen"))
                .find(|p| p.is_file()),
        );
    }
    if let Some(home) = cargo_home() {
        out.push(home.join("bin").join("wasm-bindgen"));
    }
    out.dedup();
    out.retain(|p| p.is_file());
    out
}

/// The version line a `wasm-bindgen` binary prints (`wasm-bindgen 0.2.130`), if it runs.
pub fn wasm_bindgen_version_of(binary: &Path) -> Option<String> {
    let c = run_quiet(Command::new(binary).arg("--version")).ok()?;
    c.success.then(|| c.text.trim().to_string())
}

/// A `wasm-bindgen` binary of exactly `version` (see [`wasm_bindgen_root`] for where it
/// looks); a binary of any other version is never returned. `Err` lists what was found
/// instead.
pub fn find_wasm_bindgen(version: &str) -> Result<PathBuf, Vec<String>> {
    let want = format!("wasm-bindgen {version}");
    let mut others = Vec::new();
    for binary in wasm_bindgen_candidates(version) {
        match wasm_bindgen_version_of(&binary) {
            Some(v) if v == want => return Ok(binary),
            Some(v) => others.push(format!("{} is `{v}`", binary.display())),
            None => others.push(format!("{} does not run", binary.display())),
        }
    }
    Err(others)
}

fn wasm_bindgen() -> Result<(), String> {
    let version = wasm_bindgen_wanted(&Repo::locate()?)?;
    let t = step_start(&format!(
        "wasm-bindgen CLI {version} (the version Cargo.lock pins)"
    ));
    match find_wasm_bindgen(&version) {
        Ok(p) => {
            step_end(t, &format!("found {}", p.display()));
            return Ok(());
        }
        Err(others) if others.is_empty() => println!("    not found: installing (about a minute)"),
        Err(others) => println!(
            "    found only {}: installing {version} (about a minute)",
            others.join(", ")
        ),
    }
    let root = wasm_bindgen_root(&version).ok_or(
        "neither $CARGO_HOME nor $HOME is set: set HOME so the wasm-bindgen CLI has a place to go",
    )?;
    let mut cmd = Command::new("cargo");
    cmd.args([
        "install",
        "wasm-bindgen-cli",
        "--version",
        &format!("={version}"),
        // Not `--locked`: the CLI's lock file names a dependency version this registry
        // lacks, and the install fails.
        "--no-default-features",
        // A debug build installs in about 60 s instead of 150 s, and binds the runtime's
        // small module in well under a second all the same.
        "--debug",
        "--bin",
        "wasm-bindgen",
        "--root",
    ])
    .arg(&root)
    // Outside the workspace, so its .cargo/config.toml and toolchain file do not apply.
    .current_dir(std::env::temp_dir());
    println!("    $ {}", describe(&cmd));
    let c = run_echo(&mut cmd)?;
    if !c.success {
        return Err(format!(
            "`{}` failed ({}): see the cargo output above; crates.io must be reachable",
            describe(&cmd),
            exit_text(c.code)
        ));
    }
    match find_wasm_bindgen(&version) {
        Ok(p) => {
            step_end(t, &format!("installed {}", p.display()));
            Ok(())
        }
        Err(others) => Err(format!(
            "installed wasm-bindgen-cli {version} into {} but found only: {}; remove {} and run `cargo atelier setup` again",
            root.display(),
            others.join(", "),
            root.display()
        )),
    }
}

/// Whether `dir/node_modules` matches `dir/package-lock.json`: npm writes
/// `node_modules/.package-lock.json` at the end of every install, so it is missing after
/// a failed one and older than the lock file after the lock file changed.
pub fn npm_installed(dir: &Path) -> bool {
    let modified = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (
        modified(dir.join("node_modules").join(".package-lock.json")),
        modified(dir.join("package-lock.json")),
    ) {
        (Some(installed), Some(lock)) => installed >= lock,
        _ => false,
    }
}

/// `npm ci` in `rel` (a folder of the repository with a `package-lock.json`), unless it is
/// installed already. `what` is the step's name, `who` what fails without it.
fn npm_packages(rel: &str, what: &str, who: &str) -> Result<(), String> {
    let t = step_start(&format!("npm packages of {what}"));
    let dir = Repo::locate()?.path(rel);
    if !dir.join("package-lock.json").is_file() {
        step_end(
            t,
            &format!("{rel}/package-lock.json does not exist: nothing to install"),
        );
        return Ok(());
    }
    if npm_installed(&dir) {
        step_end(t, &format!("{rel}/node_modules up to date"));
        return Ok(());
    }
    let mut cmd = Command::new("npm");
    cmd.args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir);
    println!("    $ (cd {rel} && {})", describe(&cmd));
    let c = run_echo(&mut cmd).map_err(|e| {
        format!(
            "{who} will fail: {e} (Node.js and npm come with Debian's `nodejs` and `npm` packages)"
        )
    })?;
    if !c.success {
        return Err(format!(
            "`npm ci` in {rel}/ failed ({}): {who} will fail; the npm registry must be reachable (see npm's output above)",
            exit_text(c.code)
        ));
    }
    step_end(t, &format!("installed {rel}/node_modules"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = r#"# This file is automatically @generated by Cargo.
version = 4

[[package]]
name = "wasm-bindgen-backend"
version = "0.2.129"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "wasm-bindgen"
version = "0.2.130"
source = "registry+https://github.com/rust-lang/crates.io-index"
dependencies = [
 "cfg-if",
 "wasm-bindgen-macro",
]

[[package]]
name = "zzz"
version = "1.0.0"
"#;

    #[test]
    fn reads_the_wasm_bindgen_version_from_the_lock_file() {
        assert_eq!(lock_version(LOCK, "wasm-bindgen").unwrap(), "0.2.130");
        assert_eq!(
            lock_version(LOCK, "wasm-bindgen-backend").unwrap(),
            "0.2.129"
        );
        let e = lock_version(LOCK, "js-sys").unwrap_err();
        assert!(e.contains("no `js-sys`"), "{e}");
        let two = format!("{LOCK}\n[[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.131\"\n");
        let e = lock_version(&two, "wasm-bindgen").unwrap_err();
        assert!(e.contains("0.2.130, 0.2.131"), "{e}");
    }

    #[test]
    fn the_repository_lock_file_pins_wasm_bindgen() {
        let repo = Repo::at(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        let v = wasm_bindgen_wanted(&repo).unwrap();
        assert!(v.starts_with("0.2."), "{v}");
    }

    #[test]
    fn finds_the_floating_nightly() {
        let list =
            "stable-x86_64-unknown-linux-gnu (active, default)\nnightly-x86_64-unknown-linux-gnu\n";
        assert!(has_toolchain(list, "nightly"));
        assert!(has_toolchain(list, "stable"));
        let dated = "stable-x86_64-unknown-linux-gnu (default)\nnightly-2026-05-20-x86_64-unknown-linux-gnu\n";
        assert!(!has_toolchain(dated, "nightly"));
        assert!(!has_toolchain("no installed toolchains\n", "nightly"));
        assert!(!has_toolchain("nightlyish-x86_64\n", "nightly"));
    }

    #[test]
    fn npm_install_is_fresh_only_when_newer_than_the_lock() {
        use std::time::{Duration, SystemTime};
        let dir = std::env::temp_dir().join(format!("atelier-npm-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("node_modules")).unwrap();
        let touch = |rel: &str, secs: u64| {
            let f = std::fs::File::create(dir.join(rel)).unwrap();
            f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
                .unwrap();
        };
        assert!(!npm_installed(&dir), "no lock file");
        touch("package-lock.json", 1_000);
        assert!(!npm_installed(&dir), "never installed");
        touch("node_modules/.package-lock.json", 2_000);
        assert!(npm_installed(&dir));
        touch("package-lock.json", 3_000);
        assert!(!npm_installed(&dir), "the lock file changed since");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
