//! The core's [`Kv`] on a Durable Object's SQLite storage, and storage transactions.

use edap_core::store::kv::Entries;
use edap_core::store::{Kv, StoreError};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use worker::{SqlStorage, Storage};

/// Schema of every Durable Object: one ordered table of byte-string keys and values. The
/// key layout of each kind is documented at the top of its `durable/*.rs` file.
pub const SCHEMA: &str =
    "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID";

/// Bound parameters a Durable Object's SQLite accepts per statement.
const MAX_PARAMS: usize = 100;

fn placeholders(groups: usize, per_group: &str) -> String {
    vec![per_group; groups].join(", ")
}

// One statement per call across the wasm boundary: the parameters travel as one byte
// string and their lengths, the rows come back as one byte string of length-prefixed
// columns. Through `worker::SqlStorage` the same statement took a boundary crossing per
// parameter, per row and per column (about 60 for an upload's two statements), which
// cost more CPU than SQLite itself.
#[wasm_bindgen(inline_js = r#"
export function kvExec(sql, query, data, lens, limit, wantRows) {
  const params = new Array(lens.length);
  let off = 0;
  for (let i = 0; i < lens.length; i++) {
    params[i] = data.subarray(off, off + lens[i]);
    off += lens[i];
  }
  if (limit >= 0) params.push(limit);
  const cursor = sql.exec(query, ...params);
  if (!wantRows) return new Uint8Array(0);
  const cols = [];
  let total = 0;
  for (const row of cursor.raw()) {
    for (const v of row) {
      if (!(v instanceof ArrayBuffer || ArrayBuffer.isView(v))) throw new Error("expected a BLOB column");
      const b = v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      cols.push(b);
      total += 4 + b.byteLength;
    }
  }
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let p = 0;
  for (const b of cols) {
    view.setUint32(p, b.byteLength, true);
    out.set(b, p + 4);
    p += 4 + b.byteLength;
  }
  return out;
}
"#)]
extern "C" {
    #[wasm_bindgen(catch, js_name = kvExec)]
    fn kv_exec(
        sql: &JsValue,
        query: &str,
        data: &[u8],
        lens: &[u32],
        limit: f64,
        want_rows: bool,
    ) -> Result<Vec<u8>, JsValue>;
}

/// A [`Kv`] over the `kv` table.
pub struct SqlKv {
    sql: SqlStorage,
}

fn backend(e: worker::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Splits [`kv_exec`]'s answer into its columns.
fn columns(packed: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
    let mut out = Vec::new();
    let mut rest = packed;
    while !rest.is_empty() {
        let (len, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| StoreError::Codec("short column length".into()))?;
        let len = u32::from_le_bytes(*len) as usize;
        if tail.len() < len {
            return Err(StoreError::Codec("short column".into()));
        }
        let (col, tail) = tail.split_at(len);
        out.push(col.to_vec());
        rest = tail;
    }
    Ok(out)
}

impl SqlKv {
    /// Opens the store, creating the table unless the caller knows it exists.
    pub fn open(storage: &Storage, table_ready: bool) -> Result<SqlKv, StoreError> {
        let sql = storage.sql();
        if !table_ready {
            sql.exec(SCHEMA, None).map_err(backend)?;
        }
        Ok(SqlKv { sql })
    }

    /// Runs one statement with BLOB parameters (and a trailing integer one, `limit`);
    /// returns the columns of its rows in order when `want_rows`.
    fn exec<'a>(
        &self,
        query: &str,
        blobs: impl IntoIterator<Item = &'a [u8]>,
        limit: Option<i64>,
        want_rows: bool,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut data = Vec::new();
        let mut lens = Vec::new();
        for b in blobs {
            data.extend_from_slice(b);
            lens.push(
                u32::try_from(b.len()).map_err(|_| StoreError::Codec("BLOB too long".into()))?,
            );
        }
        // A limit beyond 2^53 is no limit (SQLite reads any negative one as none).
        let limit = limit.map_or(-1.0, |l| l.min(1 << 53) as f64);
        let packed = kv_exec(self.sql.as_ref(), query, &data, &lens, limit, want_rows)
            .map_err(|e| StoreError::Backend(format!("{query}: {e:?}")))?;
        columns(&packed)
    }
}

impl Kv for SqlKv {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let mut cols = self.exec("SELECT v FROM kv WHERE k = ?", [key], None, true)?;
        Ok(if cols.is_empty() {
            None
        } else {
            Some(cols.swap_remove(0))
        })
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.exec(
            "INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)",
            [key, value],
            None,
            false,
        )?;
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<(), StoreError> {
        self.exec("DELETE FROM kv WHERE k = ?", [key], None, false)?;
        Ok(())
    }

    fn get_many(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let mut found = std::collections::HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(MAX_PARAMS) {
            let query = format!(
                "SELECT k, v FROM kv WHERE k IN ({})",
                placeholders(chunk.len(), "?")
            );
            let cols = self.exec(&query, chunk.iter().map(Vec::as_slice), None, true)?;
            let mut it = cols.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                found.insert(k, v);
            }
        }
        Ok(keys.iter().map(|k| found.remove(k)).collect())
    }

    fn put_many(&mut self, entries: &[(Vec<u8>, Vec<u8>)]) -> Result<(), StoreError> {
        // Within one statement SQLite applies rows in order, so a later duplicate key wins.
        for chunk in entries.chunks(MAX_PARAMS / 2) {
            let query = format!(
                "INSERT OR REPLACE INTO kv (k, v) VALUES {}",
                placeholders(chunk.len(), "(?, ?)")
            );
            let blobs = chunk.iter().flat_map(|(k, v)| [k.as_slice(), v.as_slice()]);
            self.exec(&query, blobs, None, false)?;
        }
        Ok(())
    }

    fn delete_many(&mut self, keys: &[Vec<u8>]) -> Result<(), StoreError> {
        for chunk in keys.chunks(MAX_PARAMS) {
            let query = format!(
                "DELETE FROM kv WHERE k IN ({})",
                placeholders(chunk.len(), "?")
            );
            self.exec(&query, chunk.iter().map(Vec::as_slice), None, false)?;
        }
        Ok(())
    }

    fn delete_range(&mut self, start: &[u8], end: &[u8]) -> Result<(), StoreError> {
        self.exec(
            "DELETE FROM kv WHERE k >= ? AND k < ?",
            [start, end],
            None,
            false,
        )?;
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
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let cols = self.exec(query, [start, end], Some(limit), true)?;
        if cols.len() % 2 != 0 {
            return Err(StoreError::Codec("short row".into()));
        }
        let mut it = cols.into_iter();
        let mut out = Vec::new();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            out.push((k, v));
        }
        Ok(out)
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
