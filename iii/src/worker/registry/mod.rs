//! Everything a worker has registered, kept for deterministic replay.
//!
//! Each entry gets a sequence number when it is added; a replay sends
//! services, trigger types, functions and triggers, each group in the order
//! they were first registered ([`replay`]). [`report`] describes what is
//! registered.

mod replay;
mod report;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde_json::Value;

use crate::error::codes;
use crate::handler::{ErasedHandler, Pace};
use crate::hashing::Quick;
use crate::session::Frame;
use crate::trigger::TriggerInfo;
use crate::trigger_type::ErasedProvider;
use crate::verdict::{Recorder, Verdict};
use iii_protocol::{ErrorBody, RegisterFunction, RegisterTrigger, RegisterTriggerType};

/// Who serves a function this worker registered.
#[derive(Clone)]
pub(crate) enum Serving {
    /// A handler in this process, the function's id (shared by every
    /// invocation's context instead of copied into each), and where its
    /// invocations take their first step.
    Local(ErasedHandler, Arc<str>, Arc<Pace>),
    /// An HTTP endpoint the engine calls.
    Endpoint,
    /// The alias one trigger binding targets: its fires arrive here and go
    /// to the function it binds, with the binding's details.
    Alias(Arc<Alias>),
}

/// What a binding's alias knows about the binding.
pub(crate) struct Alias {
    /// The function the binding is for.
    pub(crate) function_id: String,
    pub(crate) info: Arc<TriggerInfo>,
    /// The binding's metadata, passed on when the engine does not.
    pub(crate) metadata: Option<Value>,
    /// The binding's condition, evaluated by the SDK where the engine
    /// ignores it.
    pub(crate) condition: Option<String>,
}

/// Where an invocation of a function id goes.
pub(crate) enum Route {
    /// To this handler, for the function `target` (through a binding's
    /// alias, for a trigger fire).
    Run {
        handler: ErasedHandler,
        target: Arc<str>,
        alias: Option<Arc<Alias>>,
        pace: Arc<Pace>,
    },
    /// Nowhere: answer the caller of `target` this (boxed: a rare route,
    /// kept small in every invocation's task).
    Refuse {
        target: String,
        body: Box<ErrorBody>,
    },
}

pub(crate) struct FunctionEntry {
    seq: u64,
    /// What was registered; an alias's lacks the metadata its frame
    /// carries (`register::AliasFrame`), which nothing reads back.
    pub(crate) message: RegisterFunction,
    /// What was sent when it was registered, sent again on each replay:
    /// the frame is the registration, never `message` encoded again.
    frame: Frame,
    pub(crate) serving: Serving,
    pub(crate) status: Recorder,
}

pub(crate) struct TriggerEntry {
    seq: u64,
    /// What was registered. A binding of one of this worker's functions
    /// leaves its config and metadata to its alias's
    /// [`TriggerInfo`]: read the config with
    /// [`Registry::binding_config`].
    pub(crate) message: RegisterTrigger,
    /// What was sent when it was registered (`message` encoded, config and
    /// metadata included).
    frame: Frame,
    pub(crate) status: Recorder,
    /// The alias function the binding targets, if it binds a function of
    /// this worker.
    pub(crate) alias: Option<String>,
    /// Whether its refusal was reported by `connect` or `flush` already.
    reported: AtomicBool,
}

pub(crate) struct TriggerTypeEntry {
    seq: u64,
    pub(crate) message: RegisterTriggerType,
    /// `message` encoded when it was registered.
    frame: Frame,
    pub(crate) provider: Arc<dyn ErasedProvider>,
}

#[derive(Default)]
pub(crate) struct Registry {
    seq: u64,
    /// Looked up on every invocation ([`crate::hashing`]).
    pub(crate) functions: HashMap<String, FunctionEntry, Quick>,
    /// Boxed: off every call's path, and a table sized for thousands of
    /// bindings would otherwise hold a whole entry (264 bytes) per slot,
    /// used or not.
    pub(crate) triggers: HashMap<String, Box<TriggerEntry>>,
    pub(crate) trigger_types: HashMap<String, TriggerTypeEntry>,
    /// Each service's sequence number and registration frame.
    services: HashMap<String, (u64, Frame)>,
    /// Triggers bound so far to each function, for the next index.
    trigger_counts: HashMap<String, usize>,
}

