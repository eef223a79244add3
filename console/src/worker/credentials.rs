//! Collector credentials: the browser generates the X25519 key pair and the collector
//! token and keeps both; the console stores only the public `HpkeConfig` and the token's
//! SHA-256, which is what the Leader needs (`collector_hpke_config`,
//! `collector_auth_token_hash`).

use super::auth::{role_in, Principal};
use super::db::args;
use super::http::{Ctx, Req, Resp};
use crate::error::{ConsoleError, FieldErrors};
use crate::tokens::new_id;
use crate::validate::{self, CredentialPublic};
use serde::{Deserialize, Serialize};

/// A stored credential.
#[derive(Clone, Serialize, Deserialize)]
pub struct Credential {
    /// ID.
    pub id: String,
    /// Name.
    pub name: String,
    /// base64url of the DAP `HpkeConfig`.
    pub hpke_config: String,
    /// base64url SHA-256 of the collector token.
    pub token_hash: String,
    /// When it was added.
    pub created_at: u64,
}

impl Credential {
    /// The checked public parts.
    pub fn public(&self) -> Result<CredentialPublic, ConsoleError> {
        let mut e = FieldErrors::new();
        validate::credential(&mut e, &self.hpke_config, &self.token_hash).ok_or_else(|| {
            ConsoleError::Internal(format!("stored credential {} is unreadable", self.id))
        })
    }
}

/// The credential `id` of `account_id` (404 otherwise).
pub async fn find(ctx: &Ctx, account_id: &str, id: &str) -> Result<Credential, ConsoleError> {
    ctx.db
        .first(
            "SELECT id, name, hpke_config, token_hash, created_at FROM collector_credentials WHERE id = ?1 AND account_id = ?2",
            args![id, account_id],
        )
        .await?
        .ok_or_else(|| ConsoleError::not_found("collector credential"))
}

/// `GET /accounts/{a}/collector_credentials`.
pub async fn list(ctx: &Ctx, p: &Principal, account_id: &str) -> Result<Resp, ConsoleError> {
    role_in(ctx, p, account_id).await?;
    let list: Vec<Credential> = ctx
        .db
        .all(
            "SELECT id, name, hpke_config, token_hash, created_at FROM collector_credentials WHERE account_id = ?1 ORDER BY created_at",
            args![account_id],
        )
        .await?;
    Ok(Resp::json(
        200,
        &serde_json::json!({ "collector_credentials": list }),
    ))
}

/// `GET /accounts/{a}/collector_credentials/{id}`.
pub async fn get(
    ctx: &Ctx,
    p: &Principal,
    account_id: &str,
    id: &str,
) -> Result<Resp, ConsoleError> {
    role_in(ctx, p, account_id).await?;
    Ok(Resp::json(200, &find(ctx, account_id, id).await?))
}

#[derive(Deserialize)]
struct CreateReq {
    #[serde(default)]
    name: String,
    #[serde(default)]
    hpke_config: String,
    #[serde(default)]
    token_hash: String,
}

/// `POST /accounts/{a}/collector_credentials`: the public parts of a new credential.
pub async fn create(
    ctx: &Ctx,
    req: &Req,
    p: &Principal,
    account_id: &str,
) -> Result<Resp, ConsoleError> {
    role_in(ctx, p, account_id).await?;
    let r: CreateReq = req.json()?;
    let mut e = FieldErrors::new();
    let name = validate::name(&mut e, "name", &r.name);
    let public = validate::credential(&mut e, &r.hpke_config, &r.token_hash);
    e.into_result()?;
    let public = public.ok_or_else(|| ConsoleError::Internal("credential check".into()))?;
    let c = Credential {
        id: new_id("crd"),
        name,
        hpke_config: public.hpke_config,
        token_hash: public.token_hash,
        created_at: ctx.now,
    };
    ctx.db
        .run(
            "INSERT INTO collector_credentials (id, account_id, name, hpke_config, token_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            args![&c.id, account_id, &c.name, &c.hpke_config, &c.token_hash, c.created_at],
        )
        .await?;
    Ok(Resp::json(201, &c))
}

/// `DELETE /accounts/{a}/collector_credentials/{id}`: only when no task uses it.
pub async fn delete(
    ctx: &Ctx,
    p: &Principal,
    account_id: &str,
    id: &str,
) -> Result<Resp, ConsoleError> {
    role_in(ctx, p, account_id).await?;
    find(ctx, account_id, id).await?;
    ctx.db
        .delete_unless_used(
            "collector_credentials",
            "credential_id = ?2",
            account_id,
            id,
            "tasks use this credential: delete them first",
        )
        .await?;
    Ok(Resp::empty())
}
