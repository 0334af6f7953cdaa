use super::*;

use std::sync::atomic::AtomicUsize;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::sleep;

type Key = &'static str;
type Reconciled = Result<Action, String>;

/// Records every reconcile: which key, when it started, and how many ran at once.
#[derive(Clone)]
struct Recorder {
    t0: Instant,
    log: Arc<Mutex<Log>>,
}

#[derive(Default)]
struct Log {
    starts: Vec<(Key, Duration)>,
    running: HashMap<Key, usize>,
    running_total: usize,
    max_per_key: usize,
    max_total: usize,
}

/// A reconcile in progress; dropping it marks the reconcile finished.
struct Running {
    recorder: Recorder,
    key: Key,
}

impl Recorder {
    fn new() -> Self {
        Recorder {
            t0: Instant::now(),
            log: Arc::default(),
        }
    }

    fn enter(&self, key: Key) -> Running {
        let mut log = self.log.lock().unwrap();
        log.starts.push((key, self.t0.elapsed()));
        let per_key = log.running.entry(key).or_insert(0);
        *per_key += 1;
        let per_key = *per_key;
        log.running_total += 1;
        log.max_per_key = log.max_per_key.max(per_key);
        log.max_total = log.max_total.max(log.running_total);
        Running {
            recorder: self.clone(),
            key,
        }
    }

    fn starts(&self, key: Key) -> Vec<Duration> {
        let log = self.log.lock().unwrap();
        log.starts
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|&(_, t)| t)
            .collect()
    }

    fn total(&self) -> usize {
        self.log.lock().unwrap().starts.len()
    }

    fn now(&self) -> Duration {
        self.t0.elapsed()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut log = self.recorder.log.lock().unwrap();
        *log.running.get_mut(self.key).unwrap() -= 1;
        log.running_total -= 1;
    }
}

/// Asserts each time is within a few milliseconds of the expected seconds (the paused clock
/// rounds timers to the millisecond).
#[track_caller]
fn assert_at(actual: &[Duration], expected_secs: &[f64]) {
    assert_eq!(
        actual.len(),
        expected_secs.len(),
        "reconciled at {actual:?}, expected at {expected_secs:?} s"
    );
    for (a, e) in actual.iter().zip(expected_secs) {
        assert!(
            (a.as_secs_f64() - e).abs() < 0.01,
            "reconciled at {actual:?}, expected at {expected_secs:?} s"
        );
    }
}

/// Runs the queue in a task; the sender stops it.
fn spawn_run<F, Fut>(queue: &WorkQueue<Key>, reconcile: F) -> (oneshot::Sender<()>, JoinHandle<()>)
where
    F: Fn(Key) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Reconciled> + Send + 'static,
{
    let (stop, stopped) = oneshot::channel::<()>();
    let queue = queue.clone();
    let handle = tokio::spawn(async move {
        queue
            .run(reconcile, async {
                let _ = stopped.await;
            })
            .await;
    });
    (stop, handle)
}

async fn stop(run: (oneshot::Sender<()>, JoinHandle<()>)) {
    run.0.send(()).unwrap();
    run.1.await.unwrap();
}

