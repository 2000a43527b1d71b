//! `WorkerBuilder`'s settings, the environment it reads, and `connect`'s
//! refusals.

use super::*;

#[tokio::test]
async fn bad_settings_fail_before_any_network_io() {
    let e = Worker::builder()
        .url("localhost:49134")
        .connect()
        .await
        .expect_err("url");
    assert!(matches!(e, Error::InvalidUrl { .. }), "{e}");
    let e = Worker::builder()
        .namespace("  ")
        .connect()
        .await
        .expect_err("ns");
    assert!(e.to_string().contains("namespace"), "{e}");
    let e = Worker::builder()
        .header("bad header", "x")
        .connect()
        .await
        .expect_err("header");
    assert!(e.to_string().contains("`bad header`"), "{e}");
    let e = Worker::builder()
        .name("")
        .connect()
        .await
        .expect_err("name");
    assert!(e.to_string().contains("III_WORKER_NAME"), "{e}");
}

#[test]
fn the_environment_names_the_engine_and_its_credentials() {
    let vars: std::collections::HashMap<&str, &str> = [
        ("III_URL", "ws://engine:1"),
        ("III_WORKER_NAME", "billing"),
        ("III_AUTH_TOKEN", " s3cret "),
        ("III_HEADERS", "x-team: payments\n\nx-zone:eu"),
    ]
    .into();
    let mut b = Worker::builder().env_from(|k| vars.get(k).map(|v| v.to_string()));
    b.config.apply_env_token();
    assert_eq!(b.config.url, "ws://engine:1");
    assert_eq!(b.config.name, "billing");
    assert_eq!(
        b.config.headers,
        [
            ("x-team".to_string(), "payments".to_string()),
            ("x-zone".to_string(), "eu".to_string()),
            ("authorization".to_string(), "Bearer s3cret".to_string()),
        ]
    );
}

/// `III_TOKEN`, as the official SDKs spell it, works as
/// `III_AUTH_TOKEN` does; an `authorization` header given otherwise
/// wins over either, and two different tokens are refused unquoted.
#[test]
fn iii_token_is_read_and_an_explicit_authorization_wins() {
    let headers = |vars: &[(&str, &str)], explicit: Option<(&str, &str)>| {
        let vars: std::collections::HashMap<&str, &str> = vars.iter().copied().collect();
        let mut b = Worker::builder().env_from(|k| vars.get(k).map(|v| v.to_string()));
        if let Some((name, value)) = explicit {
            b = b.header(name, value);
        }
        b.config.apply_env_token();
        (b.config.headers, b.env_error.map(|e| e.to_string()))
    };
    let bearer = |t: &str| vec![("authorization".to_string(), format!("Bearer {t}"))];
    assert_eq!(
        headers(&[("III_TOKEN", "abc")], None),
        (bearer("abc"), None)
    );
    assert_eq!(
        headers(&[("III_TOKEN", "abc"), ("III_AUTH_TOKEN", "abc")], None),
        (bearer("abc"), None)
    );
    let explicit = headers(
        &[("III_TOKEN", "abc")],
        Some(("Authorization", "Basic eA==")),
    );
    assert_eq!(
        explicit.0,
        [("Authorization".to_string(), "Basic eA==".to_string())]
    );
    let from_env = headers(
        &[
            ("III_TOKEN", "abc"),
            ("III_HEADERS", "AUTHORIZATION: Bearer xyz"),
        ],
        None,
    );
    assert_eq!(
        from_env.0,
        [("AUTHORIZATION".to_string(), "Bearer xyz".to_string())]
    );
    let (_, error) = headers(&[("III_TOKEN", "abc"), ("III_AUTH_TOKEN", "xyz")], None);
    let error = error.expect("two different tokens are refused");
    assert!(
        error.contains("III_TOKEN") && error.contains("III_AUTH_TOKEN"),
        "{error}"
    );
    assert!(
        !error.contains("abc") && !error.contains("xyz"),
        "no secret in: {error}"
    );
    // `bearer_token` replaces what came before it.
    let b = Worker::builder()
        .header("authorization", "x")
        .bearer_token("t");
    assert_eq!(b.config.headers, bearer("t"));
}

#[tokio::test]
async fn a_malformed_environment_fails_connect_naming_the_variable() {
    let vars: std::collections::HashMap<&str, &str> = [
        ("III_URL", "ws://127.0.0.1:1"),
        (
            "III_HEADERS",
            "x-team: payments\nAuthorization Bearer s3cret",
        ),
    ]
    .into();
    let e = Worker::builder()
        .env_from(|k| vars.get(k).map(|v| v.to_string()))
        .connect()
        .await
        .expect_err("a line without a colon");
    let text = e.to_string();
    assert!(
        text.contains("III_HEADERS") && text.contains("line 2"),
        "{text}"
    );
    assert!(
        !text.contains("s3cret"),
        "the line may hold a secret: {text}"
    );
}

/// A leftover III_TLS_CA_FILE does not fail a plain `ws://` connection;
/// for `wss://` it is read, and a missing file is named.
#[tokio::test]
async fn the_ca_file_is_read_for_wss_only() {
    let missing = "/nonexistent/iii-ca.pem";
    let mut plain = Worker::builder()
        .url("ws://127.0.0.1:1")
        .connect_timeout(Duration::from_millis(50));
    plain.config.tls_roots_file = Some(missing.into());
    let e = plain.connect().await.expect_err("nothing listens");
    assert!(matches!(e, Error::Connect { .. }), "{e}");
    let mut secure = Worker::builder().url("wss://127.0.0.1:1");
    secure.config.tls_roots_file = Some(missing.into());
    let e = secure.connect().await.expect_err("no such file");
    assert!(
        e.to_string().contains("III_TLS_CA_FILE") && e.to_string().contains(missing),
        "{e}"
    );
}

#[cfg(not(feature = "tls"))]
#[tokio::test]
async fn wss_without_the_tls_feature_says_how_to_get_it() {
    let e = Worker::builder()
        .url("wss://engine:49134")
        .connect()
        .await
        .expect_err("no tls");
    assert!(e.to_string().contains("`tls` cargo feature"), "{e}");
}

#[tokio::test]
async fn unreachable_engine_fails_after_the_connect_timeout() {
    // Bind and drop a listener to find a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port());
    let port = port.expect("free port");
    let started = std::time::Instant::now();
    let e = Worker::builder()
        .url(format!("ws://127.0.0.1:{port}"))
        .connect_timeout(Duration::from_millis(600))
        .connect()
        .await
        .expect_err("nothing listens");
    let waited = started.elapsed();
    assert!(matches!(e, Error::Connect { .. }), "{e}");
    assert!(e.to_string().contains(&port.to_string()), "{e}");
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}
