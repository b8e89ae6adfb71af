//! Generates `api_table.rs` from the Temporal API descriptors that `temporalio-protos`
//! publishes, and checks that the committed table is exactly what they give. Regenerate with
//! `GATEHOUSE_REGENERATE=1 cargo test -p gatehouse-gateway api_table`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use prost::Message as _;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FileDescriptorSet};

/// The services a Temporal frontend serves to clients. Anything else (the cloud ops API, the
/// test service, AdminService, which is not in the public descriptors) is refused as unknown.
const SERVICES: &[&str] = &[
    "temporal.api.workflowservice.v1.WorkflowService",
    "temporal.api.operatorservice.v1.OperatorService",
    "grpc.health.v1.Health",
];

/// Methods that carry no namespace and reveal nothing about other namespaces.
const OPEN: &[&str] = &[
    "/temporal.api.workflowservice.v1.WorkflowService/GetSystemInfo",
    "/temporal.api.workflowservice.v1.WorkflowService/GetClusterInfo",
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
];

/// Methods that name a namespace but act beyond it: a namespace's client certificate must not
/// create, delete, deprecate or reconfigure namespaces, or change what all namespaces share.
const LIFECYCLE: &[(&str, &str)] = &[
    (
        "/temporal.api.workflowservice.v1.WorkflowService/RegisterNamespace",
        "creates a namespace; namespaces are created by the cluster's operators, not through a namespace endpoint",
    ),
    (
        "/temporal.api.operatorservice.v1.OperatorService/DeleteNamespace",
        "deletes a namespace; namespaces are deleted by the cluster's operators, not through a namespace endpoint",
    ),
    (
        "/temporal.api.workflowservice.v1.WorkflowService/UpdateNamespace",
        "changes the namespace itself (its state, including deleted, replication and failover); that is the cluster operators' job, not a namespace endpoint's",
    ),
    (
        "/temporal.api.workflowservice.v1.WorkflowService/DeprecateNamespace",
        "deprecates the namespace; that is the cluster operators' job, not a namespace endpoint's",
    ),
    (
        "/temporal.api.operatorservice.v1.OperatorService/AddSearchAttributes",
        "changes search attributes, which with Elasticsearch visibility are cluster-wide (every namespace's)",
    ),
    (
        "/temporal.api.operatorservice.v1.OperatorService/RemoveSearchAttributes",
        "changes search attributes, which with Elasticsearch visibility are cluster-wide (every namespace's)",
    ),
];

