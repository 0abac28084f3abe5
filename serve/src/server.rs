//! The HTTP server: static files with the cross-origin isolation headers, and
//! the report endpoint that test pages POST to.
//!
//! Every response, errors included, carries `Cross-Origin-Opener-Policy: same-origin`,
//! `Cross-Origin-Embedder-Policy: require-corp`, `Cross-Origin-Resource-Policy: same-origin`
//! and `Cache-Control: no-store`. A path starting with `/__noniso/` is served as the
//! rest of the path but without the three isolation headers, so a page can be
//! loaded in a non-isolated context.

use std::io::Read;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Mutex;

use crate::http::{listen, Body, Head, Limits, Listener, Reply, Request, Service};

use crate::report::{Event, Report};
use crate::resolve::{content_type, resolve, split_target, Refusal, Resolved};
use crate::term::clean;

/// The path test pages POST reports to.
pub const REPORT_PATH: &str = "/__atelier/report";
/// Requests under this prefix are served without the isolation headers.
pub const NONISO_PREFIX: &str = "/__noniso";
/// The largest report body accepted: the biggest report today, the benchmark suite's
/// HTML report, is about 0.6 MiB (JSON-escaped) for a smoke run.
pub const MAX_REPORT_BYTES: u64 = 4 << 20;
/// The media type reports are sent as. A cross-site page cannot send it without a CORS
/// preflight, which this server never grants.
pub const REPORT_CONTENT_TYPE: &str = "application/json";

/// A running server. Dropping it (or calling [`ServerHandle::shutdown`]) stops it.
pub struct ServerHandle {
    addr: SocketAddr,
    events: Receiver<Event>,
    _listener: Listener,
}

impl ServerHandle {
    /// The address the server is bound to (with the real port when asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr><path>`; `path` must start with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Reports and 404 notices, in the order they were answered.
    pub fn events(&self) -> &Receiver<Event> {
        &self.events
    }

    /// Stops accepting connections.
    pub fn shutdown(self) {
        drop(self);
    }
}

/// The `Host` header values a server answers to. A page of another site that a DNS
/// rebinding attack points at this server sends its own name as `Host`; it is refused.
///
/// Allowed: `localhost`, `127.0.0.1`, `[::1]`, the `--host` name the server was started
/// with and the address it is bound to, each with the bound port (no port means 80).
/// A server bound to an unspecified address (`0.0.0.0`, `::`) also answers to any IP
/// literal with its port: it was asked to serve the network, and an IP literal cannot
/// be rebound.
#[derive(Debug, Clone)]
pub struct HostCheck {
    names: Vec<String>,
    port: u16,
    any_ip: bool,
}

/// Splits a `Host` value into its lower-case name (IPv6 literals keep their brackets)
/// and its port (80 when absent). `None` if it is malformed.
pub fn split_host(value: &str) -> Option<(String, u16)> {
    let v = value.trim().to_ascii_lowercase();
    let (name, port) = if v.starts_with('[') {
        let end = v.find(']')?;
        let port = match &v[end + 1..] {
            "" => 80,
            rest => rest.strip_prefix(':')?.parse().ok()?,
        };
        (v[..=end].to_string(), port)
    } else {
        match v.rsplit_once(':') {
            Some((n, p)) => (n.to_string(), p.parse().ok()?),
            None => (v.clone(), 80),
        }
    };
    let valid = name.starts_with('[') || (!name.is_empty() && !name.contains(':'));
    valid.then_some((name, port))
}

/// The literal form of an address as a `Host` name (`[::1]`, `127.0.0.1`).
fn ip_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

fn is_ip_literal(name: &str) -> bool {
    match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        Some(v6) => v6.parse::<Ipv6Addr>().is_ok(),
        None => name.parse::<std::net::Ipv4Addr>().is_ok(),
    }
}

