//! Engines after 0.23, as a scripted engine plays them (no such engine can
//! be run here): features announced in `workerregistered`, triggers
//! refused at once where observers replaced them (0.26), and what the
//! official SDKs changed in 0.24 and 0.25 on the wire.
//!
//! A test binary of its own: `newer::tick` is linked, so every worker of
//! a shared binary connecting with the default `Linked::All` would bind
//! it. (Its test moved into `macros.rs`, beside the macro test there, made
//! the real engine's occasional lost middleware answer hit that test in 6
//! runs of 245, against none of 210 before.)

use std::time::Duration;

use iii::linked::Linked;
use iii::trigger::{Cron, Http};
use iii::{ConnectionState, Error, Function, Trigger, TriggerType, Worker};
use iii_protocol::Message;
use iii_protocol::features::{LOCAL_DISPATCH_V1, OBSERVE_V1, OBSERVE_V2};
use iii_tests::NoopProvider;
use iii_tests::fake::{FakeEngine, Mode, cut_and_reconnect, fast_reconnect, kind};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::protocol::frame::Frame as RawFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

/// What an engine 0.26 announces.
const ENGINE_0_26: [&str; 3] = [OBSERVE_V1, OBSERVE_V2, LOCAL_DISPATCH_V1];

/// Bound by a macro, so `connect` with the linked functions meets it.
#[iii::function(id = "newer::tick")]
#[iii::trigger(cron, expression = "0 * * * * *")]
async fn tick() {}

/// A worker on `fake` with none of the linked functions.
fn bare(fake: &FakeEngine, name: &str) -> iii::WorkerBuilder {
    Worker::builder()
        .url(&fake.url)
        .name(name)
        .linked(Linked::None)
        .connect_timeout(Duration::from_secs(5))
}

/// Every frame of every connection, by `type`.
fn kinds(fake: &FakeEngine) -> Vec<String> {
    let frames = fake.connections().into_iter().flat_map(|c| c.frames);
    frames.flatten().map(|m| kind(&m)).collect()
}

fn assert_triggers_removed(error: &Error, names: &str) {
    assert!(matches!(error, Error::Unsupported { .. }), "{error:?}");
    assert_eq!(error.code(), "UNSUPPORTED");
    let text = error.to_string();
    for expected in ["observe.v2", "0.23 to 0.25", names] {
        assert!(text.contains(expected), "`{expected}` is not in: {text}");
    }
}

#[tokio::test]
async fn the_engines_features_are_read_and_an_older_engine_has_none() {
    let old = FakeEngine::start(Mode::Normal).await;
    let worker = bare(&old, "features-old").connect().await.expect("connect");
    assert!(worker.engine_features().is_empty());
    assert!(worker.engine_takes_triggers());

    // 0.25: observers beside triggers, which still work.
    let fake = FakeEngine::start(Mode::Normal).await;
    fake.announce(&[OBSERVE_V1, LOCAL_DISPATCH_V1]);
    let worker = bare(&fake, "features-0-25")
        .connect()
        .await
        .expect("connect");
    assert_eq!(worker.engine_features(), [OBSERVE_V1, LOCAL_DISPATCH_V1]);
    assert!(worker.engine_takes_triggers());
    worker
        .register_trigger(Trigger::new("elsewhere::f", Cron::new("0 * * * * *")))
        .expect("a 0.25 engine takes triggers");
    worker.flush().await.expect("flush");
    assert!(kinds(&fake).contains(&"registertrigger".to_string()));
    // The SDK declares no features of its own.
    let register = fake
        .wait_frame(0, "the announcement", |m| {
            matches!(m, Message::InvokeFunction(i) if i.function_id == "engine::workers::register")
        })
        .await;
    let Message::InvokeFunction(register) = register else {
        unreachable!()
    };
    assert!(register.data.get("features").is_none(), "{}", register.data);
}

