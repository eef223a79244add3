//! Aggregators: the deployment's own Leader and Helper (`shared-leader`, `shared-helper`,
//! from the deployment's variables; every account may use them) and the ones an account
//! pairs itself by aggregator API URL and token. Pairing calls `GET {api}/`, shows what it
//! says and refuses what the console cannot use, with the reason on the form field it
//! concerns. Peer tokens are stored sealed (AES-256-GCM, `PEER_TOKEN_KEY`).

use super::auth::{role_in, Principal};
use super::db::args;
use super::fetcher::WorkerFetch;
use super::http::{Ctx, Req, Resp};
use crate::error::{ConsoleError, FieldErrors};
use crate::netguard;
use crate::pairing::AggregatorInfo;
use crate::provision::{self, Endpoint};
use crate::seal::SealingKey;
use crate::tokens::new_id;
use crate::validate;
use edap_core::api::aggregator_api::types::AuthTokenJson;
use edap_core::task::AuthHeader;
use serde::Deserialize;
use serde_json::{json, Value};

/// The ID of the deployment's Leader.
pub const SHARED_LEADER: &str = "shared-leader";
/// The ID of the deployment's Helper.
pub const SHARED_HELPER: &str = "shared-helper";

/// An aggregator an account may use, with its token.
pub struct Aggregator {
    /// ID.
    pub id: String,
    /// Display name.
    pub name: String,
    /// One of the deployment's own.
    pub shared: bool,
    /// Aggregator API URL (trailing slash).
    pub api_url: String,
    /// Aggregator API token.
    pub token: String,
    /// What `GET /` said when it was paired (own aggregators).
    pub stored_info: Option<AggregatorInfo>,
    /// When it was paired.
    pub created_at: u64,
}

#[derive(Deserialize)]
struct Row {
    id: String,
    name: String,
    api_url: String,
    token_sealed: String,
    info: String,
    created_at: u64,
}

fn sealing_key(ctx: &Ctx) -> Result<SealingKey, ConsoleError> {
    let secret = ctx.settings.peer_token_key.as_deref().ok_or_else(|| {
        ConsoleError::Internal(
            "this console cannot store aggregator tokens: its operator has not set PEER_TOKEN_KEY"
                .into(),
        )
    })?;
    SealingKey::from_secret(secret).map_err(|e| ConsoleError::Internal(e.to_string()))
}

fn shared(ctx: &Ctx) -> Vec<Aggregator> {
    let s = &ctx.settings;
    [
        (SHARED_LEADER, "This service's Leader", &s.leader),
        (SHARED_HELPER, "This service's Helper", &s.helper),
    ]
    .into_iter()
    .filter_map(|(id, name, a)| {
        a.as_ref().map(|a| Aggregator {
            id: id.into(),
            name: name.into(),
            shared: true,
            api_url: a.api_url.clone(),
            token: a.token.clone(),
            stored_info: None,
            created_at: 0,
        })
    })
    .collect()
}

fn from_row(ctx: &Ctx, r: Row) -> Result<Aggregator, ConsoleError> {
    let token = sealing_key(ctx)?
        .open(&r.token_sealed, &r.id)
        .map_err(|e| ConsoleError::Internal(e.to_string()))?;
    Ok(Aggregator {
        stored_info: serde_json::from_str(&r.info).ok(),
        id: r.id,
        name: r.name,
        shared: false,
        api_url: r.api_url,
        token,
        created_at: r.created_at,
    })
}

/// The aggregator `id` as `account_id` sees it (404 for another account's).
pub async fn find(ctx: &Ctx, account_id: &str, id: &str) -> Result<Aggregator, ConsoleError> {
    if let Some(a) = shared(ctx).into_iter().find(|a| a.id == id) {
        return Ok(a);
    }
    let row: Option<Row> = ctx
        .db
        .first(
            "SELECT id, name, api_url, token_sealed, info, created_at FROM aggregators WHERE id = ?1 AND account_id = ?2",
            args![id, account_id],
        )
        .await?;
    from_row(
        ctx,
        row.ok_or_else(|| ConsoleError::not_found("aggregator"))?,
    )
}

