//! `edap hpke-keygen` and the Collector's key file.

use crate::error::{Error, Result};
use crate::files;
use clap::{Args, ValueEnum};
use edap_core::hpke::HpkeKeypair;
use edap_core::messages::{base64url, HpkeConfigId, HpkeKemId};
use prio::codec::Encode;
use std::path::{Path, PathBuf};

/// KEM choices.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum KemArg {
    /// DHKEM(X25519, HKDF-SHA256), the DAP mandatory-to-implement KEM.
    X25519,
    /// DHKEM(P-256, HKDF-SHA256).
    P256,
}

/// Arguments of `hpke-keygen`.
#[derive(Args)]
pub struct KeygenArgs {
    /// Write the key pair here, as JSON, created with mode 0600.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// The HPKE config ID (0-255) the aggregators will name in ciphertexts.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub id: u8,
    /// The KEM (always with HKDF-SHA256 and AES-128-GCM).
    #[arg(long, value_enum, default_value = "x25519")]
    pub kem: KemArg,
    /// Replace FILE if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Runs `hpke-keygen`: writes the key file, prints the public config.
pub fn run(a: KeygenArgs) -> Result<()> {
    let kem = match a.kem {
        KemArg::X25519 => HpkeKemId::X25519_HKDF_SHA256,
        KemArg::P256 => HpkeKemId::P256_HKDF_SHA256,
    };
    let kp = HpkeKeypair::generate(HpkeConfigId(a.id), kem)
        .map_err(|e| Error::Input(format!("cannot generate a key pair: {e}")))?;
    let mut json = serde_json::to_string_pretty(&kp)
        .map_err(|_| Error::Input("cannot serialize the key pair".into()))?;
    json.push('\n');
    files::write_new(&a.out, json.as_bytes(), 0o600, a.force)?;
    let config = kp
        .config
        .get_encoded()
        .map_err(|e| Error::Input(format!("cannot encode the HPKE config: {e}")))?;
    println!("{}", base64url(&config));
    eprintln!(
        "edap: wrote the collector key pair (config id {}, {:?}) to {}; give the line above to both aggregators as the collector HPKE config",
        a.id,
        a.kem,
        a.out.display()
    );
    Ok(())
}

/// Loads a key file written by `hpke-keygen`, checking that the private key matches the
/// public config. Error messages never quote the file's content.
pub fn load(path: &Path) -> Result<HpkeKeypair> {
    let text = files::read_text(path)?;
    let kp: HpkeKeypair = serde_json::from_str(&text).map_err(|e| {
        Error::file(
            path,
            format!(
                "not an edap key file (expected the JSON written by `edap hpke-keygen`; problem at line {} column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    HpkeKeypair::from_parts(kp.config.clone(), kp.private_key().to_vec())
        .map_err(|e| Error::file(path, format!("the key pair is unusable: {e}")))
}
