//! The HTTP server over a real socket: isolation headers on every response, MIME
//! types, the /pkg/ mapping, path traversal, the non-isolated prefix, the report endpoint.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use atelier_serve::report::{Event, Report};
use atelier_serve::server::{raw_request, serve, ServerHandle};

struct Fixture {
    dir: PathBuf,
    root: PathBuf,
    server: ServerHandle,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

/// A served root with a few files, and a secret next to (outside) it.
fn fixture(name: &str) -> Fixture {
    let dir = std::env::temp_dir().join(format!("atelier-server-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let root = dir.join("repo");
    write(&dir.join("secret.txt"), "TOP-SECRET");
    for (f, body) in [
        ("a.js", "export const a = 1;"),
        ("b.mjs", "export {};"),
        ("m.wasm", "\0asm"),
        ("page.html", "<!doctype html><p>page"),
        ("x.json", "{}"),
        ("y.css", "p{}"),
        ("z.svg", "<svg/>"),
        ("p.png", "png"),
        ("s.map", "{}"),
        ("t.txt", "text"),
        ("blob.bin", "bin"),
        ("dir/inner.txt", "inner"),
        (".hidden", "hidden"),
        ("examples/playground/index.html", "playground"),
        ("tests/browser/one.html", "one"),
        ("target/pkg/atelier_wasm.js", "// the package"),
    ] {
        write(&root.join(f), body);
    }
    std::os::unix::fs::symlink(dir.join("secret.txt"), root.join("escape.txt")).unwrap();
    let server = serve(&root, "127.0.0.1", 0).unwrap();
    Fixture { dir, root, server }
}

struct Resp {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

fn request(addr: SocketAddr, method: &str, target: &str, body: &str) -> Resp {
    let raw = raw_request(addr, method, target, &[], body.as_bytes()).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a complete response");
    let mut lines = head.lines();
    let status_line = lines.next().unwrap();
    assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
    let status = status_line[9..12].parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Resp {
        status,
        headers,
        body: body.to_string(),
    }
}

fn get(f: &Fixture, target: &str) -> Resp {
    request(f.server.addr(), "GET", target, "")
}

fn assert_isolated(r: &Resp, what: &str) {
    let h = |k: &str| r.headers.get(k).map(String::as_str);
    assert_eq!(
        h("cross-origin-opener-policy"),
        Some("same-origin"),
        "{what}"
    );
    assert_eq!(
        h("cross-origin-embedder-policy"),
        Some("require-corp"),
        "{what}"
    );
    assert_eq!(
        h("cross-origin-resource-policy"),
        Some("same-origin"),
        "{what}"
    );
    assert_eq!(h("cache-control"), Some("no-store"), "{what}");
}

#[test]
fn every_response_carries_the_isolation_headers() {
    let f = fixture("headers");
    let addr = f.server.addr();
    for (method, target, status) in [
        ("GET", "/a.js", 200),
        ("GET", "/", 200),
        ("GET", "/dir", 200),
        ("GET", "/nope.js", 404),
        ("GET", "/../secret.txt", 403),
        ("GET", "/a%zz", 400),
        ("DELETE", "/a.js", 405),
        ("GET", "/__atelier/report", 405),
        ("POST", "/__atelier/report", 415),
    ] {
        let r = request(addr, method, target, "");
        assert_eq!(r.status, status, "{method} {target}: {}", r.body);
        assert_isolated(&r, &format!("{method} {target}"));
    }
}

#[test]
fn content_types() {
    let f = fixture("mime");
    for (path, ty) in [
        ("/a.js", "text/javascript"),
        ("/b.mjs", "text/javascript"),
        ("/m.wasm", "application/wasm"),
        ("/page.html", "text/html; charset=utf-8"),
        ("/x.json", "application/json"),
        ("/y.css", "text/css; charset=utf-8"),
        ("/z.svg", "image/svg+xml"),
        ("/p.png", "image/png"),
        ("/s.map", "application/json"),
        ("/t.txt", "text/plain; charset=utf-8"),
        ("/blob.bin", "application/octet-stream"),
    ] {
        let r = get(&f, path);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(
            r.headers.get("content-type").map(String::as_str),
            Some(ty),
            "{path}"
        );
    }
    let r = get(&f, "/a.js?cache=1#frag");
    assert_eq!((r.status, r.body.as_str()), (200, "export const a = 1;"));
}

#[test]
fn pkg_maps_to_target_pkg() {
    let f = fixture("pkg");
    let r = get(&f, "/pkg/atelier_wasm.js");
    assert_eq!((r.status, r.body.as_str()), (200, "// the package"));
    let r = get(&f, "/pkg/missing.js");
    assert_eq!(r.status, 404);
    assert!(r.body.contains("cargo atelier build"), "{}", r.body);
    std::fs::remove_dir_all(f.root.join("target/pkg")).unwrap();
    let r = get(&f, "/pkg/atelier_wasm.js");
    assert_eq!(r.status, 404);
    assert!(r.body.contains("cargo atelier build"), "{}", r.body);
}

#[test]
fn refuses_paths_outside_the_root() {
    let f = fixture("traversal");
    for target in [
        "/../secret.txt",
        "/dir/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/dir/%2e%2e/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/dir%2f..%2f..%2fsecret.txt",
        "/dir%2F..%2F..%2Fsecret.txt",
        "/..%5csecret.txt",
        "/a.js%00.html",
        "/escape.txt",
        "/.hidden",
        "/__noniso/../secret.txt",
        "/pkg/../../../secret.txt",
    ] {
        let r = get(&f, target);
        assert_eq!(r.status, 403, "{target}: {}", r.body);
        assert!(!r.body.contains("TOP-SECRET"), "{target}");
        assert!(
            r.body.contains("refused") || r.body.contains("not served") || r.body.contains("NUL"),
            "{target}: {}",
            r.body
        );
        if !target.starts_with("/__noniso/") {
            assert_isolated(&r, target);
        }
    }
}

#[test]
fn noniso_prefix_drops_only_the_isolation_headers() {
    let f = fixture("noniso");
    let r = get(&f, "/__noniso/page.html");
    assert_eq!((r.status, r.body.as_str()), (200, "<!doctype html><p>page"));
    assert_eq!(
        r.headers.get("content-type").map(String::as_str),
        Some("text/html; charset=utf-8")
    );
    for h in [
        "cross-origin-opener-policy",
        "cross-origin-embedder-policy",
        "cross-origin-resource-policy",
    ] {
        assert!(
            !r.headers.contains_key(h),
            "{h} sent on a non-isolated response"
        );
    }
    assert_eq!(
        r.headers.get("cache-control").map(String::as_str),
        Some("no-store")
    );
    let r = get(&f, "/__noniso/nope.html");
    assert_eq!(r.status, 404);
    assert!(!r.headers.contains_key("cross-origin-embedder-policy"));
    // Only the exact prefix counts.
    let r = get(&f, "/__nonisox/page.html");
    assert_eq!(r.status, 404);
    assert_isolated(&r, "/__nonisox");
}

#[test]
fn head_sends_headers_without_a_body() {
    let f = fixture("head");
    let r = request(f.server.addr(), "HEAD", "/a.js", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "");
    assert_eq!(
        r.headers.get("content-length").map(String::as_str),
        Some("19")
    );
    assert_isolated(&r, "HEAD");
}

#[test]
fn index_lists_the_playground_and_test_pages() {
    let f = fixture("index");
    let r = get(&f, "/");
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains("href=\"/examples/playground/index.html\""),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("href=\"/tests/browser/one.html\""),
        "{}",
        r.body
    );
    let r = get(&f, "/dir/");
    assert!(r.body.contains("href=\"/dir/inner.txt\""), "{}", r.body);
    assert!(!get(&f, "/").body.contains(".hidden"));
}

fn next_event(server: &ServerHandle) -> Event {
    server
        .events()
        .recv_timeout(Duration::from_secs(5))
        .expect("an event")
}

#[test]
fn report_endpoint_hands_reports_over_in_order() {
    let f = fixture("report");
    let addr = f.server.addr();
    for body in [
        r#"{"kind":"hello","page":"/p.html","timeoutMs":1000}"#,
        r#"{"kind":"result","page":"/p.html","name":"t","ok":true,"ms":3}"#,
        r#"{"kind":"done","page":"/p.html","passed":1,"failed":0}"#,
    ] {
        let r = request(addr, "POST", "/__atelier/report", body);
        assert_eq!(r.status, 204, "{body}: {}", r.body);
        assert_isolated(&r, "report");
    }
    assert_eq!(
        next_event(&f.server),
        Event::Report(Report::Hello {
            page: "/p.html".into(),
            timeout_ms: Some(1000)
        })
    );
    assert!(matches!(
        next_event(&f.server),
        Event::Report(Report::Result { ok: true, .. })
    ));
    assert!(matches!(
        next_event(&f.server),
        Event::Report(Report::Done { passed: 1, .. })
    ));

    let r = request(addr, "POST", "/__atelier/report", "{not json");
    assert_eq!(r.status, 400);
    assert!(r.body.contains("not JSON"), "{}", r.body);
    // The non-isolated prefix reaches the endpoint too (a non-isolated page reports).
    let r = request(
        addr,
        "POST",
        "/__noniso/__atelier/report",
        r#"{"kind":"log","page":"/__noniso/p.html","line":"x"}"#,
    );
    assert_eq!(r.status, 204);
    assert!(matches!(
        next_event(&f.server),
        Event::Report(Report::Log { .. })
    ));

    get(&f, "/missing.js");
    assert_eq!(
        next_event(&f.server),
        Event::NotFound {
            path: "/missing.js".into()
        }
    );
}

#[test]
fn serves_many_requests_at_once() {
    let f = fixture("concurrency");
    let addr = f.server.addr();
    let threads: Vec<_> = (0..32)
        .map(|i| {
            std::thread::spawn(move || {
                let target = if i % 2 == 0 { "/a.js" } else { "/m.wasm" };
                request(addr, "GET", target, "").status
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 200);
    }
}

#[test]
fn a_busy_port_is_explained() {
    let f = fixture("busy");
    let port = f.server.addr().port();
    let e = serve(&f.root, "127.0.0.1", port)
        .err()
        .expect("the port is taken");
    assert!(e.contains("--port"), "{e}");
}
