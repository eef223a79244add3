//! The Client: shards a measurement, seals one input share to each aggregator and builds
//! the `Report`.

use crate::hpke::{self, HpkeError, HpkeInfo};
use crate::messages::{
    Extensions, HpkeConfig, HpkeConfigList, InputShareAad, PlaintextInputShare, Report, ReportId,
    ReportMetadata, Role, TaskConfiguration, TaskId, Time,
};
use crate::vdaf::{self, Measurement, MeasurementError, Prio3Instance};
use prio::codec::Encode;

/// Why a report could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The measurement does not fit the task's VDAF.
    #[error("measurement: {0}")]
    Measurement(#[from] MeasurementError),
    /// Sealing failed or the aggregator's HPKE config is unusable.
    #[error("HPKE: {0}")]
    Hpke(#[from] HpkeError),
    /// The aggregator advertises no config this client supports.
    #[error("the {0} advertises no supported HPKE configuration")]
    NoSupportedConfig(&'static str),
    /// The task's VDAF configuration is invalid.
    #[error("VDAF: {0}")]
    Vdaf(String),
}

/// The first config of a list that this client can seal to (lists are in preference order).
pub fn choose_config(list: &HpkeConfigList) -> Option<&HpkeConfig> {
    list.0.iter().find(|c| hpke::is_supported(c))
}

/// Everything a Client needs to build reports for a task.
#[derive(Clone, Debug)]
pub struct Client {
    task_id: TaskId,
    config: TaskConfiguration,
    vdaf: Prio3Instance,
    leader_hpke: HpkeConfig,
    helper_hpke: HpkeConfig,
}

impl Client {
    /// A client for `config`, sealing to the given aggregator configs.
    pub fn new(
        task_id: TaskId,
        config: TaskConfiguration,
        leader_hpke: HpkeConfig,
        helper_hpke: HpkeConfig,
    ) -> Result<Client, ClientError> {
        let vdaf =
            Prio3Instance::for_dap(&config.vdaf).map_err(|e| ClientError::Vdaf(e.to_string()))?;
        for (name, c) in [("leader", &leader_hpke), ("helper", &helper_hpke)] {
            if !hpke::is_supported(c) {
                return Err(ClientError::NoSupportedConfig(name));
            }
        }
        Ok(Client {
            task_id,
            config,
            vdaf,
            leader_hpke,
            helper_hpke,
        })
    }

    /// The task configuration.
    pub fn config(&self) -> &TaskConfiguration {
        &self.config
    }

    /// Builds a report for `measurement` taken at `now_secs`, with a fresh random report ID.
    pub fn report(&self, measurement: &Measurement, now_secs: u64) -> Result<Report, ClientError> {
        self.report_with_id(ReportId::random(), measurement, now_secs)
    }

    /// Builds a report with a chosen report ID (tests use this to replay IDs).
    pub fn report_with_id(
        &self,
        report_id: ReportId,
        measurement: &Measurement,
        now_secs: u64,
    ) -> Result<Report, ClientError> {
        self.report_tampered(report_id, measurement, now_secs, |_| {})
    }

    /// Builds a report after letting `tamper` change the Leader's encoded input share
    /// before it is sealed. Only for testing how aggregators treat invalid proofs.
    #[doc(hidden)]
    pub fn report_tampered(
        &self,
        report_id: ReportId,
        measurement: &Measurement,
        now_secs: u64,
        tamper: impl FnOnce(&mut Vec<u8>),
    ) -> Result<Report, ClientError> {
        self.build(
            report_id,
            measurement,
            now_secs,
            tamper,
            Extensions::empty(),
        )
    }

    /// Builds a report whose metadata carries `public_extensions` (sealed into both input
    /// shares' AAD). Only for testing how aggregators treat extensions.
    #[doc(hidden)]
    pub fn report_with_public_extensions(
        &self,
        measurement: &Measurement,
        now_secs: u64,
        public_extensions: Extensions,
    ) -> Result<Report, ClientError> {
        self.build(
            ReportId::random(),
            measurement,
            now_secs,
            |_| {},
            public_extensions,
        )
    }

    fn build(
        &self,
        report_id: ReportId,
        measurement: &Measurement,
        now_secs: u64,
        tamper: impl FnOnce(&mut Vec<u8>),
        public_extensions: Extensions,
    ) -> Result<Report, ClientError> {
        measurement.check(&self.config.vdaf)?;
        let ctx = vdaf::vdaf_context(&self.task_id);
        let (public_share, [mut leader_share, helper_share]) = crate::with_prio3!(
            &self.vdaf,
            |v| vdaf::shard(v, &ctx, measurement, &report_id)
        )?;
        tamper(&mut leader_share);
        let metadata = ReportMetadata {
            report_id,
            time: Time::from_seconds(now_secs, self.config.time_precision),
            public_extensions,
        };
        let aad = InputShareAad {
            task_id: &self.task_id,
            task_config: &self.config,
            metadata: &metadata,
            public_share: &public_share,
        }
        .get_encoded()
        .map_err(|_| HpkeError::Encrypt)?;
        let seal = |config: &HpkeConfig, role: Role, payload: Vec<u8>| {
            let plaintext = PlaintextInputShare {
                private_extensions: Extensions::empty(),
                payload,
            }
            .get_encoded()
            .map_err(|_| HpkeError::Encrypt)?;
            hpke::seal(config, HpkeInfo::InputShare(role), &aad, &plaintext)
        };
        let leader_encrypted_input_share = seal(&self.leader_hpke, Role::Leader, leader_share)?;
        let helper_encrypted_input_share = seal(&self.helper_hpke, Role::Helper, helper_share)?;
        Ok(Report {
            metadata,
            public_share,
            leader_encrypted_input_share,
            helper_encrypted_input_share,
        })
    }
}
