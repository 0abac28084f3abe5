//! A small HTTP/1.1 transport: a thread per connection, keep-alive, `Content-Length`
//! bodies. Pooled servers starve here: Chromium opens speculative connections that send
//! nothing for seconds, and a pool whose threads sit blocked reading them leaves the
//! requests of module workers queued (seen as worker start-ups stalling ~1 page in 10).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The largest request head accepted.
const MAX_HEAD: usize = 64 << 10;
/// How long an idle keep-alive connection is kept.
const IDLE: Duration = Duration::from_secs(30);

/// A parsed request.
pub struct Request {
    /// `GET`, `HEAD`, `POST`, ...
    pub method: String,
    /// The request target, as sent (`/path?query`).
    pub target: String,
    /// The body (`Content-Length` bytes).
    pub body: Vec<u8>,
}

/// What a reply carries.
pub enum Body {
    /// Bytes in memory.
    Bytes(Vec<u8>),
    /// A file of the given length.
    File(std::fs::File, u64),
}

/// A reply.
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Headers, in order.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Body,
}

impl Reply {
    /// A reply with a body in memory.
    pub fn bytes(status: u16, content_type: &str, body: Vec<u8>) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type", content_type.to_string())],
            body: Body::Bytes(body),
        }
    }

    fn len(&self) -> u64 {
        match &self.body {
            Body::Bytes(b) => b.len() as u64,
            Body::File(_, n) => *n,
        }
    }
}

/// A listening socket and its accept thread; dropping it stops accepting.
pub struct Listener {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Listener {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept thread so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// Binds `addrs` and answers every request with `handler` on the connection's own thread.
pub fn listen<H>(addrs: &[SocketAddr], handler: H) -> std::io::Result<Listener>
where
    H: Fn(Request) -> Reply + Send + Sync + 'static,
{
    let listener = TcpListener::bind(addrs)?;
    let addr = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let handler = Arc::new(handler);
    let flag = stop.clone();
    let accept = std::thread::Builder::new()
        .name("atelier-http-accept".into())
        .spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let handler = handler.clone();
                let _ = std::thread::Builder::new()
                    .name("atelier-http".into())
                    .spawn(move || serve_connection(stream, &*handler));
            }
        })?;
    Ok(Listener {
        addr,
        stop,
        accept: Some(accept),
    })
}

fn serve_connection(stream: TcpStream, handler: &dyn Fn(Request) -> Reply) {
    let _ = stream.set_read_timeout(Some(IDLE));
    let _ = stream.set_nodelay(true);
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut writer = write_half;
    loop {
        let (request, keep_alive) = match read_request(&mut reader) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(msg) => {
                let reply = Reply::bytes(400, "text/plain; charset=utf-8", msg.into_bytes());
                let _ = write_reply(&mut writer, reply, false, false);
                return;
            }
        };
        let head_only = request.method == "HEAD";
        let reply = handler(request);
        if write_reply(&mut writer, reply, head_only, keep_alive).is_err() || !keep_alive {
            return;
        }
    }
}

/// Reads one request; `None` when the peer closed the connection between requests.
fn read_request(reader: &mut BufReader<TcpStream>) -> Result<Option<(Request, bool)>, String> {
    let mut head = Vec::new();
    loop {
        let before = head.len();
        match reader.read_until(b'\n', &mut head) {
            Ok(0) if head.is_empty() => return Ok(None),
            Ok(0) => return Err("the request head ended early".into()),
            Ok(_) => {}
            Err(_) if head.is_empty() => return Ok(None),
            Err(e) => return Err(format!("cannot read the request ({e})")),
        }
        if head.len() > MAX_HEAD {
            return Err(format!("request head larger than {MAX_HEAD} bytes"));
        }
        let line = &head[before..];
        if line == b"\r\n" || line == b"\n" {
            if head.len() == line.len() {
                head.clear(); // tolerate blank lines between requests
                continue;
            }
            break;
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(&head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err("incomplete request head".into()),
        Err(e) => return Err(format!("malformed request ({e})")),
    }
    let method = parsed.method.unwrap_or("GET").to_string();
    let target = parsed.path.unwrap_or("/").to_string();
    let mut length: u64 = 0;
    let mut keep_alive = parsed.version == Some(1);
    for h in parsed.headers.iter() {
        let value = String::from_utf8_lossy(h.value);
        if h.name.eq_ignore_ascii_case("content-length") {
            length = value
                .trim()
                .parse()
                .map_err(|_| format!("bad Content-Length {value:?}"))?;
        } else if h.name.eq_ignore_ascii_case("connection") {
            let v = value.to_ascii_lowercase();
            if v.contains("close") {
                keep_alive = false;
            } else if v.contains("keep-alive") {
                keep_alive = true;
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err("chunked request bodies are not accepted: send Content-Length".into());
        }
    }
    let mut body = Vec::new();
    if length > 0 {
        reader
            .take(length)
            .read_to_end(&mut body)
            .map_err(|e| format!("cannot read the request body ({e})"))?;
        if (body.len() as u64) < length {
            return Err("the request body ended early".into());
        }
    }
    Ok(Some((
        Request {
            method,
            target,
            body,
        },
        keep_alive,
    )))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        _ => "Status",
    }
}

fn write_reply(
    out: &mut TcpStream,
    reply: Reply,
    head_only: bool,
    keep_alive: bool,
) -> std::io::Result<()> {
    let len = reply.len();
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let connection = if keep_alive { "keep-alive" } else { "close" };
    head.push_str(&format!(
        "Content-Length: {len}\r\nConnection: {connection}\r\n\r\n"
    ));
    out.write_all(head.as_bytes())?;
    if !head_only {
        match reply.body {
            Body::Bytes(b) => out.write_all(&b)?,
            Body::File(f, n) => {
                std::io::copy(&mut f.take(n), out)?;
            }
        }
    }
    out.flush()
}
