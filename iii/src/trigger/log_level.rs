//! The levels of log records, as the engine spells them: shared by `log`
//! triggers and by what records a log line (with nothing of the worker in
//! it, so the test kit's records can use it).

use serde::Serialize;

/// The level of the records a [`Log`](super::Log) trigger receives: engine 0.23
/// matches it exactly (a `warn` binding gets warnings only), or takes
/// every record with `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Every record.
    All,
    /// Trace records.
    Trace,
    /// Debug records.
    Debug,
    /// Info records.
    Info,
    /// Warnings.
    Warn,
    /// Errors.
    Error,
}

impl LogLevel {
    /// Every level.
    pub const ALL: [LogLevel; 6] = [
        LogLevel::All,
        LogLevel::Trace,
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Warn,
        LogLevel::Error,
    ];

    /// The engine's spelling: `all`, `trace`, `debug`, `info`, `warn` or
    /// `error`.
    pub const fn name(self) -> &'static str {
        match self {
            LogLevel::All => "all",
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }

    /// The level spelled `name`.
    pub fn from_name(name: &str) -> Option<LogLevel> {
        Self::ALL.into_iter().find(|l| l.name() == name)
    }
}
