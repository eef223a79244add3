//! The worker's fetch handler: every HTTP request goes to the core router.

use crate::platform::WorkerPlatform;
use edap_core::http::{Headers, Method, Request};
use worker::{event, Context, Env, Result};

#[event(fetch)]
async fn fetch(mut req: worker::Request, env: Env, _ctx: Context) -> Result<worker::Response> {
    let url = req.url()?;
    let method = Method::parse(req.method().as_ref());
    let headers = Headers(req.headers().entries().collect());
    let body = if matches!(method, Method::Post | Method::Put) {
        req.bytes().await?
    } else {
        Vec::new()
    };
    let request = Request {
        method: Some(method),
        path: url.path().to_string(),
        query: url.query().unwrap_or("").to_string(),
        headers,
        body,
    };
    let is_admin = request.path.starts_with("/admin/");
    let platform = WorkerPlatform::new(env);
    let resp = edap_core::api::handle(&platform, request).await;
    if is_admin && method != Method::Get {
        // This isolate serves the change at once; others see it within the cache lifetime.
        WorkerPlatform::invalidate_caches();
    }
    if resp.status >= 500 {
        worker::console_error!(
            "{} {} -> {}: {}",
            method.as_str(),
            url.path(),
            resp.status,
            String::from_utf8_lossy(&resp.body)
        );
    }
    let headers = worker::Headers::new();
    for (k, v) in &resp.headers.0 {
        headers.append(k, v)?;
    }
    Ok(worker::Response::from_bytes(resp.body)?
        .with_status(resp.status)
        .with_headers(headers))
}
