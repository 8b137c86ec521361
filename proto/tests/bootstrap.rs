//! Keeps the committed generated code in `src/gen/` in step with the `.proto` files.
//!
//! Run with `HERALD_REGENERATE=1` to rewrite `src/gen/`; without it the test fails when
//! the committed files differ from what the `.proto` files produce.

use std::path::{Path, PathBuf};

use prost::Message;

const PROTOS: &[&str] = &["herald/v1/event.proto", "herald/v1/log.proto"];

fn generate(out: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fds = protox::compile(PROTOS, [root.join("proto")]).expect("the .proto files compile");
    std::fs::write(out.join("herald_v1_descriptor.bin"), fds.encode_to_vec())
        .expect("write descriptor set");
    tonic_prost_build::configure()
        .out_dir(out)
        .emit_rerun_if_changed(false)
        .build_client(true)
        .build_server(true)
        .btree_map(".")
        // the raw JSON is carried, not read, by the ruler: decoding it as `Bytes` from a
        // `Bytes` buffer shares the buffer instead of copying (and validating) it
        .bytes(".herald.v1.Event.raw_json")
        .compile_fds(fds)
        .expect("code generation succeeds");
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n != "google.protobuf.rs"))
        .collect();
    v.sort();
    v
}

#[test]
fn generated_code_is_current() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/gen");
    if std::env::var_os("HERALD_REGENERATE").is_some() {
        generate(&committed);
        return;
    }
    let fresh = tempfile::tempdir().expect("tempdir");
    generate(fresh.path());
    for f in files(fresh.path()) {
        let name = f.file_name().expect("file name");
        let want = std::fs::read(&f).expect("read fresh");
        let have = std::fs::read(committed.join(name)).unwrap_or_default();
        assert!(
            want == have,
            "proto/src/gen/{} is stale: run `HERALD_REGENERATE=1 cargo test -p herald-proto --test bootstrap` and commit",
            name.to_string_lossy()
        );
    }
}
