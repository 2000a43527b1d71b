//! What the engine announced about itself, and the registrations an engine
//! after 0.25 no longer takes.
//!
//! Engines from 0.25 list feature tokens in `workerregistered`. At 0.26
//! (`observe.v2`) observers replaced triggers: the engine drops
//! `registertrigger` and `registertriggertype` without a word, so a binding
//! sent there would never fire. The worker refuses such registrations
//! instead: `connect` fails when the program binds any, a later
//! registration fails at once, and after a reconnect to such an engine each
//! binding's handle reports the refusal.

use iii_protocol::ErrorBody;
use iii_protocol::features::engine_takes_triggers;

use super::Worker;
use crate::error::{Error, codes};
use crate::sync::lock;

/// Why an engine with `observe.v2` takes no trigger, and what to do.
const TRIGGERS_REMOVED: &str = "the engine announced `observe.v2` (iii 0.26 or later), where observers replaced triggers, so it would drop the registration and nothing would ever fire; this SDK speaks the trigger protocol of the iii engines 0.23 to 0.25: run one of those, or remove the binding";

/// The error for `what`, refused because the engine at `url` takes no
/// triggers.
pub(crate) fn triggers_removed(url: &str, what: impl Into<String>) -> Error {
    Error::Unsupported {
        url: url.to_string(),
        what: what.into(),
        reason: TRIGGERS_REMOVED.to_string(),
    }
}

/// The refusal a binding's handle reports.
pub(crate) fn triggers_removed_body(what: &str) -> ErrorBody {
    ErrorBody::new(
        codes::UNSUPPORTED,
        format!("{what} cannot work here: {TRIGGERS_REMOVED}"),
    )
}

impl Worker {
    /// The feature tokens the engine announced when this worker last
    /// connected (`workerregistered.features`): none from engines before
    /// 0.25, `observe.v1` and `local-dispatch.v1` from 0.25, and
    /// `observe.v2` from 0.26. [`iii_protocol::features`] names them.
    ///
    /// The SDK declares no features of its own: it speaks the 0.23
    /// protocol, which later engines serve, apart from triggers on 0.26
    /// (see [`Worker::engine_takes_triggers`]).
    ///
    /// ```no_run
    /// # async fn f(worker: iii::Worker) {
    /// if worker.engine_features().iter().any(|f| f == "observe.v1") {
    ///     println!("the engine offers observers (0.25 or later)");
    /// }
    /// # }
    /// ```
    pub fn engine_features(&self) -> Vec<String> {
        lock(&self.inner.identity).features.clone()
    }

    /// Whether the engine takes trigger bindings and trigger types: every
    /// engine up to 0.25 does; from 0.26 (`observe.v2`) observers replaced
    /// them, and [`Worker::register_trigger`] and
    /// [`Worker::register_trigger_type`] fail with
    /// [`Error::Unsupported`].
    pub fn engine_takes_triggers(&self) -> bool {
        engine_takes_triggers(&lock(&self.inner.identity).features)
    }

    /// Fails when the engine takes no triggers; `what` names the
    /// registration.
    pub(crate) fn check_takes_triggers(&self, what: impl FnOnce() -> String) -> Result<(), Error> {
        if self.engine_takes_triggers() {
            return Ok(());
        }
        Err(triggers_removed(&self.inner.config.url, what()))
    }
}
