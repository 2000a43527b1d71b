//! An OpenAPI 3.1 document of a worker's HTTP routes, built from what the
//! functions already carry: their `http` bindings, their doc comments and
//! their JSON Schema request and response formats.
//!
//! ```standalone_crate
//! // (standalone: `linked()` reads every #[iii::function] of the program)
//! use iii::http::{ApiRequest, ApiResponse};
//! use iii::openapi::OpenApi;
//!
//! #[derive(serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
//! struct Todo { title: String, done: bool }
//!
//! /// Adds a todo.
//! ///
//! /// The todo starts open.
//! #[iii::function(id = "todos::add")]
//! #[iii::trigger(http, path = "/todos/:list", method = "POST")]
//! async fn add(req: ApiRequest<Todo>) -> ApiResponse<Todo> {
//!     ApiResponse::created(req.body)
//! }
//!
//! let doc = OpenApi::new("Todos", "1.0.0").linked();
//! let post = &doc["paths"]["/todos/{list}"]["post"];
//! assert_eq!(post["operationId"], "todos::add");
//! assert_eq!(post["summary"], "Adds a todo.");
//! assert_eq!(post["parameters"][0]["name"], "list");
//! assert_eq!(
//!     post["requestBody"]["content"]["application/json"]["schema"]["$ref"],
//!     "#/components/schemas/Todo"
//! );
//! assert_eq!(doc["components"]["schemas"]["Todo"]["required"], serde_json::json!(["title", "done"]));
//! ```
//!
//! What a route's operation says:
//!
//! | OpenAPI | from |
//! |---|---|
//! | path | the binding's path, `:name` written `{name}` |
//! | `parameters` | the path's `:name`s, required strings |
//! | `operationId` | the function id (`#2`, `#3`, ... for its further routes) |
//! | `summary`, `description` | the doc comment: its first line, and the whole |
//! | `requestBody` | the body of an `ApiRequest<T>` input (`T`'s schema) |
//! | `responses."200"` | the body of an `ApiResponse<T>` output, or the output itself |
//! | `responses."400"`, `"500"` | the SDK's error answer (see the README's "HTTP answers") |
//! | `x-iii-function`, `x-iii-condition`, `x-iii-middleware` | the function, and the binding's condition and middleware (also said in `description`) |
//!
//! A schema of a named type becomes a component, referenced from every
//! operation that uses it.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

pub(crate) mod route;

use route::Route;

use crate::function::Function;
use crate::trigger::Trigger;
use crate::worker::Worker;

/// What the `200` of every operation says: the handler chooses the status.
const ANSWERED: &str = "The handler's answer (200 unless it sets another status).";

/// The component every error answer refers to.
const ERROR_SCHEMA: &str = "ErrorAnswer";

/// Settings of a document: its `info` and `servers`.
#[derive(Debug, Clone)]
pub struct OpenApi {
    title: String,
    version: String,
    description: Option<String>,
    servers: Vec<String>,
    function_id: String,
}

/// The route of `trigger`, if it is an `http` binding, for `function`.
fn route_of(function: &Function, trigger: &Trigger) -> Option<Route> {
    let config = trigger.config().ok()?;
    Route::from_config(
        trigger.trigger_type(),
        config,
        function.id(),
        function.get_description(),
        function.message.request_format.as_ref(),
        function.message.response_format.as_ref(),
    )
}

impl OpenApi {
    /// A document titled `title`, of API version `version`.
    pub fn new(title: impl Into<String>, version: impl Into<String>) -> Self {
        OpenApi {
            title: title.into(),
            version: version.into(),
            description: None,
            servers: Vec::new(),
            function_id: "openapi::document".into(),
        }
    }

    /// The API's description (`info.description`).
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// A base URL the routes answer on, such as the engine's
    /// `http://127.0.0.1:3111` (`servers`; none by default).
    pub fn server(mut self, url: impl Into<String>) -> Self {
        self.servers.push(url.into());
        self
    }

    /// The id of the function [`OpenApi::serve`] registers (default
    /// `openapi::document`), for a second document or a second worker
    /// serving one in the same namespace.
    pub fn function_id(mut self, id: impl Into<String>) -> Self {
        self.function_id = id.into();
        self
    }

    /// The document of the program's `#[iii::function]`s and their `http`
    /// triggers; no engine is needed.
    pub fn linked(&self) -> Value {
        let mut routes = Vec::new();
        for entry in crate::linked::functions() {
            let function = entry.function();
            routes.extend(
                entry
                    .triggers()
                    .iter()
                    .filter_map(|t| route_of(&function, t)),
            );
        }
        self.build(routes)
    }

