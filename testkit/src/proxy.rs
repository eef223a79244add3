//! A TCP proxy between the Leader and the Helper whose behaviour a test switches: pass
//! through, refuse connections, answer 503 without forwarding, or forward and lose the
//! answer. It lets tests make the Helper fail without any fault switch in the product.

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
}

pub struct Proxy {
    pub port: u16,
    mode: Arc<AtomicU8>,
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
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicU64::new(0));
        let lose_next = Arc::new(AtomicU64::new(0));
        let (m, st, c, l) = (
            mode.clone(),
            stop.clone(),
            connections.clone(),
            lose_next.clone(),
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
                        thread::spawn(move || serve(client, target, mode));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Proxy {
            port,
            mode,
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

fn serve(mut client: TcpStream, target: u16, mode: u8) {
    if mode == Mode::Refuse as u8 {
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    let Some(mut req) = read_request(&mut client) else {
        return;
    };
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
