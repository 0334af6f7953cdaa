use super::*;

fn rule() -> FlushRule {
    FlushRule {
        max: 10,
        linger: Duration::from_millis(50),
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn a_batch_is_sent_as_soon_as_it_holds_ten() {
    let mut b = Batches::new(rule());
    let t0 = Instant::now();
    for i in 0..9 {
        assert_eq!(b.push(Call::Delete, i, t0), None);
    }
    assert_eq!(b.push(Call::Delete, 9, t0), Some((0..10).collect()));
    assert!(b.is_empty());
    assert_eq!(b.next_due(), None, "nothing pending, nothing due");
}

#[test]
fn a_batch_not_full_is_due_a_linger_after_its_first_entry() {
    let mut b = Batches::new(rule());
    let t0 = Instant::now();
    b.push(Call::Delete, 1, t0);
    b.push(Call::Delete, 2, t0 + ms(30));
    assert_eq!(
        b.next_due(),
        Some(t0 + ms(50)),
        "the first entry sets the time"
    );
    assert!(b.take_due(t0 + ms(49)).is_empty());
    assert_eq!(b.take_due(t0 + ms(50)), vec![(Call::Delete, vec![1, 2])]);
    assert!(b.is_empty());

    // The next batch starts its own linger.
    b.push(Call::Delete, 3, t0 + ms(60));
    assert_eq!(b.next_due(), Some(t0 + ms(110)));
}

#[test]
fn deletes_and_visibility_changes_are_batched_apart() {
    let mut b = Batches::new(rule());
    let t0 = Instant::now();
    for i in 0..9 {
        b.push(Call::Delete, i, t0);
        b.push(Call::ChangeVisibility, 100 + i, t0 + ms(20));
    }
    assert_eq!(b.len(), 18);
    // Each call's batch fills on its own.
    assert_eq!(b.push(Call::Delete, 9, t0), Some((0..10).collect()));
    assert_eq!(b.len(), 9);
    assert_eq!(b.next_due(), Some(t0 + ms(70)));
    assert_eq!(
        b.take_due(t0 + ms(70)),
        vec![(Call::ChangeVisibility, (100..109).collect())]
    );
}

#[test]
fn settlements_go_to_their_call() {
    assert_eq!(Settlement::Delete.call(), Call::Delete);
    assert_eq!(
        Settlement::Visibility(Duration::ZERO).call(),
        Call::ChangeVisibility
    );
    assert_eq!(
        Settlement::Visibility(ms(30_000)).call(),
        Call::ChangeVisibility
    );
}

#[test]
fn closing_drains_everything_pending() {
    let mut b = Batches::new(rule());
    let t0 = Instant::now();
    b.push(Call::ChangeVisibility, 1, t0);
    b.push(Call::Delete, 2, t0);
    assert_eq!(
        b.drain(),
        vec![(Call::Delete, vec![2]), (Call::ChangeVisibility, vec![1])]
    );
    assert!(b.is_empty() && b.next_due().is_none());
    assert!(b.drain().is_empty());
}

#[test]
fn the_batch_size_never_exceeds_the_sqs_limit() {
    let mut b = Batches::new(FlushRule {
        max: 50,
        linger: ms(50),
    });
    let t0 = Instant::now();
    let sent: Vec<_> = (0..25)
        .filter_map(|i| b.push(Call::Delete, i, t0))
        .collect();
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|s| s.len() == MAX_ENTRIES));
    assert_eq!(b.len(), 5);

    assert_eq!(chunks((0..23).collect(), 10).len(), 3);
    assert_eq!(chunks((0..23).collect::<Vec<_>>(), 10)[2], vec![20, 21, 22]);
    assert!(chunks(Vec::<u8>::new(), 10).is_empty());
}

#[test]
fn visibility_is_whole_seconds_capped_at_twelve_hours() {
    assert_eq!(visibility_seconds(Duration::ZERO), 0);
    assert_eq!(visibility_seconds(ms(30_900)), 30);
    assert_eq!(visibility_seconds(Duration::from_secs(100_000)), 43_200);
}
