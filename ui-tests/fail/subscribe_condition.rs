#[iii::function]
#[iii::trigger(subscribe, topic = "news", condition = is_relevant, metadata = {"m": 1})]
async fn on_news() {}

fn main() {}
