//! JSON-schema request and response formats, from schemars.

use schemars::generate::{Contract, SchemaSettings};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::Value;

/// The JSON Schema dialect of every format this SDK generates.
pub const SCHEMA_DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// The request format of `T`: what it accepts when deserialised.
pub fn request_format<T: JsonSchema + ?Sized>() -> Option<Value> {
    format_with(
        Contract::Deserialize,
        SchemaGenerator::into_root_schema_for::<T>,
    )
}

/// The response format of `T`: what it produces when serialised.
pub fn response_format<T: JsonSchema + ?Sized>() -> Option<Value> {
    format_with(
        Contract::Serialize,
        SchemaGenerator::into_root_schema_for::<T>,
    )
}

/// The request (deserialize-contract) format of `T`, or `None` when `T`
/// says nothing about its shape.
///
/// `()` (which is `null`) and `serde_json::Value` (which is anything) carry no
/// information, so functions taking or returning them register no format.
///
/// ```
/// #[derive(schemars::JsonSchema)]
/// struct Greet { name: String }
///
/// let format = iii::schema::format_of::<Greet>().expect("a struct has a schema");
/// assert_eq!(format["$schema"], iii::schema::SCHEMA_DIALECT);
/// assert_eq!(format["properties"]["name"]["type"], "string");
/// assert!(iii::schema::format_of::<()>().is_none());
/// assert!(iii::schema::format_of::<serde_json::Value>().is_none());
/// ```
pub fn format_of<T: JsonSchema + ?Sized>() -> Option<Value> {
    request_format::<T>()
}

// Only schemars' own call is generic: the settings, the generator and the
// check are compiled once, not once per type. The generator is used once,
// and given away: schemars' `root_schema_for`, which borrows it, also
// copies the definitions it keeps (48 more lines of LLVM IR a type).
fn format_with(contract: Contract, root: fn(SchemaGenerator) -> Schema) -> Option<Value> {
    let mut settings = SchemaSettings::draft2020_12();
    settings.contract = contract;
    let value = root(settings.into_generator()).to_value();
    if says_nothing(&value) {
        return None;
    }
    Some(value)
}

/// True for the schemas of "anything" and of "null".
fn says_nothing(schema: &Value) -> bool {
    let Value::Object(map) = schema else {
        return schema == &Value::Bool(true);
    };
    let mut significant = map
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "$schema" | "title" | "description" | "$defs"));
    match (significant.next(), significant.next()) {
        (None, _) => true,
        (Some((k, v)), None) => k == "type" && v == "null",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    struct Nested {
        tags: Vec<String>,
        age: Option<u32>,
    }

    #[test]
    fn structs_get_a_2020_12_schema() {
        let f = format_of::<Nested>().expect("schema");
        assert_eq!(f["$schema"], SCHEMA_DIALECT);
        assert_eq!(f["type"], "object");
        assert_eq!(f["required"], serde_json::json!(["tags"]));
    }

    #[derive(JsonSchema, serde::Serialize, serde::Deserialize)]
    #[allow(dead_code)]
    struct WithDefault {
        #[serde(default)]
        retries: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    }

    #[test]
    fn request_and_response_follow_their_serde_contracts() {
        // Deserialising tolerates a missing `retries` (it has a default)...
        let request = request_format::<WithDefault>().expect("schema");
        assert!(
            !request["required"]
                .as_array()
                .is_some_and(|r| r.contains(&"retries".into())),
            "{request}"
        );
        // ...but serialising always writes it.
        let response = response_format::<WithDefault>().expect("schema");
        assert!(
            response["required"]
                .as_array()
                .is_some_and(|r| r.contains(&"retries".into())),
            "{response}"
        );
    }

    #[test]
    fn unit_and_value_have_no_format_but_primitives_do() {
        assert_eq!(format_of::<()>(), None);
        assert_eq!(format_of::<Value>(), None);
        assert_eq!(format_of::<String>().expect("schema")["type"], "string");
        assert_eq!(
            format_of::<Option<String>>().expect("schema")["type"],
            serde_json::json!(["string", "null"])
        );
    }
}
