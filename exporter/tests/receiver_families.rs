//! The exporter checks the whole config file as the rulers do, receivers included
//! (a file they refuse never runs half-way), so a build of the exporter alone must
//! know every receiver family of its default features.

#[cfg(all(feature = "kafka", feature = "aws", feature = "gcp"))]
#[test]
fn a_config_with_kafka_aws_and_google_receivers_loads_for_the_exporter() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(
        &path,
        "route:\n  routes:\n    - match:\n        - receiver: kafka\n        - receiver: sqs\n        - receiver: pubsub\n\
         receivers:\n  - name: kafka\n    kafka:\n      brokers: [\"127.0.0.1:9092\"]\n      topic: events\n\
         \x20 - name: sqs\n    sqs:\n      queueName: events\n      region: us-east-1\n\
         \x20 - name: pubsub\n    pubsub:\n      gcloud_project_id: my-project\n      topic: events\n",
    )
    .unwrap();
    if let Err(e) = herald_ruler::plan::load(&path, herald_config::Role::Exporter) {
        panic!("the exporter refused the file:\n{e}");
    }
}