/// What each namespaced method does, for roles on certificate filters (`worker`: poll, respond,
/// heartbeat; `reader`: describe, list, get, count, query; `writer`: reader plus start, signal,
/// cancel, terminate, reset, update, schedules; `admin`: everything namespace-scoped). Every
/// namespaced method must be here, and nothing else: the test fails when the descriptors gain
/// or lose one.
const CLASSES: &[(&str, &str)] = &[
    // Workers: tasks, responses, heartbeats.
    ("WorkflowService/PollWorkflowTaskQueue", "Worker"),
    ("WorkflowService/PollActivityTaskQueue", "Worker"),
    ("WorkflowService/PollNexusTaskQueue", "Worker"),
    ("WorkflowService/RespondWorkflowTaskCompleted", "Worker"),
    ("WorkflowService/RespondWorkflowTaskFailed", "Worker"),
    ("WorkflowService/RespondQueryTaskCompleted", "Worker"),
    ("WorkflowService/RespondActivityTaskCompleted", "Worker"),
    ("WorkflowService/RespondActivityTaskCompletedById", "Worker"),
    ("WorkflowService/RespondActivityTaskFailed", "Worker"),
    ("WorkflowService/RespondActivityTaskFailedById", "Worker"),
    ("WorkflowService/RespondActivityTaskCanceled", "Worker"),
    ("WorkflowService/RespondActivityTaskCanceledById", "Worker"),
    ("WorkflowService/RespondNexusTaskCompleted", "Worker"),
    ("WorkflowService/RespondNexusTaskFailed", "Worker"),
    ("WorkflowService/RecordActivityTaskHeartbeat", "Worker"),
    ("WorkflowService/RecordActivityTaskHeartbeatById", "Worker"),
    ("WorkflowService/RecordWorkerHeartbeat", "Worker"),
    ("WorkflowService/ResetStickyTaskQueue", "Worker"),
    ("WorkflowService/ShutdownWorker", "Worker"),
    ("WorkflowService/FetchWorkerConfig", "Worker"),
    // Reads a worker needs too (history on a cache miss, the namespace, versioning).
    ("WorkflowService/GetWorkflowExecutionHistory", "WorkerRead"),
    (
        "WorkflowService/GetWorkflowExecutionHistoryReverse",
        "WorkerRead",
    ),
    ("WorkflowService/DescribeNamespace", "WorkerRead"),
    ("WorkflowService/DescribeTaskQueue", "WorkerRead"),
    (
        "WorkflowService/GetWorkerBuildIdCompatibility",
        "WorkerRead",
    ),
    ("WorkflowService/GetWorkerVersioningRules", "WorkerRead"),
    // Reads.
    ("OperatorService/ListSearchAttributes", "Read"),
    ("WorkflowService/CountActivityExecutions", "Read"),
    ("WorkflowService/CountNexusOperationExecutions", "Read"),
    ("WorkflowService/CountSchedules", "Read"),
    ("WorkflowService/CountWorkers", "Read"),
    ("WorkflowService/CountWorkflowExecutions", "Read"),
    ("WorkflowService/DescribeActivityExecution", "Read"),
    ("WorkflowService/DescribeBatchOperation", "Read"),
    ("WorkflowService/DescribeDeployment", "Read"),
    ("WorkflowService/DescribeNexusOperationExecution", "Read"),
    ("WorkflowService/DescribeSchedule", "Read"),
    ("WorkflowService/DescribeWorker", "Read"),
    ("WorkflowService/DescribeWorkerDeployment", "Read"),
    ("WorkflowService/DescribeWorkerDeploymentVersion", "Read"),
    ("WorkflowService/DescribeWorkflowExecution", "Read"),
    ("WorkflowService/DescribeWorkflowRule", "Read"),
    ("WorkflowService/GetCurrentDeployment", "Read"),
    ("WorkflowService/GetDeploymentReachability", "Read"),
    ("WorkflowService/GetWorkerTaskReachability", "Read"),
    ("WorkflowService/ListActivityExecutions", "Read"),
    ("WorkflowService/ListArchivedWorkflowExecutions", "Read"),
    ("WorkflowService/ListBatchOperations", "Read"),
    ("WorkflowService/ListClosedWorkflowExecutions", "Read"),
    ("WorkflowService/ListDeployments", "Read"),
    ("WorkflowService/ListNexusOperationExecutions", "Read"),
    ("WorkflowService/ListOpenWorkflowExecutions", "Read"),
    ("WorkflowService/ListScheduleMatchingTimes", "Read"),
    ("WorkflowService/ListSchedules", "Read"),
    ("WorkflowService/ListTaskQueuePartitions", "Read"),
    ("WorkflowService/ListWorkerDeployments", "Read"),
    ("WorkflowService/ListWorkers", "Read"),
    ("WorkflowService/ListWorkflowExecutions", "Read"),
    ("WorkflowService/ListWorkflowRules", "Read"),
    ("WorkflowService/ScanWorkflowExecutions", "Read"),
    ("WorkflowService/QueryWorkflow", "Read"),
    // Waiting for the result of something the caller started is a read of that result.
    ("WorkflowService/PollActivityExecution", "Read"),
    ("WorkflowService/PollNexusOperationExecution", "Read"),
    ("WorkflowService/PollWorkflowExecutionUpdate", "Read"),
    ("WorkflowService/PollWorkflowExecutionTimeSkipping", "Read"),
    // Writes: start, signal, cancel, terminate, reset, update, pause, schedules.
    ("WorkflowService/StartWorkflowExecution", "Write"),
    ("WorkflowService/SignalWorkflowExecution", "Write"),
    ("WorkflowService/SignalWithStartWorkflowExecution", "Write"),
    ("WorkflowService/ExecuteMultiOperation", "Write"),
    ("WorkflowService/RequestCancelWorkflowExecution", "Write"),
    ("WorkflowService/TerminateWorkflowExecution", "Write"),
    ("WorkflowService/ResetWorkflowExecution", "Write"),
    ("WorkflowService/UpdateWorkflowExecution", "Write"),
    ("WorkflowService/UpdateWorkflowExecutionOptions", "Write"),
    ("WorkflowService/PauseWorkflowExecution", "Write"),
    ("WorkflowService/UnpauseWorkflowExecution", "Write"),
    ("WorkflowService/StartActivityExecution", "Write"),
    ("WorkflowService/RequestCancelActivityExecution", "Write"),
    ("WorkflowService/TerminateActivityExecution", "Write"),
    ("WorkflowService/ResetActivity", "Write"),
    ("WorkflowService/ResetActivityExecution", "Write"),
    ("WorkflowService/PauseActivity", "Write"),
    ("WorkflowService/PauseActivityExecution", "Write"),
    ("WorkflowService/UnpauseActivity", "Write"),
    ("WorkflowService/UnpauseActivityExecution", "Write"),
    ("WorkflowService/UpdateActivityOptions", "Write"),
    ("WorkflowService/UpdateActivityExecutionOptions", "Write"),
    ("WorkflowService/StartNexusOperationExecution", "Write"),
    (
        "WorkflowService/RequestCancelNexusOperationExecution",
        "Write",
    ),
    ("WorkflowService/TerminateNexusOperationExecution", "Write"),
    ("WorkflowService/CreateSchedule", "Write"),
    ("WorkflowService/UpdateSchedule", "Write"),
    ("WorkflowService/PatchSchedule", "Write"),
    ("WorkflowService/DeleteSchedule", "Write"),
    // Admin: deletion, batches, deployments and versioning, task queue and worker config, rules.
    ("WorkflowService/DeleteWorkflowExecution", "Admin"),
    ("WorkflowService/DeleteActivityExecution", "Admin"),
    ("WorkflowService/DeleteNexusOperationExecution", "Admin"),
    ("WorkflowService/StartBatchOperation", "Admin"),
    ("WorkflowService/StopBatchOperation", "Admin"),
    ("WorkflowService/CreateWorkerDeployment", "Admin"),
    ("WorkflowService/CreateWorkerDeploymentVersion", "Admin"),
    ("WorkflowService/DeleteWorkerDeployment", "Admin"),
    ("WorkflowService/DeleteWorkerDeploymentVersion", "Admin"),
    ("WorkflowService/SetCurrentDeployment", "Admin"),
    ("WorkflowService/SetWorkerDeploymentCurrentVersion", "Admin"),
    ("WorkflowService/SetWorkerDeploymentManager", "Admin"),
    ("WorkflowService/SetWorkerDeploymentRampingVersion", "Admin"),
    ("WorkflowService/UpdateWorkerBuildIdCompatibility", "Admin"),
    ("WorkflowService/UpdateWorkerVersioningRules", "Admin"),
    (
        "WorkflowService/UpdateWorkerDeploymentVersionMetadata",
        "Admin",
    ),
    (
        "WorkflowService/UpdateWorkerDeploymentVersionComputeConfig",
        "Admin",
    ),
    (
        "WorkflowService/ValidateWorkerDeploymentVersionComputeConfig",
        "Admin",
    ),
    ("WorkflowService/UpdateTaskQueueConfig", "Admin"),
    ("WorkflowService/UpdateWorkerConfig", "Admin"),
    ("WorkflowService/CreateWorkflowRule", "Admin"),
    ("WorkflowService/DeleteWorkflowRule", "Admin"),
    ("WorkflowService/TriggerWorkflowRule", "Admin"),
];

