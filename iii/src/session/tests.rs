//! The session against a scripted engine on loopback.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use iii_protocol::Message;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as Frame;
use uuid::Uuid;

use super::*;

/// What the scripted engine saw: each text frame, or `None` for Close.
type Seen = mpsc::UnboundedReceiver<Option<String>>;

/// An engine that welcomes one worker, answers pings if asked, records
/// every frame, and drops the socket when `drop` fires.
async fn engine(answer_pings: bool) -> (String, Seen, mpsc::UnboundedSender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}", listener.local_addr().expect("addr"));
    let (seen_tx, seen) = mpsc::unbounded_channel();
    let (drop_tx, mut drop_rx) = mpsc::unbounded_channel::<()>();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let mut ws = tokio_tungstenite::accept_async(stream)
            .await
            .expect("upgrade");
        let welcome = r#"{"type":"workerregistered","worker_id":"w-1","reattach_token":"t-1"}"#;
        ws.send(Frame::text(welcome)).await.expect("welcome");
        loop {
            tokio::select! {
                frame = ws.next() => match frame {
                    Some(Ok(Frame::Text(text))) => {
                        if answer_pings && text.as_str() == PING {
                            let _ = ws.send(Frame::text(PONG)).await;
                        }
                        let _ = seen_tx.send(Some(text.as_str().to_string()));
                    }
                    Some(Ok(Frame::Close(_))) => { let _ = seen_tx.send(None); }
                    Some(Ok(_)) => {}
                    _ => return,
                },
                _ = drop_rx.recv() => return,
            }
        }
    });
    (url, seen, drop_tx)
}

struct Ignore;
impl Inbound for Ignore {
    fn on_message(&self, _: &Session, _: Message) -> Option<Fatal> {
        None
    }
}

async fn connect(url: &str, max_frame: usize) -> open::Opened {
    let settings = Settings {
        url,
        headers: &[],
        max_frame,
        keepalive: Keepalive {
            interval: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(120),
        },
    };
    open(settings, Duration::from_secs(5), Arc::new(Ignore))
        .await
        .expect("open")
}

async fn next(seen: &mut Seen) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(5), seen.recv())
        .await
        .expect("a frame within 5 s")
        .expect("engine alive")
}

#[tokio::test]
async fn frames_go_out_in_the_order_they_were_queued() {
    let (url, mut seen, _drop) = engine(false).await;
    let opened = connect(&url, 1 << 20).await;
    for n in 0..500 {
        opened
            .session
            .send(format!("{{\"n\":{n}}}"))
            .expect("queued");
    }
    for n in 0..500 {
        assert_eq!(
            next(&mut seen).await.as_deref(),
            Some(format!("{{\"n\":{n}}}").as_str())
        );
    }
}

#[tokio::test]
async fn an_oversize_frame_is_refused_and_the_session_stays_up() {
    let (url, mut seen, _drop) = engine(false).await;
    let opened = connect(&url, 64 * 1024).await;
    let big = format!("\"{}\"", "x".repeat(64 * 1024));
    match opened.session.send(big) {
        Err(SendError::TooLarge { size, limit }) => {
            assert_eq!((size, limit), (64 * 1024 + 2, 64 * 1024));
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    opened.session.send("\"small\"".into()).expect("still open");
    assert_eq!(next(&mut seen).await.as_deref(), Some("\"small\""));
    assert!(opened.session.is_open());
}

#[tokio::test]
async fn close_sends_what_is_queued_then_a_close_frame_and_refuses_more() {
    let (url, mut seen, _drop) = engine(false).await;
    let opened = connect(&url, 1 << 20).await;
    opened.session.send("\"a\"".into()).expect("a");
    opened.session.send("\"b\"".into()).expect("b");
    opened.session.close();
    assert_eq!(next(&mut seen).await.as_deref(), Some("\"a\""));
    assert_eq!(next(&mut seen).await.as_deref(), Some("\"b\""));
    assert_eq!(next(&mut seen).await, None, "then Close");
    let refused = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Err(SendError::Closed(frame)) = opened.session.send("\"c\"".into()) {
                return frame;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("refused after close");
    assert_eq!(refused, "\"c\"", "the refused frame is handed back");
}

#[tokio::test]
async fn pending_calls_fail_when_the_engine_drops_the_socket() {
    let (url, mut seen, drop) = engine(false).await;
    let opened = connect(&url, 1 << 20).await;
    let id = Uuid::from_u128(7);
    let answer = opened
        .session
        .call(id, "\"call\"".into())
        .await
        .expect("registered");
    assert_eq!(next(&mut seen).await.as_deref(), Some("\"call\""));
    drop.send(()).expect("drop");
    let outcome = tokio::time::timeout(Duration::from_secs(5), answer)
        .await
        .expect("failed promptly, not left waiting")
        .expect("answered");
    assert!(matches!(outcome, Err(Failure::Lost)), "{outcome:?}");
    let end = tokio::time::timeout(Duration::from_secs(5), opened.reader)
        .await
        .expect("reader ends")
        .expect("join");
    assert!(matches!(end, End::Lost(_)), "{end:?}");
    assert!(
        matches!(
            opened
                .session
                .call(Uuid::from_u128(8), "\"late\"".into())
                .await,
            Err(SendError::Closed(_))
        ),
        "a dead session takes no calls"
    );
}

#[tokio::test]
async fn results_complete_their_call_and_strays_are_ignored() {
    let (url, mut seen, _drop) = engine(false).await;
    let opened = connect(&url, 1 << 20).await;
    let id = Uuid::from_u128(42);
    let answer = opened
        .session
        .call(id, "\"call\"".into())
        .await
        .expect("registered");
    next(&mut seen).await;
    let result = iii_protocol::InvocationResult::new(id, "f", Ok(serde_json::json!(5)));
    let stray =
        iii_protocol::InvocationResult::new(Uuid::from_u128(43), "f", Ok(serde_json::json!(6)));
    opened.session.complete(stray);
    opened.session.complete(result);
    let value = answer.await.expect("answered").expect("ok");
    assert_eq!(value, serde_json::json!(5));
}

#[tokio::test]
async fn a_pings_number_is_proved_by_its_pong() {
    let (url, mut seen, _drop) = engine(true).await;
    let opened = connect(&url, 1 << 20).await;
    opened.session.send("\"before\"".into()).expect("queued");
    let n = opened.session.ping().expect("ping");
    assert_eq!(n, 1);
    assert!(
        tokio::time::timeout(Duration::from_secs(5), opened.session.pongs_reach(n))
            .await
            .expect("pong within 5 s")
    );
    assert_eq!(next(&mut seen).await.as_deref(), Some("\"before\""));
    assert_eq!(next(&mut seen).await.as_deref(), Some(PING));
}

#[test]
fn previews_cut_on_char_boundaries() {
    let long = "é".repeat(500);
    assert_eq!(preview(&long).chars().count(), 200);
}
