//! `cargo atelier build`: the wasm build, the bindings, the JS glue, and the check
//! that the module's memory is shared.
//!
//! 1. `cargo build --release --target wasm32-unknown-unknown -Z build-std=panic_abort,std
//!    --target-dir <repo>/target/wasm -p atelier` with `RUSTC_BOOTSTRAP=1` on that command
//!    only (the wasm rustflags come from `.cargo/config.toml`);
//! 2. `wasm-bindgen --target web` into `<repo>/target/pkg` as `atelier_wasm`, with the
//!    CLI of the version `Cargo.lock` pins (see [`find_wasm_bindgen`]);
//! 3. every `*.js` of `src/js/` and `workers/js/` (not their subfolders) copied flat
//!    into `target/pkg/`;
//! 4. a check with wasmparser that `atelier_wasm_bg.wasm` imports a shared memory;
//! 5. `target/pkg-bare/`: the same package without its observability hooks (lines marked
//!    `// @hook`, blocks between `// @hook {` and `// @hook }`), for the benchmark that
//!    measures what the hooks cost when nobody listens. It is not part of the package.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::process::{describe, exit_text, run_echo, step_end, step_start};
use crate::repo::Repo;
use crate::setup::{find_wasm_bindgen, wasm_bindgen_wanted};

/// The wasm module the bindings are generated from.
pub fn raw_wasm(repo: &Repo) -> PathBuf {
    repo.path("target/wasm/wasm32-unknown-unknown/release/atelier.wasm")
}

/// The module the page loads.
pub fn bound_wasm(repo: &Repo) -> PathBuf {
    repo.pkg_dir().join("atelier_wasm_bg.wasm")
}

/// The memory a module imports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedMemory {
    /// `module.name` of the import.
    pub name: String,
    /// Whether it is a shared memory.
    pub shared: bool,
    /// Initial size in 64 KiB pages.
    pub initial: u64,
    /// Maximum size in 64 KiB pages.
    pub maximum: Option<u64>,
}

/// Runs the whole build. Prints each step with its time.
pub fn build(repo: &Repo) -> Result<(), String> {
    cargo_build_wasm(repo)?;
    bindgen(repo)?;
    copy_js(repo)?;
    write_package_json(repo)?;
    write_bare_package(repo)?;
    let t = step_start("package size (JS and wasm; budget: serve/src/size.rs)");
    let report = crate::size::measure(&pkg_dir(repo)?)?;
    let (text, within) = report.render();
    for line in text.lines() {
        println!("    {line}");
    }
    if !within {
        return Err(format!("the package is over its size budget:\n{text}"));
    }
    step_end(t, "within the budget");
    let t = step_start("check: the wasm memory is shared");
    let wasm = bound_wasm(repo);
    let mem = check_shared_memory(&wasm)?;
    let size = std::fs::metadata(&wasm).map(|m| m.len()).unwrap_or(0);
    step_end(
        t,
        &format!(
            "shared memory {} imported ({} to {} pages); {} is {:.1} KiB",
            mem.name,
            mem.initial,
            mem.maximum
                .map(|m| m.to_string())
                .unwrap_or_else(|| "?".into()),
            wasm.display(),
            size as f64 / 1024.0
        ),
    );
    Ok(())
}