    /// The document of what `worker` has registered: its linked and its
    /// built functions, and its `http` bindings to them.
    pub fn of(&self, worker: &Worker) -> Value {
        self.build(worker.http_routes())
    }

    /// Serves the document of `worker` (as [`OpenApi::of`] makes it, when
    /// asked) at `GET path`, from a function `openapi::document` (see
    /// [`OpenApi::function_id`]).
    ///
    /// ```no_run
    /// # async fn f(worker: iii::Worker) -> Result<(), iii::Error> {
    /// iii::openapi::OpenApi::new("Todos", "1.0.0").serve(&worker, "/openapi.json")?;
    /// # Ok(()) }
    /// ```
    pub fn serve(self, worker: &Worker, path: &str) -> Result<(), crate::Error> {
        let id = self.function_id.clone();
        let document = move |_: Value, ctx: crate::Context| {
            let doc = self.of(ctx.worker());
            async move { Ok::<_, crate::Error>(doc) }
        };
        worker.register_function(
            Function::new(&id, document).description("This API's OpenAPI 3.1 document."),
        )?;
        worker.register_trigger(Trigger::new(&id, crate::trigger::Http::get(path)))?;
        Ok(())
    }

    fn build(&self, mut routes: Vec<Route>) -> Value {
        routes.sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
        let mut components = Components::default();
        let mut paths = Map::new();
        let mut operation_ids: BTreeMap<String, usize> = BTreeMap::new();
        for route in &routes {
            let (path, names) = openapi_path(&route.path);
            let seen = operation_ids.entry(route.function_id.clone()).or_default();
            *seen += 1;
            let operation_id = match *seen {
                1 => route.function_id.clone(),
                n => format!("{}#{n}", route.function_id),
            };
            let operation = operation(route, operation_id, &names, &mut components);
            let item = paths
                .entry(path)
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(item) = item {
                item.insert(route.method.to_ascii_lowercase(), operation);
            }
        }
        components
            .schemas
            .insert(ERROR_SCHEMA.into(), error_schema());
        let mut info = json!({"title": self.title, "version": self.version});
        if let Some(description) = &self.description {
            info["description"] = json!(description);
        }
        let mut doc = json!({
            "openapi": "3.1.0",
            "jsonSchemaDialect": crate::schema::SCHEMA_DIALECT,
            "info": info,
            "paths": paths,
            "components": {"schemas": components.schemas},
        });
        if !self.servers.is_empty() {
            doc["servers"] = self.servers.iter().map(|url| json!({"url": url})).collect();
        }
        doc
    }
}

/// `/users/:id` as `/users/{id}`, and the parameters' names.
fn openapi_path(path: &str) -> (String, Vec<String>) {
    let mut names = Vec::new();
    let segments: Vec<String> = path
        .split('/')
        .map(|segment| match segment.strip_prefix(':') {
            Some(name) => {
                names.push(name.to_string());
                format!("{{{name}}}")
            }
            None => segment.to_string(),
        })
        .collect();
    (segments.join("/"), names)
}

