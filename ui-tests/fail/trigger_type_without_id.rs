/// Ticks.
#[iii::trigger_type(description = "ticks")]
#[derive(Default)]
struct Ticker;

fn main() {}
