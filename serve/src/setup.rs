//! `cargo atelier setup`: idempotent machine setup.
//!
//! - `rust-src` for the stable toolchain (the wasm build's `-Z build-std` needs it),
//! - `miri` and `rust-src` for the floating `nightly` toolchain (the miri stage),
//! - Chromium from Debian's packages when none is found,
//! - the `wasm-bindgen` CLI at exactly [`WASM_BINDGEN_VERSION`],
//! - the types check's npm packages (`npm ci` in `tests/types/`, for TypeScript),
//! - the benchmarks' npm packages (`npm ci` in `benches/`, for Comlink) when
//!   `benches/node_modules` is missing or older than `benches/package-lock.json`.
//!
//! Each step prints what it does and how long it took; a step whose tool is
//! already there costs about a second.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::chromium::find_chromium;
use crate::process::{describe, exit_text, run_echo, run_quiet, step_end, step_start, tail};
use crate::repo::Repo;

/// The wasm-bindgen CLI version the runtime's `wasm-bindgen` dependency is pinned to.
pub const WASM_BINDGEN_VERSION: &str = "0.2.130";

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
    };
    /// Nothing.
    pub const NONE: Needs = Needs {
        rust_src: false,
        miri: false,
        chromium: false,
        wasm_bindgen: false,
        npm: false,
        types: false,
    };
}

/// How the setup went.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Steps that failed, each with cause and fix.
    pub errors: Vec<String>,
    /// Whether `cargo +nightly miri` is usable.
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
            Err(e) => println!("warning: {e}"),
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

fn miri() -> Result<(), String> {
    let t = step_start("miri and rust-src for the nightly toolchain");
    match rustup_add("nightly", &["miri", "rust-src"]) {
        Ok(()) => {
            step_end(t, "miri present");
            Ok(())
        }
        Err(e) => {
            step_end(t, "miri unavailable");
            Err(format!(
                "miri is unavailable, so the miri stage will be skipped: {e}"
            ))
        }
    }
}

static APT_UPDATED: AtomicBool = AtomicBool::new(false);

fn apt_install(package: &str) -> Result<(), String> {
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
            "`{}` failed ({}): install {package} by hand, or set $CHROMIUM to a Chromium binary",
            describe(&install),
            exit_text(c.code)
        ))
    }
}

fn chromium() -> Result<(), String> {
    let t = step_start("Chromium");
    if let Some(p) = find_chromium() {
        step_end(t, &format!("found {}", p.display()));
        return Ok(());
    }
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Err(format!(
            "$CHROMIUM is set to {}, which is not a file: unset it or point it at a Chromium binary",
            PathBuf::from(p).display()
        ));
    }
    println!("    not found: installing Debian's chromium package");
    apt_install("chromium")?;
    match find_chromium() {
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

/// The `wasm-bindgen` binary: on `PATH`, else in `$CARGO_HOME/bin` (`~/.cargo/bin`).
pub fn wasm_bindgen_path() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("wasm-bindgen").is_file()))
        .unwrap_or(false);
    if on_path {
        return PathBuf::from("wasm-bindgen");
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    match cargo_home {
        Some(home) if home.join("bin/wasm-bindgen").is_file() => home.join("bin/wasm-bindgen"),
        _ => PathBuf::from("wasm-bindgen"),
    }
}

/// The installed wasm-bindgen version line (`wasm-bindgen 0.2.130`), if any.
pub fn wasm_bindgen_version() -> Option<String> {
    let c = run_quiet(Command::new(wasm_bindgen_path()).arg("--version")).ok()?;
    c.success.then(|| c.text.trim().to_string())
}

fn wasm_bindgen() -> Result<(), String> {
    let t = step_start(&format!("wasm-bindgen CLI {WASM_BINDGEN_VERSION}"));
    let want = format!("wasm-bindgen {WASM_BINDGEN_VERSION}");
    match wasm_bindgen_version() {
        Some(v) if v == want => {
            step_end(t, &format!("found {v}"));
            return Ok(());
        }
        Some(v) => println!("    found `{v}`, need `{want}`: installing"),
        None => println!("    not found: installing (about a minute)"),
    }
    let mut cmd = Command::new("cargo");
    cmd.args([
        "install",
        "wasm-bindgen-cli",
        "--version",
        &format!("={WASM_BINDGEN_VERSION}"),
        "--no-default-features",
        // A debug build installs in about 60 s instead of 150 s, and binds the runtime's
        // small module in well under a second all the same.
        "--debug",
        "--bin",
        "wasm-bindgen",
    ])
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
    match wasm_bindgen_version() {
        Some(v) if v == want => {
            step_end(t, &format!("installed {v}"));
            Ok(())
        }
        other => Err(format!(
            "installed wasm-bindgen-cli but `wasm-bindgen --version` says {other:?}: put ~/.cargo/bin first on PATH"
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
