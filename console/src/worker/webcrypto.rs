//! PBKDF2-HMAC-SHA256 through the runtime's WebCrypto (`crypto.subtle.deriveBits`), which
//! runs natively inside workerd: 100,000 iterations take milliseconds, not the seconds
//! they would take compiled to wasm.

use crate::error::ConsoleError;
use crate::password::Kdf;
use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// The WebCrypto KDF.
pub struct WebCryptoKdf;

fn subtle() -> Result<web_sys::SubtleCrypto, JsValue> {
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    Ok(global.crypto()?.subtle())
}

async fn derive(password: &[u8], salt: &[u8], iterations: u32) -> Result<[u8; 32], JsValue> {
    let subtle = subtle()?;
    let usages = Array::of1(&"deriveBits".into());
    let key = JsFuture::from(subtle.import_key_with_str(
        "raw",
        &Uint8Array::from(password),
        "PBKDF2",
        false,
        &usages,
    )?)
    .await?;
    let params = Object::new();
    Reflect::set(&params, &"name".into(), &"PBKDF2".into())?;
    Reflect::set(&params, &"hash".into(), &"SHA-256".into())?;
    Reflect::set(&params, &"salt".into(), &Uint8Array::from(salt))?;
    Reflect::set(&params, &"iterations".into(), &JsValue::from(iterations))?;
    let bits =
        JsFuture::from(subtle.derive_bits_with_object(&params, &key.unchecked_into(), 256)?)
            .await?;
    Uint8Array::new(&bits)
        .to_vec()
        .try_into()
        .map_err(|_| JsValue::from_str("deriveBits returned the wrong length"))
}

impl Kdf for WebCryptoKdf {
    async fn pbkdf2_sha256(
        &self,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Result<[u8; 32], ConsoleError> {
        derive(password, salt, iterations).await.map_err(|e| {
            worker::console_error!("PBKDF2: {e:?}");
            ConsoleError::Internal("the password could not be hashed".into())
        })
    }
}
