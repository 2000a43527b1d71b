//! Binding ids that replicas of a worker agree on.
//!
//! The engine keys a binding by its id, and its cron worker takes each
//! tick's lock under that id: replicas of one worker on several engines
//! sharing one Redis fire a cron job once per tick only if their bindings
//! have the same id. A binding to one of the worker's own functions (every
//! `#[iii::trigger]`) therefore gets an id derived from what it binds; the
//! same program derives the same ids on every replica.

use iii_protocol::RegisterTrigger;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
use sha1::{Digest, Sha1};
use uuid::Uuid;

/// The name space of derived binding ids (a version-5 UUID's namespace).
const NAMESPACE: Uuid = Uuid::from_u128(0x1decc99a_5608_4467_a914_de07bbec1d82);

/// A version-5 UUID from everything that makes the binding what it is:
/// its target (for a worker's own function, the alias
/// `<id>:trigger:<index>`, so two bindings of one function differ), its
/// type, config, metadata and namespaces. Not the worker's name, which
/// differs between replicas.
pub(crate) fn derived(binding: &RegisterTrigger) -> String {
    let name = (
        "iii.binding.v1",
        &binding.namespace,
        &binding.trigger_namespace,
        &binding.trigger_type,
        &binding.function_id,
        Sorted(&binding.config),
        binding.metadata.as_ref().map(Sorted),
    );
    let mut hasher = Sha1::new();
    hasher.update(NAMESPACE.as_bytes());
    // Written straight into the hash: no copy of the config, no text.
    // Serialising these types to a `Write` cannot fail.
    let _ = serde_json::to_writer(Hashing(&mut hasher), &name);
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// A JSON value serialised with every object's keys in order, whatever
/// serde_json's features (`preserve_order` keeps them as inserted), so
/// that every build of a program derives the same ids.
struct Sorted<'a>(&'a Value);

impl Serialize for Sorted<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                let mut out = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    out.serialize_entry(key, &Sorted(value))?;
                }
                out.end()
            }
            Value::Array(items) => serializer.collect_seq(items.iter().map(Sorted)),
            other => other.serialize(serializer),
        }
    }
}

/// Feeds what is written to a SHA-1.
struct Hashing<'a>(&'a mut Sha1);

impl std::io::Write for Hashing<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cron(function_id: &str, expression: &str) -> RegisterTrigger {
        RegisterTrigger {
            id: String::new(),
            trigger_type: "cron".into(),
            function_id: function_id.into(),
            config: json!({"expression": expression}),
            metadata: None,
            namespace: None,
            trigger_namespace: None,
        }
    }

    #[test]
    fn the_same_binding_gets_the_same_id_and_any_difference_another() {
        let id = derived(&cron("reports::daily:trigger:0", "0 0 3 * * *"));
        // Pinned: a change here splits replicas running two versions of
        // the SDK, so it takes a new "iii.binding.vN".
        assert_eq!(id, "fa777af6-52b9-507f-b2aa-ac5b8d3f9792");
        assert_eq!(Uuid::parse_str(&id).map(|u| u.get_version_num()), Ok(5));
        let others = [
            cron("reports::daily:trigger:1", "0 0 3 * * *"),
            cron("reports::daily:trigger:0", "0 0 4 * * *"),
            RegisterTrigger {
                namespace: Some("billing".into()),
                ..cron("reports::daily:trigger:0", "0 0 3 * * *")
            },
            RegisterTrigger {
                metadata: Some(json!({"team": "a"})),
                ..cron("reports::daily:trigger:0", "0 0 3 * * *")
            },
        ];
        for other in others {
            assert_ne!(derived(&other), id, "{other:?}");
        }
    }

    #[test]
    fn key_order_does_not_matter() {
        let mut a = cron("f:trigger:0", "* * * * * *");
        a.config = serde_json::from_str(r#"{"b":1,"a":{"y":2,"x":3}}"#).expect("json");
        let mut b = a.clone();
        b.config = serde_json::from_str(r#"{"a":{"x":3,"y":2},"b":1}"#).expect("json");
        assert_eq!(derived(&a), derived(&b));
    }

    /// The id is the hash of the binding as sorted JSON text, as SDK
    /// versions before it was streamed into the hash computed it: any
    /// other text splits replicas running two versions.
    #[test]
    fn the_id_hashes_the_binding_as_sorted_json_text() {
        let text_hash = |b: &RegisterTrigger| {
            let mut name = json!([
                "iii.binding.v1",
                b.namespace,
                b.trigger_namespace,
                b.trigger_type,
                b.function_id,
                b.config,
                b.metadata,
            ]);
            name.sort_all_objects();
            let mut hasher = Sha1::new();
            hasher.update(NAMESPACE.as_bytes());
            hasher.update(name.to_string().as_bytes());
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(&hasher.finalize()[..16]);
            uuid::Builder::from_sha1_bytes(bytes)
                .into_uuid()
                .to_string()
        };
        let mut nested = cron("f:trigger:3", "0 * * * * *");
        nested.config = serde_json::from_str(
            r#"{"z":[{"b":"\u00e9\"x","a":[1.5,-2,null,true]},{}],"api_path":"/a/:b","m":{"y":{},"x":[]}}"#,
        )
        .expect("json");
        nested.metadata = Some(json!({"team": "a", "labels": {"z": 1, "a": [2]}}));
        nested.namespace = Some("billing".into());
        nested.trigger_namespace = Some("ops".into());
        for binding in [cron("reports::daily:trigger:0", "0 0 3 * * *"), nested] {
            assert_eq!(derived(&binding), text_hash(&binding), "{binding:?}");
        }
    }
}
