//! DAP media types (`application/ppm-dap;message=<name>`).

/// Every message that travels as an HTTP body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MediaType {
    /// `hpke-config-list`
    HpkeConfigList,
    /// `upload-req`
    UploadReq,
    /// `upload-errors`
    UploadErrors,
    /// `aggregation-job-init-req`
    AggregationJobInitReq,
    /// `aggregation-job-continue-req`
    AggregationJobContinueReq,
    /// `aggregation-job-resp`
    AggregationJobResp,
    /// `collection-job-req`
    CollectionJobReq,
    /// `collection-job-resp`
    CollectionJobResp,
    /// `aggregate-share-req`
    AggregateShareReq,
    /// `aggregate-share`
    AggregateShare,
}

const PREFIX: &str = "application/ppm-dap;message=";

impl MediaType {
    /// All media types.
    pub const ALL: [MediaType; 10] = [
        MediaType::HpkeConfigList,
        MediaType::UploadReq,
        MediaType::UploadErrors,
        MediaType::AggregationJobInitReq,
        MediaType::AggregationJobContinueReq,
        MediaType::AggregationJobResp,
        MediaType::CollectionJobReq,
        MediaType::CollectionJobResp,
        MediaType::AggregateShareReq,
        MediaType::AggregateShare,
    ];

    /// The `message` parameter's value.
    pub fn message(self) -> &'static str {
        match self {
            MediaType::HpkeConfigList => "hpke-config-list",
            MediaType::UploadReq => "upload-req",
            MediaType::UploadErrors => "upload-errors",
            MediaType::AggregationJobInitReq => "aggregation-job-init-req",
            MediaType::AggregationJobContinueReq => "aggregation-job-continue-req",
            MediaType::AggregationJobResp => "aggregation-job-resp",
            MediaType::CollectionJobReq => "collection-job-req",
            MediaType::CollectionJobResp => "collection-job-resp",
            MediaType::AggregateShareReq => "aggregate-share-req",
            MediaType::AggregateShare => "aggregate-share",
        }
    }

    /// The full `Content-Type` value.
    pub fn as_str(self) -> String {
        format!("{PREFIX}{}", self.message())
    }

    /// Parses a `Content-Type` header value. Matching is case-insensitive on the type and
    /// parameter name and tolerates whitespace around `;`; other parameters are ignored.
    pub fn parse(value: &str) -> Option<MediaType> {
        let mut parts = value.split(';').map(str::trim);
        let essence = parts.next()?;
        if !essence.eq_ignore_ascii_case("application/ppm-dap") {
            return None;
        }
        for p in parts {
            let (k, v) = p.split_once('=')?;
            if k.trim().eq_ignore_ascii_case("message") {
                let v = v.trim().trim_matches('"');
                return MediaType::ALL.iter().copied().find(|m| m.message() == v);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_roundtrip() {
        for m in MediaType::ALL {
            assert_eq!(MediaType::parse(&m.as_str()), Some(m));
        }
        assert_eq!(
            MediaType::parse("Application/PPM-DAP; message=\"upload-req\""),
            Some(MediaType::UploadReq)
        );
        assert_eq!(MediaType::parse("application/octet-stream"), None);
        assert_eq!(MediaType::parse("application/ppm-dap;message=nope"), None);
        assert_eq!(MediaType::parse("application/ppm-dap"), None);
    }
}
