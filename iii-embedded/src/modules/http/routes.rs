//! The routes `http` bindings make: the checks a binding passes, a route
//! registered again taking over the old one (or conflicting with one of
//! the same shape), and matching a request to a route.

use std::collections::BTreeMap;

use iii_protocol::RegisterTrigger;
use serde_json::Value;

use crate::core::config_text;
use crate::url::percent_decode;

/// Checks an `http` binding as the engine's http module does: a path, and
/// a method it knows.
pub(super) fn check(binding: &RegisterTrigger) -> Result<(), String> {
    if config_text(binding, "api_path").is_none() {
        return Err("api_path is required for http triggers".into());
    }
    let method = config_text(binding, "http_method")
        .unwrap_or("GET")
        .to_ascii_uppercase();
    if !iii_protocol::rules::HTTP_METHODS.contains(&method.as_str()) {
        return Err(format!("unsupported http_method {method}"));
    }
    Ok(())
}

/// The live routes a new binding takes over (the same method and path:
/// the newest serves), or its conflict with one of the same shape but
/// other parameter names. The core hands over only the live routes of the
/// binding's [`shape`]; others are passed over here too.
pub(super) fn supersede(
    binding: &RegisterTrigger,
    live: &[(&str, &RegisterTrigger)],
) -> Result<Vec<String>, String> {
    let (Some(route), Some(key)) = (Route::of(binding), shape(binding)) else {
        return Ok(Vec::new());
    };
    let mut taken = Vec::new();
    for (id, other) in live {
        let Some(existing) = Route::of(other) else {
            continue;
        };
        if shape(other).as_ref() != Some(&key) {
            continue;
        }
        if existing.trimmed == route.trimmed {
            taken.push(id.to_string());
        } else {
            return Err(format!(
                "Route '{} {}' conflicts with already-registered route '{} {}': routes with identical structure but different path-parameter names are not supported",
                route.method.to_ascii_uppercase(),
                route.path,
                existing.method.to_ascii_uppercase(),
                existing.path
            ));
        }
    }
    Ok(taken)
}

/// The key of the routes a binding can take over or conflict with: its
/// method, uppercase, and its path without the leading `/` and with every
/// `:param` alike.
pub(super) fn shape(binding: &RegisterTrigger) -> Option<String> {
    let route = Route::of(binding)?;
    let mut key = route.method.to_ascii_uppercase();
    key.push(' ');
    for (n, segment) in route.trimmed.split('/').enumerate() {
        if n > 0 {
            key.push('/');
        }
        key.push_str(if segment.starts_with(':') {
            ":"
        } else {
            segment
        });
    }
    Some(key)
}

/// An `http` binding's route as the engine keys it: the method (compared
/// without case) and the path without its leading `/`.
struct Route<'a> {
    method: &'a str,
    trimmed: &'a str,
    path: &'a str,
}

impl<'a> Route<'a> {
    fn of(t: &'a RegisterTrigger) -> Option<Route<'a>> {
        let text = |key: &str| t.config.get(key).and_then(Value::as_str);
        let path = text("api_path")?;
        let method = text("http_method").unwrap_or("GET");
        let trimmed = match path.strip_prefix('/') {
            Some("") | None => path,
            Some(rest) => rest,
        };
        Some(Route {
            method,
            trimmed,
            path,
        })
    }
}

/// The first binding whose method and pattern match, with its path params.
pub(super) fn find_route(
    bindings: &[RegisterTrigger],
    method: &str,
    path: &str,
) -> Option<(RegisterTrigger, BTreeMap<String, String>)> {
    let requested: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    for binding in bindings {
        let want = binding
            .config
            .get("http_method")
            .and_then(Value::as_str)
            .unwrap_or("GET");
        if !want.eq_ignore_ascii_case(method) {
            continue;
        }
        let pattern = binding
            .config
            .get("api_path")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let segments: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
        if segments.len() != requested.len() {
            continue;
        }
        let mut params = BTreeMap::new();
        let matched =
            segments
                .iter()
                .zip(&requested)
                .all(|(want, got)| match want.strip_prefix(':') {
                    Some(name) => {
                        params.insert(name.to_string(), percent_decode(got));
                        true
                    }
                    None => want == got,
                });
        if matched {
            return Some((binding.clone(), params));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn binding(method: &str, path: &str) -> RegisterTrigger {
        RegisterTrigger {
            id: format!("{method} {path}"),
            trigger_type: "http".into(),
            function_id: "f".into(),
            config: json!({"api_path": path, "http_method": method}),
            metadata: None,
            namespace: None,
            trigger_namespace: None,
        }
    }

    #[test]
    fn routes_match_method_segments_and_params() {
        let routes = [binding("GET", "/hello/:name"), binding("post", "echo")];
        let (b, params) = find_route(&routes, "GET", "/hello/w%C3%B6rld").expect("route");
        assert_eq!(b.id, "GET /hello/:name");
        assert_eq!(params["name"], "wörld");
        assert!(
            find_route(&routes, "POST", "/echo").is_some(),
            "leading slash optional"
        );
        assert!(find_route(&routes, "GET", "/echo").is_none());
        assert!(find_route(&routes, "GET", "/hello").is_none());
    }

    #[test]
    fn a_route_again_takes_over_and_one_of_its_shape_conflicts() {
        let old = binding("GET", "/users/:id");
        let live = [(old.id.as_str(), &old)];
        let again = binding("get", "users/:id");
        assert_eq!(supersede(&again, &live), Ok(vec![old.id.clone()]));
        let renamed = binding("GET", "/users/:name");
        let conflict = supersede(&renamed, &live).expect_err("same shape");
        assert!(
            conflict.starts_with(
                "Route 'GET /users/:name' conflicts with already-registered route 'GET /users/:id'"
            ),
            "{conflict}"
        );
        assert_eq!(
            supersede(&binding("POST", "/users/:name"), &live),
            Ok(vec![])
        );
    }

    #[test]
    fn routes_that_can_clash_share_a_shape_key_and_no_others_do() {
        let key = |m, p| shape(&binding(m, p)).expect("a route");
        assert_eq!(key("get", "/users/:id"), key("GET", "users/:name"));
        assert_eq!(key("GET", "/users/:id"), "GET users/:");
        assert_ne!(key("GET", "/users/:id"), key("POST", "/users/:id"));
        assert_ne!(key("GET", "/users/:id"), key("GET", "/users/me"));
        assert_ne!(key("GET", "/users/:id"), key("GET", "/users/:id/posts"));
        assert_eq!(
            shape(&RegisterTrigger {
                config: json!({}),
                ..binding("GET", "/")
            }),
            None
        );
    }

    #[test]
    fn a_binding_needs_a_path_and_a_known_method() {
        assert!(check(&binding("GET", "/a")).is_ok());
        assert!(check(&binding("GET", "  ")).is_err());
        assert_eq!(
            check(&binding("brew", "/a")),
            Err("unsupported http_method BREW".into())
        );
    }
}