impl HostCheck {
    /// The check for a server started with `--host host` and bound to `bound`.
    pub fn new(host: &str, bound: SocketAddr) -> HostCheck {
        let given = host.trim().to_ascii_lowercase();
        let given = match given.parse::<Ipv6Addr>() {
            Ok(v6) => format!("[{v6}]"),
            Err(_) => given,
        };
        let mut names: Vec<String> = vec![
            "localhost".into(),
            "127.0.0.1".into(),
            "[::1]".into(),
            given,
            ip_name(bound.ip()),
        ];
        names.sort();
        names.dedup();
        HostCheck {
            names,
            port: bound.port(),
            any_ip: bound.ip().is_unspecified(),
        }
    }

    /// Whether a request with this `Host` value is answered.
    pub fn allows(&self, host: &str) -> bool {
        match split_host(host) {
            Some((name, port)) if port == self.port => {
                self.names.contains(&name) || (self.any_ip && is_ip_literal(&name))
            }
            _ => false,
        }
    }

    /// What a request's `Host` should be, for error messages.
    fn expected(&self) -> String {
        format!("127.0.0.1:{0} or localhost:{0}", self.port)
    }
}

/// Why a request to the report endpoint is refused, judged from its head: it must come
/// from a page of this server (same origin) and carry a JSON body.
pub fn report_refusal(head: &Head) -> Option<(u16, String)> {
    if let Some(site) = head.header("sec-fetch-site") {
        if !site.eq_ignore_ascii_case("same-origin") {
            return Some((
                403,
                format!("report refused: it comes from another site (Sec-Fetch-Site: {site}); only pages served by this server may report"),
            ));
        }
    }
    if let Some(origin) = head.header("origin") {
        let own = format!("http://{}", head.header("host").unwrap_or(""));
        if !origin.eq_ignore_ascii_case(&own) {
            return Some((
                403,
                format!("report refused: it comes from {origin}, not from this server ({own}); only pages served by this server may report"),
            ));
        }
    }
    let media = head
        .header("content-type")
        .and_then(|t| t.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase());
    if media.as_deref() != Some(REPORT_CONTENT_TYPE) {
        return Some((
            415,
            format!(
                "report refused: Content-Type is {}, not {REPORT_CONTENT_TYPE}: send the report with fetch(url, {{method: 'POST', headers: {{'content-type': '{REPORT_CONTENT_TYPE}'}}, body}})",
                head.header("content-type").map_or("missing".to_string(), |t| format!("{t:?}"))
            ),
        ));
    }
    None
}

struct Ctx {
    root: PathBuf,
    pkg: PathBuf,
    hosts: HostCheck,
    events: Mutex<Sender<Event>>,
}

/// Serves `root` (the repository) on `host:port`; `/pkg/` maps to `<root>/target/pkg`.
/// Port 0 picks a free port: read it back with [`ServerHandle::addr`].
pub fn serve(root: &Path, host: &str, port: u16) -> Result<ServerHandle, String> {
    serve_dirs(root, &root.join("target").join("pkg"), host, port)
}

/// Like [`serve`] with an explicit directory for `/pkg/`.
pub fn serve_dirs(root: &Path, pkg: &Path, host: &str, port: u16) -> Result<ServerHandle, String> {
    serve_with(root, pkg, host, port, Limits::default())
}

/// Like [`serve_dirs`] with explicit connection limits.
pub fn serve_with(
    root: &Path,
    pkg: &Path,
    host: &str,
    port: u16,
    limits: Limits,
) -> Result<ServerHandle, String> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve host {host:?} ({e}): pass --host 127.0.0.1 or another local address"))?
        .collect();
    let busy = |e: std::io::Error| {
        format!(
            "cannot listen on {host}:{port} ({e}): the port is probably in use; pass --port N (or --port 0 for any free port) or stop the other server"
        )
    };
    let socket = TcpListener::bind(&addrs[..]).map_err(busy)?;
    let addr = socket.local_addr().map_err(busy)?;
    let (tx, rx) = channel();
    let ctx = Ctx {
        root: root.to_path_buf(),
        pkg: pkg.to_path_buf(),
        hosts: HostCheck::new(host, addr),
        events: Mutex::new(tx),
    };
    let listener = listen(socket, limits, ctx).map_err(busy)?;
    Ok(ServerHandle {
        addr,
        events: rx,
        _listener: listener,
    })
}

