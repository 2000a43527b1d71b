//! One `http` binding and what its function declares: what the registry
//! hands [`super::OpenApi`], with nothing of the worker in it.

use iii_protocol::RawJson;
use serde_json::Value;

/// One `http` binding and what its function declares.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) function_id: String,
    pub(crate) description: Option<String>,
    pub(crate) request_format: Option<Value>,
    pub(crate) response_format: Option<Value>,
    pub(crate) condition: Option<String>,
    pub(crate) middleware: Vec<String>,
}

impl Route {
    /// The route of a binding of `trigger_type` with `config`, if it is an
    /// `http` one.
    pub(crate) fn from_config(
        trigger_type: &str,
        config: &Value,
        function_id: &str,
        description: Option<&str>,
        request_format: Option<&RawJson>,
        response_format: Option<&RawJson>,
    ) -> Option<Route> {
        if trigger_type != "http" {
            return None;
        }
        let text = |key: &str| config.get(key).and_then(Value::as_str).map(str::to_string);
        Some(Route {
            method: text("http_method").unwrap_or_else(|| "GET".into()),
            path: text("api_path")?,
            function_id: function_id.to_string(),
            description: description.map(str::to_string),
            request_format: request_format.map(RawJson::to_value),
            response_format: response_format.map(RawJson::to_value),
            condition: text("condition_function_id"),
            middleware: config
                .get("middleware_function_ids")
                .and_then(Value::as_array)
                .map(|ids| {
                    ids.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}