fn operation(
    route: &Route,
    operation_id: String,
    path_params: &[String],
    components: &mut Components,
) -> Value {
    let mut op = Map::new();
    op.insert("operationId".into(), json!(operation_id));
    let mut description = route.description.clone().unwrap_or_default();
    if let Some(summary) = description.lines().next().filter(|l| !l.trim().is_empty()) {
        op.insert("summary".into(), json!(summary.trim()));
    }
    if !route.middleware.is_empty() {
        let list: Vec<String> = route.middleware.iter().map(|m| format!("`{m}`")).collect();
        push_paragraph(
            &mut description,
            &format!("Middleware {} runs first.", list.join(", ")),
        );
    }
    if let Some(condition) = &route.condition {
        push_paragraph(
            &mut description,
            &format!("Runs only when the condition `{condition}` allows the request."),
        );
    }
    if !description.is_empty() {
        op.insert("description".into(), json!(description));
    }
    if !path_params.is_empty() {
        let params: Vec<Value> = path_params
            .iter()
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        op.insert("parameters".into(), Value::Array(params));
    }
    let request_body = route
        .request_format
        .as_ref()
        .and_then(|format| {
            field_of(format, "body", &["path_params", "query_params"]).map(|b| (format, b))
        })
        .filter(|(_, body)| says_something(body))
        .map(|(format, body)| components.adopt(format, &body));
    if let Some(schema) = &request_body {
        op.insert(
            "requestBody".into(),
            json!({"required": true, "content": {"application/json": {"schema": schema}}}),
        );
    }
    let ok = match &route.response_format {
        Some(format) => {
            let body = field_of(format, "body", &["status_code"]).unwrap_or_else(|| format.clone());
            match says_something(&body) {
                true => {
                    json!({"description": ANSWERED, "content": {"application/json": {"schema": components.adopt(format, &body)}}})
                }
                false => json!({"description": ANSWERED}),
            }
        }
        None => json!({"description": ANSWERED}),
    };
    let error = |what: &str| json!({"description": what, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{ERROR_SCHEMA}")}}}});
    let mut responses = Map::new();
    responses.insert("200".into(), ok);
    if request_body.is_some() || !path_params.is_empty() {
        responses.insert(
            "400".into(),
            error("The input did not decode; the message names the field."),
        );
    }
    responses.insert(
        "500".into(),
        error("The handler failed; `error_id` names the worker's log line."),
    );
    op.insert("responses".into(), Value::Object(responses));
    op.insert("x-iii-function".into(), json!(route.function_id));
    if let Some(condition) = &route.condition {
        op.insert("x-iii-condition".into(), json!(condition));
    }
    if !route.middleware.is_empty() {
        op.insert("x-iii-middleware".into(), json!(route.middleware));
    }
    Value::Object(op)
}

fn push_paragraph(text: &mut String, paragraph: &str) {
    if !text.is_empty() {
        text.push_str("\n\n");
    }
    text.push_str(paragraph);
}

/// The schema of `field` of the object schema `format`, when `format`
/// also has every one of `beside` (the shape of `ApiRequest` or
/// `ApiResponse`), without the field's description (the SDK's words on
/// its own type, not the API's).
fn field_of(format: &Value, field: &str, beside: &[&str]) -> Option<Value> {
    let properties = format.get("properties")?;
    if beside.iter().any(|key| properties.get(key).is_none()) {
        return None;
    }
    let mut schema = properties.get(field)?.clone();
    if let Value::Object(map) = &mut schema {
        map.remove("description");
    }
    Some(schema)
}

/// False for the schemas of "anything" and of "null".
fn says_something(schema: &Value) -> bool {
    match schema {
        Value::Bool(b) => !b,
        Value::Object(map) => {
            let mut keys = map
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "description" | "title" | "default"));
            match (keys.next(), keys.next()) {
                (None, _) => false,
                (Some((k, v)), None) => !(k == "type" && v == "null"),
                _ => true,
            }
        }
        _ => true,
    }
}

/// `{"error": {"code", "message", "error_id"?}}`.
fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "A stable code, such as `not_found` or `deserialization_error`."},
                "message": {"type": "string"},
                "error_id": {"type": "string", "description": "For a 500: where the worker's log has the reason."}
            }
        }}
    })
}

/// The document's `components.schemas`, filled from each format's
/// `$defs`.
#[derive(Default)]
struct Components {
    schemas: Map<String, Value>,
}

impl Components {
    /// `schema` (a part of `format`) as it goes into the document: every
    /// definition of `format` it may refer to becomes a component (one per
    /// name and shape; a name taken by another shape gets `_2`, `_3`, ...)
    /// with its references rewritten, and a schema of a named type is
    /// itself a component, referenced.
    fn adopt(&mut self, format: &Value, schema: &Value) -> Value {
        let mut renames = BTreeMap::new();
        if let Some(Value::Object(defs)) = format.get("$defs") {
            for (name, def) in defs {
                let mut def = def.clone();
                rewrite_refs(&mut def, &BTreeMap::new());
                renames.insert(name.clone(), self.insert(name, def));
            }
            // A second pass, now that every name is known.
            for (name, final_name) in &renames {
                if let Some(Value::Object(_)) = defs.get(name) {
                    let mut def = defs[name].clone();
                    rewrite_refs(&mut def, &renames);
                    self.schemas.insert(final_name.clone(), def);
                }
            }
        }
        let mut schema = schema.clone();
        if let Value::Object(map) = &mut schema {
            map.remove("$schema");
            map.remove("$defs");
        }
        rewrite_refs(&mut schema, &renames);
        let title = schema
            .get("title")
            .and_then(Value::as_str)
            .map(str::to_string);
        match title.filter(|t| component_name(t)) {
            Some(title) if schema.get("type").is_some() || schema.get("oneOf").is_some() => {
                let name = self.insert(&title, schema);
                json!({"$ref": format!("#/components/schemas/{name}")})
            }
            _ => schema,
        }
    }

