//! The Leader: takes uploads, forms and drives aggregation jobs, runs collection.

pub mod agg_job;
pub mod collect;
mod peer;
mod schedule;
mod upload;

pub use schedule::shard_alarm;
pub use upload::upload;
