//! CORS (the Fetch standard's HTTP protocol) for the resources a Client or Collector in a
//! web page uses: `GET /hpke_config`, `POST /tasks/{id}/reports` and the collection jobs.
//! Their requests carry DAP media types and bearer tokens, so browsers preflight them.
//!
//! Every origin is allowed (`Access-Control-Allow-Origin: *`): DAP authenticates Collectors
//! by bearer token, never by cookie, and the wildcard forbids credentialed requests. The
//! aggregator-to-aggregator resources and the admin API get no CORS headers, so browsers
//! keep refusing them to pages.

use crate::http::{Method, Request, Response};

/// Whether `path` is a resource pages may use.
fn is_client_facing(path: &str) -> bool {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    matches!(
        segs.as_slice(),
        ["hpke_config"] | ["tasks", _, "reports"] | ["tasks", _, "collection_jobs", ..]
    )
}

/// The answer to a CORS preflight (`OPTIONS` with `Access-Control-Request-Method`) for a
/// client-facing resource; `None` for every other request.
pub fn preflight(req: &Request) -> Option<Response> {
    let is_preflight = req.method == Some(Method::Other)
        && req.headers.get("access-control-request-method").is_some();
    if !is_preflight || !is_client_facing(&req.path) {
        return None;
    }
    Some(
        Response::empty(204)
            .with_header("access-control-allow-origin", "*")
            .with_header("access-control-allow-methods", "GET, POST, DELETE")
            .with_header(
                "access-control-allow-headers",
                "content-type, authorization, dap-auth-token",
            )
            .with_header("access-control-max-age", "86400"),
    )
}

/// Adds the CORS response headers to an answer from a client-facing resource.
pub fn decorate(req: &Request, resp: Response) -> Response {
    if !is_client_facing(&req.path) {
        return resp;
    }
    resp.with_header("access-control-allow-origin", "*")
        .with_header("access-control-expose-headers", "location, retry-after")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Headers;

    fn req(method: Method, path: &str, headers: Headers) -> Request {
        Request::new(method, path, headers, Vec::new())
    }

    #[test]
    fn preflights_only_client_facing_resources() {
        let h = Headers::default().with("access-control-request-method", "POST");
        let r = preflight(&req(Method::Other, "/tasks/abc/reports", h.clone())).unwrap();
        assert_eq!(r.status, 204);
        assert_eq!(r.headers.get("access-control-allow-origin"), Some("*"));
        assert!(preflight(&req(
            Method::Other,
            "/tasks/abc/collection_jobs/x",
            h.clone()
        ))
        .is_some());
        assert!(preflight(&req(
            Method::Other,
            "/tasks/abc/aggregation_jobs",
            h.clone()
        ))
        .is_none());
        assert!(preflight(&req(Method::Other, "/admin/tasks", h)).is_none());
        assert!(preflight(&req(Method::Other, "/hpke_config", Headers::default())).is_none());
    }

    #[test]
    fn decorates_only_client_facing_answers() {
        let ok = Response::empty(200);
        let get = |p| req(Method::Get, p, Headers::default());
        let r = decorate(&get("/hpke_config"), ok.clone());
        assert_eq!(r.headers.get("access-control-allow-origin"), Some("*"));
        assert_eq!(
            r.headers.get("access-control-expose-headers"),
            Some("location, retry-after")
        );
        let r = decorate(&get("/tasks/t/aggregate_shares"), ok);
        assert_eq!(r.headers.get("access-control-allow-origin"), None);
    }
}
