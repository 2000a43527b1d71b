//! `cron` triggers: the engine's parser (the `cron` crate, UTC, 6 or 7
//! fields with seconds first), one schedule task per binding.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{SecondsFormat, Utc};
use iii_protocol::RegisterTrigger;
use serde_json::{Value, json};

use crate::Shared;
use crate::kinds::type_id;
use iii_protocol::TriggerKind;

/// Parses an expression, with the engine's refusal message on error.
pub(crate) fn parse(expression: &str) -> Result<cron::Schedule, String> {
    cron::Schedule::from_str(expression)
        .map_err(|e| format!("Invalid cron expression '{expression}': {e}"))
}

/// Fires `binding` on its schedule until it is removed or the engine stops.
pub(crate) fn start(shared: Arc<Shared>, binding: RegisterTrigger) {
    let expression = binding
        .config
        .get("expression")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Ok(schedule) = parse(expression) else {
        return;
    };
    let mut stopped = shared.stopped.clone();
    let id = binding.id.clone();
    let tasks = shared.clone();
    let task = tokio::spawn(async move {
        for scheduled in schedule.upcoming(Utc) {
            let wait = (scheduled - Utc::now()).to_std().unwrap_or_default();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = crate::raised(&mut stopped) => return,
            }
            if !shared.lock().bindings.contains_key(&binding.id) {
                return;
            }
            let payload = json!({
                "trigger": type_id(TriggerKind::Cron),
                "job_id": binding.id,
                "scheduled_time": scheduled.to_rfc3339_opts(SecondsFormat::Secs, false),
                "actual_time": Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, false),
            });
            let shared = shared.clone();
            let binding = binding.clone();
            tokio::spawn(async move {
                shared.fire_one(&binding, payload).await;
            });
        }
    });
    // One schedule per binding id: a binding registered again (a worker's
    // replay after a reconnect) replaces its schedule instead of doubling it.
    let mut schedules = tasks.cron_tasks.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(previous) = schedules.insert(id, task) {
        previous.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn six_and_seven_fields_parse_and_five_are_refused_like_the_engine() {
        assert!(parse("*/2 * * * * *").is_ok());
        assert!(parse("0 0 3 * * Mon 2030").is_ok());
        assert!(parse("@daily").is_ok());
        let e = parse("*/2 * * * *").expect_err("five fields");
        assert!(
            e.starts_with("Invalid cron expression '*/2 * * * *'"),
            "{e}"
        );
    }
}
