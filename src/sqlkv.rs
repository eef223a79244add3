//! The core's [`Kv`] on a Durable Object's SQLite storage, and storage transactions.

use edap_core::store::kv::Entries;
use edap_core::store::{Kv, StoreError};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use worker::{SqlStorage, SqlStorageValue, Storage};

/// Schema of every Durable Object: one ordered table of byte-string keys and values. The
/// key layout of each kind is documented at the top of its `durable/*.rs` file.
pub const SCHEMA: &str =
    "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID";

/// Bound parameters a Durable Object's SQLite accepts per statement.
const MAX_PARAMS: usize = 100;

fn placeholders(groups: usize, per_group: &str) -> String {
    vec![per_group; groups].join(", ")
}

/// A [`Kv`] over the `kv` table.
pub struct SqlKv {
    sql: SqlStorage,
}

fn backend(e: worker::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SqlKv {
    /// Opens the store, creating the table on first use.
    pub fn open(storage: &Storage) -> Result<SqlKv, StoreError> {
        let sql = storage.sql();
        sql.exec(SCHEMA, None).map_err(backend)?;
        Ok(SqlKv { sql })
    }

    fn rows(
        &self,
        query: &str,
        binds: Vec<SqlStorageValue>,
    ) -> Result<Vec<Vec<SqlStorageValue>>, StoreError> {
        self.sql
            .exec(query, binds)
            .map_err(backend)?
            .raw()
            .collect::<worker::Result<Vec<_>>>()
            .map_err(backend)
    }
}

fn blob(v: SqlStorageValue) -> Result<Vec<u8>, StoreError> {
    match v {
        SqlStorageValue::Blob(b) => Ok(b),
        other => Err(StoreError::Codec(format!(
            "expected a BLOB, found {other:?}"
        ))),
    }
}

impl Kv for SqlKv {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        // Never SqlCursor::one(): on zero rows it throws past wasm-bindgen and kills the isolate.
        let rows = self.rows(
            "SELECT v FROM kv WHERE k = ?",
            vec![SqlStorageValue::Blob(key.to_vec())],
        )?;
        match rows.into_iter().next().and_then(|r| r.into_iter().next()) {
            Some(v) => Ok(Some(blob(v)?)),
            None => Ok(None),
        }
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.sql
            .exec(
                "INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)",
                vec![
                    SqlStorageValue::Blob(key.to_vec()),
                    SqlStorageValue::Blob(value.to_vec()),
                ],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<(), StoreError> {
        self.sql
            .exec(
                "DELETE FROM kv WHERE k = ?",
                vec![SqlStorageValue::Blob(key.to_vec())],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn get_many(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let mut found = std::collections::HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(MAX_PARAMS) {
            let query = format!(
                "SELECT k, v FROM kv WHERE k IN ({})",
                placeholders(chunk.len(), "?")
            );
            let binds = chunk
                .iter()
                .map(|k| SqlStorageValue::Blob(k.clone()))
                .collect();
            for row in self.rows(&query, binds)? {
                let mut it = row.into_iter();
                if let (Some(k), Some(v)) = (it.next(), it.next()) {
                    found.insert(blob(k)?, blob(v)?);
                }
            }
        }
        Ok(keys.iter().map(|k| found.get(k).cloned()).collect())
    }

    fn put_many(&mut self, entries: &[(Vec<u8>, Vec<u8>)]) -> Result<(), StoreError> {
        // Within one statement SQLite applies rows in order, so a later duplicate key wins.
        for chunk in entries.chunks(MAX_PARAMS / 2) {
            let query = format!(
                "INSERT OR REPLACE INTO kv (k, v) VALUES {}",
                placeholders(chunk.len(), "(?, ?)")
            );
            let binds = chunk
                .iter()
                .flat_map(|(k, v)| {
                    [
                        SqlStorageValue::Blob(k.clone()),
                        SqlStorageValue::Blob(v.clone()),
                    ]
                })
                .collect::<Vec<_>>();
            self.sql.exec(&query, binds).map_err(backend)?;
        }
        Ok(())
    }

    fn delete_many(&mut self, keys: &[Vec<u8>]) -> Result<(), StoreError> {
        for chunk in keys.chunks(MAX_PARAMS) {
            let query = format!(
                "DELETE FROM kv WHERE k IN ({})",
                placeholders(chunk.len(), "?")
            );
            let binds = chunk
                .iter()
                .map(|k| SqlStorageValue::Blob(k.clone()))
                .collect::<Vec<_>>();
            self.sql.exec(&query, binds).map_err(backend)?;
        }
        Ok(())
    }

    fn delete_range(&mut self, start: &[u8], end: &[u8]) -> Result<(), StoreError> {
        self.sql
            .exec(
                "DELETE FROM kv WHERE k >= ? AND k < ?",
                vec![
                    SqlStorageValue::Blob(start.to_vec()),
                    SqlStorageValue::Blob(end.to_vec()),
                ],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
        reverse: bool,
    ) -> Result<Entries, StoreError> {
        if start >= end || limit == 0 {
            return Ok(Vec::new());
        }
        let query = if reverse {
            "SELECT k, v FROM kv WHERE k >= ? AND k < ? ORDER BY k DESC LIMIT ?"
        } else {
            "SELECT k, v FROM kv WHERE k >= ? AND k < ? ORDER BY k ASC LIMIT ?"
        };
        let limit = i64::try_from(limit).unwrap_or(-1);
        let rows = self.rows(
            query,
            vec![
                SqlStorageValue::Blob(start.to_vec()),
                SqlStorageValue::Blob(end.to_vec()),
                SqlStorageValue::Integer(limit),
            ],
        )?;
        rows.into_iter()
            .map(|r| {
                let mut it = r.into_iter();
                match (it.next(), it.next()) {
                    (Some(k), Some(v)) => Ok((blob(k)?, blob(v)?)),
                    _ => Err(StoreError::Codec("short row".into())),
                }
            })
            .collect()
    }
}

/// Runs `f` inside `storage.transactionSync` (which worker 0.8.7 does not bind): if `f`
/// fails, every write it made is rolled back.
pub fn transaction_sync<T>(
    storage: &Storage,
    f: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let raw: &JsValue = storage.as_raw().as_ref();
    let func: js_sys::Function = js_sys::Reflect::get(raw, &JsValue::from_str("transactionSync"))
        .map_err(|_| StoreError::Backend("storage.transactionSync missing".into()))?
        .dyn_into()
        .map_err(|_| StoreError::Backend("storage.transactionSync is not a function".into()))?;
    let mut f = Some(f);
    let mut out: Option<Result<T, StoreError>> = None;
    let call = {
        let mut cb = || -> Result<JsValue, JsValue> {
            let Some(f) = f.take() else {
                return Err(JsValue::from_str("transaction callback ran twice"));
            };
            match f() {
                Ok(v) => {
                    out = Some(Ok(v));
                    Ok(JsValue::UNDEFINED)
                }
                Err(e) => {
                    let js = JsValue::from_str(&e.to_string());
                    out = Some(Err(e));
                    Err(js)
                }
            }
        };
        // The closure is only called synchronously, while `cb` is alive.
        let closure =
            Closure::<dyn FnMut() -> Result<JsValue, JsValue>>::borrow_mut_assert_unwind_safe(
                &mut cb,
            );
        func.call1(raw, closure.as_js_value())
    };
    match (call, out) {
        (Ok(_), Some(r)) => r,
        (Err(_), Some(Err(e))) => Err(e),
        (Err(js), _) => Err(StoreError::Backend(format!("transaction failed: {js:?}"))),
        (Ok(_), None) => Err(StoreError::Backend(
            "transaction callback did not run".into(),
        )),
    }
}
