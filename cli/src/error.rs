//! The one error type of the tool. Every variant renders as a single readable line that
//! never contains a secret (tokens, private keys): `main` prints it as `edap: error: ...`.

use edap_core::ProblemDocument;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad command-line input, file content or measurement.
    #[error("{0}")]
    Input(String),
    /// A file could not be read or written.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What went wrong (an OS error or a format problem).
        reason: String,
    },
    /// No HTTP answer at all (connection refused, DNS, TLS, timeout).
    #[error("{what}: cannot reach {url}: {reason}")]
    Unreachable {
        /// What the request was for.
        what: String,
        /// The URL (never carries credentials).
        url: String,
        /// The innermost cause.
        reason: String,
    },
    /// The server answered with an RFC 9457 problem document.
    #[error("{what}: {problem}{hint}")]
    Problem {
        /// What the request was for.
        what: String,
        /// The document (its `Display` is one line).
        problem: Box<ProblemDocument>,
        /// An explanation for common cases, starting with "; " (or empty).
        hint: String,
    },
    /// The server answered with an error status and no problem document.
    #[error("{what}: HTTP {status}{detail}")]
    Status {
        /// What the request was for.
        what: String,
        /// The status code.
        status: u16,
        /// A short excerpt of the body, starting with ": " (or empty).
        detail: String,
    },
    /// The server's answer is not what DAP prescribes.
    #[error("{0}")]
    Protocol(String),
    /// The aggregate could not be decrypted or unsharded.
    #[error("{0}")]
    Collect(String),
    /// A bounded wait ran out.
    #[error("{0}")]
    Timeout(String),
    /// An error after part of the work was done, with what was done.
    #[error("{context}: {inner}")]
    Partial {
        /// What was done before the failure.
        context: String,
        /// The failure.
        inner: Box<Error>,
    },
}

impl Error {
    /// An [`Error::File`] from an I/O error.
    pub fn file(path: &std::path::Path, e: impl std::fmt::Display) -> Error {
        Error::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }
}

/// The tool's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Makes text safe to print on one line: control characters become spaces and long text is
/// cut (server-provided text is untrusted).
pub fn one_line(text: &str, max_chars: usize) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max_chars)
        .collect();
    if text.chars().count() > max_chars {
        out.push_str("...");
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_strips_control_characters() {
        assert_eq!(one_line("a\nb\r\n\tc", 100), "a b c");
        assert_eq!(one_line("abcdef", 3), "abc...");
    }

    #[test]
    fn problem_renders_on_one_line() {
        let e = Error::Problem {
            what: "upload".into(),
            problem: Box::new(ProblemDocument {
                type_: "urn:ietf:params:ppm:dap:error:unrecognizedTask".into(),
                title: "Unknown task".into(),
                status: 404,
                detail: Some("unknown task".into()),
                taskid: None,
                unsupported_extensions: None,
            }),
            hint: "; is it provisioned?".into(),
        };
        assert_eq!(
            e.to_string(),
            "upload: unrecognizedTask (HTTP 404): unknown task; is it provisioned?"
        );
    }
}
