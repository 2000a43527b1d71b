//! The engine's filters for its listings, as builders.
//!
//! As the engine applies them: `search` matches case-insensitively, every
//! other filter exactly; filters combine with AND, and `worker` with
//! `workers` with OR; a worker is named by its name, never its connection
//! id.

use serde::Serialize;

/// Which functions [`Worker::list_functions_where`](crate::Worker::list_functions_where)
/// lists.
///
/// ```
/// use iii::discovery::FunctionFilter;
///
/// let orders = FunctionFilter::new().prefix("orders::").worker("billing");
/// # let _ = orders;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FunctionFilter {
    #[serde(skip_serializing_if = "Option::is_none")]
    search: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    worker: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    workers: Vec<String>,
    include_internal: bool,
}

impl FunctionFilter {
    /// Every function but the engine's internal ones.
    pub fn new() -> Self {
        Self::default()
    }

    /// Those whose id or description holds `text`, any case; the engine
    /// then orders them by how well the id matches (it starts with `text`
    /// or has it as a `::` segment, then holds it, then only the
    /// description does), and by id.
    pub fn search(mut self, text: impl Into<String>) -> Self {
        self.search = Some(text.into());
        self
    }

    /// Those whose id starts with `prefix` (case counts).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Those served by the worker of this name; with
    /// [`FunctionFilter::workers`], those of any of the names.
    pub fn worker(mut self, name: impl Into<String>) -> Self {
        self.worker = Some(name.into());
        self
    }

    /// Those served by a worker of any of these names.
    pub fn workers<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.workers = names.into_iter().map(Into::into).collect();
        self
    }

    /// With the engine's own functions (`engine::*`, but for
    /// `engine::queue::*`, which are always listed) and those marked
    /// `internal` in their metadata.
    pub fn include_internal(mut self, include: bool) -> Self {
        self.include_internal = include;
        self
    }
}

/// Which trigger types
/// [`Worker::list_trigger_types_where`](crate::Worker::list_trigger_types_where)
/// lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TriggerTypeFilter {
    #[serde(skip_serializing_if = "Option::is_none")]
    search: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    worker: Option<String>,
    include_internal: bool,
}

impl TriggerTypeFilter {
    /// Every trigger type but the engine's own.
    pub fn new() -> Self {
        Self::default()
    }

    /// Those whose id or description holds `text`, any case.
    pub fn search(mut self, text: impl Into<String>) -> Self {
        self.search = Some(text.into());
        self
    }

    /// Those whose id starts with `prefix` (case counts).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Those provided by the worker of this name (`iii-http` and the like
    /// for the engine's).
    pub fn worker(mut self, name: impl Into<String>) -> Self {
        self.worker = Some(name.into());
        self
    }

    /// With the engine's own (`engine::functions-available`,
    /// `engine::workers-available`).
    pub fn include_internal(mut self, include: bool) -> Self {
        self.include_internal = include;
        self
    }
}

/// Which bindings [`Worker::list_triggers_where`](crate::Worker::list_triggers_where)
/// lists.
///
/// ```
/// use iii::discovery::TriggerFilter;
///
/// let routes_of_greet = TriggerFilter::new().trigger_type("http").function_id("greet");
/// # let _ = routes_of_greet;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TriggerFilter {
    #[serde(skip_serializing_if = "Option::is_none")]
    search: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trigger_type: Option<String>,
    /// Matched here, after aliases are resolved, not by the engine: the
    /// engine knows a binding an SDK made to its own function by the alias.
    #[serde(skip)]
    pub(super) function_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    worker: Option<String>,
    include_internal: bool,
}

impl TriggerFilter {
    /// Every binding but those of the engine's own functions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Those whose id, trigger type or function id holds `text`, any case
    /// (not their config).
    pub fn search(mut self, text: impl Into<String>) -> Self {
        self.search = Some(text.into());
        self
    }

    /// Those of this trigger type (`http`, say).
    pub fn trigger_type(mut self, trigger_type: impl Into<String>) -> Self {
        self.trigger_type = Some(trigger_type.into());
        self
    }

    /// Those that fire this function (the function a binding's alias
    /// stands for counts as the one it fires).
    pub fn function_id(mut self, function_id: impl Into<String>) -> Self {
        self.function_id = Some(function_id.into());
        self
    }

    /// Those whose function the worker of this name serves.
    pub fn worker(mut self, name: impl Into<String>) -> Self {
        self.worker = Some(name.into());
        self
    }

    /// With the bindings of the engine's own functions (`engine::*`).
    pub fn include_internal(mut self, include: bool) -> Self {
        self.include_internal = include;
        self
    }
}

/// Which workers [`Worker::list_workers_where`](crate::Worker::list_workers_where)
/// lists. The engine lists its own in-process workers too (runtime
/// `engine`, status `available`), and only connected workers that sent
/// their pid (every SDK does).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WorkerFilter {
    #[serde(skip_serializing_if = "Option::is_none")]
    search: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    runtime: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
}

impl WorkerFilter {
    /// Every worker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Those whose name holds `text`, any case.
    pub fn search(mut self, text: impl Into<String>) -> Self {
        self.search = Some(text.into());
        self
    }

    /// Those of this runtime (`rust`, `node`, `python`; `engine` for the
    /// engine's own).
    pub fn runtime(mut self, runtime: impl Into<String>) -> Self {
        self.runtime = Some(runtime.into());
        self
    }

    /// Those in this status (`connected` for workers on a socket,
    /// `available` for the engine's own).
    pub fn status(mut self, status: impl Into<String>) -> Self {
        self.status = Some(status.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn filters_send_the_engines_field_names_and_only_what_is_set() {
        let f = FunctionFilter::new()
            .search("Greet")
            .prefix("web::")
            .worker("api")
            .workers(["a", "b"])
            .include_internal(true);
        assert_eq!(
            serde_json::to_value(&f).expect("json"),
            json!({"search": "Greet", "prefix": "web::", "worker": "api", "workers": ["a", "b"], "include_internal": true})
        );
        assert_eq!(
            serde_json::to_value(FunctionFilter::new()).expect("json"),
            json!({"include_internal": false})
        );
        let t = TriggerFilter::new()
            .trigger_type("http")
            .function_id("greet")
            .worker("api")
            .search("x");
        assert_eq!(
            serde_json::to_value(&t).expect("json"),
            json!({"search": "x", "trigger_type": "http", "worker": "api", "include_internal": false}),
            "the function id is matched after aliases resolve"
        );
        let w = WorkerFilter::new()
            .runtime("rust")
            .status("connected")
            .search("a");
        assert_eq!(
            serde_json::to_value(&w).expect("json"),
            json!({"search": "a", "runtime": "rust", "status": "connected"})
        );
        let tt = TriggerTypeFilter::new().prefix("x").worker("w");
        assert_eq!(
            serde_json::to_value(&tt).expect("json"),
            json!({"prefix": "x", "worker": "w", "include_internal": false})
        );
    }
}
