//! Feature tokens: how engines after 0.23 say what they support.
//!
//! An engine from 0.25 lists tokens in `workerregistered.features`; a
//! worker may list its own in the `features` of `engine::workers::register`,
//! and the engine sends the frames a feature adds only to workers that
//! declared it. Engines before 0.25 send no tokens, and this SDK declares
//! none: it speaks the 0.23 protocol, which later engines still serve,
//! except where a token below says otherwise.

/// Observers (0.25): `observe` and its frames, beside triggers.
pub const OBSERVE_V1: &str = "observe.v1";

/// Observers replace triggers (0.26): the engine no longer takes
/// `registertrigger`, `registertriggertype` or a provider's
/// `triggerregistrationresult`, and its built-in trigger types are
/// functions to observe. A worker that binds triggers there would see
/// them never fire.
pub const OBSERVE_V2: &str = "observe.v2";

/// A worker may run calls to its own functions in-process (0.25).
pub const LOCAL_DISPATCH_V1: &str = "local-dispatch.v1";

/// Declared by workers that read 64 MiB messages (0.24 SDKs onwards).
pub const LARGE_MESSAGES_V1: &str = "large-messages.v1";

/// Whether an engine announcing `features` still takes trigger bindings
/// and trigger types (every engine up to 0.25 does).
///
/// ```
/// use iii_protocol::features::{engine_takes_triggers, OBSERVE_V1, OBSERVE_V2};
/// assert!(engine_takes_triggers(&[]));
/// assert!(engine_takes_triggers(&[OBSERVE_V1.to_string()]));
/// assert!(!engine_takes_triggers(&[OBSERVE_V1.to_string(), OBSERVE_V2.to_string()]));
/// ```
pub fn engine_takes_triggers(features: &[String]) -> bool {
    !features.iter().any(|f| f == OBSERVE_V2)
}