fn fetch(ctx: &Ctx) -> WorkerFetch {
    WorkerFetch {
        timeout_ms: ctx.settings.peer_timeout_ms,
    }
}

/// What the aggregator says about itself now.
pub async fn describe(ctx: &Ctx, a: &Aggregator) -> Result<AggregatorInfo, String> {
    provision::describe(&fetch(ctx), &a.api_url, &a.token).await
}

/// The aggregator as provisioning needs it, described now.
pub async fn endpoint(ctx: &Ctx, a: Aggregator) -> Result<Endpoint, String> {
    let info = describe(ctx, &a).await?;
    Ok(Endpoint {
        name: a.name,
        api_url: a.api_url,
        token: a.token,
        info,
    })
}

fn to_json(a: &Aggregator, info: Result<&AggregatorInfo, &str>) -> Value {
    let mut v = json!({
        "id": a.id, "name": a.name, "shared": a.shared, "api_url": a.api_url,
        "created_at": a.created_at,
    });
    match info {
        Ok(i) => {
            v["status"] = "ok".into();
            v["dap_url"] = i.dap_url.clone().into();
            v["protocol"] = i.protocol.clone().into();
            v["role"] = i.role.clone().into();
            v["vdafs"] = json!(i.vdafs);
            v["batch_modes"] = json!(i.batch_modes);
            v["features"] = json!(i.features);
            v["software"] = format!("{} {}", i.software_name, i.software_version)
                .trim()
                .to_string()
                .into();
        }
        Err(e) => {
            v["status"] = "unreachable".into();
            v["problem"] = e.into();
        }
    }
    v
}

/// `GET /accounts/{a}/aggregators`: the deployment's (described now) and the account's own
/// (as paired).
pub async fn list(ctx: &Ctx, p: &Principal, account_id: &str) -> Result<Resp, ConsoleError> {
    role_in(ctx, p, account_id).await?;
    let mut out = Vec::new();
    for a in shared(ctx) {
        let info = describe(ctx, &a).await;
        out.push(to_json(&a, info.as_ref().map_err(String::as_str)));
    }
    let rows: Vec<Row> = ctx
        .db
        .all(
            "SELECT id, name, api_url, token_sealed, info, created_at FROM aggregators WHERE account_id = ?1 ORDER BY created_at",
            args![account_id],
        )
        .await?;
    for r in rows {
        let a = from_row(ctx, r)?;
        let info = a.stored_info.clone();
        out.push(to_json(
            &a,
            info.as_ref().ok_or("its description is unreadable"),
        ));
    }
    Ok(Resp::json(200, &json!({ "aggregators": out })))
}

/// `GET /accounts/{a}/aggregators/{id}`: described now.
pub async fn get(
    ctx: &Ctx,
    p: &Principal,
    account_id: &str,
    id: &str,
) -> Result<Resp, ConsoleError> {
    role_in(ctx, p, account_id).await?;
    let a = find(ctx, account_id, id).await?;
    let info = describe(ctx, &a).await;
    Ok(Resp::json(
        200,
        &to_json(&a, info.as_ref().map_err(String::as_str)),
    ))
}

#[derive(Deserialize)]
struct PairReq {
    #[serde(default)]
    name: String,
    #[serde(default)]
    api_url: String,
    #[serde(default)]
    api_token: String,
}

