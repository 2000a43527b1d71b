#[iii::trigger_type(id = "ticker")]
#[derive(Default)]
struct Ticker;

fn main() {}
