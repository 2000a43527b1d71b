//! A webhook that checks an HMAC-SHA256 signature over the raw request
//! body before it trusts the event: the bytes exactly as the sender signed
//! them, which a parsed-and-reserialised JSON body would not reproduce.
//!
//! `cargo run --example webhook` posts a signed event, a tampered one and
//! an unsigned one to it, and exits; with `-- serve` it keeps serving on
//! 127.0.0.1:3111 (`III_URL` for another engine). The secret is
//! `WEBHOOK_SECRET` (default `demo-secret`), the signature header
//! `x-signature: sha256=<hex>`.

use hmac::{Hmac, Mac};
use iii::Error;
use iii::http::{ApiRequest, ApiResponse};
use serde_json::{Value, json};
use sha2::Sha256;

fn secret() -> Vec<u8> {
    std::env::var("WEBHOOK_SECRET")
        .unwrap_or_else(|_| "demo-secret".into())
        .into_bytes()
}

/// `sha256=<hex>` of `body` under `secret`.
fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Whether `header` is a valid signature of `body` (compared in constant
/// time).
fn verified(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(hex) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Some(expected) = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// Accepts an order event only when its signature matches the raw body.
#[iii::function(id = "webhooks::orders")]
#[iii::trigger(http, path = "/webhooks/orders", method = "POST")]
async fn orders(req: ApiRequest) -> Result<ApiResponse, Error> {
    let signature = req.headers.get("x-signature").cloned().unwrap_or_default();
    // The raw bytes, whatever the content type (the engine parses JSON
    // bodies into `req.body` too, but a signature covers the bytes).
    let raw = req.body_bytes().await?;
    if !verified(&secret(), &raw, &signature) {
        return Ok(ApiResponse::new(
            401,
            json!({"error": "missing or wrong x-signature"}),
        ));
    }
    Ok(ApiResponse::ok(
        json!({"accepted": req.body["order_id"], "bytes": raw.len()}),
    ))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let serve = std::env::args().any(|a| a == "serve");
    let worker = iii_examples::worker("webhook-example", serve)
        .connect()
        .await?;
    let http_url = iii_examples::http_url(&worker);
    worker.flush().await?;
    if serve {
        let body = r#"{"order_id": 42}"#;
        println!(
            "try:\n  curl -X POST {http_url}/webhooks/orders -H 'content-type: application/json' -H 'x-signature: {}' -d '{body}'",
            sign(&secret(), body.as_bytes())
        );
        worker.run().await?;
        return Ok(());
    }

    // Spacing a JSON re-encoding would not keep: the signature is over these bytes.
    let body = br#"{ "order_id": 42,  "total": 1999 }"#;
    let signature = sign(&secret(), body);
    let (status, answer) = post(&http_url, body, Some(&signature)).await?;
    println!("signed event    -> {status} {answer}");
    assert_eq!(status, 200);
    assert_eq!(answer["accepted"], 42);

    let tampered = br#"{ "order_id": 42,  "total": 1 }"#;
    let (status, _) = post(&http_url, tampered, Some(&signature)).await?;
    println!("tampered event  -> {status}");
    assert_eq!(status, 401);

    let (status, _) = post(&http_url, body, None).await?;
    println!("unsigned event  -> {status}");
    assert_eq!(status, 401);
    worker.shutdown().await;
    Ok(())
}

/// POSTs a JSON body to the webhook; the status and the JSON answer.
async fn post(
    base: &str,
    body: &[u8],
    signature: Option<&str>,
) -> Result<(u16, Value), Box<dyn std::error::Error>> {
    let headers: Vec<(&str, &str)> = signature.map(|s| ("x-signature", s)).into_iter().collect();
    let (status, answer) = iii_examples::post(base, "/webhooks/orders", &headers, body).await?;
    Ok((status, serde_json::from_str(&answer).unwrap_or(Value::Null)))
}
