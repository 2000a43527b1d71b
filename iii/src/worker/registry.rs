//! Everything a worker has registered, kept for deterministic replay.
//!
//! Each entry gets a sequence number when it is added; a replay sends
//! services, trigger types, functions and triggers, each group in the order
//! they were first registered.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
    pub(crate) message: RegisterFunction,
    /// `message` encoded when it was registered, sent again on each replay.
    frame: Frame,
    pub(crate) serving: Serving,
    pub(crate) status: Recorder,
}

pub(crate) struct TriggerEntry {
    seq: u64,
    pub(crate) message: RegisterTrigger,
    /// `message` encoded when it was registered.
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
    pub(crate) triggers: HashMap<String, TriggerEntry>,
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
            TriggerEntry {
                seq,
                message,
                frame,
                status,
                alias,
                reported: AtomicBool::new(false),
            },
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

    /// The frames that recreate this registry on a fresh connection, but
    /// the bindings (see [`Registry::bindings`]): services, trigger types
    /// and functions, each group in registration order. For an engine that
    /// takes no triggers (`with_triggers` false), trigger types and the
    /// bindings' aliases are left out. Each is the frame encoded when it
    /// was registered: a replay encodes nothing.
    pub(crate) fn replay(&self, with_triggers: bool) -> Vec<Frame> {
        let mut services: Vec<_> = self.services.values().collect();
        services.sort_by_key(|(seq, _)| *seq);
        let mut types: Vec<_> = self.trigger_types.values().collect();
        types.sort_by_key(|e| e.seq);
        let mut functions: Vec<_> = self.functions.values().collect();
        functions.sort_by_key(|e| e.seq);
        if !with_triggers {
            types.clear();
            functions.retain(|e| !matches!(e.serving, Serving::Alias(_)));
        }
        let mut out = Vec::with_capacity(services.len() + types.len() + functions.len());
        out.extend(services.into_iter().map(|(_, frame)| frame.clone()));
        out.extend(types.into_iter().map(|e| e.frame.clone()));
        out.extend(functions.into_iter().map(|e| e.frame.clone()));
        out
    }

    /// The bindings to send once the engine has taken (or refused) the
    /// functions, in registration order. A binding whose alias the engine
    /// refused (another live worker exports that function: a second
    /// replica on one engine) is left out, and its handle says why: its id
    /// is the other worker's binding's too, and the engine would hand that
    /// binding to this worker and remove it when this worker leaves.
    pub(crate) fn bindings(&self) -> Vec<Frame> {
        let mut triggers: Vec<_> = self.triggers.values().collect();
        triggers.sort_by_key(|e| e.seq);
        let mut out = Vec::with_capacity(triggers.len());
        for entry in triggers {
            let refused = entry
                .alias
                .as_ref()
                .and_then(|alias| self.functions.get(alias))
                .and_then(|f| f.status.borrow().clone());
            match refused {
                Some(refusal) => {
                    // Reported with its function's refusal, which leaves
                    // the worker connected.
                    entry.reported.store(true, Ordering::Relaxed);
                    let what = self.describe_trigger(entry);
                    entry.status.send_replace(Some(ErrorBody::new(
                        refusal.code,
                        format!(
                            "{what} is not bound: the engine refused its function ({})",
                            refusal.message
                        ),
                    )));
                }
                None => out.push(entry.frame.clone()),
            }
        }
        out
    }

    /// The trigger types and bindings here, in registration order, each
    /// named for an error: "trigger type `ticker`", "the `http` trigger of
    /// `greetings::greet`".
    pub(crate) fn trigger_registrations(&self) -> Vec<String> {
        let mut types: Vec<_> = self.trigger_types.values().collect();
        types.sort_by_key(|e| e.seq);
        let mut triggers: Vec<_> = self.triggers.values().collect();
        triggers.sort_by_key(|e| e.seq);
        let types = types
            .into_iter()
            .map(|e| format!("trigger type `{}`", e.message.id));
        let triggers = triggers.into_iter().map(|e| self.describe_trigger(e));
        types.chain(triggers).collect()
    }

