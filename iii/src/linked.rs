//! Functions collected at link time by `#[iii::function]` and
//! `#[iii::trigger_type]`.
//!
//! Each annotated item leaves one entry in a distributed slice; a worker
//! registers them when it connects (see [`crate::WorkerBuilder::linked`]),
//! and [`functions`] and [`trigger_types`] list them.

use std::collections::HashMap;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::__private::{FUNCTIONS, FunctionSpec, TRIGGER_TYPES};
use crate::error::Error;
use crate::function::Function;
use crate::trigger::Trigger;
use crate::worker::Worker;

/// One `#[iii::function]` linked into the program.
///
/// ```
/// #[iii::function(id = "reports::daily")]
/// async fn daily() {}
///
/// let daily = iii::linked::functions().find(|f| f.id() == "reports::daily").unwrap();
/// assert_eq!(daily.function().id(), "reports::daily");
/// assert!(daily.file().ends_with(".rs"));
/// ```
#[derive(Debug)]
pub struct LinkedFunction {
    spec: &'static FunctionSpec,
    file: &'static str,
    line: u32,
}

impl LinkedFunction {
    /// Used by `#[iii::function]` expansions (through `__private`).
    pub(crate) const fn new(spec: &'static FunctionSpec, file: &'static str, line: u32) -> Self {
        LinkedFunction { spec, file, line }
    }

    /// The function id.
    pub fn id(&self) -> &'static str {
        self.spec.id
    }

    /// The file the function is defined in.
    pub fn file(&self) -> &'static str {
        self.file
    }

    /// The line of its `#[iii::function]`.
    pub fn line(&self) -> u32 {
        self.line
    }

    /// Builds its registration: handler, description, metadata, formats.
    pub fn function(&self) -> Function {
        let spec = self.spec;
        let mut function = Function::erased(
            spec.id,
            std::sync::Arc::new(spec.handler),
            (spec.request_format)(),
            (spec.response_format)(),
        );
        if let Some(description) = spec.description {
            function = function.description(description);
        }
        // The macro checked the metadata's JSON when it expanded.
        if let Some(metadata) = spec.metadata.and_then(|m| serde_json::from_str(m).ok()) {
            function = function.metadata(metadata);
        }
        function
    }

    /// Builds its trigger bindings, one per `#[iii::trigger]`.
    pub fn triggers(&self) -> Vec<Trigger> {
        self.spec
            .triggers
            .iter()
            .map(|t| crate::trigger::from_keys(self.spec.id, t.kind, t.custom_type, t.args))
            .collect()
    }
}

/// One `#[iii::trigger_type]` provider linked into the program.
#[derive(Debug)]
pub struct LinkedTriggerType {
    id: &'static str,
    file: &'static str,
    line: u32,
    pub(crate) register: fn(&Worker) -> Result<crate::TriggerTypeHandle, Error>,
}

impl LinkedTriggerType {
    /// Used by `#[iii::trigger_type]` expansions (through `__private`).
    pub(crate) const fn new(
        id: &'static str,
        file: &'static str,
        line: u32,
        register: fn(&Worker) -> Result<crate::TriggerTypeHandle, Error>,
    ) -> Self {
        LinkedTriggerType {
            id,
            file,
            line,
            register,
        }
    }

    /// The trigger type id.
    pub fn id(&self) -> &'static str {
        self.id
    }

    /// The file the provider is defined in.
    pub fn file(&self) -> &'static str {
        self.file
    }

    /// The line of its `#[iii::trigger_type]`.
    pub fn line(&self) -> u32 {
        self.line
    }
}

/// Every `#[iii::function]` linked into the program, in no set order.
pub fn functions() -> impl Iterator<Item = &'static LinkedFunction> {
    FUNCTIONS.iter()
}

/// Every `#[iii::trigger_type]` linked into the program, in no set order.
pub fn trigger_types() -> impl Iterator<Item = &'static LinkedTriggerType> {
    TRIGGER_TYPES.iter()
}

/// Which linked functions a worker registers when it connects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Linked {
    /// Every `#[iii::function]` in the program (the default).
    #[default]
    All,
    /// None: register functions with the builder API only.
    None,
    /// Only these function and trigger-type ids.
    Only(Vec<String>),
}