#[tokio::test]
async fn connect_fails_at_once_when_an_observe_v2_engine_meets_a_macro_binding() {
    let fake = FakeEngine::start(Mode::Normal).await;
    fake.announce(&ENGINE_0_26);
    let started = std::time::Instant::now();
    let error = Worker::builder()
        .url(&fake.url)
        .name("newer-macro")
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect_err("a cron binding cannot work on 0.26");
    assert_triggers_removed(&error, "the `cron` trigger of `newer::tick`");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "not retried: {:?}",
        started.elapsed()
    );
    let sent = kinds(&fake);
    assert!(
        !sent.iter().any(|k| k == "registertrigger"),
        "nothing is sent: {sent:?}"
    );

    // A builder binding and a trigger type, named together.
    let error = bare(&fake, "newer-builder")
        .trigger(Trigger::new("elsewhere::f", Http::post("/orders")))
        .connect()
        .await
        .expect_err("an http binding cannot work on 0.26");
    assert_triggers_removed(&error, "the `http` trigger of `elsewhere::f`");
}

#[tokio::test]
async fn an_observe_v2_engine_refuses_triggers_and_trigger_types_at_once() {
    let fake = FakeEngine::start(Mode::Normal).await;
    fake.announce(&ENGINE_0_26);
    let worker = bare(&fake, "newer-later").connect().await.expect("connect");
    assert_eq!(worker.engine_features(), ENGINE_0_26);
    assert!(!worker.engine_takes_triggers());
    let ok = |_: Value| async move { Ok::<(), Error>(()) };
    worker
        .register_function(Function::new("newer::f", ok))
        .expect("functions still work");
    let error = worker
        .register_trigger(Trigger::new("newer::f", Cron::new("0 * * * * *")))
        .expect_err("refused");
    assert_triggers_removed(&error, "the `cron` trigger of `newer::f`");
    let error = worker
        .register_trigger_type(TriggerType::new("ticker", "ticks"), NoopProvider)
        .expect_err("refused");
    assert_triggers_removed(&error, "trigger type `ticker`");
    worker.flush().await.expect("flush");
    let sent = kinds(&fake);
    assert!(sent.contains(&"registerfunction".to_string()), "{sent:?}");
    for refused in ["registertrigger", "registertriggertype"] {
        assert!(
            !sent.iter().any(|k| k == refused),
            "{refused} sent: {sent:?}"
        );
    }
}

#[tokio::test]
async fn after_a_reconnect_to_an_observe_v2_engine_each_binding_reports_why() {
    let fake = FakeEngine::start(Mode::Normal).await;
    let worker = bare(&fake, "newer-upgraded")
        .reconnect(fast_reconnect())
        .connect()
        .await
        .expect("connect");
    let ok = |_: Value| async move { Ok::<(), Error>(()) };
    worker
        .register_function(Function::new("newer::g", ok))
        .expect("fn");
    let binding = worker
        .register_trigger(Trigger::new("newer::g", Cron::new("0 * * * * *")))
        .expect("a 0.23 engine takes it");
    worker
        .register_trigger_type(TriggerType::new("ticker", "ticks"), NoopProvider)
        .expect("type");
    worker.flush().await.expect("flush");

    // The engine is upgraded behind the same address.
    fake.announce(&ENGINE_0_26);
    cut_and_reconnect(&fake, &worker).await;
    let why = tokio::time::timeout(Duration::from_secs(5), binding.rejected())
        .await
        .expect("the binding's handle says why");
    assert_eq!(why.code, "UNSUPPORTED");
    assert!(why.message.contains("observe.v2"), "{}", why.message);
    assert!(why.message.contains("`newer::g`"), "{}", why.message);
    // The next flush reports it too, once.
    let error = worker.flush().await.expect_err("the refusal is reported");
    assert!(matches!(error, Error::BindingsRefused { .. }), "{error:?}");
    assert!(error.to_string().contains("`newer::g`"), "{error}");
    worker.flush().await.expect("reported once");
    let replay: Vec<String> = fake.connections()[1]
        .frames
        .iter()
        .flatten()
        .filter_map(|m| match m {
            Message::RegisterFunction(f) => Some(format!("fn:{}", f.id)),
            Message::RegisterTrigger(t) => Some(format!("trigger:{}", t.id)),
            Message::RegisterTriggerType(t) => Some(format!("type:{}", t.id)),
            _ => None,
        })
        .collect();
    assert_eq!(replay, ["fn:newer::g"], "no binding, alias or type is sent");
}

