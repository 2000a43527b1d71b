#[iii::trigger_type(id = "ticker")]
async fn ticker() {}

fn main() {}
