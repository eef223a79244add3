//! A minimal blocking HTTP/1.1 client over `std::net` for talking to `wrangler dev` on
//! loopback (no TLS, Content-Length or chunked bodies): [`request`] sends one request on its
//! own connection (`Connection: close`); [`Conn`] keeps one connection alive across requests
//! (the benchmark uses it so that connection set-up is not what it measures).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The problem document's `type`, if the body is one.
    pub fn problem_type(&self) -> Option<String> {
        let v: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        v.get("type")?.as_str().map(str::to_string)
    }
}

/// Sends one request to `http://127.0.0.1:port{path}`.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    s.set_write_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let raw = read_response(&mut s)?;
    parse(&raw).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, "malformed HTTP response")
    })
}

/// A keep-alive connection to `127.0.0.1:port`, reopened when the server closed it.
pub struct Conn {
    port: u16,
    stream: Option<TcpStream>,
}

impl Conn {
    /// A connection to `127.0.0.1:port` (opened on first use).
    pub fn new(port: u16) -> Conn {
        Conn { port, stream: None }
    }

    /// Sends one request and reads its answer; retries once on a fresh connection if the
    /// kept one turned out to be closed before anything was read.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<HttpResponse> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\n",
            self.port,
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        for attempt in 0..2 {
            let reused = self.stream.is_some();
            let s = match self.stream.as_mut() {
                Some(s) => s,
                None => {
                    let s = TcpStream::connect(("127.0.0.1", self.port))?;
                    s.set_nodelay(true)?;
                    s.set_read_timeout(Some(Duration::from_secs(120)))?;
                    s.set_write_timeout(Some(Duration::from_secs(120)))?;
                    self.stream.insert(s)
                }
            };
            let sent = s.write_all(head.as_bytes()).and_then(|_| s.write_all(body));
            let raw = sent.and_then(|_| read_response(s));
            match raw {
                Ok(raw) if !raw.is_empty() => {
                    let resp = parse(&raw).ok_or_else(|| {
                        std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            "malformed HTTP response",
                        )
                    })?;
                    let close = resp
                        .header("connection")
                        .is_some_and(|v| v.eq_ignore_ascii_case("close"));
                    if close {
                        self.stream = None;
                    }
                    return Ok(resp);
                }
                Ok(_) | Err(_) if reused && attempt == 0 => {
                    self.stream = None;
                }
                Ok(_) => {
                    self.stream = None;
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "connection closed without an answer",
                    ));
                }
                Err(e) => {
                    self.stream = None;
                    return Err(e);
                }
            }
        }
        unreachable!("the second attempt always returns")
    }
}

/// Reads one HTTP response, stopping at the end of its framed body (Content-Length or
/// chunked) rather than waiting for the server to close the connection.
pub fn read_response(s: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 65536];
    let mut head_end = None;
    loop {
        if head_end.is_none() {
            head_end = buf.windows(4).position(|w| w == b"\r\n\r\n");
        }
        if let Some(end) = head_end {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let body = &buf[end + 4..];
            let chunked = head
                .lines()
                .any(|l| l.starts_with("transfer-encoding:") && l.contains("chunked"));
            let length = head.lines().find_map(|l| {
                l.strip_prefix("content-length:")
                    .and_then(|v| v.trim().parse::<usize>().ok())
            });
            let status_without_body =
                head.starts_with("http/1.1 204") || head.starts_with("http/1.1 304");
            let complete = if chunked {
                body.ends_with(b"0\r\n\r\n")
            } else if let Some(len) = length {
                body.len() >= len
            } else {
                status_without_body
            };
            if complete {
                return Ok(buf);
            }
        }
        let n = s.read(&mut tmp)?;
        if n == 0 {
            return Ok(buf);
        }
        buf.extend_from_slice(&tmp[..n]);
    }
}

fn parse(raw: &[u8]) -> Option<HttpResponse> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body)?;
    } else if let Some(len) = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        body.truncate(len);
    }
    Some(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(
            std::str::from_utf8(&b[..line_end])
                .ok()?
                .split(';')
                .next()?
                .trim(),
            16,
        )
        .ok()?;
        b = &b[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}
