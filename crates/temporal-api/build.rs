//! Exposes the descriptor set temporalio-protos wrote in its own build (its `links` metadata).
fn main() {
    let path = std::env::var("DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH")
        .expect("temporalio-protos publishes descriptor_path");
    println!("cargo:rustc-env=GATEHOUSE_TEMPORAL_DESCRIPTORS={path}");
    println!("cargo:rerun-if-env-changed=DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH");
}
