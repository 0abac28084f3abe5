//! A small HTTP/1.1 transport: a thread per connection, keep-alive, `Content-Length`
//! bodies. Pooled servers starve here: Chromium opens speculative connections that send
//! nothing for seconds, and a pool whose threads sit blocked reading them leaves the
//! requests of module workers queued (seen as worker start-ups stalling ~1 page in 10).
//!
//! Every request is bounded before it is read, so a slow, stalled or hostile client
//! costs at most one connection slot for a bounded time (see [`Limits`]):
//! - the head is read into a buffer of at most [`Limits::max_head`] bytes;
//! - the [`Service`] sees the head before any body byte is read and says how large a
//!   body it takes; a larger `Content-Length` is answered 413 unread;
//! - a request (head and body) must arrive within [`Limits::request_timeout`] of its
//!   first byte, the next request of a keep-alive connection within
//!   [`Limits::idle_timeout`], and a reply must be taken within [`Limits::write_timeout`];
//! - at most [`Limits::max_connections`] connections are served at once; one more
//!   waits up to [`Limits::queue_wait`] for a free slot, then is answered 503.
//!
//! Replies to transport-level failures (malformed or oversized heads, timeouts, a full
//! server) come from [`Service::refuse`], so they carry the same headers as the others.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The bounds a server holds every connection to.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The largest request head (request line and headers), in bytes.
    pub max_head: usize,
    /// How long a request may take to arrive, from its first byte to its last body byte.
    pub request_timeout: Duration,
    /// How long a connection may wait, idle, for its next request.
    pub idle_timeout: Duration,
    /// How long a reply may take to be sent.
    pub write_timeout: Duration,
    /// How many connections are served at once.
    pub max_connections: usize,
    /// How long a connection beyond the cap waits for a slot before it is answered 503.
    pub queue_wait: Duration,
}

impl Default for Limits {
    /// 16 KiB heads, 10 s to send a request, 10 s idle, 10 s to take a reply,
    /// 64 connections, 2 s in the queue.
    fn default() -> Self {
        Limits {
            max_head: 16 << 10,
            request_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            max_connections: 64,
            queue_wait: Duration::from_secs(2),
        }
    }
}

/// A request's head: what is known before its body is read.
#[derive(Debug, Clone)]
pub struct Head {
    /// `GET`, `HEAD`, `POST`, ...
    pub method: String,
    /// The request target, as sent (`/path?query`).
    pub target: String,
    /// The headers, names in lower case, values as sent (lossy UTF-8), in order.
    pub headers: Vec<(String, String)>,
    /// The `Content-Length` (0 when absent).
    pub content_length: u64,
}