fn finish(mut reply: Reply, isolated: bool) -> Reply {
    reply.headers.push(("Cache-Control", "no-store".into()));
    if isolated {
        reply
            .headers
            .push(("Cross-Origin-Opener-Policy", "same-origin".into()));
        reply
            .headers
            .push(("Cross-Origin-Embedder-Policy", "require-corp".into()));
        reply
            .headers
            .push(("Cross-Origin-Resource-Policy", "same-origin".into()));
    }
    reply
}

fn text(status: u16, body: String, isolated: bool) -> Reply {
    finish(
        Reply::bytes(
            status,
            "text/plain; charset=utf-8",
            (body + "\n").into_bytes(),
        ),
        isolated,
    )
}

fn html(body: String, isolated: bool) -> Reply {
    finish(
        Reply::bytes(200, "text/html; charset=utf-8", body.into_bytes()),
        isolated,
    )
}

/// Where a request target goes: whether it is isolated, the path without the
/// `/__noniso` prefix, and the path as requested (both without the query).
fn route(target: &str) -> (bool, &str, &str) {
    let (requested, _query) = split_target(target);
    let (isolated, path) = match requested.strip_prefix(NONISO_PREFIX) {
        Some("") => (false, "/"),
        Some(rest) if rest.starts_with('/') => (false, rest),
        _ => (true, requested),
    };
    (isolated, path, requested)
}

impl Service for Ctx {
    fn admit(&self, head: &Head) -> Result<u64, Reply> {
        let (isolated, path, _) = route(&head.target);
        match head.header("host") {
            Some(h) if self.hosts.allows(h) => {}
            Some(h) => {
                return Err(text(
                    403,
                    format!(
                        "Host {h:?} is not this server: requests for other host names are refused (DNS rebinding); open http://{}/",
                        self.hosts.expected().replace(" or ", "/ or http://")
                    ),
                    isolated,
                ))
            }
            None => {
                return Err(text(
                    400,
                    format!(
                        "the request has no Host header: send Host: {}",
                        self.hosts.expected()
                    ),
                    isolated,
                ))
            }
        }
        let method = head.method.as_str();
        if path == REPORT_PATH {
            if method != "POST" {
                return Err(text(
                    405,
                    format!("{REPORT_PATH} takes POST with a JSON report body"),
                    isolated,
                ));
            }
            if let Some((status, msg)) = report_refusal(head) {
                eprintln!("atelier-serve: {}", clean(&msg));
                return Err(text(status, msg, isolated));
            }
            return Ok(MAX_REPORT_BYTES);
        }
        if method != "GET" && method != "HEAD" {
            return Err(text(
                405,
                format!("method {method} is not served: use GET or HEAD (or POST {REPORT_PATH})"),
                isolated,
            ));
        }
        Ok(0)
    }

    fn handle(&self, rq: Request) -> Reply {
        handle(self, rq)
    }

    fn refuse(&self, status: u16, message: String) -> Reply {
        text(status, message, true)
    }
}