    /// What this worker serves, for the start-up line: "2 functions
    /// (a, b); 1 trigger (http GET /a -> a)", at most 10 of each named, in
    /// registration order. The bindings' aliases are not functions here.
    pub(crate) fn summary(&self) -> String {
        const NAMED: usize = 10;
        let mut functions: Vec<_> = self
            .functions
            .values()
            .filter(|f| !matches!(f.serving, Serving::Alias(_)))
            .collect();
        functions.sort_by_key(|f| f.seq);
        let mut triggers: Vec<_> = self.triggers.values().collect();
        triggers.sort_by_key(|t| t.seq);
        // Only the named ones are written out: a worker may have thousands.
        let function_names: Vec<String> = functions
            .iter()
            .take(NAMED)
            .map(|f| f.message.id.clone())
            .collect();
        let trigger_names: Vec<String> = triggers
            .iter()
            .take(NAMED)
            .map(|t| {
                let config = &t.message.config;
                let text = |key: &str| config.get(key).and_then(|v| v.as_str());
                let what = match (text("http_method"), text("api_path")) {
                    (Some(method), Some(path)) => format!(" {method} {path}"),
                    (None, Some(path)) => format!(" {path}"),
                    _ => text("expression")
                        .or_else(|| text("topic"))
                        .map(|v| format!(" {v}"))
                        .unwrap_or_default(),
                };
                format!(
                    "{}{what} -> {}",
                    t.message.trigger_type,
                    self.bound_function(t)
                )
            })
            .collect();
        let list = |count: usize, named: &[String], one: &str, many: &str| {
            let noun = if count == 1 { one } else { many };
            let mut named = named.join(", ");
            if count > NAMED {
                named.push_str(&format!(", and {} more", count - NAMED));
            }
            match count {
                0 => format!("no {many}"),
                n => format!("{n} {noun} ({named})"),
            }
        };
        format!(
            "{}; {}",
            list(functions.len(), &function_names, "function", "functions"),
            list(triggers.len(), &trigger_names, "trigger", "triggers")
        )
    }

    /// The `http` bindings to this worker's functions, with what those
    /// functions declare, for an OpenAPI document.
    pub(crate) fn http_routes(&self) -> Vec<crate::openapi::route::Route> {
        self.triggers
            .values()
            .filter_map(|t| {
                let id = self.bound_function(t);
                let f = &self.functions.get(id)?.message;
                crate::openapi::route::Route::from_config(
                    &t.message.trigger_type,
                    &t.message.config,
                    id,
                    f.description.as_deref(),
                    f.request_format.as_ref(),
                    f.response_format.as_ref(),
                )
            })
            .collect()
    }

    /// The function the user bound `entry` to, rather than its alias.
    fn bound_function<'a>(&'a self, entry: &'a TriggerEntry) -> &'a str {
        entry
            .alias
            .as_ref()
            .and_then(|alias| self.functions.get(alias))
            .and_then(|f| match &f.serving {
                Serving::Alias(alias) => Some(alias.function_id.as_str()),
                _ => None,
            })
            .unwrap_or(&entry.message.function_id)
    }

    /// "the `cron` trigger of `reports::daily`", naming the function the
    /// user bound rather than its alias.
    fn describe_trigger(&self, entry: &TriggerEntry) -> String {
        describe_binding(&entry.message.trigger_type, self.bound_function(entry))
    }

    /// Reports on every binding's handle that the engine takes no
    /// triggers.
    pub(crate) fn refuse_triggers(&self) {
        for entry in self.triggers.values() {
            let what = self.describe_trigger(entry);
            entry
                .status
                .send_replace(Some(super::engine_features::triggers_removed_body(&what)));
        }
    }

    /// Forgets the refusals of the last connection, before a replay asks
    /// the engine again.
    pub(crate) fn clear_refusals(&self) {
        for entry in self.functions.values() {
            entry.status.send_replace(None);
        }
        for entry in self.triggers.values() {
            entry.status.send_replace(None);
            entry.reported.store(false, Ordering::Relaxed);
        }
    }

    /// The bindings refused since the last call, each named with its
    /// refusal: what `connect` and `flush` report.
    pub(crate) fn take_refusals(&self) -> Vec<String> {
        let mut triggers: Vec<_> = self.triggers.values().collect();
        triggers.sort_by_key(|e| e.seq);
        triggers
            .into_iter()
            .filter_map(|entry| {
                let refusal = entry.status.borrow().clone()?;
                let first = !entry.reported.swap(true, Ordering::Relaxed);
                first.then(|| format!("{} ({refusal})", self.describe_trigger(entry)))
            })
            .collect()
    }
}