/// `WorkflowService/StartWorkflowExecution` from a full path.
fn short(path: &str) -> &str {
    path.rsplit_once('.').map_or(path, |(_, s)| s)
}

const CLUSTER_SCOPED: &str =
    "is cluster-scoped (its request names no namespace), so it would reveal or touch other namespaces";

/// Messages whose `namespace` describes something rather than targets it: links (a Nexus
/// operation's caller may live in another namespace) and failures (which say where a child ran).
/// Targets — the request's own namespace, nested requests, and the commands that signal, cancel
/// or start workflows — are checked.
fn informational(message: &str) -> bool {
    message.starts_with("temporal.api.common.v1.Link")
        || message.starts_with("temporal.api.failure.v1.")
}

fn field_kind(message: &str, name: &str, ty: Type) -> Option<&'static str> {
    if informational(message) {
        return None;
    }
    match (ty, name) {
        (Type::String, "namespace") => Some("Kind::Namespace"),
        (Type::String, "namespace_id") => Some("Kind::NamespaceId"),
        // DescribeNamespace looks a namespace up by id when `id` is set.
        (Type::String, "id")
            if message == "temporal.api.workflowservice.v1.DescribeNamespaceRequest" =>
        {
            Some("Kind::NamespaceId")
        }
        _ => None,
    }
}