/// Answers a request [`Service::admit`] let through.
fn handle(ctx: &Ctx, rq: Request) -> Reply {
    let (isolated, path, requested) = route(&rq.head.target);
    if path == REPORT_PATH {
        return match Report::parse(&rq.body) {
            Ok(report) => {
                // Hand the report over before answering, so a page that awaits each
                // POST sees its reports delivered in order.
                let _ = ctx.events.lock().map(|tx| tx.send(Event::Report(report)));
                finish(Reply::bytes(204, "text/plain", Vec::new()), isolated)
            }
            Err(msg) => {
                eprintln!("atelier-serve: rejected a report: {}", clean(&msg));
                text(400, msg, isolated)
            }
        };
    }
    match resolve(&ctx.root, &ctx.pkg, path) {
        Ok(Resolved::Index) => html(index_page(&ctx.root), isolated),
        Ok(Resolved::Dir(dir)) => html(listing_page(path, &dir), isolated),
        Ok(Resolved::File(file)) => {
            match std::fs::File::open(&file).and_then(|f| Ok((f.metadata()?.len(), f))) {
                Ok((len, f)) => {
                    if content_type(&file).starts_with("text/html") {
                        let _ = ctx.events.lock().map(|tx| {
                            tx.send(Event::PageServed {
                                path: requested.to_string(),
                            })
                        });
                    }
                    let reply = Reply {
                        status: 200,
                        headers: vec![("Content-Type", content_type(&file).to_string())],
                        body: Body::File(f, len),
                    };
                    finish(reply, isolated)
                }
                Err(e) => text(
                    403,
                    format!(
                        "cannot open {} ({e}): check its permissions",
                        file.display()
                    ),
                    isolated,
                ),
            }
        }
        Err(Refusal { status, message }) => {
            if status == 404 && path != "/favicon.ico" {
                let _ = ctx.events.lock().map(|tx| {
                    tx.send(Event::NotFound {
                        path: path.to_string(),
                    })
                });
            }
            text(status, message, isolated)
        }
    }
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Percent-encodes a path for an `href` (keeps `/` and unreserved characters).
fn href(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn html_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".html") && !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// The playground `cargo atelier demo` opens, relative to the repository root.
pub const PLAYGROUND: &str = "examples/playground/index.html";

fn index_page(root: &Path) -> String {
    let mut body = String::from(
        "<!doctype html><meta charset=utf-8><title>Atelier</title>\n<h1>Atelier</h1>\n",
    );
    if root.join(PLAYGROUND).is_file() {
        body.push_str(&format!(
            "<p><a href=\"/{PLAYGROUND}\"><b>The playground</b></a></p>\n"
        ));
    }
    for (title, dir) in [
        ("Browser tests", "tests/browser"),
        ("Driver self-test", "serve/tests/pages"),
        ("Browser benches", "benches/browser"),
    ] {
        let pages: Vec<String> = html_files(&root.join(dir))
            .into_iter()
            .filter(|n| n != "demo.html")
            .collect();
        if pages.is_empty() {
            continue;
        }
        body.push_str(&format!("<h2>{}</h2>\n<ul>\n", esc(title)));
        for p in pages {
            let prefix = if p.ends_with(".noniso.html") {
                NONISO_PREFIX
            } else {
                ""
            };
            let url = format!("{prefix}/{dir}/{p}");
            body.push_str(&format!(
                "<li><a href=\"{}\">{}</a></li>\n",
                href(&url),
                esc(&url)
            ));
        }
        body.push_str("</ul>\n");
    }
    body.push_str("<p>Every response is sent with COOP/COEP/CORP; prefix a path with <code>/__noniso</code> to load it without them.</p>\n");
    body
}

fn listing_page(url_path: &str, dir: &Path) -> String {
    let base = url_path.trim_end_matches('/');
    let mut entries: Vec<(String, bool)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
            e.file_name().into_string().ok().map(|n| (n, is_dir))
        })
        .filter(|(n, _)| !n.starts_with('.'))
        .collect();
    entries.sort();
    let mut body = format!(
        "<!doctype html><meta charset=utf-8><title>{0}</title>\n<h1>{0}</h1>\n<ul>\n",
        esc(&format!("{base}/"))
    );
    for (name, is_dir) in entries {
        let slash = if is_dir { "/" } else { "" };
        body.push_str(&format!(
            "<li><a href=\"{}\">{}{slash}</a></li>\n",
            href(&format!("{base}/{name}{slash}")),
            esc(&name)
        ));
    }
    body.push_str("</ul>\n");
    body
}

