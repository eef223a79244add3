//! A TCP proxy between the Leader and the Helper whose behaviour a test switches: pass
//! through, refuse connections, answer 503 without forwarding (every request, or all but
//! `GET`s), or forward and lose the answer. It lets tests make the Helper fail without any fault switch in the product.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    Pass = 0,
    Refuse = 1,
    Unavailable = 2,
    LoseAnswer = 3,
    /// Forward after a pause of three seconds.
    Delay = 4,
    /// Forward `GET` requests; answer every other method 503 without forwarding.
    FailWrites = 5,
}

/// Which forms of resource creation the proxied Helper appears to accept: the proxy
/// answers the other form itself, as a router without that route would (404 to a POST,
/// 405 to a PUT, no problem document).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Forms {
    Both = 0,
    PostOnly = 1,
    PutOnly = 2,
}

pub struct Proxy {
    pub port: u16,
    mode: Arc<AtomicU8>,
    forms: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
    /// Connections accepted so far.
    pub connections: Arc<AtomicU64>,
    lose_next: Arc<AtomicU64>,
}

impl Proxy {
    /// Starts a proxy on an ephemeral loopback port forwarding to `127.0.0.1:target`.
    pub fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(AtomicU8::new(Mode::Pass as u8));
        let forms = Arc::new(AtomicU8::new(Forms::Both as u8));
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicU64::new(0));
        let lose_next = Arc::new(AtomicU64::new(0));
        let (m, st, c, l, f) = (
            mode.clone(),
            stop.clone(),
            connections.clone(),
            lose_next.clone(),
            forms.clone(),
        );
        thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        c.fetch_add(1, Ordering::Relaxed);
                        let mut mode = m.load(Ordering::Relaxed);
                        if mode == Mode::Pass as u8
                            && l.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                                n.checked_sub(1)
                            })
                            .is_ok()
                        {
                            mode = Mode::LoseAnswer as u8;
                        }
                        let forms = f.load(Ordering::Relaxed);
                        thread::spawn(move || serve(client, target, mode, forms));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Proxy {
            port,
            mode,
            forms,
            stop,
            connections,
            lose_next,
        }
    }

    /// In pass-through mode, forward the next `n` requests but lose their answers.
    pub fn lose_next(&self, n: u64) {
        self.lose_next.store(n, Ordering::Relaxed);
    }

    pub fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::Relaxed);
    }

    /// Makes the Helper appear to accept only one form of resource creation.
    pub fn set_forms(&self, forms: Forms) {
        self.forms.store(forms as u8, Ordering::Relaxed);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads one HTTP request (head and Content-Length body) from `s`.
fn read_request(s: &mut TcpStream) -> Option<Vec<u8>> {
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let mut buf = Vec::new();
    let mut tmp = [0u8; 16384];
    loop {
        let n = s.read(&mut tmp).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = s.read(&mut tmp).ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&tmp[..n]);
            }
            return Some(buf);
        }
    }
}

/// The status the proxy answers itself for a creation request in a refused form.
fn refused_form(req: &[u8], forms: u8) -> Option<u16> {
    let line = req.split(|b| *b == b'\r').next()?;
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split(' ');
    let (method, path) = (parts.next()?, parts.next()?.split('?').next()?);
    let collection = path.ends_with("/aggregation_jobs") || path.ends_with("/aggregate_shares");
    let resource = path.contains("/aggregation_jobs/") || path.contains("/aggregate_shares/");
    match (forms, method) {
        (f, "POST") if f == Forms::PutOnly as u8 && collection => Some(404),
        (f, "PUT") if f == Forms::PostOnly as u8 && resource => Some(405),
        _ => None,
    }
}

fn serve(mut client: TcpStream, target: u16, mode: u8, forms: u8) {
    if mode == Mode::Refuse as u8 {
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    let Some(mut req) = read_request(&mut client) else {
        return;
    };
    if mode == Mode::FailWrites as u8 && !req.starts_with(b"GET ") {
        let _ = client.write_all(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    }
    if let Some(status) = refused_form(&req, forms) {
        let _ = client.write_all(
            format!("HTTP/1.1 {status} No Route\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
        return;
    }
    if mode == Mode::Unavailable as u8 {
        let _ = client.write_all(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    }
    // One request per upstream connection: ask the Helper to close after answering.
    if let Some(end) = req.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&req[..end]).to_string();
        let head: String = head
            .split("\r\n")
            .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
            .collect::<Vec<_>>()
            .join("\r\n");
        let mut rebuilt = head.into_bytes();
        rebuilt.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
        rebuilt.extend_from_slice(&req[end + 4..]);
        req = rebuilt;
    }
    if mode == Mode::Delay as u8 {
        thread::sleep(Duration::from_secs(3));
    }
    let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", target)) else {
        return;
    };
    let _ = upstream.set_read_timeout(Some(Duration::from_secs(60)));
    if upstream.write_all(&req).is_err() {
        return;
    }
    let Ok(answer) = crate::http::read_response(&mut upstream) else {
        return;
    };
    if mode == Mode::LoseAnswer as u8 {
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    let _ = client.write_all(&answer);
    let _ = client.shutdown(Shutdown::Write);
}
