//! `cron` triggers, as the engine's cron module serves them: its parser
//! (the `cron` crate, UTC, 6 or 7 fields with seconds first), and one
//! schedule task per binding.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use chrono::{SecondsFormat, Utc};
use iii_protocol::{RegisterTrigger, TriggerKind};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::core::{Core, EngineModule, TriggerType, config_text, raised, type_id};

/// The cron module: the schedule task of each binding, by binding id.
#[derive(Default)]
pub(crate) struct Cron {
    schedules: Mutex<HashMap<String, JoinHandle<()>>>,
}

impl EngineModule for Cron {
    fn name(&self) -> &'static str {
        "iii-cron"
    }

    fn trigger_types(self: Arc<Self>) -> Vec<TriggerType> {
        vec![
            TriggerType::new(TriggerKind::Cron)
                .checked(check)
                .on_bind(&self, Cron::schedule),
        ]
    }
}

/// Checks a binding's expression as the engine does.
fn check(binding: &RegisterTrigger) -> Result<(), String> {
    parse(config_text(binding, "expression").unwrap_or_default()).map(|_| ())
}

/// Parses an expression, with the engine's refusal message on error.
fn parse(expression: &str) -> Result<cron::Schedule, String> {
    cron::Schedule::from_str(expression)
        .map_err(|e| format!("Invalid cron expression '{expression}': {e}"))
}

impl Cron {
    /// Fires `binding` on its schedule until it is removed or the engine
    /// stops.
    fn schedule(&self, core: &Arc<Core>, binding: RegisterTrigger) {
        let expression = binding
            .config
            .get("expression")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Ok(schedule) = parse(expression) else {
            return;
        };
        let mut stopped = core.stopped();
        let id = binding.id.clone();
        let core = core.clone();
        let task = tokio::spawn(async move {
            for scheduled in schedule.upcoming(Utc) {
                let wait = (scheduled - Utc::now()).to_std().unwrap_or_default();
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = raised(&mut stopped) => return,
                }
                if !core.has_binding(&binding.id) {
                    return;
                }
                let payload = json!({
                    "trigger": type_id(TriggerKind::Cron),
                    "job_id": binding.id,
                    "scheduled_time": scheduled.to_rfc3339_opts(SecondsFormat::Secs, false),
                    "actual_time": Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, false),
                });
                let core = core.clone();
                let binding = binding.clone();
                tokio::spawn(async move {
                    core.fire_one(&binding, payload).await;
                });
            }
        });
        // One schedule per binding id: a binding registered again (a
        // worker's replay after a reconnect) replaces its schedule instead
        // of doubling it.
        let mut schedules = self.schedules.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(previous) = schedules.insert(id, task) {
            previous.abort();
        }
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