/// Sends one raw HTTP/1.1 request to `addr` and returns the whole response as text
/// (status line, headers, body). It sends `Host: <addr>`, `Connection: close`,
/// `Content-Length` and, with a body, `Content-Type: application/json`; `headers` are
/// added after those (a second `Host` or `Content-Type` there replaces the default).
/// A small helper for tests and for `--check` style probes.
pub fn raw_request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<String> {
    use std::io::Write;
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let mut head = format!("{method} {target} HTTP/1.1\r\n");
    if !has("host") {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    if !body.is_empty() && !has("content-type") {
        head.push_str(&format!("Content-Type: {REPORT_CONTENT_TYPE}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Connection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    ));
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(headers: &[(&str, &str)]) -> Head {
        Head {
            method: "POST".into(),
            target: REPORT_PATH.into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            content_length: 2,
        }
    }

    #[test]
    fn splits_host_values() {
        assert_eq!(
            split_host("127.0.0.1:8787"),
            Some(("127.0.0.1".into(), 8787))
        );
        assert_eq!(split_host("LocalHost"), Some(("localhost".into(), 80)));
        assert_eq!(split_host("[::1]:9"), Some(("[::1]".into(), 9)));
        assert_eq!(split_host("[::1]"), Some(("[::1]".into(), 80)));
        assert_eq!(split_host("::1"), None);
        assert_eq!(split_host("a:b"), None);
        assert_eq!(split_host(":80"), None);
        assert_eq!(split_host("[::1]x"), None);
    }

    #[test]
    fn checks_the_host_against_the_bound_address() {
        let loopback: SocketAddr = "127.0.0.1:8787".parse().unwrap();
        let c = HostCheck::new("127.0.0.1", loopback);
        for ok in [
            "127.0.0.1:8787",
            "localhost:8787",
            "LOCALHOST:8787",
            "[::1]:8787",
        ] {
            assert!(c.allows(ok), "{ok}");
        }
        for bad in [
            "127.0.0.1:8788",
            "127.0.0.1",
            "evil.example:8787",
            "localhost.evil.example:8787",
            "192.168.1.5:8787",
            "",
        ] {
            assert!(!c.allows(bad), "{bad}");
        }
        let any: SocketAddr = "0.0.0.0:80".parse().unwrap();
        let c = HostCheck::new("0.0.0.0", any);
        assert!(c.allows("192.168.1.5"));
        assert!(!c.allows("rebound.example"));
        let named = HostCheck::new("devbox.local", "10.0.0.2:8000".parse().unwrap());
        assert!(named.allows("devbox.local:8000") && named.allows("10.0.0.2:8000"));
        assert!(!named.allows("10.0.0.3:8000"));
    }

    #[test]
    fn reports_come_from_the_same_origin_as_json() {
        let host = ("host", "127.0.0.1:8787");
        let json = ("content-type", "application/json");
        assert_eq!(report_refusal(&head(&[host, json])), None);
        assert_eq!(
            report_refusal(&head(&[
                host,
                ("content-type", "Application/JSON; charset=utf-8"),
                ("origin", "http://127.0.0.1:8787"),
                ("sec-fetch-site", "same-origin"),
            ])),
            None
        );
        for (bad, status) in [
            (vec![host, json, ("origin", "http://evil.example")], 403),
            (vec![host, json, ("origin", "null")], 403),
            (vec![host, json, ("sec-fetch-site", "cross-site")], 403),
            (vec![host, json, ("sec-fetch-site", "same-site")], 403),
            (vec![host, ("content-type", "text/plain")], 415),
            (vec![host], 415),
        ] {
            let r = report_refusal(&head(&bad));
            assert_eq!(r.as_ref().map(|r| r.0), Some(status), "{bad:?}: {r:?}");
        }
    }
}
