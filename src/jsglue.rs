//! A request in and a response out in one crossing each of the wasm boundary. Building a
//! core `Request` through `worker::Request` took about 40 crossings (URL, method, each
//! header's iterator steps and strings, the body as a stream) and the response another
//! dozen; on the upload path that glue cost more CPU than the protocol work. Two small
//! JavaScript helpers carry the same data packed into one byte string instead.

use edap_core::http::{Headers, Method, Request, Response};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

#[wasm_bindgen(inline_js = r#"
const utf8 = new TextEncoder();
export async function readRequest(req) {
  let head = req.method + "\n" + req.url + "\n";
  for (const [k, v] of req.headers) head += k + ":" + v + "\n";
  const body = req.method === "GET" || req.method === "HEAD"
    ? new Uint8Array(0)
    : new Uint8Array(await req.arrayBuffer());
  const h = utf8.encode(head);
  const out = new Uint8Array(4 + h.length + body.length);
  new DataView(out.buffer).setUint32(0, h.length, true);
  out.set(h, 4);
  out.set(body, 4 + h.length);
  return out;
}
export function buildResponse(status, head, body) {
  const headers = new Headers();
  for (const line of head.split("\n")) {
    const i = line.indexOf(":");
    if (i > 0) headers.append(line.slice(0, i), line.slice(i + 1));
  }
  return new Response(body.length ? body.slice() : null, { status, headers });
}
"#)]
extern "C" {
    #[wasm_bindgen(catch, js_name = readRequest)]
    async fn read_request_packed(req: &web_sys::Request) -> Result<js_sys::Uint8Array, JsValue>;

    #[wasm_bindgen(catch, js_name = buildResponse)]
    fn build_response(status: u16, head: &str, body: &[u8]) -> Result<web_sys::Response, JsValue>;
}

/// Why a request could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The body ended before its announced length, or the client went away.
    #[error("the request body could not be read completely: {0}")]
    Body(String),
    /// The runtime handed over something this module cannot parse (never expected).
    #[error("the request could not be parsed: {0}")]
    Malformed(&'static str),
}

/// Reads an incoming request (its body in full) as the core's `Request`.
pub async fn read_request(req: &web_sys::Request) -> Result<Request, ReadError> {
    let packed = read_request_packed(req)
        .await
        .map_err(|e| ReadError::Body(e.as_string().unwrap_or_else(|| format!("{e:?}"))))?
        .to_vec();
    let (len, rest) = packed
        .split_first_chunk::<4>()
        .ok_or(ReadError::Malformed("no head"))?;
    let len = u32::from_le_bytes(*len) as usize;
    if rest.len() < len {
        return Err(ReadError::Malformed("short head"));
    }
    let (head, body) = rest.split_at(len);
    let head = std::str::from_utf8(head).map_err(|_| ReadError::Malformed("head not UTF-8"))?;
    let mut lines = head.split('\n');
    let method = Method::parse(lines.next().unwrap_or(""));
    let url =
        worker::Url::parse(lines.next().unwrap_or("")).map_err(|_| ReadError::Malformed("URL"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Ok(Request {
        method: Some(method),
        path: url.path().to_string(),
        query: url.query().unwrap_or("").to_string(),
        headers: Headers(headers),
        body: body.to_vec(),
        scheme: Some(url.scheme().to_string()),
    })
}

/// The core's `Response` as the runtime's.
pub fn response(resp: &Response) -> worker::Result<web_sys::Response> {
    let mut head = String::new();
    for (k, v) in &resp.headers.0 {
        // A line break would split the header; the core never builds one.
        if k.contains(['\n', ':']) || v.contains('\n') {
            continue;
        }
        head.push_str(k);
        head.push(':');
        head.push_str(v);
        head.push('\n');
    }
    build_response(resp.status, &head, &resp.body)
        .map_err(|e| worker::Error::RustError(format!("building a response: {e:?}")))
}
