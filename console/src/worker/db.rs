//! D1 access: prepared statements with positional arguments, rows deserialised into
//! structs, and errors turned into [`ConsoleError`]s (a broken uniqueness rule into a
//! conflict, anything else into "unavailable", never with a bound value in the message).

use crate::error::ConsoleError;
use serde::de::DeserializeOwned;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

/// A bound value.
pub enum Arg {
    /// TEXT.
    Text(String),
    /// INTEGER (below 2^53: JavaScript numbers carry them exactly).
    Int(u64),
    /// NULL.
    Null,
}

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::Text(s.to_string())
    }
}

impl From<&String> for Arg {
    fn from(s: &String) -> Arg {
        Arg::Text(s.clone())
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Text(s)
    }
}

impl From<u64> for Arg {
    fn from(n: u64) -> Arg {
        Arg::Int(n)
    }
}

impl From<Option<u64>> for Arg {
    fn from(n: Option<u64>) -> Arg {
        n.map_or(Arg::Null, Arg::Int)
    }
}

impl From<Option<&str>> for Arg {
    fn from(s: Option<&str>) -> Arg {
        s.map_or(Arg::Null, |s| Arg::Text(s.to_string()))
    }
}

impl Arg {
    fn js(&self) -> JsValue {
        match self {
            Arg::Text(s) => JsValue::from_str(s),
            // Exact: the values bound are times and counts far below 2^53.
            Arg::Int(n) => JsValue::from_f64(*n as f64),
            Arg::Null => JsValue::NULL,
        }
    }
}

/// `args![a, b]`: a slice of [`Arg`]s.
macro_rules! args {
    ($($a:expr),* $(,)?) => { &[$($crate::worker::db::Arg::from($a)),*] };
}
pub(crate) use args;

/// Whether a D1 error message reports a broken UNIQUE or PRIMARY KEY rule.
fn is_unique_violation(msg: &str) -> bool {
    msg.contains("UNIQUE constraint failed") || msg.contains("SQLITE_CONSTRAINT")
}

fn fail(e: worker::Error) -> ConsoleError {
    let msg = e.to_string();
    if is_unique_violation(&msg) {
        ConsoleError::Conflict("this already exists".into())
    } else {
        worker::console_error!("D1: {msg}");
        ConsoleError::Unavailable("the console's database failed; try again".into())
    }
}

/// The console's database.
pub struct Db(pub D1Database);

impl Db {
    /// A prepared statement with its arguments bound.
    pub fn stmt(&self, sql: &str, args: &[Arg]) -> Result<D1PreparedStatement, ConsoleError> {
        let values: Vec<JsValue> = args.iter().map(Arg::js).collect();
        self.0.prepare(sql).bind(&values).map_err(fail)
    }

    /// Every row.
    pub async fn all<T: DeserializeOwned>(
        &self,
        sql: &str,
        args: &[Arg],
    ) -> Result<Vec<T>, ConsoleError> {
        let r = self.stmt(sql, args)?.all().await.map_err(fail)?;
        r.results::<T>().map_err(fail)
    }

    /// The first row, if any.
    pub async fn first<T: DeserializeOwned>(
        &self,
        sql: &str,
        args: &[Arg],
    ) -> Result<Option<T>, ConsoleError> {
        self.stmt(sql, args)?.first::<T>(None).await.map_err(fail)
    }

    /// Runs a statement; returns how many rows it changed.
    pub async fn run(&self, sql: &str, args: &[Arg]) -> Result<usize, ConsoleError> {
        let r = self.stmt(sql, args)?.run().await.map_err(fail)?;
        Ok(r.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0))
    }

    /// Deletes the row `id` (`?2`) of `table` in account `account_id` (`?1`) in one
    /// statement unless a task of that account matches `used_by` (SQL over the `tasks`
    /// columns, with the same two parameters): a task created at the same moment cannot
    /// slip in between a check and the delete. The caller has checked that the row exists,
    /// so nothing deleted means it is in use: `Conflict` with `refusal`.
    pub async fn delete_unless_used(
        &self,
        table: &str,
        used_by: &str,
        account_id: &str,
        id: &str,
        refusal: &str,
    ) -> Result<(), ConsoleError> {
        let sql = format!(
            "DELETE FROM {table} WHERE account_id = ?1 AND id = ?2 AND NOT EXISTS \
             (SELECT 1 FROM tasks WHERE account_id = ?1 AND ({used_by}))"
        );
        match self.run(&sql, args![account_id, id]).await? {
            0 => Err(ConsoleError::Conflict(refusal.into())),
            _ => Ok(()),
        }
    }

    /// Runs statements in one transaction (all or none).
    pub async fn batch(&self, stmts: Vec<D1PreparedStatement>) -> Result<(), ConsoleError> {
        self.0.batch(stmts).await.map_err(fail).map(|_| ())
    }
}

/// A `COUNT(*)`-style row.
#[derive(serde::Deserialize)]
pub struct Count {
    /// The count.
    pub n: u64,
}
