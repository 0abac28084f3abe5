//! The HTTP server: static files with the cross-origin isolation headers, and
//! the report endpoint that test pages POST to.
//!
//! Every response, errors included, carries `Cross-Origin-Opener-Policy: same-origin`,
//! `Cross-Origin-Embedder-Policy: require-corp`, `Cross-Origin-Resource-Policy: same-origin`
//! and `Cache-Control: no-store`. A path starting with `/__noniso/` is served as the
//! rest of the path but without the three isolation headers, so a page can be
//! loaded in a non-isolated context.

use std::io::Read;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Mutex;

use crate::http::{listen, Body, Listener, Reply, Request};

use crate::report::{Event, Report};
use crate::resolve::{content_type, resolve, split_target, Refusal, Resolved};

/// The path test pages POST reports to.
pub const REPORT_PATH: &str = "/__atelier/report";
/// Requests under this prefix are served without the isolation headers.
pub const NONISO_PREFIX: &str = "/__noniso";
/// The largest report body accepted (bench `data` reports can be big).
const MAX_REPORT_BYTES: u64 = 64 << 20;

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

struct Ctx {
    root: PathBuf,
    pkg: PathBuf,
    events: Mutex<Sender<Event>>,
}

/// Serves `root` (the repository) on `host:port`; `/pkg/` maps to `<root>/target/pkg`.
/// Port 0 picks a free port: read it back with [`ServerHandle::addr`].
pub fn serve(root: &Path, host: &str, port: u16) -> Result<ServerHandle, String> {
    serve_dirs(root, &root.join("target").join("pkg"), host, port)
}

/// Like [`serve`] with an explicit directory for `/pkg/`.
pub fn serve_dirs(root: &Path, pkg: &Path, host: &str, port: u16) -> Result<ServerHandle, String> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve host {host:?} ({e}): pass --host 127.0.0.1 or another local address"))?
        .collect();
    let (tx, rx) = channel();
    let ctx = Ctx {
        root: root.to_path_buf(),
        pkg: pkg.to_path_buf(),
        events: Mutex::new(tx),
    };
    let listener = listen(&addrs[..], move |rq| handle(&ctx, rq)).map_err(|e| {
        format!(
            "cannot listen on {host}:{port} ({e}): the port is probably in use; pass --port N (or --port 0 for any free port) or stop the other server"
        )
    })?;
    Ok(ServerHandle {
        addr: listener.addr(),
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

fn handle(ctx: &Ctx, rq: Request) -> Reply {
    let (requested, _query) = split_target(&rq.target);
    let (isolated, path) = match requested.strip_prefix(NONISO_PREFIX) {
        Some("") => (false, "/"),
        Some(rest) if rest.starts_with('/') => (false, rest),
        _ => (true, requested),
    };
    let method = rq.method.as_str();
    if path == REPORT_PATH {
        if method != "POST" {
            return text(
                405,
                format!("{REPORT_PATH} takes POST with a JSON report body"),
                isolated,
            );
        }
        if rq.body.len() as u64 > MAX_REPORT_BYTES {
            return text(
                413,
                format!("report larger than {MAX_REPORT_BYTES} bytes: split the data into several reports"),
                isolated,
            );
        }
        return match Report::parse(&rq.body) {
            Ok(report) => {
                // Hand the report over before answering, so a page that awaits each
                // POST sees its reports delivered in order.
                let _ = ctx.events.lock().map(|tx| tx.send(Event::Report(report)));
                finish(Reply::bytes(204, "text/plain", Vec::new()), isolated)
            }
            Err(msg) => {
                eprintln!("atelier-serve: rejected a report: {msg}");
                text(400, msg, isolated)
            }
        };
    }
    if method != "GET" && method != "HEAD" {
        return text(
            405,
            format!("method {method} is not served: use GET or HEAD (or POST {REPORT_PATH})"),
            isolated,
        );
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

fn index_page(root: &Path) -> String {
    let mut body = String::from(
        "<!doctype html><meta charset=utf-8><title>Atelier</title>\n<h1>Atelier</h1>\n",
    );
    if root.join("tests/browser/demo.html").is_file() {
        body.push_str("<p><a href=\"/tests/browser/demo.html\"><b>The demo</b></a></p>\n");
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
/// (status line, headers, body). A small helper for tests and for `--check` style probes.
pub fn raw_request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    body: &[u8],
) -> std::io::Result<String> {
    use std::io::Write;
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )?;
    s.write_all(body)?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}
