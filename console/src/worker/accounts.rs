//! Accounts and who belongs to them: members with roles (owner, member), invitation links
//! (single use, 7 days, the token only in the link), removing members, and the account's
//! API tokens (shown once, kept as hashes, revoked rather than deleted).

use super::auth::{accounts_of, require_owner, role_in, Principal};
use super::db::{args, Count};
use super::http::{Ctx, Req, Resp};
use crate::error::{ConsoleError, FieldErrors};
use crate::tokens::{api_token_hint, hash_secret, new_api_token, new_id, new_secret};
use crate::validate::{self, Role};
use serde::{Deserialize, Serialize};

/// How long an invitation link stays valid (seconds): 7 days.
pub const INVITATION_LIFETIME_SECS: u64 = 7 * 24 * 3600;

#[derive(Deserialize)]
struct NameReq {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct RoleReq {
    #[serde(default)]
    role: String,
}

fn parse_role(e: &mut FieldErrors, s: &str) -> Role {
    Role::parse(s.trim()).unwrap_or_else(|| {
        e.add("role", "choose owner or member");
        Role::Member
    })
}

/// `GET /accounts`.
pub async fn list(ctx: &Ctx, p: &Principal) -> Result<Resp, ConsoleError> {
    let accounts = match p {
        Principal::User { user_id, .. } => accounts_of(ctx, user_id).await?,
        Principal::Token {
            account_id, role, ..
        } => {
            #[derive(Deserialize)]
            struct A {
                id: String,
                name: String,
            }
            let a: Vec<A> = ctx
                .db
                .all(
                    "SELECT id, name FROM accounts WHERE id = ?1",
                    args![account_id.as_str()],
                )
                .await?;
            a.into_iter()
                .map(|a| super::auth::AccountRef {
                    id: a.id,
                    name: a.name,
                    role: role.as_str().into(),
                })
                .collect()
        }
    };
    Ok(Resp::json(
        200,
        &serde_json::json!({ "accounts": accounts }),
    ))
}

/// `POST /accounts`: a new account owned by the signed-in user.
pub async fn create(ctx: &Ctx, req: &Req, p: &Principal) -> Result<Resp, ConsoleError> {
    let user_id = p.user_id()?;
    let r: NameReq = req.json()?;
    let mut e = FieldErrors::new();
    let name = validate::name(&mut e, "name", &r.name);
    e.into_result()?;
    let id = new_id("acc");
    ctx.db
        .batch(vec![
            ctx.db.stmt(
                "INSERT INTO accounts (id, name, created_at) VALUES (?1, ?2, ?3)",
                args![&id, &name, ctx.now],
            )?,
            ctx.db.stmt(
                "INSERT INTO memberships (account_id, user_id, role, created_at) VALUES (?1, ?2, 'owner', ?3)",
                args![&id, user_id, ctx.now],
            )?,
        ])
        .await?;
    Ok(Resp::json(
        201,
        &serde_json::json!({"id": id, "name": name, "role": "owner"}),
    ))
}

#[derive(Serialize, Deserialize)]
struct Member {
    user_id: String,
    email: String,
    role: String,
    created_at: u64,
}

async fn members(ctx: &Ctx, account_id: &str) -> Result<Vec<Member>, ConsoleError> {
    ctx.db
        .all(
            "SELECT m.user_id, u.email, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.account_id = ?1 ORDER BY m.created_at, u.email",
            args![account_id],
        )
        .await
}

/// `GET /accounts/{a}`: the account, the caller's role and its members.
pub async fn get(ctx: &Ctx, p: &Principal, account_id: &str) -> Result<Resp, ConsoleError> {
    let role = role_in(ctx, p, account_id).await?;
    #[derive(Deserialize)]
    struct A {
        name: String,
        created_at: u64,
    }
    let a: A = ctx
        .db
        .first(
            "SELECT name, created_at FROM accounts WHERE id = ?1",
            args![account_id],
        )
        .await?
        .ok_or_else(|| ConsoleError::not_found("account"))?;
    Ok(Resp::json(
        200,
        &serde_json::json!({
            "id": account_id, "name": a.name, "created_at": a.created_at, "role": role,
            "members": members(ctx, account_id).await?,
        }),
    ))
}

/// `PATCH /accounts/{a}`: rename (owners).
pub async fn rename(
    ctx: &Ctx,
    req: &Req,
    p: &Principal,
    account_id: &str,
) -> Result<Resp, ConsoleError> {
    require_owner(role_in(ctx, p, account_id).await?, "rename it")?;
    let r: NameReq = req.json()?;
    let mut e = FieldErrors::new();
    let name = validate::name(&mut e, "name", &r.name);
    e.into_result()?;
    ctx.db
        .run(
            "UPDATE accounts SET name = ?1 WHERE id = ?2",
            args![&name, account_id],
        )
        .await?;
    get(ctx, p, account_id).await
}

/// `GET /accounts/{a}/members`.
pub async fn list_members(
    ctx: &Ctx,
    p: &Principal,
    account_id: &str,
) -> Result<Resp, ConsoleError> {
    role_in(ctx, p, account_id).await?;
    Ok(Resp::json(
        200,
        &serde_json::json!({ "members": members(ctx, account_id).await? }),
    ))
}

async fn owners(ctx: &Ctx, account_id: &str) -> Result<u64, ConsoleError> {
    let c: Option<Count> = ctx
        .db
        .first(
            "SELECT COUNT(*) AS n FROM memberships WHERE account_id = ?1 AND role = 'owner'",
            args![account_id],
        )
        .await?;
    Ok(c.map_or(0, |c| c.n))
}

async fn member_role(ctx: &Ctx, account_id: &str, user_id: &str) -> Result<Role, ConsoleError> {
    #[derive(Deserialize)]
    struct R {
        role: String,
    }
    let r: Option<R> = ctx
        .db
        .first(
            "SELECT role FROM memberships WHERE account_id = ?1 AND user_id = ?2",
            args![account_id, user_id],
        )
        .await?;
    r.and_then(|r| Role::parse(&r.role))
        .ok_or_else(|| ConsoleError::not_found("member"))
}

/// `PATCH /accounts/{a}/members/{u}`: change a role (owners; the last owner stays).
pub async fn set_role(
    ctx: &Ctx,
    req: &Req,
    p: &Principal,
    account_id: &str,
    user_id: &str,
) -> Result<Resp, ConsoleError> {
    require_owner(role_in(ctx, p, account_id).await?, "change roles")?;
    let r: RoleReq = req.json()?;
    let mut e = FieldErrors::new();
    let role = parse_role(&mut e, &r.role);
    e.into_result()?;
    let current = member_role(ctx, account_id, user_id).await?;
    if current == Role::Owner && role == Role::Member && owners(ctx, account_id).await? <= 1 {
        return Err(ConsoleError::Conflict(
            "an account needs an owner: make someone else owner first".into(),
        ));
    }
    ctx.db
        .run(
            "UPDATE memberships SET role = ?1 WHERE account_id = ?2 AND user_id = ?3",
            args![role.as_str(), account_id, user_id],
        )
        .await?;
    list_members(ctx, p, account_id).await
}

/// `DELETE /accounts/{a}/members/{u}`: owners remove anyone, members themselves; the last
/// owner stays. The API tokens the removed member made are revoked.
pub async fn remove(
    ctx: &Ctx,
    p: &Principal,
    account_id: &str,
    user_id: &str,
) -> Result<Resp, ConsoleError> {
    let role = role_in(ctx, p, account_id).await?;
    let own = p.user_id().is_ok_and(|me| me == user_id);
    if !own {
        require_owner(role, "remove other members")?;
    }
    let current = member_role(ctx, account_id, user_id).await?;
    if current == Role::Owner && owners(ctx, account_id).await? <= 1 {
        return Err(ConsoleError::Conflict(
            "the last owner cannot leave: make someone else owner first".into(),
        ));
    }
    ctx.db
        .batch(vec![
            ctx.db.stmt(
                "DELETE FROM memberships WHERE account_id = ?1 AND user_id = ?2",
                args![account_id, user_id],
            )?,
            ctx.db.stmt(
                "UPDATE api_tokens SET revoked_at = ?1 WHERE account_id = ?2 AND created_by = ?3 AND revoked_at IS NULL",
                args![ctx.now, account_id, user_id],
            )?,
        ])
        .await?;
    Ok(Resp::empty())
}

#[derive(Serialize, Deserialize)]
struct Invitation {
    id: String,
    role: String,
    created_at: u64,
    expires_at: u64,
}

/// `GET /accounts/{a}/invitations`: open invitations (owners).
pub async fn list_invitations(
    ctx: &Ctx,
    p: &Principal,
    account_id: &str,
) -> Result<Resp, ConsoleError> {
    require_owner(role_in(ctx, p, account_id).await?, "see invitations")?;
    let list: Vec<Invitation> = ctx
        .db
        .all(
            "SELECT id, role, created_at, expires_at FROM invitations WHERE account_id = ?1 AND expires_at > ?2 ORDER BY created_at",
            args![account_id, ctx.now],
        )
        .await?;
    Ok(Resp::json(200, &serde_json::json!({ "invitations": list })))
}

/// `POST /accounts/{a}/invitations`: a link that lets one person join (owners). The token
/// is in the link's fragment, so it reaches neither logs nor `Referer`s; it is shown once.
pub async fn invite(
    ctx: &Ctx,
    req: &Req,
    p: &Principal,
    account_id: &str,
) -> Result<Resp, ConsoleError> {
    require_owner(role_in(ctx, p, account_id).await?, "invite people")?;
    let r: RoleReq = req.json()?;
    let mut e = FieldErrors::new();
    let role = if r.role.trim().is_empty() {
        Role::Member
    } else {
        parse_role(&mut e, &r.role)
    };
    e.into_result()?;
    let id = new_id("inv");
    let token = new_secret();
    let expires_at = ctx.now + INVITATION_LIFETIME_SECS;
    ctx.db
        .run(
            "INSERT INTO invitations (id, account_id, token_hash, role, created_by, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            args![&id, account_id, hash_secret(&token), role.as_str(), p.actor(), ctx.now, expires_at],
        )
        .await?;
    Ok(Resp::json(
        201,
        &serde_json::json!({
            "id": id, "role": role, "expires_at": expires_at, "token": token,
            "url": format!("{}/invite#{token}", ctx.origin),
        }),
    ))
}

/// `DELETE /accounts/{a}/invitations/{i}` (owners).
pub async fn withdraw(
    ctx: &Ctx,
    p: &Principal,
    account_id: &str,
    id: &str,
) -> Result<Resp, ConsoleError> {
    require_owner(role_in(ctx, p, account_id).await?, "withdraw invitations")?;
    let n = ctx
        .db
        .run(
            "DELETE FROM invitations WHERE id = ?1 AND account_id = ?2",
            args![id, account_id],
        )
        .await?;
    if n == 0 {
        return Err(ConsoleError::not_found("invitation"));
    }
    Ok(Resp::empty())
}

#[derive(Deserialize)]
struct AcceptReq {
    #[serde(default)]
    token: String,
}

/// `POST /invitations/accept`: the signed-in user joins the invitation's account.
pub async fn accept(ctx: &Ctx, req: &Req, p: &Principal) -> Result<Resp, ConsoleError> {
    let user_id = p.user_id()?;
    let r: AcceptReq = req.json()?;
    #[derive(Deserialize)]
    struct I {
        id: String,
        account_id: String,
        role: String,
    }
    let inv: Option<I> = ctx
        .db
        .first(
            "SELECT id, account_id, role FROM invitations WHERE token_hash = ?1 AND expires_at > ?2",
            args![hash_secret(r.token.trim()), ctx.now],
        )
        .await?;
    let inv = inv.ok_or_else(|| {
        FieldErrors::one(
            "token",
            "this invitation link is unknown, used or expired: ask for a new one",
        )
    })?;
    ctx.db
        .batch(vec![
            ctx.db.stmt(
                "INSERT OR IGNORE INTO memberships (account_id, user_id, role, created_at) VALUES (?1, ?2, ?3, ?4)",
                args![&inv.account_id, user_id, &inv.role, ctx.now],
            )?,
            ctx.db.stmt("DELETE FROM invitations WHERE id = ?1", args![&inv.id])?,
        ])
        .await?;
    get(ctx, p, &inv.account_id).await
}

#[derive(Serialize, Deserialize)]
struct ApiToken {
    id: String,
    name: String,
    hint: String,
    role: String,
    created_at: u64,
    last_used_at: Option<u64>,
    revoked_at: Option<u64>,
}

/// `GET /accounts/{a}/api_tokens` (owners).
pub async fn list_tokens(ctx: &Ctx, p: &Principal, account_id: &str) -> Result<Resp, ConsoleError> {
    require_owner(role_in(ctx, p, account_id).await?, "manage API tokens")?;
    let list: Vec<ApiToken> = ctx
        .db
        .all(
            "SELECT id, name, hint, role, created_at, last_used_at, revoked_at FROM api_tokens WHERE account_id = ?1 ORDER BY created_at",
            args![account_id],
        )
        .await?;
    Ok(Resp::json(200, &serde_json::json!({ "api_tokens": list })))
}

/// `POST /accounts/{a}/api_tokens` (owners): the token is in this answer only.
pub async fn create_token(
    ctx: &Ctx,
    req: &Req,
    p: &Principal,
    account_id: &str,
) -> Result<Resp, ConsoleError> {
    let role = role_in(ctx, p, account_id).await?;
    require_owner(role, "manage API tokens")?;
    let r: NameReq = req.json()?;
    let mut e = FieldErrors::new();
    let name = validate::name(&mut e, "name", &r.name);
    e.into_result()?;
    let id = new_id("tok");
    let token = new_api_token();
    ctx.db
        .run(
            "INSERT INTO api_tokens (id, account_id, name, token_hash, hint, role, created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            args![&id, account_id, &name, hash_secret(&token), api_token_hint(&token), role.as_str(), p.actor(), ctx.now],
        )
        .await?;
    Ok(Resp::json(
        201,
        &serde_json::json!({"id": id, "name": name, "hint": api_token_hint(&token), "role": role, "created_at": ctx.now, "token": token}),
    ))
}

/// `DELETE /accounts/{a}/api_tokens/{t}` (owners): revokes it; later requests with it are
/// 401.
pub async fn revoke_token(
    ctx: &Ctx,
    p: &Principal,
    account_id: &str,
    id: &str,
) -> Result<Resp, ConsoleError> {
    require_owner(role_in(ctx, p, account_id).await?, "manage API tokens")?;
    let n = ctx
        .db
        .run(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?1) WHERE id = ?2 AND account_id = ?3",
            args![ctx.now, id, account_id],
        )
        .await?;
    if n == 0 {
        return Err(ConsoleError::not_found("API token"));
    }
    Ok(Resp::empty())
}