impl Head {
    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A parsed request.
pub struct Request {
    /// The head.
    pub head: Head,
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

/// What the transport asks of the application.
pub trait Service: Send + Sync + 'static {
    /// Looks at a request's head before any of its body is read: `Ok(n)` takes a body
    /// of up to `n` bytes (a larger one is answered 413 unread); `Err(reply)` answers
    /// with `reply` and closes the connection without reading the body.
    fn admit(&self, head: &Head) -> Result<u64, Reply>;
    /// Answers an admitted request.
    fn handle(&self, request: Request) -> Reply;
    /// The reply to a failure of the transport itself (400, 408, 413, 431, 503), whose
    /// message names the cause and the fix.
    fn refuse(&self, status: u16, message: String) -> Reply;
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
        // SeqCst: a flag read once per accepted connection; cost does not matter here.
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept thread so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// The count of connections being served, and a way to wait for a free slot.
struct Slots {
    busy: Mutex<usize>,
    freed: Condvar,
    max: usize,
}

impl Slots {
    /// Takes a slot, waiting up to `wait` for one; `None` if none came free.
    fn acquire(self: &Arc<Self>, wait: Duration) -> Option<SlotGuard> {
        let deadline = Instant::now() + wait;
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        while *busy >= self.max {
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            busy = self
                .freed
                .wait_timeout(busy, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *busy += 1;
        Some(SlotGuard(self.clone()))
    }
}

/// A connection slot, given back when the connection's thread ends (however it ends).
struct SlotGuard(Arc<Slots>);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        let mut busy = self.0.busy.lock().unwrap_or_else(|e| e.into_inner());
        *busy -= 1;
        self.0.freed.notify_one();
    }
}

/// Answers every request to `listener` with `service` on the connection's own
/// thread, within `limits`.
pub fn listen<S: Service>(
    listener: TcpListener,
    limits: Limits,
    service: S,
) -> std::io::Result<Listener> {
    let addr = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let service = Arc::new(service);
    let limits = Arc::new(limits);
    let slots = Arc::new(Slots {
        busy: Mutex::new(0),
        freed: Condvar::new(),
        max: limits.max_connections.max(1),
    });
    let flag = stop.clone();
    let accept = std::thread::Builder::new()
        .name("atelier-http-accept".into())
        .spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let Some(slot) = slots.acquire(limits.queue_wait) else {
                    turn_away(stream, &*service, &limits);
                    continue;
                };
                let service = service.clone();
                let limits = limits.clone();
                let _ = std::thread::Builder::new()
                    .name("atelier-http".into())
                    .spawn(move || {
                        let _slot = slot;
                        serve_connection(stream, &*service, &limits);
                    });
            }
        })?;
    Ok(Listener {
        addr,
        stop,
        accept: Some(accept),
    })
}

/// Answers a connection beyond the cap with 503, on the accept thread, without waiting:
/// what the client already sent is drained (so closing does not reset the connection
/// before the reply is read), the reply goes into the socket's send buffer.
fn turn_away(mut stream: TcpStream, service: &dyn Service, limits: &Limits) {
    let _ = stream.set_nonblocking(true);
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    while drained < limits.max_head {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
    let _ = stream.set_nonblocking(false);
    let reply = service.refuse(
        503,
        format!(
            "the server is busy: {} connections are open already; retry in a moment, or close idle connections",
            limits.max_connections
        ),
    );
    let deadline = Instant::now() + Duration::from_millis(500);
    let _ = write_reply(&mut stream, reply, false, false, deadline);
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

/// Why no request could be read.
enum ReadError {
    /// The peer closed or went quiet between requests: close without a reply.
    Closed,
    /// Answer with this status and message, then close.
    Reply(u16, String),
}

/// One connection: its socket and the bytes read past the last request.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    /// Reads more bytes into `buf`, waiting until `deadline` at most. `Ok(0)` at the end.
    fn fill(&mut self, deadline: Instant, max: usize) -> std::io::Result<usize> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        let mut chunk = [0u8; 8192];
        let want = max.min(chunk.len()).max(1);
        let n = self.stream.read(&mut chunk[..want])?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }
}

