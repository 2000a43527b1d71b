extern crate iii as my_iii;

#[my_iii::function(crate = my_iii)]
#[my_iii::trigger(subscribe, topic = "renamed")]
async fn renamed(x: u8) -> u8 {
    x
}

fn main() {
    assert!(my_iii::linked::functions().any(|f| f.id() == "renamed"));
}
