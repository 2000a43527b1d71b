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

/// Which linked functions a worker registers when it connects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Linked {
    /// Every `#[iii::function]` in the program (the default).
    #[default]
    All,
    /// None: register functions with the builder API only.
    None,
    /// Only these ids.
    Only(Vec<String>),
}

/// The linked functions selected by `which`, checked for duplicate ids
/// among them.
pub(crate) fn select(which: &Linked) -> Result<Vec<&'static LinkedFunction>, Error> {
    let mut chosen: Vec<&'static LinkedFunction> = match which {
        Linked::All => FUNCTIONS.iter().collect(),
        Linked::None => Vec::new(),
        Linked::Only(ids) => {
            if let Some(missing) = ids
                .iter()
                .find(|id| !FUNCTIONS.iter().any(|f| f.id == id.as_str()))
            {
                return Err(Error::invalid(
                    "linked functions",
                    format!("`{missing}` was asked for, but no `#[iii::function]` has that id"),
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
