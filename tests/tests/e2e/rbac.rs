//! A worker socket with RBAC, on the real engine (iii-embedded serves
//! none; its crate docs say so): a worker on the first socket serves the
//! auth function, the registration hooks and the middleware with the
//! SDK's typed inputs and outputs, and workers dialling the RBAC socket
//! are let in, refused with the reason, or told why they wait.
//!
//! The function ids are fixed by the engine's configuration
//! (tests/engine/engine.yaml), so the scenarios run in one test.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use iii::rbac::{AuthRequest, AuthResult, FunctionRegistration, MiddlewareCall};
use iii::{Error, Function, Worker};
use iii_tests::{engine, eventually, unique};
use serde_json::{Value, json};

#[derive(Default)]
struct Seen {
    auth: Vec<AuthRequest>,
    functions: Vec<FunctionRegistration>,
    calls: Vec<MiddlewareCall>,
}

/// Serves the RBAC functions on `trusted`; each connection's `x-test`
/// header says what the auth function does: `allow`, `deny`, or `hang`.
async fn serve_rbac(trusted: &Worker, seen: Arc<Mutex<Seen>>) {
    let record = seen.clone();
    let auth = Function::new("test::rbac::auth", move |req: AuthRequest| {
        let record = record.clone();
        async move {
            let verdict = req.headers.get("x-test").cloned().unwrap_or_default();
            record.lock().expect("lock").auth.push(req);
            match verdict.as_str() {
                "allow" => Ok(AuthResult {
                    context: json!({"user": "ada"}),
                    ..AuthResult::default()
                }),
                "hang" => std::future::pending().await,
                _ => Err(Error::new("denied", "denied by the test's auth function")),
            }
        }
    });
    let record = seen.clone();
    let on_function = Function::new(
        "test::rbac::on-function-reg",
        move |reg: FunctionRegistration| {
            let record = record.clone();
            async move {
                record.lock().expect("lock").functions.push(reg.clone());
                Ok::<_, Error>(reg)
            }
        },
    );
    let record = seen.clone();
    let forwarder = trusted.clone();
    let middleware = Function::new("test::rbac::middleware", move |call: MiddlewareCall| {
        let (record, forwarder) = (record.clone(), forwarder.clone());
        async move {
            record.lock().expect("lock").calls.push(call.clone());
            forwarder
                .call::<Value, _>(&call.function_id, &call.payload)
                .await
        }
    });
    let pass = |id: &str| Function::new(id, |v: Value| async move { Ok::<_, Error>(v) });
    for f in [
        auth,
        on_function,
        middleware,
        pass("test::rbac::on-trigger-reg"),
        pass("test::rbac::on-trigger-type-reg"),
        Function::new("test::public::echo", |v: Value| async move {
            Ok::<_, Error>(json!({ "echo": v }))
        }),
        pass("test::private::secret"),
    ] {
        trusted.register_function(f).expect("register");
    }
    trusted.flush().await.expect("flush");
}

#[tokio::test]
async fn an_rbac_socket_lets_in_refuses_and_explains_with_typed_functions() {
    let Ok(rbac_url) = std::env::var("III_RBAC_URL") else {
        eprintln!("skipped: no III_RBAC_URL (iii-embedded serves no RBAC socket)");
        return;
    };
    let engine = engine().await;
    let trusted = engine.connect("rbac-trusted").await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    serve_rbac(&trusted, seen.clone()).await;
    let dial = |verdict: &str| {
        Worker::builder()
            .url(&rbac_url)
            .name(unique(&format!("rbac-{verdict}")))
            .header("x-test", verdict)
            .default_timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(3))
    };

    // Refused: `connect` fails with the auth function's reason.
    let refused = dial("deny").connect().await.expect_err("refused");
    let text = refused.to_string();
    assert!(text.contains("AUTH_ERROR"), "{text}");
    assert!(
        text.contains("denied by the test's auth function"),
        "{text}"
    );

    // Never answered: `connect` gives up at its timeout, saying why.
    let waited = dial("hang").connect().await.expect_err("never welcomed");
    assert!(waited.to_string().contains("auth function"), "{waited}");

    // Let in: the auth function saw the upgrade request.
    let inside = dial("allow").connect().await.expect("let in");
    let request = seen
        .lock()
        .expect("lock")
        .auth
        .last()
        .cloned()
        .expect("auth called");
    assert_eq!(
        request.headers.get("x-test").map(String::as_str),
        Some("allow")
    );
    assert!(!request.ip_address.is_empty(), "{request:?}");

    // Its registration went through the hook, with the auth's context, and
    // workers on the first socket can call it.
    inside
        .register_function(Function::new(
            "test::public::from_rbac",
            |v: Value| async move { Ok::<_, Error>(v) },
        ))
        .expect("register");
    inside.flush().await.expect("flush");
    let reg = eventually(
        Duration::from_secs(5),
        "the function hook called",
        || async {
            let seen = seen.lock().expect("lock");
            seen.functions
                .iter()
                .find(|r| r.function_id == "test::public::from_rbac")
                .cloned()
        },
    )
    .await;
    assert_eq!(reg.context["user"], "ada");
    let back: Value = eventually(Duration::from_secs(5), "the function callable", || async {
        trusted
            .call::<Value, _>("test::public::from_rbac", &json!({"k": 1}))
            .await
            .ok()
    })
    .await;
    assert_eq!(back, json!({"k": 1}));

    // Its calls go to the middleware, with its context; what is not
    // exposed is refused by the engine first.
    let echoed: Value = inside
        .call("test::public::echo", &json!({"x": 1}))
        .await
        .expect("through the middleware");
    assert_eq!(echoed["echo"]["x"], 1, "{echoed}");
    let call = seen
        .lock()
        .expect("lock")
        .calls
        .last()
        .cloned()
        .expect("middleware called");
    assert_eq!(
        (call.function_id.as_str(), call.context["user"].as_str()),
        ("test::public::echo", Some("ada"))
    );
    let forbidden = inside
        .call::<Value, _>("test::private::secret", &json!({}))
        .await
        .expect_err("not exposed");
    assert_eq!(forbidden.code(), "FORBIDDEN", "{forbidden}");
    inside.shutdown().await;
}
