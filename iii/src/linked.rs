//! Functions collected at link time by `#[iii::function]`.
//!
//! Each annotated function leaves one [`LinkedFunction`] in the
//! [`FUNCTIONS`] distributed slice; a worker registers them when it
//! connects (see [`crate::WorkerBuilder::linked`]).

use std::collections::HashMap;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::function::Function;
use crate::trigger::Trigger;
use crate::worker::Worker;

/// One `#[iii::function]`, as the macro leaves it for the linker. Built with
/// plain function pointers, so the slice costs nothing until a worker
/// connects.
#[derive(Debug)]
pub struct LinkedFunction {
    /// The function id.
    pub id: &'static str,
    /// Where the function is defined.
    pub file: &'static str,
    /// The line of its `#[iii::function]`.
    pub line: u32,
    /// Builds the registration (handler, description, formats).
    pub function: fn() -> Function,
    /// Builds its trigger bindings.
    pub triggers: fn() -> Vec<Trigger>,
}

/// Every `#[iii::function]` linked into the program.
#[linkme::distributed_slice]
pub static FUNCTIONS: [LinkedFunction];

/// One `#[iii::trigger_type]`, as the macro leaves it for the linker.
#[derive(Debug)]
pub struct LinkedTriggerType {
    /// The trigger type id.
    pub id: &'static str,
    /// Where the provider is defined.
    pub file: &'static str,
    /// The line of its `#[iii::trigger_type]`.
    pub line: u32,
    /// Registers the provider (built with `Default`) on a worker.
    pub register: fn(&Worker) -> Result<crate::TriggerTypeHandle, Error>,
}

/// Every `#[iii::trigger_type]` linked into the program.
#[linkme::distributed_slice]
pub static TRIGGER_TYPES: [LinkedTriggerType];

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

/// The linked functions selected by `which`, checked for duplicate ids
/// among them.
pub(crate) fn select(which: &Linked) -> Result<Vec<&'static LinkedFunction>, Error> {
    let mut chosen: Vec<&'static LinkedFunction> = match which {
        Linked::All => FUNCTIONS.iter().collect(),
        Linked::None => Vec::new(),
        Linked::Only(ids) => {
            let known = |id: &&String| {
                FUNCTIONS.iter().any(|f| f.id == id.as_str())
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
                .filter(|f| ids.iter().any(|id| id == f.id))
                .collect()
        }
    };
    // Link order is not specified; registration order should be.
    chosen.sort_by_key(|f| (f.id, f.file, f.line));
    let mut seen: HashMap<&str, &LinkedFunction> = HashMap::new();
    for f in &chosen {
        if let Some(first) = seen.insert(f.id, f) {
            return Err(Error::invalid(
                "linked functions",
                format!(
                    "`{}` is defined twice, at {}:{} and at {}:{}; give one of them another `id`",
                    f.id, first.file, first.line, f.file, f.line
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
