//! Connecting a worker: opening sessions, replaying registrations,
//! announcing the worker, and reconnecting with backoff.
//!
//! Opening one session: dial and read `workerregistered` (the session
//! module), then, on the new session before anyone else can see it, queue
//! `reattach` (after a reconnect) and the replay of every registration, make
//! it the live session, and call `engine::workers::register`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use iii_protocol::{Message, Reattach};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::{ConnectionState, Identity, Stopped, Worker};
use crate::error::Error;
use crate::session::{self, End, Keepalive, OpenError, PongWait, Session, Settings};
use crate::sync::{lock, until};
use crate::trigger::Trigger;

/// Opens the first session, retrying until the connect timeout.
///
/// `late` bindings (the program's) are registered on the first session
/// that becomes the worker's, before it is announced: the engine reads and
/// applies the functions already sent while the SDK makes the bindings,
/// instead of after (most of start-up, for a program with many routes).
/// A binding the SDK refuses fails `connect` as it did before dialling.
pub(crate) async fn connect_first(
    worker: &Worker,
    late: Vec<Trigger>,
) -> Result<JoinHandle<End>, Error> {
    let config = &worker.inner.config;
    let deadline = Instant::now() + config.connect_timeout;
    let mut late = Some(late);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let error = match open_session(worker, remaining, true, &mut late).await {
            Ok(reader) => {
                worker.inner.state.send_replace(ConnectionState::Connected);
                return Ok(reader);
            }
            Err(OpenError::Fatal(error)) => return Err(error),
            Err(OpenError::Retry(error)) => error,
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            let reason = match error {
                Error::Connect { reason, .. } => reason,
                other => other.to_string(),
            };
            return Err(Error::Connect {
                url: config.url.clone(),
                reason: format!(
                    "{reason} (gave up after {attempt} attempts in {:?})",
                    config.connect_timeout
                ),
            });
        }
        tokio::time::sleep(config.reconnect.delay(attempt).min(remaining)).await;
    }
}

/// Watches the session and reconnects until shutdown or a fatal error.
pub(crate) async fn supervise(worker: Worker, mut reader: JoinHandle<End>) {
    let inner = &worker.inner;
    let policy = inner.config.reconnect.clone();
    loop {
        let end = reader
            .await
            .unwrap_or_else(|e| End::Lost(format!("reader task ended: {e}")));
        {
            let mut link = lock(&inner.link);
            if link.session.as_ref().is_some_and(|s| !s.is_open()) {
                link.session = None;
            }
        }
        if worker.is_shutting_down() {
            return;
        }
        let reason = match end {
            End::Fatal(fatal) => return stop(&worker, Stopped::Fatal(fatal)),
            End::Lost(reason) => reason,
        };
        tracing::warn!(url = %inner.config.url, "connection to the engine lost: {reason}; reconnecting");
        inner.state.send_replace(ConnectionState::Reconnecting);
        let mut attempt = 0u32;
        let mut last = reason;
        reader = loop {
            if policy.max_attempts.is_some_and(|max| attempt >= max) {
                return stop(
                    &worker,
                    Stopped::GaveUp {
                        attempts: attempt,
                        last,
                    },
                );
            }
            attempt += 1;
            let mut shutdown = inner.shutdown.subscribe();
            tokio::select! {
                _ = tokio::time::sleep(policy.delay(attempt)) => {}
                _ = until(&mut shutdown, |s| *s) => return,
            }
            match open_session(&worker, inner.config.connect_timeout, false, &mut None).await {
                Ok(reader) => {
                    tracing::info!(url = %inner.config.url, attempt, "reconnected to the engine");
                    inner.state.send_replace(ConnectionState::Connected);
                    break reader;
                }
                Err(OpenError::Fatal(error)) => {
                    tracing::error!(url = %inner.config.url, "worker stopped for good: {error}");
                    return stop_with(&worker, error);
                }
                Err(OpenError::Retry(error)) => {
                    tracing::debug!(attempt, "reconnect failed: {error}");
                    last = error.to_string();
                }
            }
        };
    }
}

fn stop(worker: &Worker, stopped: Stopped) {
    let error = stopped.to_error(&worker.inner.config.url);
    tracing::error!(url = %worker.inner.config.url, "worker stopped for good: {error}");
    *lock(&worker.inner.stopped) = Some(stopped);
    worker.inner.state.send_replace(ConnectionState::Failed);
}

/// Stops for good after a fatal error while reopening.
fn stop_with(worker: &Worker, error: Error) {
    let stopped = match error {
        Error::Rejected(r) => Stopped::Fatal(session::Fatal::Rejected(r)),
        Error::Refused { body, .. } => Stopped::Fatal(session::Fatal::Refused(body)),
        other => Stopped::GaveUp {
            attempts: 1,
            last: other.to_string(),
        },
    };
    *lock(&worker.inner.stopped) = Some(stopped);
    worker.inner.state.send_replace(ConnectionState::Failed);
}