fn cargo_build_wasm(repo: &Repo) -> Result<(), String> {
    let t = step_start("wasm build (cargo, build-std, target/wasm)");
    let mut cmd = Command::new("cargo");
    cmd.current_dir(repo.root())
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
            "-Z",
            "build-std=panic_abort,std",
            "--target-dir",
        ])
        .arg(repo.path("target/wasm"))
        .args(["-p", "atelier"])
        .env("RUSTC_BOOTSTRAP", "1");
    // RUSTFLAGS (in any spelling) would replace the wasm rustflags of .cargo/config.toml
    // and silently produce a module without shared memory.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
    ] {
        if std::env::var_os(var).is_some() {
            println!("    note: ignoring ${var} for the wasm build (the flags come from .cargo/config.toml)");
            cmd.env_remove(var);
        }
    }
    println!("    $ {}", describe(&cmd));
    let c = run_echo(&mut cmd)?;
    if !c.success {
        let hint = if c.text.contains("rust-src") || c.text.contains("build-std") {
            "the stable toolchain needs rust-src: run `cargo atelier setup`"
        } else {
            "see the compiler output above"
        };
        return Err(format!(
            "the wasm build failed ({}): {hint}",
            exit_text(c.code)
        ));
    }
    let wasm = raw_wasm(repo);
    if !wasm.is_file() {
        return Err(format!(
            "the wasm build succeeded but {} is missing: the root crate `atelier` must have crate-type = [\"cdylib\", ...]",
            wasm.display()
        ));
    }
    step_end(t, "built");
    Ok(())
}

fn bindgen(repo: &Repo) -> Result<(), String> {
    let t = step_start("wasm-bindgen --target web");
    let version = wasm_bindgen_wanted(repo)?;
    let binary = find_wasm_bindgen(&version).map_err(|others| {
        let found = if others.is_empty() {
            String::new()
        } else {
            format!(" (found only {})", others.join(", "))
        };
        format!(
            "the wasm-bindgen CLI {version}, which Cargo.lock pins, is not installed{found}: run `cargo atelier setup`"
        )
    })?;
    let pkg = pkg_dir(repo)?;
    let mut cmd = Command::new(&binary);
    cmd.args(["--target", "web", "--out-dir"])
        .arg(&pkg)
        .args(["--out-name", "atelier_wasm"])
        .arg(raw_wasm(repo));
    println!("    $ {}", describe(&cmd));
    let c = run_echo(&mut cmd)?;
    if !c.success {
        return Err(format!(
            "wasm-bindgen failed ({}): see its message above; a schema mismatch means the CLI is not the crate's wasm-bindgen {version}",
            exit_text(c.code)
        ));
    }
    step_end(t, &format!("bindings in {}", pkg.display()));
    Ok(())
}

/// The package's `package.json`: its name, version (the workspace's) and `exports` map (the
/// main and worker entries, each with its types, and the isolation service worker).
pub fn package_json() -> String {
    format!(
        r#"{{
  "name": "atelier",
  "version": "{}",
  "description": "A task runtime for Web Workers whose calls travel through shared memory",
  "license": "MIT OR Apache-2.0",
  "type": "module",
  "exports": {{
    ".": {{ "types": "./index.d.ts", "default": "./index.js" }},
    "./worker": {{ "types": "./worker.d.ts", "default": "./worker.js" }},
    "./isolate-sw.js": "./isolate-sw.js"
  }},
  "types": "./index.d.ts",
  "files": ["*.js", "*.d.ts", "*.wasm"]
}}
"#,
        env!("CARGO_PKG_VERSION")
    )
}

fn write_package_json(repo: &Repo) -> Result<(), String> {
    let t = step_start("write target/pkg/package.json");
    let path = pkg_dir(repo)?.join("package.json");
    std::fs::write(&path, package_json())
        .map_err(|e| format!("cannot write {} ({e})", path.display()))?;
    step_end(t, "exports . and ./worker, with types, and ./isolate-sw.js");
    Ok(())
}

