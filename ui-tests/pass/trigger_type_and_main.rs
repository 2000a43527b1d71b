use iii::trigger_type::{Binding, TriggerTypeHandler};

/// Never fires.
#[iii::trigger_type(id = "never")]
#[derive(Default)]
struct Never;

impl TriggerTypeHandler for Never {
    type Config = serde_json::Value;
    async fn register(&self, _: Binding<serde_json::Value>) -> Result<(), iii::Error> {
        Ok(())
    }
    async fn unregister(&self, _: String) -> Result<(), iii::Error> {
        Ok(())
    }
}

#[iii::trigger_type(id = "described", description = "Given in the attribute")]
#[derive(Default)]
enum Described {
    #[default]
    Only,
}

impl TriggerTypeHandler for Described {
    type Config = serde_json::Value;
    async fn register(&self, _: Binding<serde_json::Value>) -> Result<(), iii::Error> {
        Ok(())
    }
    async fn unregister(&self, _: String) -> Result<(), iii::Error> {
        Ok(())
    }
}

// Each `#[iii::main]` shape, compiled but not run (it would need an engine).
mod unit {
    #[iii::main]
    pub async fn main() {}
}
mod with_worker {
    #[iii::main(name = "greeter")]
    pub async fn main(worker: iii::Worker) -> Result<(), iii::Error> {
        let _ = worker.worker_id();
        Ok(())
    }
}

fn main() {
    let ids: Vec<&str> = iii::linked::trigger_types().map(|t| t.id()).collect();
    assert!(ids.contains(&"never") && ids.contains(&"described"), "{ids:?}");
    let _ = (unit::main, with_worker::main);
}
