#[iii::main]
async fn main(worker: iii::Worker, extra: u8) {
    let _ = (worker, extra);
}