    /// Stores `schema` under `name`, or the first free `name_N` if another
    /// shape has it; the name used.
    fn insert(&mut self, name: &str, schema: Value) -> String {
        let mut candidate = name.to_string();
        let mut n = 1;
        loop {
            match self.schemas.get(&candidate) {
                None => {
                    self.schemas.insert(candidate.clone(), schema);
                    return candidate;
                }
                Some(existing) if same_shape(existing, &schema) => return candidate,
                Some(_) => {
                    n += 1;
                    candidate = format!("{name}_{n}");
                }
            }
        }
    }
}

/// Equal, once references are written either way (the first pass of
/// [`Components::adopt`] stores definitions before their names are final).
fn same_shape(a: &Value, b: &Value) -> bool {
    let mut a = a.clone();
    let mut b = b.clone();
    rewrite_refs(&mut a, &BTreeMap::new());
    rewrite_refs(&mut b, &BTreeMap::new());
    a == b
}

/// A name OpenAPI takes as a component key.
fn component_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// Points every `#/$defs/X` (and `#/components/schemas/X`) reference at
/// `#/components/schemas/<renamed X>`.
fn rewrite_refs(schema: &mut Value, renames: &BTreeMap<String, String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get_mut("$ref") {
                let name = target
                    .strip_prefix("#/$defs/")
                    .or_else(|| target.strip_prefix("#/components/schemas/"))
                    .map(str::to_string);
                if let Some(name) = name {
                    let name = renames.get(&name).cloned().unwrap_or(name);
                    *target = format!("#/components/schemas/{name}");
                }
            }
            map.values_mut().for_each(|v| rewrite_refs(v, renames));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_refs(v, renames)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str, id: &str) -> Route {
        Route {
            method: method.into(),
            path: path.into(),
            function_id: id.into(),
            description: None,
            request_format: None,
            response_format: None,
            condition: None,
            middleware: Vec::new(),
        }
    }

    #[test]
    fn paths_take_braces_and_list_their_parameters() {
        assert_eq!(
            openapi_path("/users/:id/posts/:post"),
            (
                "/users/{id}/posts/{post}".to_string(),
                vec!["id".to_string(), "post".to_string()]
            )
        );
        assert_eq!(openapi_path("/health"), ("/health".to_string(), vec![]));
    }

    #[test]
    fn one_function_on_two_routes_keeps_operation_ids_unique() {
        let doc =
            OpenApi::new("t", "1").build(vec![route("GET", "/a", "f"), route("POST", "/a", "f")]);
        assert_eq!(doc["paths"]["/a"]["get"]["operationId"], "f");
        assert_eq!(doc["paths"]["/a"]["post"]["operationId"], "f#2");
    }

    #[test]
    fn a_name_taken_by_another_shape_gets_a_suffix_and_references_follow() {
        let mut c = Components::default();
        let one = json!({"$defs": {"Item": {"type": "string"}}, "type": "array", "items": {"$ref": "#/$defs/Item"}});
        let two = json!({"$defs": {"Item": {"type": "integer"}}, "type": "array", "items": {"$ref": "#/$defs/Item"}});
        let a = c.adopt(&one, &one);
        let b = c.adopt(&two, &two);
        assert_eq!(a["items"]["$ref"], "#/components/schemas/Item");
        assert_eq!(b["items"]["$ref"], "#/components/schemas/Item_2");
        assert_eq!(c.schemas["Item_2"], json!({"type": "integer"}));
        // The same shape again is the same component.
        let again = c.adopt(&one, &one);
        assert_eq!(again, a);
        assert_eq!(c.schemas.len(), 2);
    }

    #[test]
    fn middleware_and_conditions_are_noted() {
        let mut r = route("POST", "/orders", "orders::place");
        r.description = Some("Places an order.".into());
        r.condition = Some("orders::is_big".into());
        r.middleware = vec!["auth::check".into()];
        let doc = OpenApi::new("t", "1").build(vec![r]);
        let op = &doc["paths"]["/orders"]["post"];
        assert_eq!(op["summary"], "Places an order.");
        assert_eq!(op["x-iii-condition"], "orders::is_big");
        assert_eq!(op["x-iii-middleware"], json!(["auth::check"]));
        let text = op["description"].as_str().unwrap_or_default();
        assert!(
            text.contains("`auth::check`") && text.contains("`orders::is_big`"),
            "{text}"
        );
    }
}
