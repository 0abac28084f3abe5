//! Finding the repository root and the well-known paths inside it.

use std::path::{Path, PathBuf};

/// The repository the commands work on: the directory whose `Cargo.toml`
/// declares the `[workspace]`.
#[derive(Debug, Clone)]
pub struct Repo {
    root: PathBuf,
}

impl Repo {
    /// Uses `root` as the repository root as it is (tests use this).
    pub fn at(root: impl Into<PathBuf>) -> Repo {
        Repo { root: root.into() }
    }

    /// Finds the repository: walks up from the current directory to the first
    /// directory whose `Cargo.toml` has a `[workspace]` table; if there is none,
    /// falls back to the parent of this crate's own manifest directory.
    pub fn locate() -> Result<Repo, String> {
        let cwd = std::env::current_dir().map_err(|e| {
            format!("cannot read the current directory ({e}): run from inside the repository")
        })?;
        if let Some(root) = find_workspace_root(&cwd) {
            return Ok(Repo { root });
        }
        let fallback = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        if is_workspace_root(&fallback) {
            let root = fallback.canonicalize().unwrap_or(fallback);
            return Ok(Repo { root });
        }
        Err(format!(
            "no Cargo.toml with a [workspace] table above {}: run `cargo atelier` from inside the Atelier repository",
            cwd.display()
        ))
    }

    /// The repository root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/<rel>`.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Where the built runtime package goes (served at `/pkg/`).
    pub fn pkg_dir(&self) -> PathBuf {
        self.root.join("target").join("pkg")
    }

    /// Where `cargo atelier bench` writes the `data` reports.
    pub fn bench_out_dir(&self) -> PathBuf {
        self.root.join("target").join("bench")
    }
}

/// Walks up from `start` to the first directory whose `Cargo.toml` declares `[workspace]`.
pub fn find_workspace_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| is_workspace_root(dir))
        .map(Path::to_path_buf)
}

fn is_workspace_root(dir: &Path) -> bool {
    match std::fs::read_to_string(dir.join("Cargo.toml")) {
        Ok(text) => text.lines().any(|l| l.trim() == "[workspace]"),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_workspace_from_a_subdirectory() {
        let dir = std::env::temp_dir().join(format!("atelier-repo-test-{}", std::process::id()));
        let sub = dir.join("a").join("b");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(dir.join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
        std::fs::write(
            dir.join("a").join("Cargo.toml"),
            "[package]\nname = \"a\"\n",
        )
        .unwrap();
        assert_eq!(find_workspace_root(&sub), Some(dir.clone()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
