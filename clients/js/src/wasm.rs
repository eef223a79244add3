//! The wasm-bindgen surface. Every function takes and returns strings, bytes and numbers;
//! failures are JavaScript `Error`s whose `name` says which kind they are (the TypeScript
//! layer turns them into its own error classes):
//!
//! | `name` | from |
//! |---|---|
//! | `InvalidTask` | task parameters or an encoded configuration / task ID |
//! | `InvalidMeasurement` | a measurement (with `index` and `value` properties) |
//! | `HpkeConfig` | an aggregator's `/hpke_config` answer |
//! | `Protocol` | an answer that does not decode, a report that cannot be built |
//! | `CollectorKey` | a key file that does not load |
//! | `InvalidQuery` | a collection query that does not fit the task |
//! | `Decrypt` | an aggregate share that does not open with the key |

use crate::client::{self, UploadError};
use crate::collector::{self, CollectError};
use crate::measurement;
use crate::task::Task;
use edap_core::hpke::HpkeKeypair;
use edap_core::roles::client::Client;
use edap_core::vdaf::Measurement;
use prio::codec::Encode;
use wasm_bindgen::prelude::*;

fn error(name: &str, message: &str) -> js_sys::Error {
    let e = js_sys::Error::new(message);
    e.set_name(name);
    e
}

fn fail(name: &str, message: impl std::fmt::Display) -> JsValue {
    error(name, &message.to_string()).into()
}

fn upload_fail(e: UploadError) -> JsValue {
    match e {
        UploadError::HpkeConfig(m) => fail("HpkeConfig", m),
        other => fail("Protocol", other),
    }
}

fn collect_fail(e: CollectError) -> JsValue {
    let name = match e {
        CollectError::Key(_) => "CollectorKey",
        CollectError::Query(_) => "InvalidQuery",
        CollectError::Decrypt(_) => "Decrypt",
        CollectError::Result(_) => "Protocol",
    };
    fail(name, e)
}

/// A checked task.
#[wasm_bindgen]
pub struct WasmTask {
    inner: Task,
}

#[wasm_bindgen]
impl WasmTask {
    /// From `new Task({...})`'s parameters as JSON.
    #[wasm_bindgen(js_name = fromParams)]
    pub fn from_params(json: &str) -> Result<WasmTask, JsValue> {
        Task::from_params_json(json)
            .map(|inner| WasmTask { inner })
            .map_err(|e| fail("InvalidTask", e))
    }

    /// From the base64url `TaskConfiguration` and, optionally, the task ID.
    #[wasm_bindgen(js_name = fromEncoded)]
    pub fn from_encoded(config: &str, id: Option<String>) -> Result<WasmTask, JsValue> {
        Task::from_encoded(config, id.as_deref())
            .map(|inner| WasmTask { inner })
            .map_err(|e| fail("InvalidTask", e))
    }

    /// The task ID, base64url.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.inner.id.to_base64url()
    }

    /// The base64url `TaskConfiguration`.
    #[wasm_bindgen(getter, js_name = encodedConfig)]
    pub fn encoded_config(&self) -> String {
        self.inner.encoded_config()
    }

    /// The configuration's fields as JSON (`edap task show --json`'s `config`).
    pub fn describe(&self) -> String {
        self.inner.describe_json()
    }

    /// Checks a JSON array of measurements against the VDAF.
    #[wasm_bindgen(js_name = checkMeasurements)]
    pub fn check_measurements(&self, json: &str) -> Result<Measurements, JsValue> {
        measurement::batch_from_json(&self.inner.config.vdaf, json)
            .map(|inner| Measurements { inner })
            .map_err(|bad| {
                let e = error("InvalidMeasurement", &bad.to_string());
                // Setting a property on a fresh Error object cannot fail.
                let _ = js_sys::Reflect::set(&e, &"index".into(), &(bad.index as u32).into());
                let _ = js_sys::Reflect::set(&e, &"value".into(), &bad.value.into());
                let _ = js_sys::Reflect::set(&e, &"reason".into(), &bad.message.into());
                e.into()
            })
    }
}

/// Measurements that fit their task.
#[wasm_bindgen]
pub struct Measurements {
    inner: Vec<Measurement>,
}

#[wasm_bindgen]
impl Measurements {
    /// How many.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> u32 {
        self.inner.len() as u32
    }
}

/// A Client sealing to two aggregators' HPKE configurations.
#[wasm_bindgen]
pub struct WasmClient {
    inner: Client,
}

