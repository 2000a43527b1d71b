//! Snapshots of the request and response formats the SDK sends: a change in
//! schemars or in our settings shows up here as a diff of the JSON.

use iii::schema::{SCHEMA_DIALECT, request_format, response_format};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Deserialize, Serialize, schemars::JsonSchema)]
#[allow(dead_code)]
struct Address {
    city: String,
    zip: Option<String>,
}

/// A customer.
#[derive(Deserialize, Serialize, schemars::JsonSchema)]
#[allow(dead_code)]
struct Customer {
    /// Their name.
    name: String,
    age: u8,
    #[serde(default)]
    vip: bool,
    address: Address,
    tags: Vec<String>,
}

#[derive(Deserialize, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[allow(dead_code)]
enum Event {
    Created { id: u64 },
    Deleted,
}

#[derive(Deserialize, Serialize, schemars::JsonSchema)]
#[allow(dead_code)]
enum Plain {
    A,
    B,
}

#[test]
fn a_nested_struct() {
    assert_eq!(
        request_format::<Customer>().expect("schema"),
        json!({
            "$schema": SCHEMA_DIALECT,
            "title": "Customer",
            "description": "A customer.",
            "type": "object",
            "properties": {
                "name": {"description": "Their name.", "type": "string"},
                "age": {"type": "integer", "format": "uint8", "minimum": 0, "maximum": 255},
                "vip": {"type": "boolean", "default": false},
                "address": {"$ref": "#/$defs/Address"},
                "tags": {"type": "array", "items": {"type": "string"}}
            },
            "required": ["name", "age", "address", "tags"],
            "$defs": {
                "Address": {
                    "type": "object",
                    "properties": {
                        "city": {"type": "string"},
                        "zip": {"type": ["string", "null"]}
                    },
                    "required": ["city"]
                }
            }
        })
    );
}

#[test]
fn the_response_contract_requires_defaulted_fields() {
    let response = response_format::<Customer>().expect("schema");
    assert_eq!(
        response["required"],
        json!(["name", "age", "vip", "address", "tags"])
    );
}

#[test]
fn enums_internally_tagged_and_plain() {
    assert_eq!(
        request_format::<Event>().expect("schema"),
        json!({
            "$schema": SCHEMA_DIALECT,
            "title": "Event",
            "oneOf": [
                {
                    "type": "object",
                    "properties": {"kind": {"type": "string", "const": "created"}, "id": {"type": "integer", "format": "uint64", "minimum": 0}},
                    "required": ["kind", "id"]
                },
                {
                    "type": "object",
                    "properties": {"kind": {"type": "string", "const": "deleted"}},
                    "required": ["kind"]
                }
            ]
        })
    );
    assert_eq!(
        request_format::<Plain>().expect("schema"),
        json!({"$schema": SCHEMA_DIALECT, "title": "Plain", "type": "string", "enum": ["A", "B"]})
    );
}

#[test]
fn options_and_the_special_cases() {
    assert_eq!(
        request_format::<Option<u32>>().expect("schema"),
        json!({"$schema": SCHEMA_DIALECT, "title": "Nullable_uint32", "type": ["integer", "null"], "format": "uint32", "minimum": 0})
    );
    assert_eq!(request_format::<()>(), None, "`()` sends no format");
    assert_eq!(
        request_format::<serde_json::Value>(),
        None,
        "`Value` sends no format"
    );
    assert_eq!(response_format::<()>(), None);
}
