//! Server-sent events: a handler that streams its response, one event at a
//! time as it is produced, through a [`StreamedResponse`].
//!
//! `cargo run --example sse` reads `GET /countdown/5` and prints each event
//! as it arrives, then exits; with `-- serve` it keeps serving on
//! 127.0.0.1:3111 (`III_URL` for another engine):
//! `curl -N http://127.0.0.1:3111/countdown/5`.

use std::time::{Duration, Instant};

use iii::http::{ApiRequest, ApiResponse, StreamedResponse};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Counts down from `:from`, one event every 200 ms.
#[iii::function(id = "events::countdown")]
#[iii::trigger(http, path = "/countdown/:from", method = "GET")]
async fn countdown(req: ApiRequest) -> StreamedResponse {
    let Ok(from) = req.path_params["from"].parse::<u32>() else {
        // The same return type answers whole when there is nothing to stream.
        return ApiResponse::new(400, json!({"error": ":from must be a number"})).into();
    };
    let (response, events) = StreamedResponse::channel(200);
    tokio::spawn(async move {
        for n in (0..=from).rev() {
            let event = format!("event: tick\ndata: {}\n\n", json!({"remaining": n}));
            if events.send(event).await.is_err() {
                return; // the client went away
            }
            if n > 0 {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        // Dropping `events` ends the response.
    });
    response
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let serve = std::env::args().any(|a| a == "serve");
    let worker = iii_examples::worker("sse-example", serve).connect().await?;
    let http_url = iii_examples::http_url(&worker);
    worker.flush().await?;
    if serve {
        println!("try:\n  curl -N {http_url}/countdown/5");
        worker.run().await?;
        return Ok(());
    }

    let authority = http_url
        .strip_prefix("http://")
        .ok_or("III_HTTP_URL must start with http://")?;
    let mut stream = tokio::net::TcpStream::connect(authority).await?;
    let request =
        format!("GET /countdown/5 HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let started = Instant::now();
    let mut lines = BufReader::new(stream).lines();
    let mut arrivals = Vec::new();
    while let Some(line) = lines.next_line().await? {
        if let Some(data) = line.strip_prefix("data: ") {
            let at = started.elapsed();
            println!("{:>5} ms  {data}", at.as_millis());
            arrivals.push(at);
        } else if line.starts_with("HTTP/1.1") || line.starts_with("content-type") {
            println!("{line}");
        }
    }
    assert_eq!(arrivals.len(), 6, "six events, 5 down to 0");
    // The last event came about a second after the first: each was sent as
    // it was produced, not all at the end.
    assert!(arrivals[5] - arrivals[0] >= Duration::from_millis(500));
    worker.shutdown().await;
    Ok(())
}