/// A reconcile that takes `duration` and then waits for the next change.
fn taking(
    recorder: &Recorder,
    duration: Duration,
) -> impl Fn(Key) -> std::pin::Pin<Box<dyn Future<Output = Reconciled> + Send>> + Send + Sync + 'static
{
    let recorder = recorder.clone();
    move |key| {
        let recorder = recorder.clone();
        Box::pin(async move {
            let _running = recorder.enter(key);
            sleep(duration).await;
            Ok(Action::await_change())
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_enqueues_while_running_makes_exactly_one_more_reconcile() {
    let queue = WorkQueue::new(1);
    let recorder = Recorder::new();
    queue.enqueue("a");
    let run = spawn_run(&queue, taking(&recorder, Duration::from_secs(1)));
    sleep(Duration::from_millis(100)).await;
    assert_eq!(queue.in_flight(), 1);

    for _ in 0..50 {
        queue.enqueue("a");
    }
    // The first enqueue marks the running key dirty; the other 49 add nothing.
    assert_eq!(queue.deduplicated(), 49);
    sleep(Duration::from_secs(10)).await;

    assert_at(&recorder.starts("a"), &[0.0, 1.0]);
    assert_eq!((queue.depth(), queue.in_flight()), (0, 0));
    stop(run).await;
}

#[tokio::test(start_paused = true)]
async fn enqueues_of_a_waiting_key_are_deduplicated() {
    let queue = WorkQueue::new(1);
    for _ in 0..5 {
        queue.enqueue("a");
    }
    queue.enqueue("b");
    assert_eq!(queue.depth(), 2);
    assert_eq!(queue.deduplicated(), 4);

    let recorder = Recorder::new();
    let run = spawn_run(&queue, taking(&recorder, Duration::from_secs(1)));
    sleep(Duration::from_secs(10)).await;
    assert_at(&recorder.starts("a"), &[0.0]);
    assert_at(&recorder.starts("b"), &[1.0]);
    stop(run).await;
}

#[tokio::test(start_paused = true)]
async fn one_key_is_never_reconciled_twice_at_once() {
    let queue = WorkQueue::new(4);
    let recorder = Recorder::new();
    let keys = ["a", "b", "c"];
    let run = {
        let recorder = recorder.clone();
        spawn_run(&queue, move |key| {
            let recorder = recorder.clone();
            async move {
                let _running = recorder.enter(key);
                sleep(Duration::from_millis(250)).await;
                Ok(Action::requeue(Duration::from_millis(30)))
            }
        })
    };
    for _ in 0..50 {
        for key in keys {
            queue.enqueue(key);
        }
        sleep(Duration::from_millis(70)).await;
    }
    stop(run).await;

    let log = recorder.log.lock().unwrap();
    assert_eq!(log.max_per_key, 1, "a key ran concurrently with itself");
    // Free slots were there to take: the keys did run side by side.
    assert_eq!(log.max_total, 3);
    for key in keys {
        let runs = log.starts.iter().filter(|(k, _)| *k == key).count();
        assert!(runs >= 10, "{key} reconciled only {runs} times");
    }
}

#[tokio::test(start_paused = true)]
async fn no_more_than_the_concurrency_bound_run_at_once() {
    let queue = WorkQueue::new(3);
    let recorder = Recorder::new();
    let keys = ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"];
    for key in keys {
        queue.enqueue(key);
    }
    let run = spawn_run(&queue, taking(&recorder, Duration::from_secs(1)));
    sleep(Duration::from_millis(500)).await;
    assert_eq!((queue.in_flight(), queue.depth()), (3, 7));
    sleep(Duration::from_secs(10)).await;
    stop(run).await;

    assert_eq!(recorder.log.lock().unwrap().max_total, 3);
    // Ten one-second reconciles three at a time start in waves at 0, 1, 2 and 3 s.
    let starts: Vec<Duration> = keys.iter().flat_map(|k| recorder.starts(k)).collect();
    assert_at(&starts, &[0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 3.0]);
}

#[tokio::test(start_paused = true)]
async fn requeue_looks_again_at_the_right_time_without_holding_a_worker() {
    let queue = WorkQueue::new(1);
    let recorder = Recorder::new();
    let run = {
        let recorder = recorder.clone();
        spawn_run(&queue, move |key| {
            let recorder = recorder.clone();
            async move {
                let _running = recorder.enter(key);
                let first = recorder.starts(key).len() == 1;
                Ok(if key == "a" && first {
                    Action::requeue(Duration::from_secs(30))
                } else {
                    Action::await_change()
                })
            }
        })
    };
    queue.enqueue("a");
    sleep(Duration::from_secs(5)).await;
    // "a" waits in the schedule; the only worker is free for "b".
    assert_eq!((queue.depth(), queue.in_flight()), (1, 0));
    queue.enqueue("b");
    sleep(Duration::from_secs(60)).await;

    assert_at(&recorder.starts("a"), &[0.0, 30.0]);
    assert_at(&recorder.starts("b"), &[5.0]);
    assert_eq!(queue.depth(), 0);
    stop(run).await;
}

#[tokio::test(start_paused = true)]
async fn backoff_grows_is_capped_and_resets_on_success() {
    let policy = BackoffPolicy {
        base: Duration::from_secs(1),
        max: Duration::from_secs(8),
        jitter: 0.0,
    };
    let queue = WorkQueue::with_backoff(1, policy);
    let recorder = Recorder::new();
    let run = {
        let recorder = recorder.clone();
        spawn_run(&queue, move |key| {
            let recorder = recorder.clone();
            async move {
                let _running = recorder.enter(key);
                // Calls 1-6 fail, 7 succeeds; after the next enqueue, 8 fails and 9 succeeds.
                match recorder.starts(key).len() {
                    1..=6 | 8 => Err("throttled".to_string()),
                    _ => Ok(Action::await_change()),
                }
            }
        })
    };
    queue.enqueue("a");
    sleep(Duration::from_secs(60)).await;
    // Waits of 1, 2, 4, 8 (the cap), 8, 8 s.
    assert_at(
        &recorder.starts("a"),
        &[0.0, 1.0, 3.0, 7.0, 15.0, 23.0, 31.0],
    );
    assert_eq!(
        queue.depth(),
        0,
        "a success with await_change left the key scheduled"
    );

    queue.enqueue("a");
    sleep(Duration::from_secs(60)).await;
    // The success reset the count: the next failure waits the base again.
    assert_at(
        &recorder.starts("a"),
        &[0.0, 1.0, 3.0, 7.0, 15.0, 23.0, 31.0, 60.0, 61.0],
    );
    stop(run).await;
}

#[test]
fn backoff_delay_is_jittered_within_bounds_and_capped() {
    let policy = BackoffPolicy::default();
    let near = |d: Duration, secs: f64| (d.as_secs_f64() - secs).abs() < 1e-6;
    assert!(near(policy.delay(1, 0.5), 1.0));
    assert!(near(policy.delay(1, 0.0), 0.8));
    assert!(near(policy.delay(1, 1.0), 1.2));
    assert!(near(policy.delay(3, 0.5), 4.0));
    assert!(near(policy.delay(9, 0.5), 256.0));
    // Past the cap the jitter only shortens: max is a ceiling.
    assert!(near(policy.delay(10, 0.5), 300.0));
    assert!(near(policy.delay(10, 1.0), 300.0));
    assert!(near(policy.delay(10, 0.0), 240.0));
    assert!(near(policy.delay(u32::MAX, 0.5), 300.0));
    for _ in 0..1000 {
        let d = policy.delay(2, fastrand::f64());
        assert!((1.6..=2.4).contains(&d.as_secs_f64()), "{d:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn enqueue_after_keeps_the_earlier_time() {
    let queue = WorkQueue::new(1);
    queue.enqueue_after("a", Duration::from_secs(10));
    queue.enqueue_after("a", Duration::from_secs(3));
    queue.enqueue_after("a", Duration::from_secs(20));
    assert_eq!((queue.depth(), queue.deduplicated()), (1, 2));

    let recorder = Recorder::new();
    let run = spawn_run(&queue, taking(&recorder, Duration::ZERO));
    sleep(Duration::from_secs(30)).await;
    assert_at(&recorder.starts("a"), &[3.0]);

    // A plain enqueue moves a scheduled key forward to now.
    queue.enqueue_after("b", Duration::from_secs(10));
    queue.enqueue("b");
    sleep(Duration::from_secs(30)).await;
    assert_at(&recorder.starts("b"), &[30.0]);
    assert_eq!(queue.depth(), 0);
    stop(run).await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_in_flight_work_finish_and_takes_no_new_work() {
    let queue = WorkQueue::new(1);
    let recorder = Recorder::new();
    let finished = Arc::new(AtomicUsize::new(0));
    let run = {
        let (recorder, finished) = (recorder.clone(), Arc::clone(&finished));
        spawn_run(&queue, move |key| {
            let (recorder, finished) = (recorder.clone(), Arc::clone(&finished));
            async move {
                let _running = recorder.enter(key);
                sleep(Duration::from_secs(10)).await;
                finished.fetch_add(1, Ordering::SeqCst);
                Ok(Action::await_change())
            }
        })
    };
    queue.enqueue("a");
    queue.enqueue("b");
    sleep(Duration::from_secs(1)).await;
    stop(run).await;

    // run returned only once "a" had finished, and never started "b".
    assert_at(&[recorder.now()], &[10.0]);
    assert_eq!(finished.load(Ordering::SeqCst), 1);
    assert_eq!(recorder.total(), 1);
    assert_eq!((queue.depth(), queue.in_flight()), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_panicking_reconcile_is_retried_with_backoff() {
    let policy = BackoffPolicy {
        jitter: 0.0,
        ..BackoffPolicy::default()
    };
    let queue = WorkQueue::with_backoff(1, policy);
    let recorder = Recorder::new();
    let run = {
        let recorder = recorder.clone();
        spawn_run(&queue, move |key| {
            let recorder = recorder.clone();
            async move {
                let first = {
                    let _running = recorder.enter(key);
                    recorder.starts(key).len() == 1
                };
                assert!(!first, "deliberate panic in the first reconcile");
                Ok(Action::await_change())
            }
        })
    };
    queue.enqueue("a");
    sleep(Duration::from_secs(5)).await;
    assert_at(&recorder.starts("a"), &[0.0, 1.0]);
    assert_eq!((queue.depth(), queue.in_flight()), (0, 0));
    stop(run).await;
}

#[tokio::test(start_paused = true)]
async fn an_enqueue_during_a_failed_reconcile_retries_at_once() {
    let queue = WorkQueue::with_backoff(1, BackoffPolicy::default());
    let recorder = Recorder::new();
    let run = {
        let recorder = recorder.clone();
        spawn_run(&queue, move |key| {
            let recorder = recorder.clone();
            async move {
                let _running = recorder.enter(key);
                sleep(Duration::from_secs(1)).await;
                match recorder.starts(key).len() {
                    1 => Err("throttled".to_string()),
                    _ => Ok(Action::await_change()),
                }
            }
        })
    };
    queue.enqueue("a");
    sleep(Duration::from_millis(500)).await;
    queue.enqueue("a");
    sleep(Duration::from_secs(10)).await;
    // The enqueue carries news the failed attempt did not see, so it beats the back-off.
    assert_at(&recorder.starts("a"), &[0.0, 1.0]);
    stop(run).await;
}

/// The service's keys: an event naming `notebook-instance/ml-research-7` (SageMaker lower-cases
/// names in ARNs) and a sweep naming `ML-Research-7` are one resource, so one key.
#[tokio::test(start_paused = true)]
async fn two_spellings_of_a_resource_name_are_one_key() {
    use crate::domain::resource::{ResourceKind, ResourceRef};
    let spelled = |name: &str| ResourceRef {
        kind: ResourceKind::NotebookInstance,
        name: name.into(),
        account: Some("123456789012".into()),
        region: Some("us-east-1".into()),
    };
    let queue = WorkQueue::new(4);
    queue.enqueue(spelled("ML-Research-7"));
    queue.enqueue(spelled("ml-research-7"));
    // One entry: the second spelling merged into the first.
    assert_eq!((queue.depth(), queue.deduplicated()), (1, 1));

    let t0 = Instant::now();
    let starts: Arc<Mutex<Vec<(String, Duration)>>> = Arc::default();
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let run = {
        let (queue, starts, running, most) = (
            queue.clone(),
            Arc::clone(&starts),
            Arc::clone(&running),
            Arc::clone(&most),
        );
        let (stop, stopped) = oneshot::channel::<()>();
        let reconcile = move |key: ResourceRef| {
            let (starts, running, most) =
                (Arc::clone(&starts), Arc::clone(&running), Arc::clone(&most));
            async move {
                starts.lock().unwrap().push((key.name, t0.elapsed()));
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                sleep(Duration::from_secs(1)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, String>(Action::await_change())
            }
        };
        let handle = tokio::spawn(async move {
            queue
                .run(reconcile, async {
                    let _ = stopped.await;
                })
                .await;
        });
        (stop, handle)
    };
    sleep(Duration::from_millis(100)).await;
    assert_eq!(queue.in_flight(), 1);
    // While it runs, either spelling (the free workers notwithstanding) waits for it, and the
    // two make one follow-up.
    queue.enqueue(spelled("ml-research-7"));
    queue.enqueue(spelled("ML-RESEARCH-7"));
    assert_eq!((queue.depth(), queue.in_flight()), (0, 1));
    sleep(Duration::from_secs(10)).await;
    stop(run).await;

    assert_eq!(
        most.load(Ordering::SeqCst),
        1,
        "one notebook reconciled twice at once"
    );
    let starts = starts.lock().unwrap();
    let times: Vec<Duration> = starts.iter().map(|(_, t)| *t).collect();
    assert_at(&times, &[0.0, 1.0]);
    // The key keeps the spelling it was first queued with: calls accept either.
    assert_eq!(starts[0].0, "ML-Research-7");
    assert_eq!((queue.depth(), queue.in_flight()), (0, 0));
}

/// A reconcile that asks to look again after `settle` every time, as one waiting for a
/// notebook's transition does.
fn settling(
    recorder: &Recorder,
    settle: Duration,
) -> impl Fn(Key) -> std::pin::Pin<Box<dyn Future<Output = Reconciled> + Send>> + Send + Sync + 'static
{
    let recorder = recorder.clone();
    move |key| {
        let recorder = recorder.clone();
        Box::pin(async move {
            let _running = recorder.enter(key);
            sleep(Duration::from_millis(100)).await;
            Ok(Action::requeue(settle))
        })
    }
}

#[tokio::test(start_paused = true)]
async fn an_enqueue_wakes_a_key_waiting_for_its_requeue_at_once() {
    // The settle interval is the fallback; the event that says the transition ended comes first.
    let queue = WorkQueue::new(2);
    let recorder = Recorder::new();
    let run = spawn_run(&queue, settling(&recorder, Duration::from_secs(60)));
    queue.enqueue("nb");
    sleep(Duration::from_secs(5)).await;
    assert_eq!(
        (queue.depth(), queue.in_flight()),
        (1, 0),
        "waiting for its requeue"
    );

    queue.enqueue("nb"); // the state-change event, 5 s into a 60 s settle
    sleep(Duration::from_secs(1)).await;
    assert_at(&recorder.starts("nb"), &[0.0, 5.0]);
    assert_eq!(
        queue.deduplicated(),
        1,
        "it moved the scheduled key, it did not add one"
    );

    // Without another event, the settle interval still brings it back.
    sleep(Duration::from_secs(70)).await;
    assert_at(&recorder.starts("nb"), &[0.0, 5.0, 65.1]);
    assert_eq!(queue.depth(), 1, "one scheduled key, not two");
    stop(run).await;
}

#[tokio::test(start_paused = true)]
async fn an_enqueue_during_a_reconcile_that_asks_for_a_requeue_runs_it_right_after() {
    // The event arrives while the reconcile that started the transition still runs: it read the
    // resource too early, so the key runs again as soon as it finishes, not after the settle.
    let queue = WorkQueue::new(2);
    let recorder = Recorder::new();
    let run = spawn_run(&queue, settling(&recorder, Duration::from_secs(60)));
    queue.enqueue("nb");
    sleep(Duration::from_millis(50)).await;
    assert_eq!(queue.in_flight(), 1);
    queue.enqueue("nb");
    sleep(Duration::from_secs(1)).await;
    assert_at(&recorder.starts("nb"), &[0.0, 0.1]);
    stop(run).await;
}

/// The group of a test key: its first letter.
fn first_letter(key: &Key) -> String {
    key[..1].to_string()
}

#[tokio::test(start_paused = true)]
async fn no_more_than_the_group_bound_of_one_group_run_at_once() {
    let queue = WorkQueue::grouped(8, 2, first_letter);
    let recorder = Recorder::new();
    let in_a = Arc::new(AtomicUsize::new(0));
    let max_in_a = Arc::new(AtomicUsize::new(0));
    let run = {
        let recorder = recorder.clone();
        let (in_a, max_in_a) = (Arc::clone(&in_a), Arc::clone(&max_in_a));
        spawn_run(&queue, move |key| {
            let recorder = recorder.clone();
            let (in_a, max_in_a) = (Arc::clone(&in_a), Arc::clone(&max_in_a));
            async move {
                let _running = recorder.enter(key);
                let group_a = key.starts_with('a');
                if group_a {
                    let now = in_a.fetch_add(1, Ordering::SeqCst) + 1;
                    max_in_a.fetch_max(now, Ordering::SeqCst);
                }
                sleep(Duration::from_millis(100)).await;
                if group_a {
                    in_a.fetch_sub(1, Ordering::SeqCst);
                }
                Ok(Action::await_change())
            }
        })
    };
    for key in ["a1", "a2", "a3", "a4", "a5", "a6", "b1", "b2"] {
        queue.enqueue(key);
    }
    sleep(Duration::from_secs(2)).await;
    stop(run).await;
    assert_eq!(recorder.total(), 8, "every key ran");
    assert_eq!(
        max_in_a.load(Ordering::SeqCst),
        2,
        "group a ran two at a time"
    );
    // Group b's keys did not wait for group a's backlog.
    for key in ["b1", "b2"] {
        assert_at(&recorder.starts(key), &[0.0]);
    }
    assert_at(&recorder.starts("a5"), &[0.2]);
}

#[tokio::test(start_paused = true)]
async fn groups_with_keys_ready_take_turns() {
    // One worker: the order of the starts is the order of the turns.
    let queue = WorkQueue::grouped(1, 1, first_letter);
    let recorder = Recorder::new();
    let run = {
        let recorder = recorder.clone();
        spawn_run(&queue, move |key| {
            let recorder = recorder.clone();
            async move {
                let _running = recorder.enter(key);
                sleep(Duration::from_millis(10)).await;
                Ok(Action::await_change())
            }
        })
    };
    for key in ["a1", "a2", "a3", "b1", "b2", "c1"] {
        queue.enqueue(key);
    }
    sleep(Duration::from_secs(1)).await;
    stop(run).await;
    let order: Vec<Key> = recorder
        .log
        .lock()
        .unwrap()
        .starts
        .iter()
        .map(|(k, _)| *k)
        .collect();
    assert_eq!(order, ["a1", "b1", "c1", "a2", "b2", "a3"]);
}