struct Messages {
    by_name: BTreeMap<String, DescriptorProto>,
}

impl Messages {
    fn collect(set: &FileDescriptorSet) -> Self {
        fn walk(prefix: &str, m: &DescriptorProto, out: &mut BTreeMap<String, DescriptorProto>) {
            let name = format!("{prefix}.{}", m.name());
            for nested in &m.nested_type {
                walk(&name, nested, out);
            }
            out.insert(name, m.clone());
        }
        let mut by_name = BTreeMap::new();
        for file in &set.file {
            for m in &file.message_type {
                walk(file.package(), m, &mut by_name);
            }
        }
        Self { by_name }
    }

    /// Message types from which a namespace-bearing field can be reached (a fixpoint, so
    /// recursive types such as `Failure.cause` are handled).
    fn relevant(&self) -> BTreeSet<String> {
        let mut relevant = BTreeSet::new();
        loop {
            let before = relevant.len();
            for (name, m) in &self.by_name {
                let hit = m.field.iter().any(|f| {
                    field_kind(name, f.name(), f.r#type()).is_some()
                        || (f.r#type() == Type::Message
                            && relevant.contains(f.type_name().trim_start_matches('.')))
                });
                if hit {
                    relevant.insert(name.clone());
                }
            }
            if relevant.len() == before {
                return relevant;
            }
        }
    }
}

pub(crate) fn generate(set_bytes: &[u8]) -> String {
    let set = FileDescriptorSet::decode(set_bytes).expect("descriptor set decodes");
    let messages = Messages::collect(&set);
    let relevant = messages.relevant();

    // Methods, and the request types they need.
    let mut methods = BTreeMap::new();
    for file in &set.file {
        for service in &file.service {
            let full = format!("{}.{}", file.package(), service.name());
            if !SERVICES.contains(&full.as_str()) {
                continue;
            }
            for m in &service.method {
                let path = format!("/{full}/{}", m.name());
                let request = m.input_type().trim_start_matches('.').to_owned();
                let req = &messages.by_name[&request];
                let namespaced = req
                    .field
                    .iter()
                    .any(|f| f.name() == "namespace" && f.r#type() == Type::String);
                // The gateway reads a namespaced call's whole request (exactly one message)
                // before forwarding it: that holds only for unary requests.
                assert!(
                    !(namespaced && m.client_streaming()),
                    "{path} streams requests; the proxy's one-message check must change first"
                );
                let access = if OPEN.contains(&path.as_str()) {
                    Access::Open
                } else if let Some((_, why)) = LIFECYCLE.iter().find(|(p, _)| *p == path) {
                    Access::Refused((*why).to_owned())
                } else if namespaced {
                    Access::Namespaced(request)
                } else {
                    Access::Refused(CLUSTER_SCOPED.to_owned())
                };
                methods.insert(path, access);
            }
        }
    }
    for path in OPEN.iter().chain(LIFECYCLE.iter().map(|(p, _)| p)) {
        assert!(
            methods.contains_key(*path),
            "{path} is not in the descriptors"
        );
    }
    // Every namespaced method has a class, and every class entry is a namespaced method.
    let namespaced: BTreeSet<&str> = methods
        .iter()
        .filter(|(_, a)| matches!(a, Access::Namespaced(_)))
        .map(|(p, _)| short(p))
        .collect();
    let classified: BTreeSet<&str> = CLASSES.iter().map(|(m, _)| *m).collect();
    assert_eq!(
        classified.len(),
        CLASSES.len(),
        "a method is classified twice"
    );
    let missing: Vec<_> = namespaced.difference(&classified).collect();
    let stale: Vec<_> = classified.difference(&namespaced).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "CLASSES in api_table_gen.rs is out of date: unclassified {missing:?}, not namespaced methods {stale:?}"
    );

    // The message types a namespaced request can reach that matter for the walk.
    let mut needed = BTreeSet::new();
    let mut todo: Vec<String> = methods
        .values()
        .filter_map(|a| match a {
            Access::Namespaced(r) => Some(r.clone()),
            _ => None,
        })
        .collect();
    while let Some(name) = todo.pop() {
        if !needed.insert(name.clone()) {
            continue;
        }
        for f in &messages.by_name[&name].field {
            let t = f.type_name().trim_start_matches('.');
            if f.r#type() == Type::Message && relevant.contains(t) {
                todo.push(t.to_owned());
            }
        }
    }
    let index: BTreeMap<&str, usize> = needed
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();