fn timed_out(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Answers a request that is refused before it was read whole, and closes the connection.
fn refuse(
    out: &mut TcpStream,
    service: &dyn Service,
    limits: &Limits,
    status: u16,
    message: String,
) {
    let deadline = Instant::now() + limits.write_timeout;
    let _ = write_reply(out, service.refuse(status, message), false, false, deadline);
}

fn serve_connection(stream: TcpStream, service: &dyn Service, limits: &Limits) {
    let _ = stream.set_nodelay(true);
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut conn = Conn {
        stream,
        buf: Vec::new(),
    };
    let mut writer = write_half;
    loop {
        let head = match read_head(&mut conn, limits) {
            Ok(h) => h,
            Err(ReadError::Closed) => return,
            Err(ReadError::Reply(status, msg)) => {
                return refuse(&mut writer, service, limits, status, msg);
            }
        };
        let (head, keep_alive, started) = head;
        let head_only = head.method == "HEAD";
        let max_body = match service.admit(&head) {
            Ok(n) => n,
            Err(reply) => {
                let deadline = Instant::now() + limits.write_timeout;
                let _ = write_reply(&mut writer, reply, head_only, false, deadline);
                return;
            }
        };
        if head.content_length > max_body {
            let msg = if max_body == 0 {
                format!(
                    "{} {} takes no request body (got Content-Length {}): send the request without one",
                    head.method, head.target, head.content_length
                )
            } else {
                format!(
                    "request body of {} bytes is larger than the {max_body} bytes {} takes: send less (split it into several requests)",
                    head.content_length, head.target
                )
            };
            let deadline = Instant::now() + limits.write_timeout;
            let _ = write_reply(
                &mut writer,
                service.refuse(413, msg),
                head_only,
                false,
                deadline,
            );
            return;
        }
        let body = match read_body(
            &mut conn,
            head.content_length,
            started + limits.request_timeout,
        ) {
            Ok(b) => b,
            Err(ReadError::Closed) => return,
            Err(ReadError::Reply(status, msg)) => {
                return refuse(&mut writer, service, limits, status, msg);
            }
        };
        let reply = service.handle(Request { head, body });
        let deadline = Instant::now() + limits.write_timeout;
        if write_reply(&mut writer, reply, head_only, keep_alive, deadline).is_err() || !keep_alive
        {
            return;
        }
    }
}

/// Reads one request head (bounded in size and time); also returns whether the
/// connection stays open after the reply, and when the request's first byte came.
fn read_head(conn: &mut Conn, limits: &Limits) -> Result<(Head, bool, Instant), ReadError> {
    // Tolerate blank lines between requests (RFC 9112, 2.2).
    let skip_blank = |buf: &mut Vec<u8>| {
        let n = buf
            .iter()
            .take_while(|b| **b == b'\r' || **b == b'\n')
            .count();
        buf.drain(..n);
    };
    skip_blank(&mut conn.buf);
    let idle_deadline = Instant::now() + limits.idle_timeout;
    let mut started = (!conn.buf.is_empty()).then(Instant::now);
    let mut scanned = 0;
    let len = loop {
        // Only parse once a line has ended since the last try: a client that sends its
        // head a byte at a time costs no more than one that sends it at once.
        if conn.buf[scanned..].contains(&b'\n') {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut parsed = httparse::Request::new(&mut headers);
            match parsed.parse(&conn.buf) {
                Ok(httparse::Status::Complete(n)) => break n,
                Ok(httparse::Status::Partial) => {}
                Err(httparse::Error::TooManyHeaders) => {
                    return Err(ReadError::Reply(
                        431,
                        "more than 64 request headers: send fewer headers".into(),
                    ))
                }
                Err(e) => {
                    return Err(ReadError::Reply(
                        400,
                        format!("malformed request ({e}): send an HTTP/1.1 request"),
                    ))
                }
            }
        }
        scanned = conn.buf.len();
        if conn.buf.len() >= limits.max_head {
            return Err(ReadError::Reply(
                431,
                format!(
                    "request head larger than {} bytes: send shorter headers (fewer or smaller cookies, a shorter URL)",
                    limits.max_head
                ),
            ));
        }
        let deadline = match started {
            Some(at) => at + limits.request_timeout,
            None => idle_deadline,
        };
        match conn.fill(deadline, limits.max_head - conn.buf.len()) {
            Ok(0) if started.is_none() => return Err(ReadError::Closed),
            Ok(0) => {
                return Err(ReadError::Reply(
                    400,
                    "the request head ended early: send the whole head, ending with an empty line"
                        .into(),
                ))
            }
            Ok(_) => {
                if started.is_none() {
                    skip_blank(&mut conn.buf);
                    scanned = 0;
                    if !conn.buf.is_empty() {
                        started = Some(Instant::now());
                    }
                }
            }
            Err(e) if started.is_none() && timed_out(&e) => return Err(ReadError::Closed),
            Err(e) if timed_out(&e) => {
                return Err(ReadError::Reply(
                    408,
                    format!(
                    "the request head did not arrive within {:?}: send the whole request at once",
                    limits.request_timeout
                ),
                ))
            }
            Err(_) => return Err(ReadError::Closed),
        }
    };
    let started = started.unwrap_or_else(Instant::now);
    let head_bytes: Vec<u8> = conn.buf.drain(..len).collect();
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut headers);
    if !matches!(parsed.parse(&head_bytes), Ok(httparse::Status::Complete(_))) {
        return Err(ReadError::Reply(400, "malformed request head".into()));
    }
    let method = parsed.method.unwrap_or("GET").to_string();
    let target = parsed.path.unwrap_or("/").to_string();
    let mut keep_alive = parsed.version == Some(1);
    let mut content_length: Option<u64> = None;
    let mut list = Vec::with_capacity(parsed.headers.len());
    for h in parsed.headers.iter() {
        let name = h.name.to_ascii_lowercase();
        let value = String::from_utf8_lossy(h.value).trim().to_string();
        match name.as_str() {
            "content-length" => {
                let n: u64 = value.parse().map_err(|_| {
                    ReadError::Reply(
                        400,
                        format!("bad Content-Length {value:?}: send a decimal byte count"),
                    )
                })?;
                if content_length.is_some_and(|m| m != n) {
                    return Err(ReadError::Reply(
                        400,
                        "conflicting Content-Length headers: send one".into(),
                    ));
                }
                content_length = Some(n);
            }
            "connection" => {
                let v = value.to_ascii_lowercase();
                if v.contains("close") {
                    keep_alive = false;
                } else if v.contains("keep-alive") {
                    keep_alive = true;
                }
            }
            "transfer-encoding" => {
                return Err(ReadError::Reply(
                    411,
                    "chunked request bodies are not accepted: send Content-Length".into(),
                ))
            }
            _ => {}
        }
        list.push((name, value));
    }
    Ok((
        Head {
            method,
            target,
            headers: list,
            content_length: content_length.unwrap_or(0),
        },
        keep_alive,
        started,
    ))
}