/// The `*.js` and `*.d.ts` files directly in `dir` (sorted), or none if it does not exist.
fn js_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot list {} ({e})", dir.display())),
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with(".js") || n.ends_with(".d.ts"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Copies `src/js/*.js` and `workers/js/*.js` (and their `.d.ts`) flat into `target/pkg/`.
pub fn copy_js(repo: &Repo) -> Result<Vec<PathBuf>, String> {
    let t = step_start("copy src/js/*.js, workers/js/*.js and their types into target/pkg");
    let pkg = pkg_dir(repo)?;
    let mut copied: Vec<PathBuf> = Vec::new();
    for dir in ["src/js", "workers/js"] {
        for file in js_files(&repo.path(dir))? {
            let name = file.file_name().map(PathBuf::from).unwrap_or_default();
            if let Some(prev) = copied.iter().find(|p| p.file_name() == file.file_name()) {
                return Err(format!(
                    "{} and {} would both be copied to target/pkg/{}: rename one of them",
                    prev.display(),
                    file.display(),
                    name.display()
                ));
            }
            std::fs::copy(&file, pkg.join(&name)).map_err(|e| {
                format!(
                    "cannot copy {} into {} ({e})",
                    file.display(),
                    pkg.display()
                )
            })?;
            copied.push(file);
        }
    }
    step_end(t, &format!("{} file(s) copied", copied.len()));
    Ok(copied)
}

/// Reads `wasm` and checks that it imports a shared memory.
pub fn check_shared_memory(wasm: &Path) -> Result<ImportedMemory, String> {
    let bytes = std::fs::read(wasm).map_err(|e| {
        format!(
            "cannot read {} ({e}): run `cargo atelier build` first",
            wasm.display()
        )
    })?;
    let mem = imported_memory(&bytes).map_err(|e| format!("{}: {e}", wasm.display()))?;
    match mem {
        None => Err(format!(
            "{} imports no memory: the wasm memory is not shared: check the link args in .cargo/config.toml (--import-memory, --shared-memory)",
            wasm.display()
        )),
        Some(m) if !m.shared => Err(format!(
            "{} imports {} but it is not shared: the wasm memory is not shared: check the link args in .cargo/config.toml (--shared-memory)",
            wasm.display(),
            m.name
        )),
        Some(m) => Ok(m),
    }
}

/// The first memory the module imports, if any.
pub fn imported_memory(bytes: &[u8]) -> Result<Option<ImportedMemory>, String> {
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| format!("not a valid wasm module ({e}): rebuild it"))?;
        if let wasmparser::Payload::ImportSection(reader) = payload {
            for import in reader.into_imports() {
                let import = import.map_err(|e| format!("bad import section ({e}): rebuild it"))?;
                if let wasmparser::TypeRef::Memory(m) = import.ty {
                    return Ok(Some(ImportedMemory {
                        name: format!("{}.{}", import.module, import.name),
                        shared: m.shared,
                        initial: m.initial,
                        maximum: m.maximum,
                    }));
                }
            }
        }
    }
    Ok(None)
}

/// `target/pkg/`, created if missing.
/// The package without its observability hooks, for the overhead benchmark.
pub fn bare_dir(repo: &Repo) -> PathBuf {
    repo.path("target/pkg-bare")
}

/// Writes [`bare_dir`]: every `.js` of the package with its hooks stripped, and its `.wasm`.
pub fn write_bare_package(repo: &Repo) -> Result<(), String> {
    let t = step_start("write target/pkg-bare (the package without its observability hooks)");
    let pkg = pkg_dir(repo)?;
    let bare = bare_dir(repo);
    std::fs::create_dir_all(&bare).map_err(|e| {
        format!(
            "cannot create {} ({e}): check the permissions of target/",
            bare.display()
        )
    })?;
    let entries =
        std::fs::read_dir(&pkg).map_err(|e| format!("cannot read {} ({e})", pkg.display()))?;
    let mut stripped = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        let to = bare.join(&name);
        if name.ends_with(".js") {
            let src = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {} ({e})", path.display()))?;
            let (out, n) = strip_hooks(&src).map_err(|e| format!("{}: {e}", path.display()))?;
            stripped += n;
            std::fs::write(&to, out).map_err(|e| format!("cannot write {} ({e})", to.display()))?;
        } else if name.ends_with(".wasm") {
            std::fs::copy(&path, &to)
                .map_err(|e| format!("cannot copy {} ({e})", path.display()))?;
        }
    }
    step_end(t, &format!("{stripped} hook line(s) left out"));
    Ok(())
}

