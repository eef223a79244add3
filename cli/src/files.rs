//! Reading and writing the tool's files.

use crate::error::{Error, Result};
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Largest file the tool reads (measurement files included).
const MAX_READ: u64 = 1 << 30;

/// Reads a UTF-8 text file.
pub fn read_text(path: &Path) -> Result<String> {
    let f = std::fs::File::open(path).map_err(|e| Error::file(path, e))?;
    let mut s = String::new();
    f.take(MAX_READ)
        .read_to_string(&mut s)
        .map_err(|e| Error::file(path, e))?;
    Ok(s)
}

/// Writes a new file created with `mode` (before any byte is written, so a private key
/// is never readable by others, not even briefly). Refuses to replace an existing file
/// unless `force`, in which case the new content goes to a fresh temporary file that is
/// then renamed over the old one.
pub fn write_new(path: &Path, content: &[u8], mode: u32, force: bool) -> Result<()> {
    let write = |target: &Path| -> std::io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(target)?;
        f.write_all(content)?;
        f.sync_all()
    };
    match write(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            if !force {
                return Err(Error::file(
                    path,
                    "already exists (use --force to overwrite it)",
                ));
            }
            let mut tmp = path.as_os_str().to_owned();
            tmp.push(format!(".edap-tmp-{}", std::process::id()));
            let tmp = std::path::PathBuf::from(tmp);
            let _ = std::fs::remove_file(&tmp);
            write(&tmp).map_err(|e| Error::file(&tmp, e))?;
            std::fs::rename(&tmp, path).map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                Error::file(path, e)
            })
        }
        Err(e) => Err(Error::file(path, e)),
    }
}
