//! Who is asking: a session (cookie) or an API token (`Authorization: Bearer edap_...`),
//! and what they may do in an account. Sign-up, sign-in (with the failure limits),
//! sign-out and `GET /me`.

use super::db::{args, Count};
use super::http::{Ctx, Req, Resp};
use super::webcrypto::WebCryptoKdf;
use crate::error::{ConsoleError, FieldErrors};
use crate::password::{self, PasswordHash};
use crate::ratelimit::{self, Failures, Scope};
use crate::session::{self, SESSION_LIFETIME_SECS};
use crate::tokens::{self, hash_secret, new_id, new_secret};
use crate::validate::{self, Role};
use serde::{Deserialize, Serialize};

/// The authenticated caller.
pub enum Principal {
    /// A signed-in user.
    User {
        /// User ID.
        user_id: String,
        /// Email address.
        email: String,
        /// The session's CSRF token.
        csrf: String,
        /// SHA-256 of the session token.
        session_hash: String,
    },
    /// An API token of one account.
    Token {
        /// Token ID.
        token_id: String,
        /// Its account.
        account_id: String,
        /// Its role there.
        role: Role,
    },
}

impl Principal {
    /// The CSRF token to check, for sessions.
    pub fn csrf(&self) -> Option<&str> {
        match self {
            Principal::User { csrf, .. } => Some(csrf),
            Principal::Token { .. } => None,
        }
    }

    /// The user, for sessions; API tokens cannot do what only a person does.
    pub fn user_id(&self) -> Result<&str, ConsoleError> {
        match self {
            Principal::User { user_id, .. } => Ok(user_id),
            Principal::Token { .. } => Err(ConsoleError::Forbidden(
                "this needs a signed-in person, not an API token".into(),
            )),
        }
    }

    /// Who did it, for `created_by` columns.
    pub fn actor(&self) -> String {
        match self {
            Principal::User { user_id, .. } => user_id.clone(),
            Principal::Token { token_id, .. } => token_id.clone(),
        }
    }
}

#[derive(Deserialize)]
struct SessionRow {
    user_id: String,
    email: String,
    csrf_token: String,
}

#[derive(Deserialize)]
struct TokenRow {
    id: String,
    account_id: String,
    role: String,
}

/// Resolves the caller. An API token that is unknown or revoked is a 401 at once (no
/// fallback to the cookie); no credentials at all give `None`.
pub async fn authenticate(ctx: &Ctx, req: &Req) -> Result<Option<Principal>, ConsoleError> {
    if let Some(auth) = req.header("authorization") {
        let token = auth
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|t| tokens::looks_like_api_token(t))
            .ok_or(ConsoleError::Unauthenticated)?;
        let row: Option<TokenRow> = ctx
            .db
            .first(
                "SELECT id, account_id, role FROM api_tokens WHERE token_hash = ?1 AND revoked_at IS NULL",
                args![hash_secret(token)],
            )
            .await?;
        let row = row.ok_or(ConsoleError::Unauthenticated)?;
        ctx.db
            .run(
                "UPDATE api_tokens SET last_used_at = ?1 WHERE id = ?2",
                args![ctx.now, &row.id],
            )
            .await?;
        return Ok(Some(Principal::Token {
            token_id: row.id,
            account_id: row.account_id,
            role: Role::parse(&row.role).unwrap_or(Role::Member),
        }));
    }
    let Some(cookie) = req
        .header("cookie")
        .and_then(|h| session::read_cookie(h, ctx.cookies.name()))
    else {
        return Ok(None);
    };
    let session_hash = hash_secret(cookie);
    let row: Option<SessionRow> = ctx
        .db
        .first(
            "SELECT s.user_id, u.email, s.csrf_token FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = ?1 AND s.expires_at > ?2",
            args![&session_hash, ctx.now],
        )
        .await?;
    Ok(row.map(|r| Principal::User {
        user_id: r.user_id,
        email: r.email,
        csrf: r.csrf_token,
        session_hash,
    }))
}

/// The caller's role in `account_id`; another account's resources answer 404, as if they
/// did not exist.
pub async fn role_in(ctx: &Ctx, p: &Principal, account_id: &str) -> Result<Role, ConsoleError> {
    let role = match p {
        Principal::Token {
            account_id: a,
            role,
            ..
        } => (a == account_id).then_some(*role),
        Principal::User { user_id, .. } => {
            #[derive(Deserialize)]
            struct R {
                role: String,
            }
            let r: Option<R> = ctx
                .db
                .first(
                    "SELECT role FROM memberships WHERE account_id = ?1 AND user_id = ?2",
                    args![account_id, user_id.as_str()],
                )
                .await?;
            r.and_then(|r| Role::parse(&r.role))
        }
    };
    role.ok_or_else(|| ConsoleError::not_found("account"))
}