/// Opens one session: dial, welcome, reattach, replay, the `late`
/// bindings (taken once this session is the worker's), announce. `first`
/// for the session `connect` opens.
async fn open_session(
    worker: &Worker,
    timeout: Duration,
    first: bool,
    late: &mut Option<Vec<Trigger>>,
) -> Result<JoinHandle<End>, OpenError> {
    let inner = &worker.inner;
    let config = &inner.config;
    let started = Instant::now();
    let settings = Settings {
        url: &config.url,
        headers: &config.headers,
        connector: worker.inner.connector.clone(),
        rules: worker.rules(),
        keepalive: Keepalive {
            interval: config.ping_interval,
            idle_timeout: config.idle_timeout,
        },
    };
    let opened = session::open(settings, timeout).await?;
    // Whatever stops this function before the worker is announced (an
    // error, or its caller giving up on `connect`) ends the new session.
    let mut abandon = Abandon(Some(opened.session.clone()));
    let remaining = timeout
        .saturating_sub(started.elapsed())
        .max(Duration::from_millis(100));
    let previous = std::mem::replace(
        &mut *lock(&inner.identity),
        Identity {
            worker_id: Some(opened.welcome.worker_id.clone()),
            reattach_token: opened.welcome.reattach_token.clone(),
            features: opened.welcome.features.clone(),
        },
    );
    let with_triggers = iii_protocol::features::engine_takes_triggers(&opened.welcome.features);
    {
        let mut link = lock(&inner.link);
        // Checked under the lock that `shutdown` takes the session under:
        // a session opened while the worker shuts down is never published.
        if worker.is_shutting_down() {
            return Err(OpenError::Retry(Error::Connect {
                url: config.url.clone(),
                reason: "the worker is shutting down".into(),
            }));
        }
        // The reader has not started, so nothing can go ahead of reattach
        // and the replay, in registration order.
        if let (Some(previous_worker_id), Some(token)) =
            (previous.worker_id, previous.reattach_token)
        {
            let reattach = Message::Reattach(Reattach {
                previous_worker_id,
                reattach_token: Some(token),
            });
            match worker
                .encode(&reattach, || "`reattach`".into())
                .map(|frame| opened.session.send(frame))
            {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!("could not send `reattach`: {e:?}"),
                Err(e) => tracing::error!("could not send `reattach`: {e}"),
            }
        }
        link.registry.clear_refusals();
        if !with_triggers {
            let late = late.as_deref().unwrap_or_default();
            refuse_triggers(worker, &link.registry, late, first)?;
        }
        // Every registration was encoded, and passed the rules, when it
        // was made.
        for frame in link.registry.replay(with_triggers) {
            if let Err(e) = opened.session.send(frame) {
                tracing::error!("could not replay a registration: {e:?}");
            }
        }
        link.session = Some(opened.session.clone());
        // The bindings follow the announcement (`send_bindings`); until
        // then a new one waits for that replay.
        link.bindings_pending = with_triggers;
    }
    let session = opened.session.clone();
    let reader = opened.start(Arc::new(worker.clone()));
    // Their aliases go out as they are made; the bindings wait for the
    // announcement, as replayed ones do.
    for trigger in late.take().unwrap_or_default() {
        if let Err(error) = worker.register_trigger(trigger) {
            unpublish(worker, &session);
            return Err(OpenError::Fatal(error));
        }
    }

    let announced = match announce(worker, remaining).await {
        Ok(_) if with_triggers => {
            send_bindings(worker, &session, config.connect_timeout, first).await
        }
        other => other.map(|_| ()),
    };
    match announced {
        Ok(()) => {
            session.mark_ready();
            abandon.0 = None;
            Ok(reader)
        }
        Err(error) => {
            // End the session; its reader fails anything pending.
            unpublish(worker, &session);
            abandon.0 = None;
            // A shutdown that took this session closes it gracefully.
            if !worker.is_shutting_down() {
                session.kill(format!("announcing the worker failed: {error}"));
            }
            let end = tokio::time::timeout(Duration::from_secs(5), reader).await;
            match (end, error) {
                (Ok(Ok(End::Fatal(fatal))), _) => {
                    Err(OpenError::Fatal(fatal.to_error(&config.url)))
                }
                (
                    _,
                    error @ (Error::Rejected(_)
                    | Error::Refused { .. }
                    | Error::BindingsRefused { .. }),
                ) => Err(OpenError::Fatal(error)),
                // Another attempt would only queue a second copy of the
                // bindings behind the first on a busy engine.
                (_, error @ Error::BindingsStalled { .. }) if first => Err(OpenError::Fatal(error)),
                (_, other) => Err(OpenError::Retry(other)),
            }
        }
    }
}

/// Takes `session` back from the worker, if it still is the worker's.
fn unpublish(worker: &Worker, session: &Session) {
    let mut link = lock(&worker.inner.link);
    if link.session.as_ref().is_some_and(|s| s.same(session)) {
        link.session = None;
    }
}