/// Reads `length` body bytes (already checked against the service's bound) by `deadline`.
fn read_body(conn: &mut Conn, length: u64, deadline: Instant) -> Result<Vec<u8>, ReadError> {
    // The length was admitted by the service, so it fits in memory by its own choice.
    let length = usize::try_from(length)
        .map_err(|_| ReadError::Reply(413, "request body too large for this machine".into()))?;
    while conn.buf.len() < length {
        match conn.fill(deadline, length - conn.buf.len()) {
            Ok(0) => {
                return Err(ReadError::Reply(
                    400,
                    "the request body ended early: send as many bytes as Content-Length says"
                        .into(),
                ))
            }
            Ok(_) => {}
            Err(e) if timed_out(&e) => {
                return Err(ReadError::Reply(
                    408,
                    "the request body did not arrive in time: send the whole request at once"
                        .into(),
                ))
            }
            Err(_) => return Err(ReadError::Closed),
        }
    }
    Ok(conn.buf.drain(..length).collect())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Writes `bytes` by `deadline` (each write waits at most until then).
fn write_by(out: &mut TcpStream, bytes: &[u8], deadline: Instant) -> std::io::Result<()> {
    for chunk in bytes.chunks(64 << 10) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ErrorKind::TimedOut.into());
        }
        out.set_write_timeout(Some(left))?;
        out.write_all(chunk)?;
    }
    Ok(())
}

fn write_reply(
    out: &mut TcpStream,
    reply: Reply,
    head_only: bool,
    keep_alive: bool,
    deadline: Instant,
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
    write_by(out, head.as_bytes(), deadline)?;
    if !head_only {
        match reply.body {
            Body::Bytes(b) => write_by(out, &b, deadline)?,
            Body::File(f, n) => {
                let mut f = f.take(n);
                let mut chunk = vec![0u8; 64 << 10];
                loop {
                    let k = f.read(&mut chunk)?;
                    if k == 0 {
                        break;
                    }
                    write_by(out, &chunk[..k], deadline)?;
                }
            }
        }
    }
    out.flush()
}
