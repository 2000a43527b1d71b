use std::rc::Rc;

#[iii::function]
async fn count(x: u64) -> u64 {
    let shared = Rc::new(x);
    tokio::task::yield_now().await;
    *shared
}

fn main() {}
