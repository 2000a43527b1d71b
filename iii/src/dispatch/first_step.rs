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
//! whose first steps run longer than their budget
//! ([`crate::WorkerBuilder::first_step_budget`], 100 us by default: a
//! handler that computes, or sleeps, before its first `.await`) three
//! times in a row starts every later invocation in a task of its own, at
//! once, as all did before. The three long steps are the price of
//! learning it: one alone may be the clock's, not the handler's (a thread
//! preempted mid-step; see `handler::Pace`). And while
//! frames keep arriving, the reader runs at most [`BURST`] budgets of
//! steps in place before it spawns the rest, until it next waits for the
//! socket: quick steps of a busy worker still spread over every thread.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::handler::Pace;

/// How many budgets of first steps the reader runs in place while frames
/// keep arriving, before it gives the rest of the burst tasks of their
/// own: steps that are each short still add up, and in place they run
/// one after another where tasks would share the runtime's threads.
const BURST: u32 = 2;

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
    let burst_full = crate::burst::spent().is_some_and(|spent| spent > budget * BURST);
    if budget.is_zero() || burst_full || !pace.is_none_or(Pace::inline) {
        tokio::spawn(task);
        return;
    }
    let began = Instant::now();
    let polled = std::panic::catch_unwind(AssertUnwindSafe(|| {
        task.as_mut().poll(&mut Context::from_waker(Waker::noop()))
    }));
    let took = began.elapsed();
    crate::burst::add(took);
    if let Some(pace) = pace {
        pace.stepped(took > budget);
    }
    match polled {
        Ok(Poll::Pending) => {
            tokio::spawn(task);
        }
        Ok(Poll::Ready(())) => {}
        // The handler's own panics are caught around it; this is the SDK's
        // code, or the user's tracing layers and span processors. As in a
        // task, the invocation ends and the reader goes on.
        Err(_) => tracing::error!("an invocation panicked outside its handler; it is dropped"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::burst::Burst;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const LONG: Duration = Duration::from_secs(10);

    /// A task that counts its run, and the count.
    fn counted() -> (Pin<Box<impl Future<Output = ()> + Send>>, Arc<AtomicUsize>) {
        let count = Arc::new(AtomicUsize::new(0));
        let counter = count.clone();
        let task = Box::pin(async move {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        (task, count)
    }

    async fn eventually_ran(count: &AtomicUsize) {
        tokio::time::timeout(Duration::from_secs(5), async {
            while count.load(Ordering::SeqCst) == 0 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("run in its task");
    }

    /// A quick step runs in place, and the function stays in place.
    #[tokio::test]
    async fn a_quick_step_runs_in_place() {
        let pace = Pace::new();
        let (task, ran) = counted();
        run(task, Some(&pace), LONG);
        assert_eq!(ran.load(Ordering::SeqCst), 1, "ran before `run` returned");
        assert!(pace.inline());
    }

    /// A step that sleeps past `budget`, run on the reader.
    fn long_step(pace: &Pace, budget: Duration) {
        run(
            Box::pin(async move { std::thread::sleep(budget * 3) }),
            Some(pace),
            budget,
        );
    }

    /// Three steps over budget in a row send the function's later
    /// invocations to tasks.
    #[tokio::test]
    async fn long_first_steps_in_a_row_send_later_invocations_to_tasks() {
        let pace = Pace::new();
        let budget = Duration::from_micros(100);
        for strike in 1..Pace::STRIKES {
            long_step(&pace, budget);
            assert!(pace.inline(), "still in place after {strike} long step(s)");
        }
        long_step(&pace, budget);
        assert!(
            !pace.inline(),
            "{} steps over budget in a row send the function to tasks",
            Pace::STRIKES
        );
        let (task, ran) = counted();
        run(task, Some(&pace), LONG);
        assert_eq!(ran.load(Ordering::SeqCst), 0, "not run in place");
        eventually_ran(&ran).await;
    }

    /// A quick step clears the strikes: long steps that are not in a row
    /// (a thread preempted now and then) never send a function to tasks.
    #[tokio::test]
    async fn a_quick_step_clears_the_strikes() {
        let pace = Pace::new();
        let budget = Duration::from_micros(100);
        for _ in 0..3 {
            for _ in 1..Pace::STRIKES {
                long_step(&pace, budget);
            }
            let (task, ran) = counted();
            run(task, Some(&pace), LONG);
            assert_eq!(ran.load(Ordering::SeqCst), 1, "a quick step runs in place");
        }
        assert!(pace.inline(), "never {} long steps in a row", Pace::STRIKES);
    }

    /// A zero budget gives every invocation a task of its own.
    #[tokio::test]
    async fn a_zero_budget_spawns_every_invocation() {
        let (task, ran) = counted();
        run(task, Some(&Pace::new()), Duration::ZERO);
        assert_eq!(ran.load(Ordering::SeqCst), 0, "not run in place");
        eventually_ran(&ran).await;
    }

    /// On a reader whose burst has used its budgets, a new invocation gets
    /// a task, though its function is quick; the next burst starts afresh.
    #[tokio::test]
    async fn a_full_burst_spawns_the_rest() {
        let pace = Pace::new();
        let budget = Duration::from_millis(1);
        let mut full = Burst::having_spent(budget * BURST + Duration::from_micros(1));
        let (task, ran) = counted();
        crate::burst::lend(&mut full, 0, || run(task, Some(&pace), budget));
        assert_eq!(ran.load(Ordering::SeqCst), 0, "not run in place");
        eventually_ran(&ran).await;
        let mut fresh = Burst::default();
        let (task, ran) = counted();
        crate::burst::lend(&mut fresh, 0, || run(task, Some(&pace), LONG));
        assert_eq!(ran.load(Ordering::SeqCst), 1, "a new burst runs in place");
        assert!(
            fresh.spent() > Duration::ZERO,
            "the step is counted in the burst"
        );
    }

    /// A panic in the step is the invocation's end, not the reader's.
    #[tokio::test]
    async fn a_panic_in_place_does_not_unwind_the_reader() {
        let pace = Pace::new();
        run(
            Box::pin(async { panic!("outside the handler") }),
            Some(&pace),
            LONG,
        );
        let (task, ran) = counted();
        run(task, Some(&pace), LONG);
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    }

    /// A step that waits is finished by tokio, woken by its real waker.
    #[tokio::test]
    async fn a_step_that_waits_is_finished_in_a_task() {
        let done = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let counter = done.clone();
        run(
            Box::pin(async move {
                let _ = rx.await;
                counter.fetch_add(1, Ordering::SeqCst);
            }),
            Some(&Pace::new()),
            LONG,
        );
        assert_eq!(done.load(Ordering::SeqCst), 0, "waiting on the sender");
        // Let the task's first poll register its waker before the send.
        tokio::time::sleep(Duration::from_millis(10)).await;
        tx.send(()).expect("the task holds the receiver");
        eventually_ran(&done).await;
    }
}