/// `Err(403)` unless `role` is owner.
pub fn require_owner(role: Role, what: &str) -> Result<(), ConsoleError> {
    match role {
        Role::Owner => Ok(()),
        Role::Member => Err(ConsoleError::Forbidden(format!(
            "only an owner of this account can {what}"
        ))),
    }
}

#[derive(Deserialize)]
struct SignUpReq {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    account_name: Option<String>,
}

#[derive(Deserialize)]
struct SignInReq {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// An account as its members see it in lists.
#[derive(Serialize, Deserialize)]
pub struct AccountRef {
    /// Account ID.
    pub id: String,
    /// Name.
    pub name: String,
    /// The caller's role.
    pub role: String,
}

/// The accounts of a user.
pub async fn accounts_of(ctx: &Ctx, user_id: &str) -> Result<Vec<AccountRef>, ConsoleError> {
    ctx.db
        .all(
            "SELECT a.id, a.name, m.role FROM accounts a JOIN memberships m ON m.account_id = a.id \
             WHERE m.user_id = ?1 ORDER BY a.created_at, a.id",
            args![user_id],
        )
        .await
}

/// Starts a session for `user_id`; returns the answer's `Set-Cookie` and the CSRF token.
async fn start_session(ctx: &Ctx, user_id: &str) -> Result<(String, String), ConsoleError> {
    let token = new_secret();
    let csrf = new_secret();
    ctx.db
        .run(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            args![hash_secret(&token), user_id, &csrf, ctx.now, ctx.now + SESSION_LIFETIME_SECS],
        )
        .await?;
    Ok((ctx.cookies.set(&token), csrf))
}

async fn me_body(
    ctx: &Ctx,
    user_id: &str,
    email: &str,
    csrf: &str,
) -> Result<serde_json::Value, ConsoleError> {
    Ok(serde_json::json!({
        "user": {"id": user_id, "email": email},
        "csrf_token": csrf,
        "accounts": accounts_of(ctx, user_id).await?,
    }))
}

/// `POST /signup`: a user, their first account (they own it) and a session.
pub async fn signup(ctx: &Ctx, req: &Req) -> Result<Resp, ConsoleError> {
    let r: SignUpReq = req.json()?;
    let mut e = FieldErrors::new();
    let email = validate::email(&mut e, "email", &r.email);
    password::check_new_password(&mut e, "password", &r.password, &email);
    let account_name = match r.account_name.as_deref().map(str::trim) {
        None | Some("") => "My account".to_string(),
        Some(n) => validate::name(&mut e, "account_name", n),
    };
    e.into_result()?;
    let exists: Option<Count> = ctx
        .db
        .first(
            "SELECT COUNT(*) AS n FROM users WHERE email = ?1",
            args![&email],
        )
        .await?;
    if exists.is_some_and(|c| c.n > 0) {
        return Err(FieldErrors::one(
            "email",
            "an account with this email address exists: sign in instead",
        ));
    }
    let hash = PasswordHash::create(&WebCryptoKdf, &r.password).await?;
    let user_id = new_id("usr");
    let account_id = new_id("acc");
    let stmts = vec![
        ctx.db.stmt(
            "INSERT INTO users (id, email, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            args![&user_id, &email, hash.encode(), ctx.now],
        )?,
        ctx.db.stmt(
            "INSERT INTO accounts (id, name, created_at) VALUES (?1, ?2, ?3)",
            args![&account_id, &account_name, ctx.now],
        )?,
        ctx.db.stmt(
            "INSERT INTO memberships (account_id, user_id, role, created_at) VALUES (?1, ?2, 'owner', ?3)",
            args![&account_id, &user_id, ctx.now],
        )?,
    ];
    ctx.db.batch(stmts).await.map_err(|e| match e {
        ConsoleError::Conflict(_) => FieldErrors::one(
            "email",
            "an account with this email address exists: sign in instead",
        ),
        other => other,
    })?;
    let (cookie, csrf) = start_session(ctx, &user_id).await?;
    Ok(Resp::json(201, &me_body(ctx, &user_id, &email, &csrf).await?).with("set-cookie", cookie))
}

async fn failures(ctx: &Ctx, scope: Scope, key: &str) -> Result<Failures, ConsoleError> {
    #[derive(Deserialize)]
    struct F {
        n: u64,
        oldest: Option<u64>,
    }
    let f: Option<F> = ctx
        .db
        .first(
            "SELECT COUNT(*) AS n, MIN(at) AS oldest FROM sign_in_failures WHERE scope = ?1 AND key = ?2 AND at > ?3",
            args![scope.as_str(), key, ratelimit::window_start(ctx.now)],
        )
        .await?;
    Ok(f.map_or(
        Failures {
            count: 0,
            oldest: None,
        },
        |f| Failures {
            count: f.n,
            oldest: f.oldest,
        },
    ))
}

async fn record_failure(ctx: &Ctx, email: &str) -> Result<(), ConsoleError> {
    let stmts = vec![
        ctx.db.stmt(
            "DELETE FROM sign_in_failures WHERE at <= ?1",
            args![ratelimit::window_start(ctx.now)],
        )?,
        ctx.db.stmt(
            "INSERT INTO sign_in_failures (scope, key, at) VALUES ('account', ?1, ?3), ('address', ?2, ?3)",
            args![email, &ctx.client_ip, ctx.now],
        )?,
    ];
    ctx.db.batch(stmts).await
}

/// The answer to a wrong email address or password (the same for both).
fn sign_in_failed() -> ConsoleError {
    FieldErrors::one("password", "the email address or the password is wrong")
}

/// `POST /signin`.
pub async fn signin(ctx: &Ctx, req: &Req) -> Result<Resp, ConsoleError> {
    let r: SignInReq = req.json()?;
    let mut e = FieldErrors::new();
    let email = validate::email(&mut e, "email", &r.email);
    if r.password.is_empty() {
        e.add("password", "enter your password");
    }
    e.into_result()?;
    ratelimit::check(
        Scope::Address,
        failures(ctx, Scope::Address, &ctx.client_ip).await?,
        ctx.now,
    )?;
    ratelimit::check(
        Scope::Account,
        failures(ctx, Scope::Account, &email).await?,
        ctx.now,
    )?;
    #[derive(Deserialize)]
    struct U {
        id: String,
        password_hash: String,
    }
    let user: Option<U> = ctx
        .db
        .first(
            "SELECT id, password_hash FROM users WHERE email = ?1",
            args![&email],
        )
        .await?;
    // No password longer than any accepted at sign-up can be right.
    let too_long = r.password.len() > password::MAX_PASSWORD_BYTES;
    let ok = match &user {
        Some(u) if !too_long => match PasswordHash::parse(&u.password_hash) {
            Some(h) => h.verify(&WebCryptoKdf, &r.password).await?,
            None => false,
        },
        _ => {
            password::burn_time(&WebCryptoKdf, if too_long { "" } else { &r.password }).await?;
            false
        }
    };
    let Some(user) = user.filter(|_| ok) else {
        record_failure(ctx, &email).await?;
        return Err(sign_in_failed());
    };
    let stmts = vec![
        ctx.db.stmt(
            "DELETE FROM sign_in_failures WHERE scope = 'account' AND key = ?1",
            args![&email],
        )?,
        ctx.db.stmt(
            "DELETE FROM sessions WHERE expires_at <= ?1",
            args![ctx.now],
        )?,
    ];
    ctx.db.batch(stmts).await?;
    let (cookie, csrf) = start_session(ctx, &user.id).await?;
    Ok(Resp::json(200, &me_body(ctx, &user.id, &email, &csrf).await?).with("set-cookie", cookie))
}

/// `POST /signout`: ends the session.
pub async fn signout(ctx: &Ctx, p: &Principal) -> Result<Resp, ConsoleError> {
    if let Principal::User { session_hash, .. } = p {
        ctx.db
            .run(
                "DELETE FROM sessions WHERE token_hash = ?1",
                args![session_hash.as_str()],
            )
            .await?;
    }
    Ok(Resp::empty().with("set-cookie", ctx.cookies.clear()))
}

/// `GET /me`: the user, their accounts and the session's CSRF token; for an API token,
/// its account and role.
pub async fn me(ctx: &Ctx, p: &Principal) -> Result<Resp, ConsoleError> {
    match p {
        Principal::User {
            user_id,
            email,
            csrf,
            ..
        } => Ok(Resp::json(200, &me_body(ctx, user_id, email, csrf).await?)),
        Principal::Token {
            token_id,
            account_id,
            role,
        } => Ok(Resp::json(
            200,
            &serde_json::json!({"api_token": {"id": token_id, "account_id": account_id, "role": role}}),
        )),
    }
}