#[tokio::test]
async fn a_function_refused_with_a_newer_code_is_refused_alone() {
    let fake = FakeEngine::start(Mode::Normal).await;
    let worker = bare(&fake, "newer-codes").connect().await.expect("connect");
    let ok = |_: Value| async move { Ok::<(), Error>(()) };
    let args = worker
        .register_function(Function::new("newer::args", ok))
        .expect("fn");
    let unsupported = worker
        .register_function(Function::new("newer::private", ok))
        .expect("fn");
    worker.flush().await.expect("flush");
    for (code, id) in [
        ("INVALID_ARGS_FORMAT", "newer::args"),
        ("UNSUPPORTED", "newer::private"),
    ] {
        fake.push(
            json!({"type": "registrationrejected", "code": code, "namespace": "default",
                   "function_id": id, "owner_worker_id": ""})
            .to_string(),
        );
    }
    for (handle, code) in [
        (&args, "INVALID_ARGS_FORMAT"),
        (&unsupported, "UNSUPPORTED"),
    ] {
        let why = tokio::time::timeout(Duration::from_secs(5), handle.rejected())
            .await
            .expect("refused");
        assert_eq!(why.code, code);
        assert!(why.message.contains(handle.id()), "{}", why.message);
    }
    worker.flush().await.expect("the connection stays up");
    assert_eq!(worker.connection_state(), ConnectionState::Connected);
    assert_eq!(fake.connections().len(), 1, "no reconnect");

    // A code that names no function refuses the worker.
    fake.push(
        json!({"type": "registrationrejected", "code": "SOMETHING_NEW", "namespace": "default",
               "owner_worker_id": ""})
        .to_string(),
    );
    worker
        .wait_for_state(ConnectionState::Failed, Duration::from_secs(5))
        .await
        .expect("fatal");
}

#[tokio::test]
async fn a_void_invocation_without_an_id_runs_and_is_not_answered() {
    let fake = FakeEngine::start(Mode::Normal).await;
    let worker = bare(&fake, "newer-void").connect().await.expect("connect");
    let (ran_tx, mut ran) = mpsc::unbounded_channel();
    let record = Function::new("newer::audit", move |event: String| {
        let ran_tx = ran_tx.clone();
        async move {
            let _ = ran_tx.send(event);
            Ok::<_, Error>("recorded")
        }
    });
    worker.register_function(record).expect("fn");
    worker.flush().await.expect("flush");
    // As an engine 0.26 sends a fire-and-forget call: no invocation_id.
    fake.push(
        json!({"type": "invokefunction", "function_id": "newer::audit", "data": "login",
               "action": {"type": "void"}})
        .to_string(),
    );
    let event = tokio::time::timeout(Duration::from_secs(5), ran.recv())
        .await
        .expect("it ran");
    assert_eq!(event.as_deref(), Some("login"));
    // Shutdown waits for the handler and sends every queued frame before
    // its Close, so whatever the worker answered is recorded by now.
    worker.shutdown().await;
    let sent = kinds(&fake);
    assert!(
        !sent.iter().any(|k| k == "invocationresult"),
        "nothing is sent back: {sent:?}"
    );
}

