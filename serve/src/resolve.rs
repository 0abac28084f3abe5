//! Mapping a request path to a file under the served root, refusing anything
//! outside it, and the MIME types.
//!
//! `/pkg/...` maps to `<repo>/target/pkg/...` (the built runtime package);
//! every other path maps to `<repo>/...`.

use std::path::{Path, PathBuf};

/// What a request path resolved to.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolved {
    /// `/`: the generated index page.
    Index,
    /// A regular file.
    File(PathBuf),
    /// A directory (served as a generated listing).
    Dir(PathBuf),
}

/// Why a request path was refused: the HTTP status and a message that names
/// the cause and the fix.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    /// HTTP status code (400, 403 or 404).
    pub status: u16,
    /// Human-readable cause.
    pub message: String,
}

fn refuse(status: u16, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        message: message.into(),
    }
}

/// Splits a request target into its path and its query (without the `?`),
/// dropping any `#fragment`.
pub fn split_target(target: &str) -> (&str, Option<&str>) {
    let target = target.split('#').next().unwrap_or("");
    match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    }
}

/// Percent-decodes one path segment. Returns `None` on a malformed escape.
pub fn percent_decode(segment: &str) -> Option<Vec<u8>> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Decodes and checks the segments of `path` (which starts with `/`).
/// Empty segments (`//`) are dropped.
pub fn decode_segments(path: &str) -> Result<Vec<String>, Refusal> {
    if !path.starts_with('/') {
        return Err(refuse(
            400,
            format!("request path {path:?} does not start with '/': request an absolute path such as /examples/playground/index.html"),
        ));
    }
    let mut segments = Vec::new();
    for raw in path.split('/').filter(|s| !s.is_empty()) {
        let bytes = percent_decode(raw).ok_or_else(|| {
            refuse(
                400,
                format!("malformed percent-encoding in path segment {raw:?}: escape '%' as %25"),
            )
        })?;
        if bytes.contains(&0) {
            return Err(refuse(
                403,
                format!("path segment {raw:?} contains a NUL byte: NUL is never allowed in a path"),
            ));
        }
        let seg = String::from_utf8(bytes).map_err(|_| {
            refuse(
                400,
                format!("path segment {raw:?} is not UTF-8 after percent-decoding: use UTF-8 file names"),
            )
        })?;
        if seg.contains('/') || seg.contains('\\') {
            return Err(refuse(
                403,
                format!("path segment {raw:?} contains an encoded slash or a backslash: refused, it could leave the served root"),
            ));
        }
        if seg == ".." || seg == "." {
            return Err(refuse(
                403,
                format!("path {path:?} has a '{seg}' segment: refused, paths may not leave the served root; request the file by its plain path"),
            ));
        }
        if seg.starts_with('.') {
            return Err(refuse(
                403,
                format!("path segment {seg:?} names a hidden file: hidden files and folders (.git, .cargo, ...) are not served"),
            ));
        }
        segments.push(seg);
    }
    Ok(segments)
}

/// Resolves a request path (already split from its query) to a file or directory.
///
/// `root` is the repository root; `pkg` is the directory served at `/pkg/`.
pub fn resolve(root: &Path, pkg: &Path, path: &str) -> Result<Resolved, Refusal> {
    let segments = decode_segments(path)?;
    if segments.is_empty() {
        return Ok(Resolved::Index);
    }
    let (base, rest) = if segments[0] == "pkg" {
        (pkg, &segments[1..])
    } else {
        (root, &segments[..])
    };
    let base = match base.canonicalize() {
        Ok(b) => b,
        Err(_) if segments[0] == "pkg" => {
            return Err(refuse(
                404,
                format!(
                    "{} does not exist: the runtime package is not built yet; run `cargo atelier build`",
                    pkg.display()
                ),
            ))
        }
        Err(e) => {
            return Err(refuse(
                404,
                format!("the served root {} cannot be read ({e}): start the server from the repository", base.display()),
            ))
        }
    };
    let mut candidate = base.clone();
    candidate.extend(rest);
    let real = match candidate.canonicalize() {
        Ok(real) => real,
        Err(_) => {
            let hint = if segments[0] == "pkg" {
                "; run `cargo atelier build` to (re)build the runtime package"
            } else {
                ""
            };
            return Err(refuse(
                404,
                format!(
                    "{path} not found (looked for {}){hint}",
                    candidate.display()
                ),
            ));
        }
    };
    if !real.starts_with(&base) {
        return Err(refuse(
            403,
            format!(
                "{path} resolves to {}, outside the served root {}: refused (a symlink that leaves the root is not followed)",
                real.display(),
                base.display()
            ),
        ));
    }
    if real.is_dir() {
        Ok(Resolved::Dir(real))
    } else {
        Ok(Resolved::File(real))
    }
}

/// The `Content-Type` for a file name.
pub fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("js" | "mjs") => "text/javascript",
        Some("wasm") => "application/wasm",
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("txt" | "md") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_query_and_fragment() {
        assert_eq!(split_target("/a/b.html?x=1#f"), ("/a/b.html", Some("x=1")));
        assert_eq!(split_target("/a#f?x"), ("/a", None));
        assert_eq!(split_target("/"), ("/", None));
    }

    #[test]
    fn decodes_segments() {
        assert_eq!(
            decode_segments("/a%20b//c").unwrap(),
            vec!["a b".to_string(), "c".to_string()]
        );
        assert!(decode_segments("/").unwrap().is_empty());
    }

    #[test]
    fn refuses_traversal_and_odd_bytes() {
        for bad in [
            "/../etc/passwd",
            "/a/../../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/%2E%2E/etc/passwd",
            "/a/.%2e/b",
            "/..%2fetc%2fpasswd",
            "/a%2F..%2F..%2Fetc",
            "/a%5c..%5cb",
            "/a%00.html",
            "/.git/config",
            "/./x",
        ] {
            let r = decode_segments(bad).unwrap_err();
            assert_eq!(r.status, 403, "{bad}: {}", r.message);
        }
        assert_eq!(decode_segments("/a%zz").unwrap_err().status, 400);
        assert_eq!(decode_segments("/a%2").unwrap_err().status, 400);
        assert_eq!(decode_segments("/%ff").unwrap_err().status, 400);
        assert_eq!(decode_segments("a/b").unwrap_err().status, 400);
    }

    #[test]
    fn mime_types() {
        for (name, ty) in [
            ("a.js", "text/javascript"),
            ("a.mjs", "text/javascript"),
            ("a.wasm", "application/wasm"),
            ("a.html", "text/html; charset=utf-8"),
            ("a.json", "application/json"),
            ("a.map", "application/json"),
            ("a.css", "text/css; charset=utf-8"),
            ("a.svg", "image/svg+xml"),
            ("a.png", "image/png"),
            ("a.txt", "text/plain; charset=utf-8"),
            ("a.bin", "application/octet-stream"),
            ("Makefile", "application/octet-stream"),
        ] {
            assert_eq!(content_type(Path::new(name)), ty, "{name}");
        }
    }
}
