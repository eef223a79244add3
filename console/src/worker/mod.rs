//! The Worker (wasm32 only): `/api/v1/...` is the JSON API, which the UI uses through its
//! typed client and scripts use with API tokens; everything else is the UI's static
//! assets (`ASSETS`, with the single-page fallback to `index.html`).
//!
//! Every request to the API goes through the same gate, in this order: the `Origin` of a
//! state-changing request must be the console's own; its body must be JSON; the caller is
//! authenticated (API token or session cookie; only sign-up and sign-in go without);
//! a session's state-changing request carries its CSRF token. Then the route's handler
//! checks the caller's role in the account the path names.

mod accounts;
mod aggregators;
mod auth;
mod credentials;
mod db;
mod fetcher;
mod http;
mod tasks;
mod webcrypto;

use crate::error::ConsoleError;
use crate::session::{self, CookiePolicy, CSRF_HEADER};
use crate::settings::Settings;
use auth::Principal;
use http::{Ctx, Req, Resp, MAX_BODY};
use worker::{event, Context, Env, Result};

/// The API's path prefix.
const API_PREFIX: &str = "/api/v1/";

#[event(fetch)]
async fn fetch(mut req: worker::Request, env: Env, _ctx: Context) -> Result<worker::Response> {
    let url = req.url()?;
    if !url.path().starts_with(API_PREFIX) {
        return env.assets("ASSETS")?.fetch_request(req).await;
    }
    let settings = Settings::from_vars(|k| {
        env.secret(k)
            .map(|s| s.to_string())
            .or_else(|_| env.var(k).map(|v| v.to_string()))
            .ok()
    });
    let method = req.method().to_string().to_ascii_uppercase();
    let headers: Vec<(String, String)> = req.headers().entries().collect();
    let body = if method == "GET" || method == "HEAD" {
        Vec::new()
    } else {
        match req.bytes().await {
            Ok(b) => b,
            Err(_) => {
                return to_worker(Resp::error(&ConsoleError::BadRequest(
                    "the request body could not be read".into(),
                )))
            }
        }
    };
    let segments = url.path()[API_PREFIX.len()..]
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let api_req = Req {
        method,
        segments,
        headers,
        body,
    };
    let host = url.host_str().unwrap_or("").to_string();
    let host_port = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    };
    let origin = format!("{}://{host_port}", url.scheme());
    let db = match env.d1("DB") {
        Ok(d) => db::Db(d),
        Err(e) => {
            worker::console_error!("the D1 binding DB is missing: {e}");
            return to_worker(Resp::error(&ConsoleError::Internal(
                "the console has no database (binding DB)".into(),
            )));
        }
    };
    let ctx = Ctx {
        cookies: CookiePolicy::for_request(settings.development, url.scheme(), &host_port),
        settings,
        db,
        now: (js_sys::Date::now() / 1000.0) as u64,
        origin,
        client_ip: api_req
            .header("cf-connecting-ip")
            .unwrap_or("unknown")
            .to_string(),
    };
    let resp = match serve(&ctx, &api_req).await {
        Ok(r) => r,
        Err(e) => {
            if e.status() >= 500 {
                worker::console_error!(
                    "{} /api/v1/{} -> {}: {e}",
                    api_req.method,
                    api_req.segments.join("/"),
                    e.status()
                );
            }
            Resp::error(&e)
        }
    };
    to_worker(resp)
}

fn to_worker(r: Resp) -> Result<worker::Response> {
    let headers = worker::Headers::new();
    if !r.body.is_empty() {
        headers.set("content-type", "application/json")?;
    }
    headers.set("cache-control", "no-store")?;
    headers.set("x-content-type-options", "nosniff")?;
    for (k, v) in &r.headers {
        headers.append(k, v)?;
    }
    Ok(worker::Response::from_bytes(r.body)?
        .with_status(r.status)
        .with_headers(headers))
}

/// The checks before any handler: origin, body type and size.
fn gate(ctx: &Ctx, req: &Req) -> std::result::Result<(), ConsoleError> {
    if req.is_write() && !session::origin_allowed(req.header("origin"), &ctx.origin) {
        return Err(ConsoleError::Forbidden(
            "cross-origin requests are refused".into(),
        ));
    }
    if req.body.len() > MAX_BODY {
        return Err(ConsoleError::BadRequest(format!(
            "the request body is larger than {MAX_BODY} bytes"
        )));
    }
    if !req.body.is_empty() {
        let json = req
            .header("content-type")
            .and_then(|c| c.split(';').next())
            .is_some_and(|c| c.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(ConsoleError::BadRequest(
                "send the request body as application/json".into(),
            ));
        }
    }
    Ok(())
}

