//! Where an invocation takes its first step.
//!
//! Most handlers answer without waiting on anything, or do a little work
//! before their first wait. A task of their own costs such an invocation
//! more than the rest of its path in the SDK: about 6,700 instructions
//! (tokio allocates each task aligned to a cache line, schedules it,
//! possibly on the other thread, wakes it and tears it down). So the
//! worker's reader polls a new invocation once, in place, and spawns it
//! only if it waits.
//!
//! A step on the reader holds up every frame behind it, so a function
//! whose first step once runs longer than its budget
//! ([`crate::WorkerBuilder::first_step_budget`], 100 us by default: a
//! handler that computes, or sleeps, before its first `.await`) starts
//! every later invocation in a task of its own, at once, as all did
//! before. The one long step is the price of learning it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use crate::handler::Pace;

/// Runs `task` to its first wait here, where `pace` allows (always for
/// `None`: the SDK's own refusals) and `budget` is not zero, and in a task
/// of its own from there.
///
/// The poll here uses a waker that does nothing: a task that waits is
/// handed to tokio, whose first poll registers its real waker, as every
/// future must on each poll.
pub(super) fn run<F>(mut task: Pin<Box<F>>, pace: Option<&Pace>, budget: Duration)
where
    F: Future<Output = ()> + Send + 'static,
{
    if budget.is_zero() || !pace.is_none_or(Pace::inline) {
        tokio::spawn(task);
        return;
    }
    let began = Instant::now();
    let waits = task
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
        .is_pending();
    if let Some(pace) = pace
        && began.elapsed() > budget
    {
        pace.spawn_from_now();
    }
    if waits {
        tokio::spawn(task);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const BUDGET: Duration = Duration::from_micros(100);

    /// A step that answers at once runs on the caller's thread; a long one moves the function's later
    /// invocations to tasks of their own; a waiting one finishes in a task.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_long_first_step_sends_later_invocations_to_tasks() {
        let pace = Pace::new();
        let here = std::thread::current().id();
        let ran_on = Arc::new(std::sync::Mutex::new(None));
        let seen = ran_on.clone();
        run(
            Box::pin(async move {
                *seen.lock().unwrap() = Some(std::thread::current().id());
            }),
            Some(&pace),
            BUDGET,
        );
        assert_eq!(*ran_on.lock().unwrap(), Some(here), "ran in place");

        run(
            Box::pin(async { std::thread::sleep(BUDGET * 3) }),
            Some(&pace),
            BUDGET,
        );
        assert!(
            !pace.inline(),
            "a step over budget sends the function to tasks"
        );

        let (tx, rx) = tokio::sync::oneshot::channel();
        run(
            Box::pin(async move {
                let _ = tx.send(());
            }),
            Some(&pace),
            BUDGET,
        );
        tokio::time::timeout(Duration::from_secs(5), rx)
            .await
            .expect("the spawned invocation ran")
            .expect("sent");
    }

    /// A zero budget gives every invocation a task of its own.
    #[tokio::test]
    async fn a_zero_budget_spawns_every_invocation() {
        let pace = Pace::new();
        let ran = Arc::new(AtomicUsize::new(0));
        let counted = ran.clone();
        run(
            Box::pin(async move {
                counted.fetch_add(1, Ordering::SeqCst);
            }),
            Some(&pace),
            Duration::ZERO,
        );
        assert_eq!(ran.load(Ordering::SeqCst), 0, "not run in place");
        tokio::time::timeout(Duration::from_secs(5), async {
            while ran.load(Ordering::SeqCst) == 0 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("run in its task");
    }

    /// A step that waits is finished by tokio, woken as it should be.
    #[tokio::test]
    async fn a_step_that_waits_is_finished_in_a_task() {
        let pace = Pace::new();
        let done = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let counted = done.clone();
        run(
            Box::pin(async move {
                let _ = rx.await;
                counted.fetch_add(1, Ordering::SeqCst);
            }),
            Some(&pace),
            BUDGET,
        );
        assert_eq!(done.load(Ordering::SeqCst), 0, "waiting on the sender");
        tx.send(()).expect("the task holds the receiver");
        tokio::time::timeout(Duration::from_secs(5), async {
            while done.load(Ordering::SeqCst) == 0 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("woken and finished");
    }
}
