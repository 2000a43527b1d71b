//! The session against a scripted engine on loopback.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use iii_protocol::{IncomingInvoke, Message};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as Frame;
use uuid::Uuid;

use super::*;
use frame::Frame as Checked;

/// What the scripted engine saw: each text frame, or `None` for Close.
type Seen = mpsc::UnboundedReceiver<Option<String>>;

/// An engine that welcomes one worker, answers pings if asked, records
/// every frame, and drops the socket when `drop` fires.
async fn engine(answer_pings: bool) -> (String, Seen, mpsc::UnboundedSender<()>) {
    engine_sending(answer_pings, Vec::new()).await
}

/// Like [`engine`], sending `first` right after the welcome.
async fn engine_sending(
    answer_pings: bool,
    first: Vec<&'static str>,
) -> (String, Seen, mpsc::UnboundedSender<()>) {
    engine_with(answer_pings, first, None).await
}

/// Like [`engine_sending`], also sending `reply` after the first frame it
/// receives.
async fn engine_with(
    answer_pings: bool,
    first: Vec<&'static str>,
    mut reply: Option<&'static str>,
) -> (String, Seen, mpsc::UnboundedSender<()>) {
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
        for frame in first {
            ws.send(Frame::text(frame)).await.expect("first frames");
        }
        loop {
            tokio::select! {
                frame = ws.next() => match frame {
                    Some(Ok(Frame::Text(text))) => {
                        if answer_pings && text.as_str() == Checked::ping().as_str() {
                            let _ = ws.send(Frame::text(Checked::pong().into_text())).await;
                        }
                        let _ = seen_tx.send(Some(text.as_str().to_string()));
                        if let Some(reply) = reply.take() {
                            let _ = ws.send(Frame::text(reply)).await;
                        }
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
    fn on_invoke(&self, _: &Session, _: IncomingInvoke) -> Option<Fatal> {
        None
    }
}

/// A handler with a bug: it panics on every frame it gets.
struct Panics;
impl Inbound for Panics {
    fn on_message(&self, _: &Session, message: Message) -> Option<Fatal> {
        panic!("a handler bug on {message:?}")
    }
    fn on_invoke(&self, _: &Session, invoke: IncomingInvoke) -> Option<Fatal> {
        panic!("a handler bug on {invoke:?}")
    }
}

struct Conn {
    session: Session,
    reader: tokio::task::JoinHandle<End>,
}

fn settings(url: &str, max_frame: usize) -> Settings<'_> {
    Settings {
        url,
        headers: &[],
        connector: crate::tls::Connector::default(),
        rules: Rules { max_frame },
        keepalive: Keepalive {
            interval: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(120),
        },
    }
}

async fn connect_with(url: &str, max_frame: usize, handler: Arc<dyn Inbound>) -> Conn {
    let opened = open(settings(url, max_frame), Duration::from_secs(5))
        .await
        .expect("open");
    let session = opened.session.clone();
    Conn {
        session,
        reader: opened.start(handler),
    }
}

async fn connect(url: &str, max_frame: usize) -> Conn {
    connect_with(url, max_frame, Arc::new(Ignore)).await
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
            .send(Checked::unchecked(format!("{{\"n\":{n}}}")))
            .expect("queued");
    }
    for n in 0..500 {
        assert_eq!(
            next(&mut seen).await.as_deref(),
            Some(format!("{{\"n\":{n}}}").as_str())
        );
    }
}

/// Frames sent while the session's reader handles a frame (the answers of
/// invocations run in place) wait for the reader, which writes them all
/// with one flush before it waits for the socket.
#[tokio::test]
async fn frames_sent_while_the_reader_handles_a_frame_go_out_in_one_write() {
    let (url, mut seen, _drop) = engine(false).await;
    let opened = connect(&url, 1 << 20).await;
    let session = &opened.session;
    let outbound = &session.shared.outbound;
    let queued = || outbound.queued();
    let flushes = || outbound.flushes.load(std::sync::atomic::Ordering::Relaxed);
    // A new session writes nothing of its own (its first ping is a minute
    // away), so no write is under way that could count below.
    assert_eq!((queued(), flushes()), (0, 0), "nothing sent yet");
    let mut burst = crate::burst::Burst::default();
    crate::burst::lend(&mut burst, session.key(), || {
        for n in 0..5 {
            session
                .send(Checked::unchecked(format!("{{\"n\":{n}}}")))
                .expect("queued");
        }
    });
    assert_eq!(queued(), 5, "left to the reader: nothing written yet");
    assert!(burst.pause(), "the reader owes the write");
    session.write();
    for n in 0..5 {
        assert_eq!(
            next(&mut seen).await.as_deref(),
            Some(format!("{{\"n\":{n}}}").as_str())
        );
    }
    assert_eq!(flushes(), 1, "one flush for the five");
}

#[tokio::test]
async fn close_sends_what_is_queued_then_a_close_frame_and_refuses_more() {
    let (url, mut seen, _drop) = engine(false).await;
    let opened = connect(&url, 1 << 20).await;
    opened.session.send(Checked::unchecked("\"a\"")).expect("a");
    opened.session.send(Checked::unchecked("\"b\"")).expect("b");
    opened.session.close();
    assert_eq!(next(&mut seen).await.as_deref(), Some("\"a\""));
    assert_eq!(next(&mut seen).await.as_deref(), Some("\"b\""));
    assert_eq!(next(&mut seen).await, None, "then Close");
    let refused = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Err(Closed(frame)) = opened.session.send(Checked::unchecked("\"c\"")) {
                return frame;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("refused after close");
    assert_eq!(
        refused.as_str(),
        "\"c\"",
        "the refused frame is handed back"
    );
}

#[tokio::test]
async fn pending_calls_fail_when_the_engine_drops_the_socket() {
    let (url, mut seen, drop) = engine(false).await;
    let opened = connect(&url, 1 << 20).await;
    let id = Uuid::from_u128(7);
    let answer = opened
        .session
        .call(
            id,
            Checked::unchecked("\"call\""),
            Duration::from_secs(60),
            Shape::Tree,
        )
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
            opened.session.call(
                Uuid::from_u128(8),
                Checked::unchecked("\"late\""),
                Duration::from_secs(60),
                Shape::Tree
            ),
            Err(Closed(_))
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
        .call(
            id,
            Checked::unchecked("\"call\""),
            Duration::from_secs(60),
            Shape::Tree,
        )
        .expect("registered");
    next(&mut seen).await;
    let result = iii_protocol::InvocationResult::new(id, "f", Ok(serde_json::json!(5)));
    let stray =
        iii_protocol::InvocationResult::new(Uuid::from_u128(43), "f", Ok(serde_json::json!(6)));
    opened.session.complete(stray.into());
    opened.session.complete(result.into());
    let value = answer.await.expect("answered").expect("ok");
    assert_eq!(
        value.map(ResultValue::into_value),
        Some(serde_json::json!(5))
    );
}

/// The reader reads a result's value in the shape its call asked for: a
/// tree for a caller of `Value`, the text as the engine sent it for a
/// caller that decodes its own type from it.
#[tokio::test]
async fn a_result_comes_in_the_shape_its_call_asked_for() {
    const RESULT: &str = r#"{"type":"invocationresult","invocation_id":"00000000-0000-0000-0000-00000000002a","function_id":"f","result":{"b": 1, "a": [1, 2]}}"#;
    for shape in [Shape::Text, Shape::Tree] {
        let (url, _seen, _drop) = engine_with(false, vec![], Some(RESULT)).await;
        let conn = connect(&url, 1 << 20).await;
        let answer = conn.session.call(
            Uuid::from_u128(42),
            Checked::unchecked("\"call\""),
            Duration::from_secs(60),
            shape,
        );
        let answer = tokio::time::timeout(Duration::from_secs(5), answer.expect("registered"))
            .await
            .expect("answered in time")
            .expect("answered")
            .expect("a value");
        match (shape, answer) {
            (Shape::Text, Some(ResultValue::Text(text))) => {
                assert_eq!(text.get(), r#"{"b": 1, "a": [1, 2]}"#)
            }
            (Shape::Tree, Some(ResultValue::Tree(tree))) => {
                assert_eq!(tree, serde_json::json!({"a": [1, 2], "b": 1}))
            }
            (shape, other) => panic!("asked for {shape:?}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_pings_number_is_proved_by_its_pong() {
    let (url, mut seen, _drop) = engine(true).await;
    let opened = connect(&url, 1 << 20).await;
    opened
        .session
        .send(Checked::unchecked("\"before\""))
        .expect("queued");
    let n = opened.session.ping().expect("ping");
    assert_eq!(n, 1);
    opened
        .session
        .await_pongs(n, Duration::from_secs(5))
        .await
        .expect("pong within 5 s");
    assert_eq!(next(&mut seen).await.as_deref(), Some("\"before\""));
    assert_eq!(
        next(&mut seen).await.as_deref(),
        Some(Checked::ping().as_str())
    );
}

#[test]
fn previews_cut_on_char_boundaries() {
    let long = "é".repeat(500);
    assert_eq!(preview(&long).chars().count(), 200);
}

#[tokio::test]
async fn a_killed_session_takes_no_frame_and_no_call() {
    let (url, mut seen, _drop) = engine(false).await;
    let conn = connect(&url, 1 << 20).await;
    conn.session
        .send(Checked::unchecked("\"before\""))
        .expect("open");
    assert_eq!(next(&mut seen).await.as_deref(), Some("\"before\""));
    conn.session.kill("a test");
    assert!(!conn.session.is_open());
    assert!(
        matches!(conn.session.send(Checked::unchecked("\"after\"")), Err(Closed(f)) if f.as_str() == "\"after\""),
        "refused at once, and handed back for another session"
    );
    assert!(matches!(
        conn.session.call(
            Uuid::from_u128(9),
            Checked::unchecked("\"call\""),
            Duration::from_secs(60),
            Shape::Tree
        ),
        Err(Closed(_))
    ));
    let end = tokio::time::timeout(Duration::from_secs(5), conn.reader)
        .await
        .expect("the reader ends")
        .expect("join");
    assert!(matches!(end, End::Lost(reason) if reason == "a test"));
    let after = tokio::time::timeout(Duration::from_secs(5), seen.recv())
        .await
        .expect("the engine sees the socket go within 5 s");
    assert_eq!(
        after, None,
        "the socket is released, with no frame after the kill"
    );
}

/// What the caller sends before starting the reader goes out before
/// anything the session says on its own (here, the pong to the engine's
/// ping that arrives right after the welcome).
#[tokio::test]
async fn first_frames_go_ahead_of_the_sessions_own() {
    let (url, mut seen, _drop) = engine_sending(false, vec![r#"{"type":"ping"}"#]).await;
    let opened = open(settings(&url, 1 << 20), Duration::from_secs(5))
        .await
        .expect("open");
    tokio::time::sleep(Duration::from_millis(50)).await; // the ping is in
    opened
        .session
        .send(Checked::unchecked("\"reattach\""))
        .expect("first");
    let _reader = opened.start(Arc::new(Ignore));
    assert_eq!(next(&mut seen).await.as_deref(), Some("\"reattach\""));
    assert_eq!(
        next(&mut seen).await.as_deref(),
        Some(Checked::pong().as_str())
    );
}

/// The watchdog fails a call once its own timeout has passed, never
/// before, even when an earlier call set it to wake much later; an
/// answered call is never timed out, and a call with a long timeout
/// still waits.
#[tokio::test]
async fn each_call_times_out_at_its_own_deadline() {
    let (url, _seen, _drop) = engine(false).await;
    let conn = connect(&url, 1 << 20).await;
    let call = |n, timeout| {
        conn.session
            .call(
                Uuid::from_u128(n),
                Checked::unchecked("\"call\""),
                timeout,
                Shape::Tree,
            )
            .expect("registered")
    };
    let mut slow = call(1, Duration::from_secs(30));
    // The watchdog runs and goes to sleep until the 30 s deadline.
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
    let started = std::time::Instant::now();
    let fast = call(2, Duration::from_millis(100));
    let answered = call(3, Duration::from_millis(100));
    let value = serde_json::json!(3);
    conn.session.complete(
        iii_protocol::InvocationResult::new(Uuid::from_u128(3), "f", Ok(value.clone())).into(),
    );
    let outcome = tokio::time::timeout(Duration::from_secs(5), fast)
        .await
        .expect("timed out at its deadline, not the 30 s call's")
        .expect("answered");
    assert!(matches!(outcome, Err(Failure::TimedOut)), "{outcome:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(100),
        "timed out early, after {:?}",
        started.elapsed()
    );
    let answer = answered.await.expect("answered").expect("a value");
    assert_eq!(answer.map(ResultValue::into_value), Some(value));
    assert!(
        matches!(slow.try_recv(), Err(oneshot::error::TryRecvError::Empty)),
        "the 30 s call still waits"
    );
}

/// A handler that panics ends the session like a lost link: pending calls
/// fail at once instead of waiting for their timeout.
#[tokio::test]
async fn a_panicking_handler_ends_the_session_and_fails_its_calls() {
    // Once the call is in, the engine sends a frame only the handler handles.
    let handled = r#"{"type":"unregistertrigger","id":"t"}"#;
    let (url, _seen, _drop) = engine_with(false, vec![], Some(handled)).await;
    let conn = connect_with(&url, 1 << 20, Arc::new(Panics)).await;
    let answer = conn
        .session
        .call(
            Uuid::from_u128(11),
            Checked::unchecked("\"call\""),
            Duration::from_secs(60),
            Shape::Tree,
        )
        .expect("registered");
    let outcome = tokio::time::timeout(Duration::from_secs(5), answer)
        .await
        .expect("failed promptly")
        .expect("answered");
    assert!(matches!(outcome, Err(Failure::Lost)), "{outcome:?}");
    assert!(!conn.session.is_open());
    assert!(conn.reader.await.is_err(), "the reader panicked");
}

/// The race the outbound design is about, made wide: a sender holds the
/// sink (here for 50 ms after writing) while another sender queues a frame
/// and, finding the sink taken, leaves it. The holder must notice it after
/// releasing the sink and hand it on; nothing else will write again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_queued_while_another_sender_writes_still_goes_out() {
    let (url, mut seen, _drop) = engine(false).await;
    let conn = connect(&url, 1 << 20).await;
    conn.session
        .shared
        .outbound
        .hold_after_write_us
        .store(50_000, std::sync::atomic::Ordering::Relaxed);
    let holder = conn.session.clone();
    let first = tokio::task::spawn_blocking(move || holder.send(Checked::unchecked("\"first\"")));
    assert_eq!(next(&mut seen).await.as_deref(), Some("\"first\""));
    // The first sender still holds the sink for a while.
    conn.session
        .send(Checked::unchecked("\"second\""))
        .expect("queued");
    first.await.expect("join").expect("sent");
    let second = tokio::time::timeout(Duration::from_secs(1), seen.recv())
        .await
        .expect("the second frame goes out without another write")
        .expect("engine alive");
    assert_eq!(second.as_deref(), Some("\"second\""));
}

/// Under load senders leave their frames to the background writer, which
/// writes all that are queued at once: from 64 tasks sending together,
/// every frame arrives, each task's in the order it sent them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_from_many_tasks_under_load_all_arrive_in_each_tasks_order() {
    const TASKS: usize = 64;
    const EACH: usize = 50;
    let (url, mut seen, _drop) = engine(false).await;
    let opened = connect(&url, 1 << 20).await;
    let session = opened.session.clone();
    let senders: Vec<_> = (0..TASKS)
        .map(|task| {
            let session = session.clone();
            tokio::spawn(async move {
                for n in 0..EACH {
                    session
                        .send(Checked::unchecked(format!("[{task},{n}]")))
                        .expect("queued");
                    if n % 7 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.expect("sender");
    }
    let mut next_of = vec![0usize; TASKS];
    for _ in 0..TASKS * EACH {
        let frame = tokio::time::timeout(Duration::from_secs(10), next(&mut seen))
            .await
            .expect("every frame arrives within 10 s")
            .expect("a text frame");
        let [task, n]: [usize; 2] = serde_json::from_str(&frame).expect("[task, n]");
        assert_eq!(n, next_of[task], "task {task}'s frames in order");
        next_of[task] += 1;
    }
    assert!(next_of.iter().all(|&n| n == EACH));
}

#[test]
fn a_socket_flushed_within_the_window_is_busy() {
    use super::outbound::{BUSY, busy};
    let window = BUSY.as_micros() as u64;
    assert!(!busy(0, 1_000_000), "never flushed: not busy");
    assert!(busy(1_000, 1_000), "flushed just now");
    assert!(busy(1_000, 1_000 + window - 1));
    assert!(
        !busy(1_000, 1_000 + window),
        "a round trip ago: write at once"
    );
    assert!(busy(1_000, 999), "a clock read before the flush's");
}