/// On an engine that takes no triggers: `connect` fails if the program
/// binds any, registered or `late` (a binding that never fires is worse
/// than no worker); after a reconnect, the worker keeps serving its
/// functions, and each binding's handle and the log say why it is not
/// sent.
fn refuse_triggers(
    worker: &Worker,
    registry: &super::registry::Registry,
    late: &[Trigger],
    first: bool,
) -> Result<(), OpenError> {
    let late = late
        .iter()
        .map(|t| super::registry::describe_binding(t.trigger_type(), t.function_id()));
    let refused: Vec<String> = registry
        .trigger_registrations()
        .into_iter()
        .chain(late)
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    let url = &worker.inner.config.url;
    let what = match refused.as_slice() {
        [one] => one.clone(),
        many => format!("{} trigger registrations ({})", many.len(), many.join(", ")),
    };
    let error = super::engine_features::triggers_removed(url, what);
    if first {
        return Err(OpenError::Fatal(error));
    }
    tracing::error!("{error}");
    registry.refuse_triggers();
    Ok(())
}

/// Bindings sent between two pings, while `connect` waits for the engine
/// to apply them and on a live worker (for [`Worker::flush`]): each pong
/// is progress, and only a whole timeout without any fails the wait. An
/// engine whose cost per binding grows with their number (iii 0.23
/// rebuilds its HTTP router for each route) takes seconds over a thousand
/// routes, yet is never stuck.
pub(crate) const BINDINGS_PER_PING: usize = 32;

/// Sends the bindings, once the engine has answered the announcement: by
/// then it has applied (or refused, saying so first) every function sent
/// before it, and a binding to a function it refused is not sent (see
/// [`super::registry::Registry::bindings`]). Waits until the engine has
/// read them, so that `connect` returns with every route in place; by then
/// the engine has refused those it refuses, and `connect` (`first`) fails
/// naming them. After a reconnect their handles and the log say so.
///
/// A ping follows every [`BINDINGS_PER_PING`] bindings; the wait fails
/// with [`Error::BindingsStalled`] once `stall` passes without a pong.
async fn send_bindings(
    worker: &Worker,
    session: &Session,
    stall: Duration,
    first: bool,
) -> Result<(), Error> {
    let lost = || Error::Flush(crate::error::FlushFailure::ConnectionLost);
    // (the ping's number, the bindings sent before it)
    let (marks, sent) = {
        let mut link = lock(&worker.inner.link);
        if !link.session.as_ref().is_some_and(|s| s.same(session)) {
            // Another session took over; it replays them.
            return Ok(());
        }
        link.bindings_pending = false;
        let bindings = link.registry.bindings();
        if bindings.is_empty() {
            return Ok(());
        }
        let sent = bindings.len();
        let mut marks = Vec::with_capacity(sent.div_ceil(BINDINGS_PER_PING));
        for (i, frame) in bindings.into_iter().enumerate() {
            if let Err(e) = session.send(frame) {
                tracing::error!("could not replay a binding: {e:?}");
            }
            if (i + 1) % BINDINGS_PER_PING == 0 || i + 1 == sent {
                marks.push((session.ping().map_err(|_| lost())?, i + 1));
            }
        }
        (marks, sent)
    };
    let last = marks.last().map_or(0, |(ping, _)| *ping);
    match session.await_pongs(last, stall).await {
        Ok(()) => {}
        Err(PongWait::Lost) => return Err(lost()),
        Err(PongWait::Stalled { seen }) => {
            // The bindings before the last ping the engine answered.
            let applied = marks
                .iter()
                .rfind(|(ping, _)| *ping <= seen)
                .map_or(0, |(_, through)| *through);
            return Err(Error::BindingsStalled {
                url: worker.inner.config.url_shown().to_string(),
                applied,
                sent,
                waited: stall,
            });
        }
    }
    let refusals = lock(&worker.inner.link).registry.take_refusals();
    match refusals.is_empty() {
        true => Ok(()),
        false if first => Err(Error::BindingsRefused { refusals }),
        false => {
            tracing::error!("{}", Error::BindingsRefused { refusals });
            Ok(())
        }
    }
}

/// Ends a session that was opened but never became the worker's.
struct Abandon(Option<crate::session::Session>);

impl Drop for Abandon {
    fn drop(&mut self) {
        if let Some(session) = self.0.take() {
            session.kill("the connection was abandoned before the worker was announced");
        }
    }
}

/// Calls `engine::workers::register` with who this worker is.
async fn announce(worker: &Worker, timeout: Duration) -> Result<Value, Error> {
    let config = &worker.inner.config;
    let mut data = json!({
        "name": config.name,
        "runtime": "rust",
        "version": crate::VERSION,
        "os": std::env::consts::OS,
        "pid": std::process::id(),
        "telemetry": {"language": "rust"},
    });
    if let Some(ns) = &config.namespace {
        data["namespace"] = json!(ns);
    }
    if let Some(description) = &config.description {
        data["description"] = json!(description);
    }
    worker
        .invoke("engine::workers::register")
        .data(data)
        .timeout(timeout)
        .call::<Value>()
        .await
}
