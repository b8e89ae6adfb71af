//! The namespace check on real Temporal messages (encoded with temporalio-protos' own types),
//! hostile encodings, and the gRPC framer.

use std::io::Write as _;

use bytes::Bytes;
use prost::Message as _;
use temporalio_protos::temporal::api::command::v1::{
    command, Command, SignalExternalWorkflowExecutionCommandAttributes,
    StartChildWorkflowExecutionCommandAttributes,
};
use temporalio_protos::temporal::api::common::v1::{link, Link};
use temporalio_protos::temporal::api::workflowservice::v1::{
    DescribeNamespaceRequest, ListWorkflowExecutionsRequest, RespondWorkflowTaskCompletedRequest,
    StartWorkflowExecutionRequest,
};

use crate::api_schema::Access;
use crate::grpc::{frame, Code, Encoding, Framer};
use crate::namespace_check::{check_message, classify, Method, Violation};

const WS: &str = "/temporal.api.workflowservice.v1.WorkflowService/";

fn request(method: &str) -> usize {
    match classify(&format!("{WS}{method}")) {
        Method::Known(_, Access::Namespaced(i, _)) => i,
        other => panic!("{method}: {other:?}"),
    }
}

fn check(method: &str, msg: &impl prost::Message) -> Result<(), Violation> {
    check_message(request(method), &msg.encode_to_vec(), "a")
}

#[test]
fn methods_are_classified_from_the_descriptors() {
    assert!(matches!(
        classify(&format!("{WS}GetSystemInfo")),
        Method::Known(_, Access::Open)
    ));
    assert!(matches!(
        classify(&format!("{WS}ListNamespaces")),
        Method::Known(_, Access::Refused(_))
    ));
    assert!(matches!(
        classify(&format!("{WS}RegisterNamespace")),
        Method::Known(_, Access::Refused(_))
    ));
    assert!(matches!(
        classify("/temporal.api.operatorservice.v1.OperatorService/ListClusters"),
        Method::Known(_, Access::Refused(_))
    ));
    assert!(matches!(
        classify("/temporal.api.operatorservice.v1.OperatorService/ListSearchAttributes"),
        Method::Known(_, Access::Namespaced(_, _))
    ));
    // Namespaced, but acting beyond the namespace.
    for m in [
        "/temporal.api.workflowservice.v1.WorkflowService/UpdateNamespace",
        "/temporal.api.workflowservice.v1.WorkflowService/DeprecateNamespace",
        "/temporal.api.operatorservice.v1.OperatorService/DeleteNamespace",
        "/temporal.api.operatorservice.v1.OperatorService/AddSearchAttributes",
        "/temporal.api.operatorservice.v1.OperatorService/RemoveSearchAttributes",
    ] {
        assert!(
            matches!(classify(m), Method::Known(_, Access::Refused(_))),
            "{m}"
        );
    }
    assert_eq!(
        classify("/temporal.server.api.adminservice.v1.AdminService/DescribeCluster"),
        Method::Unknown
    );
    assert_eq!(classify("/x"), Method::Unknown);
}

#[test]
fn the_request_namespace_must_be_the_connections() {
    let list = |ns: &str| ListWorkflowExecutionsRequest {
        namespace: ns.into(),
        ..Default::default()
    };
    assert_eq!(check("ListWorkflowExecutions", &list("a")), Ok(()));
    assert!(matches!(
        check("ListWorkflowExecutions", &list("b")),
        Err(Violation::Other { ref field, ref found }) if field == "namespace" && found == "b"
    ));
    // Absent (empty) is not "the same namespace" at the top level.
    assert!(matches!(
        check("ListWorkflowExecutions", &list("")),
        Err(Violation::Missing { .. })
    ));
    // Names are compared exactly (Temporal's namespace names are case-sensitive).
    assert!(check("ListWorkflowExecutions", &list("A")).is_err());

    // A repeated field: protobuf keeps the last value, so every occurrence is checked.
    let mut twice = list("a").encode_to_vec();
    twice.extend(list("b").encode_to_vec());
    assert!(check_message(request("ListWorkflowExecutions"), &twice, "a").is_err());
    let mut twice = list("b").encode_to_vec();
    twice.extend(list("a").encode_to_vec());
    assert!(check_message(request("ListWorkflowExecutions"), &twice, "a").is_err());

    // DescribeNamespace by id could name any namespace.
    let by_id = DescribeNamespaceRequest {
        namespace: "a".into(),
        id: "5e6c1d32-0000-0000-0000-000000000000".into(),
        ..Default::default()
    };
    assert!(matches!(
        check("DescribeNamespace", &by_id),
        Err(Violation::Id { .. })
    ));
    let by_name = DescribeNamespaceRequest {
        namespace: "a".into(),
        id: String::new(),
        ..Default::default()
    };
    assert_eq!(check("DescribeNamespace", &by_name), Ok(()));
}