#[tokio::test]
async fn a_message_sent_in_continuation_frames_is_read_up_to_64_mib() {
    let fake = FakeEngine::start(Mode::Normal).await;
    let worker = bare(&fake, "newer-large").connect().await.expect("connect");
    let measure = Function::new("newer::measure", |text: String| async move {
        Ok::<_, Error>(text.len())
    });
    worker.register_function(measure).expect("fn");
    worker.flush().await.expect("flush");
    // A 64 MiB message, the most the engine sends, in 1 MiB fragments
    // (each frame under the engine's 16 MiB frame limit), as engines and
    // SDKs from 0.26 send anything over 16 MiB.
    let envelope = json!({"type": "invokefunction", "invocation_id": uuid::Uuid::new_v4(),
                          "function_id": "newer::measure", "data": ""})
    .to_string();
    let len = (64 << 20) - envelope.len();
    let message = envelope.replace(r#""data":"""#, &format!(r#""data":"{}""#, "x".repeat(len)));
    assert_eq!(message.len(), 64 << 20);
    let pieces: Vec<&[u8]> = message.as_bytes().chunks(1 << 20).collect();
    let last = pieces.len() - 1;
    fake.push_frames(pieces.iter().enumerate().map(|(i, piece)| {
        let opcode = if i == 0 { Data::Text } else { Data::Continue };
        Frame::Frame(RawFrame::message(
            piece.to_vec(),
            OpCode::Data(opcode),
            i == last,
        ))
    }));
    let result = fake.wait_result(0, "newer::measure").await;
    assert_eq!(result.into_outcome().expect("answered"), json!(len));
}

#[tokio::test]
async fn a_query_on_the_engine_url_goes_to_channel_sockets_too() {
    let fake = FakeEngine::start(Mode::Normal).await;
    let url = format!("{}/?token=abc", fake.url);
    let worker = bare(&fake, "newer-query")
        .url(url)
        .connect()
        .await
        .expect("connect");
    assert_eq!(fake.connections()[0].path, "/?token=abc");
    let channel = iii_protocol::StreamChannelRef {
        channel_id: "c-1".into(),
        access_key: "k-1".into(),
        direction: iii_protocol::ChannelDirection::Read,
    };
    let mut reader = worker.open_reader(&channel).expect("reader");
    // The fake takes any socket: the reader attaches, and this test only
    // looks at where.
    let read = tokio::spawn(async move { reader.next_item().await.map(|_| ()) });
    let path = iii_tests::eventually(Duration::from_secs(5), "the channel socket", || {
        let path = fake.connections().get(1).map(|c| c.path.clone());
        async move { path }
    })
    .await;
    assert_eq!(path, "/ws/channels/c-1?token=abc&key=k-1&dir=read");
    read.abort();
}

/// Run by the next test in a child process, with `III_URL` and
/// `III_TOKEN` set: connects from the environment as a user's worker does.
#[tokio::test]
#[ignore = "run by iii_token_from_the_environment_authorizes_the_worker"]
async fn child_connects_from_the_environment() {
    if std::env::var("III_TOKEN").is_err() {
        return; // run on its own, not by the test below
    }
    let worker = Worker::from_env()
        .name("newer-env")
        .linked(Linked::None)
        .connect()
        .await
        .expect("connect");
    worker.shutdown().await;
}

#[tokio::test]
async fn iii_token_from_the_environment_authorizes_the_worker() {
    let fake = FakeEngine::start(Mode::Normal).await;
    let status = tokio::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "child_connects_from_the_environment",
            "--ignored",
            "--quiet",
        ])
        .env("III_URL", &fake.url)
        .env("III_TOKEN", "t0ken")
        .env_remove("III_AUTH_TOKEN")
        .env_remove("III_HEADERS")
        .status()
        .await
        .expect("run the child");
    assert!(status.success(), "the child failed: {status}");
    let headers = &fake.connections()[0].headers;
    assert_eq!(
        headers.get("authorization").map(String::as_str),
        Some("Bearer t0ken")
    );
}