/// `POST /accounts/{a}/aggregators`: pairs an aggregator by API URL and token.
pub async fn pair(
    ctx: &Ctx,
    req: &Req,
    p: &Principal,
    account_id: &str,
) -> Result<Resp, ConsoleError> {
    role_in(ctx, p, account_id).await?;
    let r: PairReq = req.json()?;
    let mut e = FieldErrors::new();
    let name = validate::name(&mut e, "name", &r.name);
    let policy = ctx.settings.url_policy();
    let api_url = netguard::check_api_url(&r.api_url, policy).unwrap_or_else(|m| {
        e.add("api_url", m);
        String::new()
    });
    let token = r.api_token.trim().to_string();
    if token.is_empty() {
        e.add("api_token", "enter the aggregator API token");
    } else if !AuthTokenJson::new(AuthHeader::Bearer, token.clone()).is_valid() {
        e.add(
            "api_token",
            "this is not a bearer token (letters, digits and - . _ ~ + / only)",
        );
    }
    e.into_result()?;
    let key = sealing_key(ctx)?;
    let info = provision::describe(&fetch(ctx), &api_url, &token)
        .await
        .map_err(|m| {
            let field = if m.contains("token") {
                "api_token"
            } else {
                "api_url"
            };
            FieldErrors::one(field, m)
        })?;
    if let Err(m) = netguard::check_api_url(&info.dap_url, policy) {
        return Err(FieldErrors::one(
            "api_url",
            format!(
                "the aggregator's DAP URL {} cannot be used: {m}",
                info.dap_url
            ),
        ));
    }
    let id = new_id("agg");
    let sealed = key
        .seal(&token, &id)
        .map_err(|e| ConsoleError::Internal(e.to_string()))?;
    let info_json =
        serde_json::to_string(&info).map_err(|e| ConsoleError::Internal(e.to_string()))?;
    ctx.db
        .run(
            "INSERT INTO aggregators (id, account_id, name, api_url, token_sealed, info, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            args![&id, account_id, &name, &api_url, sealed, info_json, ctx.now],
        )
        .await?;
    let a = Aggregator {
        id,
        name,
        shared: false,
        api_url,
        token,
        stored_info: None,
        created_at: ctx.now,
    };
    Ok(Resp::json(201, &to_json(&a, Ok(&info))))
}

/// `PATCH /accounts/{a}/aggregators/{id}`: rename an own aggregator.
pub async fn rename(
    ctx: &Ctx,
    req: &Req,
    p: &Principal,
    account_id: &str,
    id: &str,
) -> Result<Resp, ConsoleError> {
    role_in(ctx, p, account_id).await?;
    if id == SHARED_LEADER || id == SHARED_HELPER {
        return Err(ConsoleError::Forbidden(
            "the service's own aggregators cannot be changed".into(),
        ));
    }
    #[derive(Deserialize)]
    struct N {
        #[serde(default)]
        name: String,
    }
    let r: N = req.json()?;
    let mut e = FieldErrors::new();
    let name = validate::name(&mut e, "name", &r.name);
    e.into_result()?;
    let n = ctx
        .db
        .run(
            "UPDATE aggregators SET name = ?1 WHERE id = ?2 AND account_id = ?3",
            args![&name, id, account_id],
        )
        .await?;
    if n == 0 {
        return Err(ConsoleError::not_found("aggregator"));
    }
    get(ctx, p, account_id, id).await
}

/// `DELETE /accounts/{a}/aggregators/{id}`: unpairs an own aggregator no task uses.
pub async fn unpair(
    ctx: &Ctx,
    p: &Principal,
    account_id: &str,
    id: &str,
) -> Result<Resp, ConsoleError> {
    role_in(ctx, p, account_id).await?;
    if id == SHARED_LEADER || id == SHARED_HELPER {
        return Err(ConsoleError::Forbidden(
            "the service's own aggregators cannot be removed".into(),
        ));
    }
    find(ctx, account_id, id).await?;
    ctx.db
        .delete_unless_used(
            "aggregators",
            "leader_id = ?2 OR helper_id = ?2",
            account_id,
            id,
            "tasks use this aggregator: delete them first",
        )
        .await?;
    Ok(Resp::empty())
}
