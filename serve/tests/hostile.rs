//! The server against hostile and broken clients, over real sockets (no browser):
//! slowloris (a head sent a byte at a time, a stalled head, a silent connection),
//! oversized heads and bodies, encoded path traversal, a foreign `Host` (DNS
//! rebinding), cross-site reports, 200 clients at once and a full connection table.
//! After each attack it must still serve a normal page and the demo page with the isolation
//! headers.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use atelier_serve::http::Limits;
use atelier_serve::report::Event;
use atelier_serve::server::{serve_with, ServerHandle, MAX_REPORT_BYTES, PLAYGROUND};

/// Short timeouts, so the slow clients are cut off within the test's time.
const TIMEOUT: Duration = Duration::from_millis(800);

struct Fixture {
    dir: PathBuf,
    server: ServerHandle,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn fixture(name: &str, limits: Limits) -> Fixture {
    let dir = std::env::temp_dir().join(format!("atelier-hostile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let root = dir.join("repo");
    let write = |p: &Path, body: &str| {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    };
    write(&dir.join("secret.txt"), "TOP-SECRET");
    write(&root.join("page.html"), "<!doctype html><p>page");
    // The playground, as the repository has it: what a newcomer opens first.
    write(&root.join(DEMO), &demo());
    write(&root.join("dir/a.js"), "export {};");
    let server = serve_with(&root, &root.join("target/pkg"), "127.0.0.1", 0, limits).unwrap();
    Fixture { dir, server }
}

fn short_limits() -> Limits {
    Limits {
        request_timeout: TIMEOUT,
        idle_timeout: TIMEOUT,
        write_timeout: Duration::from_secs(2),
        ..Limits::default()
    }
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

fn parse(raw: &[u8]) -> Resp {
    let raw = String::from_utf8_lossy(raw);
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("an incomplete response: {raw:?}"));
    let mut lines = head.lines();
    let status_line = lines.next().unwrap();
    assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
    Resp {
        status: status_line[9..12].parse().unwrap(),
        headers: lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect(),
        body: body.to_string(),
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Reads until the server closes (write errors before that are ignored: the server
/// may answer and close before the client has sent everything).
fn read_all(mut s: TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            // A reset after the reply arrived: keep what came.
            Err(_) => break,
        }
    }
    out
}

/// Sends `raw` as it is and returns the reply.
fn send(addr: SocketAddr, raw: &[u8]) -> Resp {
    let mut s = connect(addr);
    let _ = s.write_all(raw);
    parse(&read_all(s))
}

fn get_with_host(addr: SocketAddr, target: &str, host: &str) -> Resp {
    send(
        addr,
        format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

fn get(addr: SocketAddr, target: &str) -> Resp {
    get_with_host(addr, target, &addr.to_string())
}

fn assert_isolated(r: &Resp, what: &str) {
    for (k, v) in [
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-embedder-policy", "require-corp"),
        ("cross-origin-resource-policy", "same-origin"),
    ] {
        assert_eq!(
            r.headers.get(k).map(String::as_str),
            Some(v),
            "{what}: {k} in {r:?}"
        );
    }
}

/// The page `cargo atelier demo` opens, relative to the repository root.
const DEMO: &str = PLAYGROUND;

fn demo() -> String {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    std::fs::read_to_string(repo.join(DEMO)).expect("the repository's demo page")
}

/// The page and the demo are still served, isolated.
fn assert_serves(addr: SocketAddr, after: &str) {
    let r = get(addr, "/page.html");
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "<!doctype html><p>page"),
        "after {after}"
    );
    assert_isolated(&r, after);
    let r = get(addr, &format!("/{DEMO}"));
    assert_eq!(r.status, 200, "the demo after {after}");
    assert_eq!(r.body, demo(), "the demo after {after}");
    assert_isolated(&r, after);
}

#[test]
fn slow_and_stalled_clients_are_cut_off_while_others_are_served() {
    let f = fixture("slow", short_limits());
    let addr = f.server.addr();
    // A head a byte at a time, every 100 ms: it never completes within the timeout.
    let slow = thread::spawn(move || {
        let mut s = connect(addr);
        let started = Instant::now();
        for b in b"GET /page.html HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1234567890" {
            if s.write_all(&[*b]).is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(100));
            if started.elapsed() > Duration::from_secs(4) {
                break;
            }
        }
        (parse(&read_all(s)), started.elapsed())
    });
    // A head that stops halfway.
    let stalled = thread::spawn(move || {
        let mut s = connect(addr);
        s.write_all(b"GET /page.html HTTP/1.1\r\nHost: ").unwrap();
        let started = Instant::now();
        (parse(&read_all(s)), started.elapsed())
    });
    // A connection that never sends anything is closed without a reply.
    let silent = thread::spawn(move || {
        let s = connect(addr);
        let started = Instant::now();
        (read_all(s), started.elapsed())
    });
    // Meanwhile others are served at once.
    for _ in 0..5 {
        let t = Instant::now();
        assert_serves(addr, "a normal request during the slow ones");
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "{:?}",
            t.elapsed()
        );
        thread::sleep(Duration::from_millis(100));
    }
    let limit = TIMEOUT + Duration::from_secs(2);
    let (r, took) = slow.join().unwrap();
    assert_eq!(r.status, 408, "{r:?}");
    assert!(r.body.contains("did not arrive"), "{}", r.body);
    assert_isolated(&r, "408 to the slow client");
    assert!(took < limit, "the slow client was held {took:?}");
    let (r, took) = stalled.join().unwrap();
    assert_eq!(r.status, 408, "{r:?}");
    assert_isolated(&r, "408 to the stalled client");
    assert!(took < limit, "the stalled client was held {took:?}");
    let (bytes, took) = silent.join().unwrap();
    assert!(bytes.is_empty(), "{:?}", String::from_utf8_lossy(&bytes));
    assert!(took < limit, "the silent client was held {took:?}");
    assert_serves(addr, "slowloris");
}

#[test]
fn oversized_heads_and_bodies_are_refused_unread() {
    let f = fixture("big", short_limits());
    let addr = f.server.addr();
    let big = "x".repeat(20 << 10);
    let r = send(
        addr,
        format!("GET /page.html HTTP/1.1\r\nHost: {addr}\r\nX-Big: {big}\r\n\r\n").as_bytes(),
    );
    assert_eq!(r.status, 431, "{r:?}");
    assert!(r.body.contains("16384 bytes"), "{}", r.body);
    assert_isolated(&r, "431");
    // A head that never ends (no blank line) is cut at the bound too.
    let mut s = connect(addr);
    let _ = s.write_all(format!("GET /{big}").as_bytes());
    let r = parse(&read_all(s));
    assert_eq!(r.status, 431, "{r:?}");
    let many: String = (0..100).map(|i| format!("X-H{i}: v\r\n")).collect();
    let r = send(
        addr,
        format!("GET /page.html HTTP/1.1\r\nHost: {addr}\r\n{many}\r\n").as_bytes(),
    );
    assert_eq!(r.status, 431, "{r:?}");
    assert_isolated(&r, "431 for too many headers");

    // A report larger than the bound is answered from its head: the body is never sent.
    let too_big = MAX_REPORT_BYTES + 1;
    let mut s = connect(addr);
    s.write_all(
        format!(
            "POST /__atelier/report HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {too_big}\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    let started = Instant::now();
    let r = parse(&read_all(s));
    assert_eq!(r.status, 413, "{r:?}");
    assert!(started.elapsed() < TIMEOUT, "413 came only after a timeout");
    assert!(r.body.contains(&MAX_REPORT_BYTES.to_string()), "{}", r.body);
    assert_isolated(&r, "413");
    // GET takes no body at all.
    let r = send(
        addr,
        format!("GET /page.html HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 10\r\n\r\n0123456789")
            .as_bytes(),
    );
    assert_eq!(r.status, 413, "{r:?}");
    assert_isolated(&r, "413 for a GET body");
    // A body that stops short times out.
    let mut s = connect(addr);
    s.write_all(
        format!(
            "POST /__atelier/report HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"kind\""
        )
        .as_bytes(),
    )
    .unwrap();
    let r = parse(&read_all(s));
    assert_eq!(r.status, 408, "{r:?}");
    assert_isolated(&r, "408 for a short body");
    // Garbage and chunked bodies.
    let r = send(
        addr,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    );
    assert_eq!(r.status, 400, "{r:?}");
    assert_isolated(&r, "400 for garbage");
    let r = send(
        addr,
        format!("POST /__atelier/report HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").as_bytes(),
    );
    assert_eq!(r.status, 411, "{r:?}");
    assert_isolated(&r, "411");
    assert_serves(addr, "oversized requests");
}

#[test]
fn encoded_traversal_never_leaves_the_root() {
    let f = fixture("traversal", short_limits());
    let addr = f.server.addr();
    for target in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2e/secret.txt",
        "/dir/%2e%2e/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/dir%2f..%2f..%2fsecret.txt",
        "/..%5csecret.txt",
        "/%252e%252e/secret.txt",
        "/%252e%252e%252fsecret.txt",
        "/dir/%25252e%25252e/%25252e%25252e/secret.txt",
        "/%c0%ae%c0%ae/secret.txt",
        "/.%2e/secret.txt",
        "/dir/..%00/secret.txt",
        "/__noniso/%2e%2e/secret.txt",
        "/pkg/%2e%2e/%2e%2e/%2e%2e/secret.txt",
    ] {
        let r = get(addr, target);
        assert!(
            [400, 403, 404].contains(&r.status),
            "{target}: {} {}",
            r.status,
            r.body
        );
        assert!(!r.body.contains("TOP-SECRET"), "{target}");
        if !target.starts_with("/__noniso/") {
            assert_isolated(&r, target);
        }
    }
    assert_serves(addr, "traversal");
}

#[test]
fn foreign_hosts_and_cross_site_reports_are_refused() {
    let f = fixture("origin", short_limits());
    let addr = f.server.addr();
    let port = addr.port();
    for host in [
        format!("evil.example:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
        format!("127.0.0.1:{}", port.wrapping_add(1)),
        "127.0.0.1".to_string(),
    ] {
        let r = get_with_host(addr, "/page.html", &host);
        assert_eq!(r.status, 403, "Host {host}: {r:?}");
        assert!(r.body.contains("DNS rebinding"), "{}", r.body);
        assert_isolated(&r, &host);
    }
    let r = send(addr, b"GET /page.html HTTP/1.0\r\n\r\n");
    assert_eq!(r.status, 400, "no Host: {r:?}");
    assert_isolated(&r, "no Host");
    for ok in [format!("localhost:{port}"), format!("[::1]:{port}")] {
        assert_eq!(get_with_host(addr, "/page.html", &ok).status, 200, "{ok}");
    }

    let report = r#"{"kind":"log","page":"/p.html","line":"x"}"#;
    let post = |headers: &str| {
        send(
            addr,
            format!(
                "POST /__atelier/report HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{report}",
                report.len()
            )
            .as_bytes(),
        )
    };
    for (headers, status) in [
        (
            "Content-Type: application/json\r\nOrigin: http://evil.example\r\nSec-Fetch-Site: cross-site\r\n",
            403,
        ),
        ("Content-Type: application/json\r\nOrigin: http://evil.example\r\n", 403),
        ("Content-Type: application/json\r\nOrigin: null\r\n", 403),
        ("Content-Type: application/json\r\nSec-Fetch-Site: same-site\r\n", 403),
        // What a cross-site <form> or a no-cors fetch can send.
        ("Content-Type: text/plain\r\n", 415),
        ("Content-Type: application/x-www-form-urlencoded\r\n", 415),
        ("", 415),
    ] {
        let r = post(headers);
        assert_eq!(r.status, status, "{headers:?}: {r:?}");
        assert_isolated(&r, headers);
    }
    assert!(
        !f.server
            .events()
            .try_iter()
            .any(|e| matches!(e, Event::Report(_))),
        "a refused report was handed over"
    );
    // What the harness sends from a page of this server.
    let r = post(&format!(
        "Content-Type: application/json\r\nOrigin: http://{addr}\r\nSec-Fetch-Site: same-origin\r\n"
    ));
    assert_eq!(r.status, 204, "{r:?}");
    assert!(matches!(
        f.server.events().recv_timeout(Duration::from_secs(5)),
        Ok(Event::Report(_))
    ));
    // A report from a non-isolated page of this server is same-origin too.
    let r = send(
        addr,
        format!(
            "POST /__noniso/__atelier/report HTTP/1.1\r\nHost: localhost:{port}\r\nOrigin: http://localhost:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{report}",
            report.len()
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 204, "{r:?}");
    assert_serves(addr, "foreign hosts and cross-site reports");
}

#[test]
fn two_hundred_clients_at_once() {
    let f = fixture("many", short_limits());
    let addr = f.server.addr();
    let clients: Vec<_> = (0..200)
        .map(|i| {
            thread::spawn(move || {
                let target = if i % 2 == 0 {
                    "/page.html"
                } else {
                    "/dir/a.js"
                };
                get(addr, target)
            })
        })
        .collect();
    let mut served = 0;
    for c in clients {
        let r = c.join().unwrap();
        // Beyond the cap a client waits for a slot, and is told 503 only if none comes.
        assert!([200, 503].contains(&r.status), "{r:?}");
        assert_isolated(&r, "one of 200 clients");
        served += usize::from(r.status == 200);
    }
    assert!(served > 0);
    assert_serves(addr, "200 clients at once");
}

#[test]
fn a_full_connection_table_answers_503_then_recovers() {
    let limits = Limits {
        max_connections: 4,
        queue_wait: Duration::from_millis(200),
        ..short_limits()
    };
    let f = fixture("full", limits);
    let addr = f.server.addr();
    let idle: Vec<TcpStream> = (0..4).map(|_| connect(addr)).collect();
    thread::sleep(Duration::from_millis(100));
    let r = get(addr, "/page.html");
    assert_eq!(r.status, 503, "{r:?}");
    assert!(r.body.contains("busy"), "{}", r.body);
    assert_isolated(&r, "503");
    // The idle connections are closed after the idle timeout, and the slots come back.
    thread::sleep(TIMEOUT + Duration::from_millis(300));
    assert_serves(addr, "a full connection table");
    drop(idle);
}