/// "the `cron` trigger of `reports::daily`": how errors and logs name a
/// binding, registered or not yet.
pub(crate) fn describe_binding(trigger_type: &str, function_id: &str) -> String {
    format!("the `{trigger_type}` trigger of `{function_id}`")
}

#[cfg(test)]
mod tests {
    use super::*;
    use iii_protocol::{Message, RegisterService};
    use serde_json::json;

    fn function(id: &str) -> (RegisterFunction, Frame) {
        let message = RegisterFunction {
            id: id.into(),
            description: None,
            request_format: None,
            response_format: None,
            metadata: None,
            invocation: None,
        };
        let frame = encode(&Message::RegisterFunction(message.clone()));
        (message, frame)
    }

    fn trigger(id: &str, f: &str) -> RegisterTrigger {
        RegisterTrigger {
            id: id.into(),
            trigger_type: "http".into(),
            function_id: f.into(),
            config: json!({}),
            metadata: None,
            namespace: None,
            trigger_namespace: None,
        }
    }

    fn encode(message: &Message) -> Frame {
        let rules = crate::session::Rules { max_frame: 1 << 20 };
        rules.encode(message, || "a test frame".into()).unwrap()
    }

    fn add_function(r: &mut Registry, id: &str) {
        let (message, frame) = function(id);
        r.add_function(message, frame, Serving::Endpoint);
    }

    fn add_trigger(r: &mut Registry, t: RegisterTrigger) {
        let frame = encode(&Message::RegisterTrigger(t.clone()));
        r.add_trigger(t, frame, None);
    }

    fn ids(frames: &[Frame]) -> Vec<String> {
        frames
            .iter()
            .map(|f| match iii_protocol::decode(f.as_str()).unwrap() {
                Message::RegisterFunction(f) => format!("fn:{}", f.id),
                Message::RegisterTrigger(t) => format!("trigger:{}", t.id),
                Message::RegisterService(s) => format!("service:{}", s.id),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn replay_groups_by_kind_in_registration_order() {
        let mut r = Registry::default();
        add_trigger(&mut r, trigger("t2", "b"));
        add_function(&mut r, "zeta");
        add_trigger(&mut r, trigger("t1", "a"));
        add_function(&mut r, "alpha");
        let service = Message::RegisterService(RegisterService {
            id: "svc".into(),
            name: String::new(),
            description: None,
            parent_service_id: None,
        });
        r.add_service("svc", encode(&service));
        assert_eq!(ids(&r.replay(true)), ["service:svc", "fn:zeta", "fn:alpha"]);
        assert_eq!(ids(&r.bindings()), ["trigger:t2", "trigger:t1"]);
        // Replaying twice gives the same frames.
        assert_eq!(r.replay(true), r.replay(true));
        // An engine that takes no triggers gets functions and services only.
        assert_eq!(
            ids(&r.replay(false)),
            ["service:svc", "fn:zeta", "fn:alpha"]
        );
        assert_eq!(
            r.trigger_registrations(),
            ["the `http` trigger of `b`", "the `http` trigger of `a`"]
        );
    }

    #[test]
    fn summary_names_functions_and_bindings_in_order() {
        let mut r = Registry::default();
        assert_eq!(r.summary(), "no functions; no triggers");
        add_function(&mut r, "greet");
        let mut get = trigger("t1", "greet");
        get.config = json!({"api_path": "/greet/:name", "http_method": "GET"});
        add_trigger(&mut r, get);
        let mut cron = trigger("t2", "greet");
        cron.trigger_type = "cron".into();
        cron.config = json!({"expression": "0 * * * * *"});
        add_trigger(&mut r, cron);
        assert_eq!(
            r.summary(),
            "1 function (greet); 2 triggers (http GET /greet/:name -> greet, cron 0 * * * * * -> greet)"
        );
        for n in 0..11 {
            add_function(&mut r, &format!("f{n}"));
        }
        let summary = r.summary();
        assert!(
            summary.starts_with(
                "12 functions (greet, f0, f1, f2, f3, f4, f5, f6, f7, f8, and 2 more);"
            ),
            "{summary}"
        );
    }
}
