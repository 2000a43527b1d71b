//! What a registry holds, described: for errors, the start-up line and an
//! OpenAPI document.

use super::{Registry, Serving};

impl Registry {
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
                let config = self.binding_config(t);
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
                    self.binding_config(t),
                    id,
                    f.description.as_deref(),
                    f.request_format.as_ref(),
                    f.response_format.as_ref(),
                )
            })
            .collect()
    }
}