async fn serve(ctx: &Ctx, req: &Req) -> std::result::Result<Resp, ConsoleError> {
    gate(ctx, req)?;
    let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let m = req.method.as_str();
    match (m, segs.as_slice()) {
        ("POST", ["signup"]) => return auth::signup(ctx, req).await,
        ("POST", ["signin"]) => return auth::signin(ctx, req).await,
        _ => {}
    }
    let p = auth::authenticate(ctx, req)
        .await?
        .ok_or(ConsoleError::Unauthenticated)?;
    if req.is_write() {
        if let Some(expected) = p.csrf() {
            if !session::csrf_matches(expected, req.header(CSRF_HEADER)) {
                return Err(ConsoleError::Forbidden(
                    "the CSRF token is missing or wrong: reload the page and try again".into(),
                ));
            }
        }
    }
    route(ctx, req, &p, m, &segs).await
}

async fn route(
    ctx: &Ctx,
    req: &Req,
    p: &Principal,
    m: &str,
    segs: &[&str],
) -> std::result::Result<Resp, ConsoleError> {
    match (m, segs) {
        ("POST", ["signout"]) => auth::signout(ctx, p).await,
        ("GET", ["me"]) => auth::me(ctx, p).await,
        ("POST", ["invitations", "accept"]) => accounts::accept(ctx, req, p).await,
        ("GET", ["accounts"]) => accounts::list(ctx, p).await,
        ("POST", ["accounts"]) => accounts::create(ctx, req, p).await,
        (_, ["accounts", a, rest @ ..]) => account_route(ctx, req, p, m, a, rest).await,
        _ => Err(ConsoleError::NotFound(format!(
            "no API route {m} /api/v1/{}",
            segs.join("/")
        ))),
    }
}

async fn account_route(
    ctx: &Ctx,
    req: &Req,
    p: &Principal,
    m: &str,
    a: &str,
    rest: &[&str],
) -> std::result::Result<Resp, ConsoleError> {
    match (m, rest) {
        ("GET", []) => accounts::get(ctx, p, a).await,
        ("PATCH", []) => accounts::rename(ctx, req, p, a).await,
        ("GET", ["members"]) => accounts::list_members(ctx, p, a).await,
        ("PATCH", ["members", u]) => accounts::set_role(ctx, req, p, a, u).await,
        ("DELETE", ["members", u]) => accounts::remove(ctx, p, a, u).await,
        ("GET", ["invitations"]) => accounts::list_invitations(ctx, p, a).await,
        ("POST", ["invitations"]) => accounts::invite(ctx, req, p, a).await,
        ("DELETE", ["invitations", i]) => accounts::withdraw(ctx, p, a, i).await,
        ("GET", ["api_tokens"]) => accounts::list_tokens(ctx, p, a).await,
        ("POST", ["api_tokens"]) => accounts::create_token(ctx, req, p, a).await,
        ("DELETE", ["api_tokens", t]) => accounts::revoke_token(ctx, p, a, t).await,
        ("GET", ["aggregators"]) => aggregators::list(ctx, p, a).await,
        ("POST", ["aggregators"]) => aggregators::pair(ctx, req, p, a).await,
        ("GET", ["aggregators", g]) => aggregators::get(ctx, p, a, g).await,
        ("PATCH", ["aggregators", g]) => aggregators::rename(ctx, req, p, a, g).await,
        ("DELETE", ["aggregators", g]) => aggregators::unpair(ctx, p, a, g).await,
        ("GET", ["collector_credentials"]) => credentials::list(ctx, p, a).await,
        ("POST", ["collector_credentials"]) => credentials::create(ctx, req, p, a).await,
        ("GET", ["collector_credentials", c]) => credentials::get(ctx, p, a, c).await,
        ("DELETE", ["collector_credentials", c]) => credentials::delete(ctx, p, a, c).await,
        ("GET", ["tasks"]) => tasks::list(ctx, p, a).await,
        ("POST", ["tasks"]) => tasks::create(ctx, req, p, a).await,
        ("GET", ["tasks", t]) => tasks::get(ctx, p, a, t).await,
        ("PATCH", ["tasks", t]) => tasks::rename(ctx, req, p, a, t).await,
        ("DELETE", ["tasks", t]) => tasks::delete(ctx, p, a, t).await,
        ("GET", ["tasks", t, "metrics"]) => tasks::metrics(ctx, p, a, t).await,
        _ => {
            // The account is checked first, so another account's routes say "no such account".
            auth::role_in(ctx, p, a).await?;
            Err(ConsoleError::NotFound(format!(
                "no API route {m} /api/v1/accounts/{a}/{}",
                rest.join("/")
            )))
        }
    }
}
