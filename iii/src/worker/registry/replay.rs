//! What a registry sends on a fresh connection, and what it says of the
//! bindings the engine refused.

use std::sync::atomic::Ordering;

use iii_protocol::ErrorBody;

use super::{Registry, Serving};
use crate::session::Frame;

impl Registry {
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
                .and_then(|f| f.status.get());
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

    /// Reports on every binding's handle that the engine takes no
    /// triggers.
    pub(crate) fn refuse_triggers(&self) {
        for entry in self.triggers.values() {
            let what = self.describe_trigger(entry);
            entry
                .status
                .send_replace(Some(crate::worker::engine_features::triggers_removed_body(
                    &what,
                )));
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
                let refusal = entry.status.get()?;
                let first = !entry.reported.swap(true, Ordering::Relaxed);
                first.then(|| format!("{} ({refusal})", self.describe_trigger(entry)))
            })
            .collect()
    }
}