    let mut out = String::new();
    out.push_str(
        "// @generated from the Temporal API descriptors published by temporalio-protos\n\
         // (see api_table_gen.rs). Do not edit: regenerate with\n\
         // `GATEHOUSE_REGENERATE=1 cargo test -p gatehouse-gateway api_table`.\n\n\
         use crate::api_schema::{Access, Class, Field, Kind, MessageType};\n\n",
    );
    out.push_str("/// Every method of the served services, sorted by path.\n");
    out.push_str("pub(crate) static METHODS: &[(&str, Access)] = &[\n");
    for (path, access) in &methods {
        let a = match access {
            Access::Open => "Access::Open".to_owned(),
            Access::Refused(why) => format!("Access::Refused({why:?})"),
            Access::Namespaced(r) => {
                let class = CLASSES
                    .iter()
                    .find(|(m, _)| *m == short(path))
                    .map_or("Admin", |(_, c)| *c);
                format!("Access::Namespaced({}, Class::{class})", index[r.as_str()])
            }
        };
        let _ = writeln!(out, "    ({path:?}, {a}),");
    }
    out.push_str("];\n\n");
    out.push_str(
        "/// The message types a namespaced request can reach, with only the fields that lead to a\n\
         /// namespace (or namespace id) string.\n",
    );
    out.push_str("pub(crate) static MESSAGES: &[MessageType] = &[\n");
    for name in &needed {
        let m = &messages.by_name[name];
        let _ = write!(
            out,
            "    MessageType {{\n        name: {name:?},\n        fields: &["
        );
        let mut fields: Vec<_> = m
            .field
            .iter()
            .filter_map(|f| {
                let kind = if let Some(k) = field_kind(name, f.name(), f.r#type()) {
                    k.to_owned()
                } else if f.r#type() == Type::Message {
                    let t = f.type_name().trim_start_matches('.');
                    index.get(t).map(|i| format!("Kind::Message({i})"))?
                } else {
                    return None;
                };
                assert_ne!(f.label(), Label::Required);
                Some(format!(
                    "Field {{ number: {}, name: {:?}, kind: {kind} }}",
                    f.number(),
                    f.name()
                ))
            })
            .collect();
        fields.sort();
        if fields.is_empty() {
            out.push_str("],\n    },\n");
        } else {
            out.push('\n');
            for f in fields {
                let _ = writeln!(out, "            {f},");
            }
            out.push_str("        ],\n    },\n");
        }
    }
    out.push_str("];\n");
    out
}

enum Access {
    Open,
    Refused(String),
    Namespaced(String),
}

#[test]
fn api_table_matches_the_temporal_descriptors() {
    let generated = generate(gatehouse_temporal_api::DESCRIPTOR_SET);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/api_table.rs");
    if std::env::var_os("GATEHOUSE_REGENERATE").is_some() {
        std::fs::write(path, &generated).expect("write api_table.rs");
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "src/api_table.rs is not what the temporalio-protos descriptors give; regenerate it with \
         GATEHOUSE_REGENERATE=1 cargo test -p gatehouse-gateway api_table"
    );
}