/// `src` without its hook lines: those ending in `// @hook`, and the blocks from a line
/// `// @hook {` to a line `// @hook }` (both included). Returns the text and how many lines
/// were left out.
pub fn strip_hooks(src: &str) -> Result<(String, usize), String> {
    let mut out = String::with_capacity(src.len());
    let mut open: Option<usize> = None;
    let mut left_out = 0;
    for (i, line) in src.lines().enumerate() {
        let t = line.trim();
        if t == "// @hook {" {
            if let Some(at) = open {
                return Err(format!(
                    "line {}: a hook block opens inside the one opened on line {}",
                    i + 1,
                    at + 1
                ));
            }
            open = Some(i);
            left_out += 1;
            continue;
        }
        if t == "// @hook }" {
            if open.take().is_none() {
                return Err(format!(
                    "line {}: a hook block closes that was never opened",
                    i + 1
                ));
            }
            left_out += 1;
            continue;
        }
        if open.is_some() || t.ends_with("// @hook") {
            left_out += 1;
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    match open {
        Some(at) => Err(format!("line {}: a hook block is never closed", at + 1)),
        None => Ok((out, left_out)),
    }
}

fn pkg_dir(repo: &Repo) -> Result<PathBuf, String> {
    let pkg = repo.pkg_dir();
    std::fs::create_dir_all(&pkg).map_err(|e| {
        format!(
            "cannot create {} ({e}): check the permissions of target/",
            pkg.display()
        )
    })?;
    Ok(pkg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_are_stripped_lines_and_blocks() {
        let src = "a();\nif (x) emit(); // @hook\n  // @hook {\n  b();\n  // @hook }\nc();\n";
        let (out, n) = strip_hooks(src).unwrap();
        assert_eq!(out, "a();\nc();\n");
        assert_eq!(n, 4);
        assert!(strip_hooks("// @hook {\nx();\n")
            .unwrap_err()
            .contains("never closed"));
        assert!(strip_hooks("// @hook }\n")
            .unwrap_err()
            .contains("never opened"));
        assert!(strip_hooks("// @hook {\n// @hook {\n")
            .unwrap_err()
            .contains("inside"));
    }

    #[test]
    fn the_runtime_sources_strip_cleanly() {
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut total = 0;
        for file in ["src/js/runtime.js", "workers/js/worker.js"] {
            let src = std::fs::read_to_string(repo.join(file)).unwrap();
            let (out, n) = strip_hooks(&src).unwrap();
            assert!(!out.contains("@hook"), "{file}");
            total += n;
        }
        assert!(
            total >= 10,
            "the hot path's hooks are marked ({total} lines)"
        );
    }

    /// A module whose only content is `(import "env" "memory" (memory 1 16 <shared>))`.
    fn module_with_memory(shared: bool) -> Vec<u8> {
        let flags = if shared { 0x03 } else { 0x01 };
        let mut m = vec![0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
        m.extend([0x02, 0x10, 0x01, 0x03, b'e', b'n', b'v', 0x06]);
        m.extend(b"memory");
        m.extend([0x02, flags, 0x01, 0x10]);
        m
    }

    #[test]
    fn finds_a_shared_memory_import() {
        let m = imported_memory(&module_with_memory(true)).unwrap().unwrap();
        assert_eq!(
            m,
            ImportedMemory {
                name: "env.memory".into(),
                shared: true,
                initial: 1,
                maximum: Some(16)
            }
        );
    }

    #[test]
    fn refuses_an_unshared_or_missing_memory() {
        let dir = std::env::temp_dir().join(format!("atelier-build-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("plain.wasm");
        std::fs::write(&f, module_with_memory(false)).unwrap();
        let e = check_shared_memory(&f).unwrap_err();
        assert!(
            e.contains("the wasm memory is not shared: check the link args in .cargo/config.toml"),
            "{e}"
        );
        std::fs::write(&f, &module_with_memory(false)[..8]).unwrap();
        let e = check_shared_memory(&f).unwrap_err();
        assert!(e.contains("imports no memory"), "{e}");
        std::fs::write(&f, b"garbage").unwrap();
        assert!(check_shared_memory(&f)
            .unwrap_err()
            .contains("not a valid wasm module"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
