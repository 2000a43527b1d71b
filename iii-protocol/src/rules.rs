//! Validation rules shared by the runtime, the macros and iii-embedded:
//! plain functions of strings that name the problem and the fix.

/// The HTTP methods the engine routes.
pub const HTTP_METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

/// Named cron schedules the engine accepts.
pub const CRON_NAMES: [&str; 7] = [
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

/// Checks an HTTP method (case-insensitive).
pub fn validate_http_method(method: &str) -> Result<(), String> {
    let upper = method.to_ascii_uppercase();
    if HTTP_METHODS.contains(&upper.as_str()) {
        Ok(())
    } else {
        Err(format!(
            "method `{method}` is not one of {}",
            HTTP_METHODS.join(", ")
        ))
    }
}

/// Checks an HTTP route pattern: starts with `/`, no spaces, named
/// parameters. (The engine also accepts a pattern without the leading `/`;
/// the SDK asks for it so every route reads the same.)
pub fn validate_http_path(path: &str) -> Result<(), String> {
    if path.trim().is_empty() {
        return Err("path is empty; give a route such as `/users/:id`".into());
    }
    if !path.starts_with('/') {
        return Err(format!(
            "path `{path}` must start with `/`: write `/{path}`"
        ));
    }
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "path `{}` contains whitespace",
            path.escape_debug()
        ));
    }
    if path.contains(['?', '#']) {
        return Err(format!(
            "path `{path}` contains a query or fragment; routes match the path only"
        ));
    }
    if path.split('/').any(|segment| segment == ":") {
        return Err(format!(
            "path `{path}` has a `:` parameter without a name; write `:id`"
        ));
    }
    Ok(())
}

/// Checks a cron expression's shape the way the engine's parser sees it:
/// 6 or 7 fields with seconds first, or a named schedule.
pub fn validate_cron(expression: &str) -> Result<(), String> {
    let trimmed = expression.trim();
    if trimmed.starts_with('@') {
        return if CRON_NAMES.contains(&trimmed) {
            Ok(())
        } else {
            Err(format!(
                "`{trimmed}` is not one of {}",
                CRON_NAMES.join(", ")
            ))
        };
    }
    match trimmed.split_whitespace().count() {
        6 | 7 => Ok(()),
        5 => Err(format!(
            "`{trimmed}` has 5 fields, but the engine reads 6 or 7 with seconds first; did you mean `0 {trimmed}`?"
        )),
        n => Err(format!(
            "`{trimmed}` has {n} fields; write 6 or 7 (sec min hour day-of-month month day-of-week [year])"
        )),
    }
}

/// The minimum levels a `log` trigger takes.
pub const LOG_LEVELS: [&str; 6] = ["all", "trace", "debug", "info", "warn", "error"];

/// Checks a `log` trigger's minimum level.
pub fn validate_log_level(level: &str) -> Result<(), String> {
    if LOG_LEVELS.contains(&level) {
        Ok(())
    } else {
        Err(format!(
            "level `{level}` is not one of {}",
            LOG_LEVELS.join(", ")
        ))
    }
}

/// Checks a value a binding requires (a topic, a stream name).
pub fn validate_required(field: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        Err(format!("`{field}` is empty; it is required"))
    } else {
        Ok(())
    }
}

/// Checks a namespace that is named: the engine refuses a blank one
/// (`INVALID_NAMESPACE`); leaving it out means `default`.
///
/// ```
/// use iii_protocol::rules::validate_namespace;
/// assert!(validate_namespace("billing").is_ok());
/// assert!(validate_namespace("  ").unwrap_err().contains("blank"));
/// ```
pub fn validate_namespace(namespace: &str) -> Result<(), String> {
    if namespace.trim().is_empty() {
        Err("it is blank, which the engine refuses; leave it unset for `default`".into())
    } else {
        Ok(())
    }
}

/// Checks an id the SDK sends: non-empty, no control characters.
pub fn validate_id(id: &str) -> Result<(), String> {
    // The usual id, checked in one pass: printable ASCII, not starting
    // with a space (so not blank).
    let bytes = id.as_bytes();
    if bytes.first().is_some_and(|&b| b != b' ')
        && bytes.iter().all(|&b| (b' '..=b'~').contains(&b))
    {
        return Ok(());
    }
    if id.trim().is_empty() {
        return Err("it is empty; give it a name such as `service::action`".into());
    }
    if let Some(c) = id.chars().find(|c| c.is_control()) {
        return Err(format!(
            "`{}` contains the control character {c:?}",
            id.escape_debug()
        ));
    }
    Ok(())
}