#[wasm_bindgen]
impl WasmClient {
    /// From the encoded `HpkeConfigList`s of the Leader and the Helper.
    #[wasm_bindgen(constructor)]
    pub fn new(task: &WasmTask, leader: &[u8], helper: &[u8]) -> Result<WasmClient, JsValue> {
        client::client(&task.inner, leader, helper)
            .map(|inner| WasmClient { inner })
            .map_err(upload_fail)
    }

    /// One `UploadRequest` with a report for each measurement in `indices`, at `time`
    /// (POSIX seconds).
    pub fn upload(
        &self,
        measurements: &Measurements,
        indices: &[u32],
        time: f64,
    ) -> Result<Upload, JsValue> {
        if !(time.is_finite() && time >= 0.0) {
            return Err(fail(
                "Protocol",
                "the report time must be a non-negative number",
            ));
        }
        client::upload_body(&self.inner, &measurements.inner, indices, time as u64)
            .map(|b| Upload {
                body: b.body,
                report_ids: b.report_ids,
            })
            .map_err(upload_fail)
    }
}

/// An encoded upload request.
#[wasm_bindgen]
pub struct Upload {
    body: Vec<u8>,
    report_ids: Vec<String>,
}

#[wasm_bindgen]
impl Upload {
    /// The request body.
    #[wasm_bindgen(getter)]
    pub fn body(&self) -> Vec<u8> {
        self.body.clone()
    }

    /// The report IDs, in the order of the indices.
    #[wasm_bindgen(getter, js_name = reportIds)]
    pub fn report_ids(&self) -> Vec<String> {
        self.report_ids.clone()
    }
}

/// The `upload-errors` body as JSON `[[reportId, errorName], ...]`.
#[wasm_bindgen(js_name = uploadErrors)]
pub fn upload_errors(body: &[u8]) -> Result<String, JsValue> {
    let pairs = client::upload_errors(body).map_err(upload_fail)?;
    serde_json::to_string(&pairs).map_err(|e| fail("Protocol", e))
}

/// A Collector's HPKE key pair.
#[wasm_bindgen]
pub struct CollectorKey {
    inner: HpkeKeypair,
}

#[wasm_bindgen]
impl CollectorKey {
    /// A new X25519 key pair with config ID `id`.
    pub fn generate(id: u8) -> Result<CollectorKey, JsValue> {
        collector::generate(id)
            .map(|inner| CollectorKey { inner })
            .map_err(collect_fail)
    }

    /// From the key file JSON `edap hpke-keygen` writes.
    #[wasm_bindgen(js_name = fromJson)]
    pub fn from_json(json: &str) -> Result<CollectorKey, JsValue> {
        collector::import(json)
            .map(|inner| CollectorKey { inner })
            .map_err(collect_fail)
    }

    /// The key file JSON, as `edap hpke-keygen` writes it.
    #[wasm_bindgen(js_name = toJson)]
    pub fn to_json(&self) -> String {
        collector::export(&self.inner)
    }

    /// The public `HpkeConfig`, base64url.
    #[wasm_bindgen(getter, js_name = publicConfig)]
    pub fn public_config(&self) -> String {
        collector::public_config(&self.inner)
    }

    /// The HPKE config ID.
    #[wasm_bindgen(getter, js_name = configId)]
    pub fn config_id(&self) -> u8 {
        self.inner.config.id.0
    }
}

/// The encoded `CollectionJobReq` for a query
/// (`{"type": "time_interval", "start", "duration"}` or `{"type": "leader_selected"}`).
#[wasm_bindgen(js_name = collectionRequest)]
pub fn collection_request(task: &WasmTask, query: &str) -> Result<Vec<u8>, JsValue> {
    let req = collector::request(&task.inner, query).map_err(collect_fail)?;
    req.get_encoded().map_err(|e| fail("Protocol", e))
}

/// Opens and unshards a collection job's result: JSON
/// `{"reportCount", "intervalStart", "intervalDuration", "result"}` with decimal strings.
#[wasm_bindgen(js_name = finishCollection)]
pub fn finish_collection(
    task: &WasmTask,
    key: &CollectorKey,
    request: &[u8],
    response: &[u8],
) -> Result<String, JsValue> {
    let out =
        collector::finish(&task.inner, &key.inner, request, response).map_err(collect_fail)?;
    serde_json::to_string(&out).map_err(|e| fail("Protocol", e))
}
