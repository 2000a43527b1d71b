//! What the built-in trigger kinds without a module of their own deliver
//! to the bound function, typed.

use serde::{Deserialize, Serialize};

/// What a `cron` trigger delivers: the binding that fired and when.
///
/// ```
/// use iii::trigger::CronFire;
///
/// // #[iii::function]
/// // #[iii::trigger(cron, expression = "0 */5 * * * *")]
/// async fn sweep(fire: CronFire) {
///     println!("tick of {} due at {}", fire.job_id, fire.scheduled_time);
/// }
///
/// let fire: CronFire = serde_json::from_value(serde_json::json!({
///     "trigger": "cron", "job_id": "b1",
///     "scheduled_time": "2026-11-23T00:09:24+00:00",
///     "actual_time": "2026-11-23T00:09:24.001200707+00:00"
/// })).unwrap();
/// assert_eq!(fire.job_id, "b1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CronFire {
    /// The id of the binding that fired ([`TriggerHandle::id`]).
    ///
    /// [`TriggerHandle::id`]: crate::TriggerHandle::id
    pub job_id: String,
    /// The tick this fire is for, as RFC 3339 in UTC
    /// (`2026-11-23T00:09:24+00:00`).
    pub scheduled_time: String,
    /// When the engine fired it, as RFC 3339 in UTC, with nanoseconds.
    pub actual_time: String,
}
