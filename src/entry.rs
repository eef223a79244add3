//! The worker's fetch handler: every HTTP request goes to the core router.

use crate::jsglue;
use crate::platform::WorkerPlatform;
use worker::{event, Context, Env, Result};

#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, _ctx: Context) -> Result<web_sys::Response> {
    // Every method but GET (and HEAD) may carry a body: the aggregator API's PATCH, and its
    // DELETE /api/taskprov/peer_aggregators.
    let request = match jsglue::read_request(&req).await {
        Ok(r) => r,
        // The client went away or sent less than it announced: answer at once, rather
        // than let the runtime give up on the request much later.
        Err(e) => {
            let abort = edap_core::Abort::BadRequest(e.to_string());
            return jsglue::response(&edap_core::http::Response::problem(&abort));
        }
    };
    let method = request.method.unwrap_or(edap_core::http::Method::Other);
    let path = request.path.clone();
    let platform = WorkerPlatform::new(env);
    let resp = edap_core::api::handle(&platform, request).await;
    if edap_core::api::changes_state(method, &path, resp.status) {
        // This isolate serves the change at once; others see it within the cache lifetime.
        WorkerPlatform::invalidate_caches();
    }
    if resp.status >= 500 {
        worker::console_error!(
            "{} {} -> {}: {}",
            method.as_str(),
            path,
            resp.status,
            String::from_utf8_lossy(&resp.body)
        );
    }
    jsglue::response(&resp)
}
