//! Faults in provisioning, against the console under `wrangler dev`: the Leader's aggregator
//! API fails (503 for every write, through the testkit's proxy) after the Helper's task was
//! created; the console removes the Helper's task, so neither aggregator holds one, stores
//! nothing and says why. When the Leader is back, the same request succeeds, and deleting
//! the task removes it from both.

mod common;

use common::{credential_body, histogram_task, start_console, task_ids, Client};
use edap_testkit::proxy::{Mode, Proxy};
use edap_testkit::Cluster;

#[test]
fn a_failing_leader_leaves_neither_task_behind() {
    let cluster = Cluster::start("console-faults");
    // The console reaches the Leader's aggregator API through a proxy; its GET / passes.
    let leader_api = Proxy::start(cluster.leader.port);
    let console = start_console(
        &cluster.dir,
        &format!("http://127.0.0.1:{}/api", leader_api.port),
        &format!("{}api", cluster.helper.url()),
        &[],
    );
    let (ann, a) = Client::sign_up(console.port, "ann@example.com");
    let cred = ann.call(
        "POST",
        &format!("accounts/{a}/collector_credentials"),
        Some(credential_body("Key", "tok")),
    );
    assert_eq!(cred.status, 201);
    let task = histogram_task("Colours", cred.json["id"].as_str().unwrap());

    leader_api.set(Mode::FailWrites);
    let r = ann.call("POST", &format!("accounts/{a}/tasks"), Some(task.clone()));
    assert_eq!(r.status, 502, "{}", r.json);
    let msg = r.json["message"].as_str().unwrap();
    assert!(
        msg.contains("the Leader")
            && msg.contains("did not create the task")
            && msg.contains("HTTP 503"),
        "{msg}"
    );
    assert!(msg.contains("the Helper's task was removed again"), "{msg}");
    assert!(
        task_ids(&cluster.helper).is_empty(),
        "the Helper kept the task"
    );
    assert!(
        task_ids(&cluster.leader).is_empty(),
        "the Leader holds a task"
    );
    let list = ann.call("GET", &format!("accounts/{a}/tasks"), None);
    assert_eq!(
        list.json["tasks"].as_array().unwrap().len(),
        0,
        "the console stored the task"
    );

    // The Leader's API answers again: the same wizard input provisions both.
    leader_api.set(Mode::Pass);
    let r = ann.call("POST", &format!("accounts/{a}/tasks"), Some(task));
    assert_eq!(r.status, 201, "{}", r.json);
    let id = r.json["task_id"].as_str().unwrap().to_string();
    assert_eq!(task_ids(&cluster.helper), vec![id.clone()]);
    assert_eq!(task_ids(&cluster.leader), vec![id]);

    // Deleting fails while the Leader refuses writes (the task stays, to retry), then works.
    let path = format!("accounts/{a}/tasks/{}", r.json["id"].as_str().unwrap());
    leader_api.set(Mode::FailWrites);
    let d = ann.call("DELETE", &path, None);
    assert_eq!(d.status, 502, "{}", d.json);
    assert_eq!(ann.call("GET", &path, None).status, 200);
    leader_api.set(Mode::Pass);
    assert_eq!(ann.call("DELETE", &path, None).status, 204);
    assert_eq!(ann.call("GET", &path, None).status, 404);
    assert!(task_ids(&cluster.helper).is_empty());
    assert!(task_ids(&cluster.leader).is_empty());
}