/// Builds the registrations of `linked`, in order. Schemas are what costs
/// (about 10 us a function): a program with many functions builds them on
/// every core, so that start-up does not grow with one core's pace.
pub(crate) fn build_all(linked: &[&'static LinkedFunction]) -> Vec<Function> {
    map_on_every_core(linked, |f| f.function())
}

/// `items` mapped by `map`, in order, on up to every core with at least
/// [`PER_THREAD`] items each; this thread maps the first part.
fn map_on_every_core<T: Sync, R: Send>(items: &[T], map: fn(&T) -> R) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len() / PER_THREAD);
    if threads <= 1 {
        return items.iter().map(map).collect();
    }
    let mut parts = items.chunks(items.len().div_ceil(threads));
    let first = parts.next().unwrap_or_default();
    std::thread::scope(|scope| {
        let others: Vec<_> = parts
            .map(|part| scope.spawn(move || part.iter().map(map).collect::<Vec<_>>()))
            .collect();
        let mut all: Vec<R> = first.iter().map(map).collect();
        for other in others {
            match other.join() {
                Ok(done) => all.extend(done),
                // A user's `JsonSchema` that panicked: the caller sees the
                // panic as it would without threads.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        all
    })
}

/// Below this many items a thread, threads cost more than they save.
const PER_THREAD: usize = 64;

/// The linked functions selected by `which`, checked for duplicate ids
/// among them.
pub(crate) fn select(which: &Linked) -> Result<Vec<&'static LinkedFunction>, Error> {
    let mut chosen: Vec<&'static LinkedFunction> = match which {
        Linked::All => FUNCTIONS.iter().collect(),
        Linked::None => Vec::new(),
        Linked::Only(ids) => {
            let known = |id: &&String| {
                FUNCTIONS.iter().any(|f| f.id() == id.as_str())
                    || TRIGGER_TYPES.iter().any(|t| t.id == id.as_str())
            };
            if let Some(missing) = ids.iter().find(|id| !known(id)) {
                return Err(Error::invalid(
                    "linked functions",
                    format!(
                        "`{missing}` was asked for, but no `#[iii::function]` or `#[iii::trigger_type]` has that id"
                    ),
                ));
            }
            FUNCTIONS
                .iter()
                .filter(|f| ids.iter().any(|id| id == f.id()))
                .collect()
        }
    };
    // Link order is not specified; registration order should be.
    chosen.sort_by_key(|f| (f.id(), f.file, f.line));
    let mut seen: HashMap<&str, &LinkedFunction> = HashMap::new();
    for f in &chosen {
        if let Some(first) = seen.insert(f.id(), f) {
            return Err(Error::invalid(
                "linked functions",
                format!(
                    "`{}` is defined twice, at {}:{} and at {}:{}; give one of them another `id`",
                    f.id(),
                    first.file,
                    first.line,
                    f.file,
                    f.line
                ),
            ));
        }
    }
    Ok(chosen)
}

/// The linked trigger-type providers selected by `which`.
pub(crate) fn select_trigger_types(
    which: &Linked,
) -> Result<Vec<&'static LinkedTriggerType>, Error> {
    let mut chosen: Vec<&'static LinkedTriggerType> = match which {
        Linked::All => TRIGGER_TYPES.iter().collect(),
        Linked::None => Vec::new(),
        Linked::Only(ids) => TRIGGER_TYPES
            .iter()
            .filter(|t| ids.iter().any(|id| id == t.id))
            .collect(),
    };
    chosen.sort_by_key(|t| (t.id, t.file, t.line));
    for pair in chosen.windows(2) {
        if pair[0].id == pair[1].id {
            return Err(Error::invalid(
                "linked trigger types",
                format!(
                    "`{}` is provided twice, at {}:{} and at {}:{}; give one of them another `id`",
                    pair[0].id, pair[0].file, pair[0].line, pair[1].file, pair[1].line
                ),
            ));
        }
    }
    Ok(chosen)
}

/// A reference to an `#[iii::function]`, for calls checked at compile time.
/// The macro implements it on a type named like the function.
pub trait FunctionRef {
    /// The function id.
    const ID: &'static str;
    /// What the function takes (`()` for none).
    type Input;
    /// What it returns on success.
    type Output;
}

impl Worker {
    /// Calls an `#[iii::function]` by naming it, with its input and output
    /// types checked by the compiler.
    ///
    /// ```no_run
    /// #[iii::function]
    /// async fn double(x: i64) -> i64 { x * 2 }
    ///
    /// # async fn f(worker: iii::Worker) -> Result<(), iii::Error> {
    /// let four: i64 = worker.call_fn::<double>(&2).await?;
    /// # let _ = four; Ok(()) }
    /// ```
    pub async fn call_fn<F>(&self, input: &F::Input) -> Result<F::Output, Error>
    where
        F: FunctionRef,
        F::Input: Serialize,
        F::Output: DeserializeOwned + 'static,
    {
        self.call(F::ID, input).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Enough items for several threads on any machine with two cores or
    /// more: every item is mapped once, and in its place.
    #[test]
    fn mapping_on_every_core_keeps_every_item_in_order() {
        for len in [0, 1, PER_THREAD - 1, 2 * PER_THREAD, 16 * PER_THREAD + 7] {
            let items: Vec<usize> = (0..len).collect();
            let mapped = map_on_every_core(&items, |n| (*n, std::thread::current().id()));
            let order: Vec<usize> = mapped.iter().map(|(n, _)| *n).collect();
            assert_eq!(order, items, "{len} items");
        }
        let items: Vec<usize> = (0..16 * PER_THREAD).collect();
        let mapped = map_on_every_core(&items, |_| std::thread::current().id());
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let used: std::collections::HashSet<_> = mapped.into_iter().collect();
        assert_eq!(used.len(), threads.min(16), "one part per core");
    }

    #[test]
    fn a_panic_on_another_thread_reaches_the_caller() {
        // The last item is in the last part, which another thread maps
        // when there are two cores or more.
        let items: Vec<usize> = (0..4 * PER_THREAD).collect();
        let caught = std::panic::catch_unwind(|| {
            map_on_every_core(&items, |n| assert!(*n != 4 * PER_THREAD - 1, "bad schema"))
        });
        let panic = caught.expect_err("the panic is resumed");
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        assert_eq!(message, "bad schema");
    }
}
