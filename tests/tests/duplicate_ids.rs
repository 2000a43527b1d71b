//! Two `#[iii::function]`s with one id are a startup error naming both
//! places. (A test binary of its own: every worker in it would fail.)

mod billing {
    #[iii::function(id = "shared::charge")]
    pub async fn charge(amount: u64) -> u64 {
        amount
    }
}

mod payments {
    #[iii::function(id = "shared::charge")]
    pub async fn charge(amount: u64) -> u64 {
        amount * 2
    }
}

#[tokio::test]
async fn duplicate_ids_fail_at_connect_naming_both_places() {
    let engine = iii_tests::engine().await;
    let err = engine
        .worker("dup")
        .connect()
        .await
        .expect_err("duplicate ids");
    let text = err.to_string();
    assert!(text.contains("`shared::charge` is defined twice"), "{text}");
    assert_eq!(
        text.matches("duplicate_ids.rs:").count(),
        2,
        "both places are named: {text}"
    );
    // Opting out of the linked functions still works.
    let worker = engine
        .worker("dup-none")
        .linked(iii::Linked::None)
        .connect()
        .await
        .expect("connect");
    assert_eq!(billing::charge(2).await + payments::charge(2).await, 6);
    worker.shutdown().await;
}