impl Registry {
    fn next(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Makes room for `functions` more functions (aliases included) and
    /// `triggers` more bindings, so that a program's registrations grow
    /// each table once: a table of a thousand entries, grown by doubling,
    /// copies every entry again at each step, into fresh pages.
    pub(crate) fn reserve(&mut self, functions: usize, triggers: usize) {
        self.functions.reserve(functions);
        self.triggers.reserve(triggers);
        self.trigger_counts.reserve(triggers);
    }

    /// The index the next trigger bound to `function_id` gets.
    pub(crate) fn next_trigger_index(&mut self, function_id: &str) -> usize {
        let count = self
            .trigger_counts
            .entry(function_id.to_string())
            .or_default();
        *count += 1;
        *count - 1
    }

    /// Where an invocation of `function_id` goes: a binding's alias leads
    /// to the function it binds; `worker` names this worker in refusals.
    pub(crate) fn route(&self, function_id: &str, worker: &str) -> Route {
        let functions = &self.functions;
        // One lookup for a direct call; a fire through an alias takes a
        // second, for the function the alias leads to.
        let first = functions.get(function_id).map(|e| &e.serving);
        let (target, alias, serving) = match first {
            Some(Serving::Alias(alias)) => {
                let target = alias.function_id.as_str();
                let serving = functions.get(target).map(|e| &e.serving);
                (target, Some(alias.clone()), serving)
            }
            _ => (function_id, None, first),
        };
        match serving {
            Some(Serving::Local(handler, id, pace)) => Route::Run {
                handler: handler.clone(),
                target: id.clone(),
                alias,
                pace: pace.clone(),
            },
            Some(Serving::Endpoint) => Route::Refuse {
                target: target.to_string(),
                body: Box::new(ErrorBody::new(
                    codes::FUNCTION_NOT_INVOKABLE,
                    format!(
                        "`{target}` is HTTP-invoked; the engine calls its endpoint, not this worker"
                    ),
                )),
            },
            Some(Serving::Alias(_)) | None => Route::Refuse {
                target: target.to_string(),
                body: Box::new(ErrorBody::new(
                    codes::FUNCTION_NOT_FOUND,
                    format!("function `{target}` is not registered on worker `{worker}`"),
                )),
            },
        }
    }

    /// Whether `function_id` has a handler in this process.
    pub(crate) fn serves_locally(&self, function_id: &str) -> bool {
        matches!(
            self.functions.get(function_id).map(|e| &e.serving),
            Some(Serving::Local(..))
        )
    }

    /// Adds a function; `frame` is `message` encoded.
    pub(crate) fn add_function(
        &mut self,
        message: RegisterFunction,
        frame: Frame,
        serving: Serving,
    ) -> Verdict {
        let seq = self.next();
        let (status, verdict) = Verdict::pending();
        let id = message.id.clone();
        self.functions.insert(
            id,
            FunctionEntry {
                seq,
                message,
                frame,
                serving,
                status,
            },
        );
        verdict
    }

    /// Adds a binding; `frame` is `message` encoded.
    pub(crate) fn add_trigger(
        &mut self,
        message: RegisterTrigger,
        frame: Frame,
        alias: Option<String>,
    ) -> Verdict {
        let seq = self.next();
        let (status, verdict) = Verdict::pending();
        self.triggers.insert(
            message.id.clone(),
            Box::new(TriggerEntry {
                seq,
                message,
                frame,
                status,
                alias,
                reported: AtomicBool::new(false),
            }),
        );
        verdict
    }

    /// Adds a trigger type; `frame` is `message` encoded.
    pub(crate) fn add_trigger_type(
        &mut self,
        message: RegisterTriggerType,
        frame: Frame,
        provider: Arc<dyn ErasedProvider>,
    ) {
        let seq = self.next();
        let id = message.id.clone();
        self.trigger_types.insert(
            id,
            TriggerTypeEntry {
                seq,
                message,
                frame,
                provider,
            },
        );
    }

    /// Adds or replaces service `id`; `frame` is its registration.
    pub(crate) fn add_service(&mut self, id: &str, frame: Frame) {
        let seq = match self.services.get(id) {
            Some((seq, _)) => *seq,
            None => self.next(),
        };
        self.services.insert(id.to_string(), (seq, frame));
    }

    /// The alias `entry` targets, for a binding of one of this worker's
    /// functions.
    fn alias_of(&self, entry: &TriggerEntry) -> Option<&Alias> {
        let alias = self.functions.get(entry.alias.as_ref()?)?;
        match &alias.serving {
            Serving::Alias(alias) => Some(alias),
            _ => None,
        }
    }

    /// The function the user bound `entry` to, rather than its alias.
    fn bound_function<'a>(&'a self, entry: &'a TriggerEntry) -> &'a str {
        self.alias_of(entry)
            .map_or(&entry.message.function_id, |alias| &alias.function_id)
    }

    /// The config `entry` was sent with. A binding of one of this worker's
    /// functions keeps it in its alias's [`TriggerInfo`] only, where the
    /// handler reads it; others in their message.
    fn binding_config<'a>(&'a self, entry: &'a TriggerEntry) -> &'a Value {
        self.alias_of(entry)
            .map_or(&entry.message.config, |alias| &alias.info.config)
    }

    /// "the `cron` trigger of `reports::daily`", naming the function the
    /// user bound rather than its alias.
    fn describe_trigger(&self, entry: &TriggerEntry) -> String {
        describe_binding(&entry.message.trigger_type, self.bound_function(entry))
    }
}

/// "the `cron` trigger of `reports::daily`": how errors and logs name a
/// binding, registered or not yet.
pub(crate) fn describe_binding(trigger_type: &str, function_id: &str) -> String {
    format!("the `{trigger_type}` trigger of `{function_id}`")
}

#[cfg(test)]
mod tests;
