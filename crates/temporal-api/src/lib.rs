//! The Temporal API's protobuf descriptors (a serialized `FileDescriptorSet`), exactly as the
//! `temporalio-protos` crate compiled them. Used only by tests that check the gateway's committed
//! method table against the real API; never linked into the `gatehouse` binary.

/// The serialized `google.protobuf.FileDescriptorSet`.
pub static DESCRIPTOR_SET: &[u8] = include_bytes!(env!("GATEHOUSE_TEMPORAL_DESCRIPTORS"));