// The command attributes' `namespace` is deprecated upstream, yet servers still honour it for
// cross-namespace commands, so the gateway checks it.
#[allow(deprecated)]
#[test]
fn commands_may_not_reach_into_other_namespaces_but_links_may_point_there() {
    let completed = |target: &str| RespondWorkflowTaskCompletedRequest {
        namespace: "a".into(),
        commands: vec![
            Command {
                attributes: Some(
                    command::Attributes::StartChildWorkflowExecutionCommandAttributes(
                        StartChildWorkflowExecutionCommandAttributes {
                            namespace: String::new(),
                            workflow_id: "child".into(),
                            ..Default::default()
                        },
                    ),
                ),
                ..Default::default()
            },
            Command {
                attributes: Some(
                    command::Attributes::SignalExternalWorkflowExecutionCommandAttributes(
                        SignalExternalWorkflowExecutionCommandAttributes {
                            namespace: target.into(),
                            signal_name: "s".into(),
                            ..Default::default()
                        },
                    ),
                ),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    // Empty nested namespace means "this namespace"; naming it is fine too.
    assert_eq!(
        check("RespondWorkflowTaskCompleted", &completed("")),
        Ok(())
    );
    assert_eq!(
        check("RespondWorkflowTaskCompleted", &completed("a")),
        Ok(())
    );
    let e = check("RespondWorkflowTaskCompleted", &completed("b")).unwrap_err();
    assert!(
        e.to_string()
            .contains("commands.signal_external_workflow_execution_command_attributes.namespace"),
        "{e}"
    );
    // A link describes a workflow elsewhere (a Nexus caller); it targets nothing.
    let start = StartWorkflowExecutionRequest {
        namespace: "a".into(),
        workflow_id: "w".into(),
        links: vec![Link {
            variant: Some(link::Variant::WorkflowEvent(link::WorkflowEvent {
                namespace: "caller-ns".into(),
                workflow_id: "caller".into(),
                ..Default::default()
            })),
        }],
        ..Default::default()
    };
    assert_eq!(check("StartWorkflowExecution", &start), Ok(()));
}

#[test]
fn hostile_encodings_are_refused_and_never_panic() {
    let r = request("ListWorkflowExecutions");
    for bad in [
        &[0x0a, 0x05, b'a'][..], // length past the end
        &[0x0a][..],             // truncated
        &[0x0b, 0x00][..],       // wire type 3 (group)
        &[0x00, 0x00][..],       // field 0
        &[
            0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ][..], // 11-byte varint
    ] {
        assert!(
            matches!(
                check_message(r, bad, "a"),
                Err(Violation::Malformed(_) | Violation::Missing { .. })
            ),
            "{bad:?}"
        );
    }
    // Deep nesting is bounded (commands → attributes → …): a self-similar message that
    // nests past the limit is refused, not recursed into without end.
    let mut deep = ListWorkflowExecutionsRequest {
        namespace: "a".into(),
        ..Default::default()
    }
    .encode_to_vec();
    for _ in 0..200 {
        let mut outer = vec![0x0a];
        prost::encoding::encode_varint(deep.len() as u64, &mut outer);
        outer.extend(&deep);
        deep = outer;
    }
    assert!(check_message(r, &deep, "a").is_err());
    // Mutation fuzzing over real messages of every namespaced method: no panic.
    let seeds: Vec<(usize, Vec<u8>)> = vec![
        (
            request("RespondWorkflowTaskCompleted"),
            RespondWorkflowTaskCompletedRequest {
                namespace: "a".into(),
                commands: vec![Command::default(); 3],
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        (
            request("StartWorkflowExecution"),
            StartWorkflowExecutionRequest {
                namespace: "a".into(),
                workflow_id: "w".into(),
                ..Default::default()
            }
            .encode_to_vec(),
        ),
    ];
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let (r, seed) = &seeds[(next() % seeds.len() as u64) as usize];
        let mut m = seed.clone();
        for _ in 0..(next() % 4 + 1) {
            if m.is_empty() {
                break;
            }
            let i = (next() % m.len() as u64) as usize;
            m[i] = next() as u8;
        }
        let _ = check_message(*r, &m, "a");
    }
}

#[test]
fn the_framer_holds_one_message_and_inflates_gzip_within_the_limit() {
    let msg = ListWorkflowExecutionsRequest {
        namespace: "a".into(),
        ..Default::default()
    }
    .encode_to_vec();
    let wire = frame(&msg);
    // Split across arbitrary chunks.
    let mut f = Framer::new(1024, Encoding::Identity, budget());
    for b in wire.iter() {
        assert!(f.next().unwrap().is_none());
        f.push(Bytes::copy_from_slice(&[*b]));
    }
    let m = f.next().unwrap().unwrap();
    assert_eq!(&m.payload[..], &msg[..]);
    assert_eq!(m.frame, wire);
    assert!(f.is_empty());
    // Too large: refused from the 5-byte prefix, before the body arrives.
    let mut f = Framer::new(16, Encoding::Identity, budget());
    f.push(Bytes::from_static(&[0, 0, 0, 1, 0]));
    assert_eq!(f.next().unwrap_err().code, Code::ResourceExhausted);
    // gzip: checked after inflating; a bomb stops at the limit.
    let gz = |data: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        let body = e.finish().unwrap();
        let mut out = vec![1];
        out.extend((body.len() as u32).to_be_bytes());
        out.extend(body);
        Bytes::from(out)
    };
    let mut f = Framer::new(1024, Encoding::Gzip, budget());
    f.push(gz(&msg));
    assert_eq!(&f.next().unwrap().unwrap().payload[..], &msg[..]);
    // Two gzip members: Go (and so Temporal) inflates both; so must the check, or it would
    // see namespace "a" while the server, keeping the last value, sees "b".
    let mut two = gz(&msg).to_vec();
    let second = gz(&ListWorkflowExecutionsRequest {
        namespace: "b".into(),
        ..Default::default()
    }
    .encode_to_vec());
    two.extend_from_slice(&second[5..]);
    let len = u32::try_from(two.len() - 5).unwrap();
    two[1..5].copy_from_slice(&len.to_be_bytes());
    let mut f = Framer::new(1024, Encoding::Gzip, budget());
    f.push(Bytes::from(two));
    let m = f.next().unwrap().unwrap();
    assert!(check_message(request("ListWorkflowExecutions"), &m.payload, "a").is_err());
    let mut f = Framer::new(1024, Encoding::Gzip, budget());
    f.push(gz(&vec![0u8; 1 << 20]));
    assert_eq!(f.next().unwrap_err().code, Code::ResourceExhausted);
    // The gateway-wide budget: a message that does not fit waits for nobody, it is refused.
    let small = std::sync::Arc::new(tokio::sync::Semaphore::new(100));
    let mut f = Framer::new(1024, Encoding::Identity, small.clone());
    f.push(Bytes::from_static(&[0, 0, 0, 0, 200, 1]));
    assert_eq!(f.next().unwrap_err().code, Code::ResourceExhausted);
    let mut f = Framer::new(1024, Encoding::Identity, small.clone());
    f.push(Bytes::from_static(&[0, 0, 0, 0, 50, 1]));
    assert!(f.next().unwrap().is_none());
    assert_eq!(small.available_permits(), 50);
    f.push(Bytes::from(vec![0u8; 49]));
    assert!(f.next().unwrap().is_some());
    assert_eq!(small.available_permits(), 100);
    // A compressed flag without grpc-encoding, or garbage gzip.
    let mut f = Framer::new(1024, Encoding::Identity, budget());
    f.push(gz(&msg));
    assert_eq!(f.next().unwrap_err().code, Code::Internal);
    let mut f = Framer::new(1024, Encoding::Gzip, budget());
    f.push(Bytes::from_static(&[1, 0, 0, 0, 3, 1, 2, 3]));
    assert_eq!(f.next().unwrap_err().code, Code::Internal);
}

fn budget() -> std::sync::Arc<tokio::sync::Semaphore> {
    std::sync::Arc::new(tokio::sync::Semaphore::new(1 << 24))
}

#[test]
fn each_method_class_is_open_exactly_to_its_roles() {
    use crate::api_schema::Class;
    use gatehouse_policy::AccessRole::{Admin, Reader, Worker, Writer};
    // Whom each class admits: worker, reader, writer, admin.
    let admits = |class: Class| match class {
        Class::Worker => [true, false, true, true],
        Class::WorkerRead => [true, true, true, true],
        Class::Read => [false, true, true, true],
        Class::Write => [false, false, true, true],
        Class::Admin => [false, false, false, true],
    };
    let cases = [
        ("PollWorkflowTaskQueue", Class::Worker),
        ("RespondActivityTaskCompleted", Class::Worker),
        ("GetWorkflowExecutionHistory", Class::WorkerRead),
        ("ListWorkflowExecutions", Class::Read),
        ("QueryWorkflow", Class::Read),
        ("StartWorkflowExecution", Class::Write),
        ("TerminateWorkflowExecution", Class::Write),
        ("DeleteWorkflowExecution", Class::Admin),
        ("StartBatchOperation", Class::Admin),
    ];
    for (method, class) in cases {
        let expected = admits(class);
        let Method::Known(_, Access::Namespaced(_, got)) = classify(&format!("{WS}{method}"))
        else {
            panic!("{method} is not namespaced");
        };
        assert_eq!(got, class, "{method}");
        for (role, want) in [Worker, Reader, Writer, Admin].into_iter().zip(expected) {
            assert_eq!(
                class.allowed(role.permissions()),
                want,
                "{method} as {role:?}"
            );
        }
        assert!(class.allowed(gatehouse_policy::Permissions::ALL));
    }
}
