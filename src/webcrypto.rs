//! X25519 through the runtime's WebCrypto (BoringSSL inside workerd): ~26 µs per shared
//! value against ~90 µs for X25519 compiled to wasm (docs/benchmarks.md). Used for the
//! Diffie-Hellman step of HPKE decapsulation, batched per aggregation job.

use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

thread_local! {
    /// Imported private keys, by their raw bytes.
    static PRIVATE_KEYS: RefCell<HashMap<[u8; 32], web_sys::CryptoKey>> = RefCell::new(HashMap::new());
    /// `Some(false)` once a self-check failed: this isolate then stays on the Rust path.
    static USABLE: Cell<Option<bool>> = const { Cell::new(None) };
}

/// PKCS#8 wrapping of a raw X25519 private key (RFC 8410).
const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
];

fn subtle() -> Result<web_sys::SubtleCrypto, JsValue> {
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    Ok(global.crypto()?.subtle())
}

fn algorithm() -> Result<Object, JsValue> {
    let o = Object::new();
    Reflect::set(&o, &"name".into(), &"X25519".into())?;
    Ok(o)
}

async fn private_key(
    subtle: &web_sys::SubtleCrypto,
    sk: &[u8; 32],
) -> Result<web_sys::CryptoKey, JsValue> {
    if let Some(k) = PRIVATE_KEYS.with(|m| m.borrow().get(sk).cloned()) {
        return Ok(k);
    }
    let der: Vec<u8> = [PKCS8_PREFIX.as_slice(), sk].concat();
    let usages = Array::of1(&"deriveBits".into());
    let promise = subtle.import_key_with_object(
        "pkcs8",
        &Uint8Array::from(der.as_slice()),
        &algorithm()?,
        false,
        &usages,
    )?;
    let key: web_sys::CryptoKey = JsFuture::from(promise).await?.unchecked_into();
    PRIVATE_KEYS.with(|m| m.borrow_mut().insert(*sk, key.clone()));
    Ok(key)
}

/// Waits for every promise; `None` for the rejected ones.
async fn settled(promises: &Array) -> Result<Vec<Option<JsValue>>, JsValue> {
    let results: Array = JsFuture::from(Promise::all_settled(promises))
        .await?
        .unchecked_into();
    Ok(results
        .iter()
        .map(|r| {
            let fulfilled = Reflect::get(&r, &"status".into()).ok()?.as_string()? == "fulfilled";
            fulfilled
                .then(|| Reflect::get(&r, &"value".into()).ok())
                .flatten()
        })
        .collect())
}

async fn batch(sk: &[u8; 32], peers: &[[u8; 32]]) -> Result<Vec<Option<[u8; 32]>>, JsValue> {
    let subtle = subtle()?;
    let key = private_key(&subtle, sk).await?;
    let imports = Array::new();
    for pk in peers {
        let promise = subtle.import_key_with_object(
            "raw",
            &Uint8Array::from(pk.as_slice()),
            &algorithm()?,
            true,
            &Array::new(),
        )?;
        imports.push(promise.as_ref());
    }
    let derives = Array::new();
    for public in settled(&imports).await? {
        let promise = match public {
            Some(public) => {
                let alg = algorithm()?;
                Reflect::set(&alg, &"public".into(), &public)?;
                subtle.derive_bits_with_object(&alg, &key, 256)?
            }
            None => Promise::reject(&JsValue::NULL),
        };
        derives.push(promise.as_ref());
    }
    Ok(settled(&derives)
        .await?
        .into_iter()
        .map(|bits| {
            let bytes: [u8; 32] = Uint8Array::new(&bits?).to_vec().try_into().ok()?;
            (bytes != [0u8; 32]).then_some(bytes)
        })
        .collect())
}

/// `X25519(sk, peer)` for every peer through WebCrypto, or `None` when WebCrypto is
/// unavailable here or failed its one-time self-check against the Rust implementation
/// (the caller then computes in Rust).
pub async fn x25519_batch(sk: &[u8; 32], peers: &[[u8; 32]]) -> Option<Vec<Option<[u8; 32]>>> {
    if USABLE.with(Cell::get) == Some(false) {
        return None;
    }
    if USABLE.with(Cell::get).is_none() {
        // Self-check once per isolate on the first peer.
        let peer = peers.first()?;
        let ok = matches!(batch(sk, &[*peer]).await, Ok(v) if v.first().copied().flatten() == edap_core::hpke::x25519_dh(sk, peer));
        USABLE.with(|u| u.set(Some(ok)));
        if !ok {
            worker::console_error!("WebCrypto X25519 is unavailable or disagrees with the Rust implementation; using Rust");
            return None;
        }
    }
    batch(sk, peers).await.ok()
}
