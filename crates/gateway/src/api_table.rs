// @generated from the Temporal API descriptors published by temporalio-protos
// (see api_table_gen.rs). Do not edit: regenerate with
// `GATEHOUSE_REGENERATE=1 cargo test -p gatehouse-gateway api_table`.

use crate::api_schema::{Access, Class, Field, Kind, MessageType};

/// Every method of the served services, sorted by path.
pub(crate) static METHODS: &[(&str, Access)] = &[
    ("/grpc.health.v1.Health/Check", Access::Open),
    ("/grpc.health.v1.Health/Watch", Access::Open),
    ("/temporal.api.operatorservice.v1.OperatorService/AddOrUpdateRemoteCluster", Access::Refused("is cluster-scoped (its request names no namespace), so it would reveal or touch other namespaces")),
    ("/temporal.api.operatorservice.v1.OperatorService/AddSearchAttributes", Access::Refused("changes search attributes, which with Elasticsearch visibility are cluster-wide (every namespace's)")),
    ("/temporal.api.operatorservice.v1.OperatorService/CreateNexusEndpoint", Access::Refused("is cluster-scoped (its request names no namespace), so it would reveal or touch other namespaces")),
    ("/temporal.api.operatorservice.v1.OperatorService/DeleteNamespace", Access::Refused("deletes a namespace; namespaces are deleted by the cluster's operators, not through a namespace endpoint")),
    ("/temporal.api.operatorservice.v1.OperatorService/DeleteNexusEndpoint", Access::Refused("is cluster-scoped (its request names no namespace), so it would reveal or touch other namespaces")),
    ("/temporal.api.operatorservice.v1.OperatorService/GetNexusEndpoint", Access::Refused("is cluster-scoped (its request names no namespace), so it would reveal or touch other namespaces")),
    ("/temporal.api.operatorservice.v1.OperatorService/ListClusters", Access::Refused("is cluster-scoped (its request names no namespace), so it would reveal or touch other namespaces")),
    ("/temporal.api.operatorservice.v1.OperatorService/ListNexusEndpoints", Access::Refused("is cluster-scoped (its request names no namespace), so it would reveal or touch other namespaces")),
    ("/temporal.api.operatorservice.v1.OperatorService/ListSearchAttributes", Access::Namespaced(4, Class::Read)),
    ("/temporal.api.operatorservice.v1.OperatorService/RemoveRemoteCluster", Access::Refused("is cluster-scoped (its request names no namespace), so it would reveal or touch other namespaces")),
    ("/temporal.api.operatorservice.v1.OperatorService/RemoveSearchAttributes", Access::Refused("changes search attributes, which with Elasticsearch visibility are cluster-wide (every namespace's)")),
    ("/temporal.api.operatorservice.v1.OperatorService/UpdateNexusEndpoint", Access::Refused("is cluster-scoped (its request names no namespace), so it would reveal or touch other namespaces")),
    ("/temporal.api.workflowservice.v1.WorkflowService/CountActivityExecutions", Access::Namespaced(5, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/CountNexusOperationExecutions", Access::Namespaced(6, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/CountSchedules", Access::Namespaced(7, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/CountWorkers", Access::Namespaced(8, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/CountWorkflowExecutions", Access::Namespaced(9, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/CreateSchedule", Access::Namespaced(10, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/CreateWorkerDeployment", Access::Namespaced(11, Class::Admin)),
    ("/temporal.api.workflowservice.v1.WorkflowService/CreateWorkerDeploymentVersion", Access::Namespaced(12, Class::Admin)),
    ("/temporal.api.workflowservice.v1.WorkflowService/CreateWorkflowRule", Access::Namespaced(13, Class::Admin)),
    ("/temporal.api.workflowservice.v1.WorkflowService/DeleteActivityExecution", Access::Namespaced(14, Class::Admin)),
    ("/temporal.api.workflowservice.v1.WorkflowService/DeleteNexusOperationExecution", Access::Namespaced(15, Class::Admin)),
    ("/temporal.api.workflowservice.v1.WorkflowService/DeleteSchedule", Access::Namespaced(16, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/DeleteWorkerDeployment", Access::Namespaced(17, Class::Admin)),
    ("/temporal.api.workflowservice.v1.WorkflowService/DeleteWorkerDeploymentVersion", Access::Namespaced(18, Class::Admin)),
    ("/temporal.api.workflowservice.v1.WorkflowService/DeleteWorkflowExecution", Access::Namespaced(19, Class::Admin)),
    ("/temporal.api.workflowservice.v1.WorkflowService/DeleteWorkflowRule", Access::Namespaced(20, Class::Admin)),
    ("/temporal.api.workflowservice.v1.WorkflowService/DeprecateNamespace", Access::Refused("deprecates the namespace; that is the cluster operators' job, not a namespace endpoint's")),
    ("/temporal.api.workflowservice.v1.WorkflowService/DescribeActivityExecution", Access::Namespaced(21, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/DescribeBatchOperation", Access::Namespaced(22, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/DescribeDeployment", Access::Namespaced(23, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/DescribeNamespace", Access::Namespaced(24, Class::WorkerRead)),
    ("/temporal.api.workflowservice.v1.WorkflowService/DescribeNexusOperationExecution", Access::Namespaced(25, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/DescribeSchedule", Access::Namespaced(26, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/DescribeTaskQueue", Access::Namespaced(27, Class::WorkerRead)),
    ("/temporal.api.workflowservice.v1.WorkflowService/DescribeWorker", Access::Namespaced(30, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/DescribeWorkerDeployment", Access::Namespaced(28, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/DescribeWorkerDeploymentVersion", Access::Namespaced(29, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/DescribeWorkflowExecution", Access::Namespaced(31, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/DescribeWorkflowRule", Access::Namespaced(32, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/ExecuteMultiOperation", Access::Namespaced(33, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/FetchWorkerConfig", Access::Namespaced(35, Class::Worker)),
    ("/temporal.api.workflowservice.v1.WorkflowService/GetClusterInfo", Access::Open),
    ("/temporal.api.workflowservice.v1.WorkflowService/GetCurrentDeployment", Access::Namespaced(36, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/GetDeploymentReachability", Access::Namespaced(37, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/GetSearchAttributes", Access::Refused("is cluster-scoped (its request names no namespace), so it would reveal or touch other namespaces")),
    ("/temporal.api.workflowservice.v1.WorkflowService/GetSystemInfo", Access::Open),
    ("/temporal.api.workflowservice.v1.WorkflowService/GetWorkerBuildIdCompatibility", Access::Namespaced(38, Class::WorkerRead)),
    ("/temporal.api.workflowservice.v1.WorkflowService/GetWorkerTaskReachability", Access::Namespaced(39, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/GetWorkerVersioningRules", Access::Namespaced(40, Class::WorkerRead)),
    ("/temporal.api.workflowservice.v1.WorkflowService/GetWorkflowExecutionHistory", Access::Namespaced(41, Class::WorkerRead)),
    ("/temporal.api.workflowservice.v1.WorkflowService/GetWorkflowExecutionHistoryReverse", Access::Namespaced(42, Class::WorkerRead)),
    ("/temporal.api.workflowservice.v1.WorkflowService/ListActivityExecutions", Access::Namespaced(43, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/ListArchivedWorkflowExecutions", Access::Namespaced(44, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/ListBatchOperations", Access::Namespaced(45, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/ListClosedWorkflowExecutions", Access::Namespaced(46, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/ListDeployments", Access::Namespaced(47, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/ListNamespaces", Access::Refused("is cluster-scoped (its request names no namespace), so it would reveal or touch other namespaces")),
    ("/temporal.api.workflowservice.v1.WorkflowService/ListNexusOperationExecutions", Access::Namespaced(48, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/ListOpenWorkflowExecutions", Access::Namespaced(49, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/ListScheduleMatchingTimes", Access::Namespaced(50, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/ListSchedules", Access::Namespaced(51, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/ListTaskQueuePartitions", Access::Namespaced(52, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/ListWorkerDeployments", Access::Namespaced(53, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/ListWorkers", Access::Namespaced(54, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/ListWorkflowExecutions", Access::Namespaced(55, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/ListWorkflowRules", Access::Namespaced(56, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/PatchSchedule", Access::Namespaced(57, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/PauseActivity", Access::Namespaced(59, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/PauseActivityExecution", Access::Namespaced(58, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/PauseWorkflowExecution", Access::Namespaced(60, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/PollActivityExecution", Access::Namespaced(61, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/PollActivityTaskQueue", Access::Namespaced(62, Class::Worker)),
    ("/temporal.api.workflowservice.v1.WorkflowService/PollNexusOperationExecution", Access::Namespaced(63, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/PollNexusTaskQueue", Access::Namespaced(64, Class::Worker)),
    ("/temporal.api.workflowservice.v1.WorkflowService/PollWorkflowExecutionTimeSkipping", Access::Namespaced(65, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/PollWorkflowExecutionUpdate", Access::Namespaced(66, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/PollWorkflowTaskQueue", Access::Namespaced(67, Class::Worker)),
    ("/temporal.api.workflowservice.v1.WorkflowService/QueryWorkflow", Access::Namespaced(68, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/RecordActivityTaskHeartbeat", Access::Namespaced(70, Class::Worker)),
    ("/temporal.api.workflowservice.v1.WorkflowService/RecordActivityTaskHeartbeatById", Access::Namespaced(69, Class::Worker)),
    ("/temporal.api.workflowservice.v1.WorkflowService/RecordWorkerHeartbeat", Access::Namespaced(71, Class::Worker)),
    ("/temporal.api.workflowservice.v1.WorkflowService/RegisterNamespace", Access::Refused("creates a namespace; namespaces are created by the cluster's operators, not through a namespace endpoint")),
    ("/temporal.api.workflowservice.v1.WorkflowService/RequestCancelActivityExecution", Access::Namespaced(72, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/RequestCancelNexusOperationExecution", Access::Namespaced(73, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/RequestCancelWorkflowExecution", Access::Namespaced(74, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/ResetActivity", Access::Namespaced(76, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/ResetActivityExecution", Access::Namespaced(75, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/ResetStickyTaskQueue", Access::Namespaced(77, Class::Worker)),
    ("/temporal.api.workflowservice.v1.WorkflowService/ResetWorkflowExecution", Access::Namespaced(78, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/RespondActivityTaskCanceled", Access::Namespaced(80, Class::Worker)),
    ("/temporal.api.workflowservice.v1.WorkflowService/RespondActivityTaskCanceledById", Access::Namespaced(79, Class::Worker)),
    ("/temporal.api.workflowservice.v1.WorkflowService/RespondActivityTaskCompleted", Access::Namespaced(82, Class::Worker)),
    ("/temporal.api.workflowservice.v1.WorkflowService/RespondActivityTaskCompletedById", Access::Namespaced(81, Class::Worker)),
    ("/temporal.api.workflowservice.v1.WorkflowService/RespondActivityTaskFailed", Access::Namespaced(84, Class::Worker)),
    ("/temporal.api.workflowservice.v1.WorkflowService/RespondActivityTaskFailedById", Access::Namespaced(83, Class::Worker)),
    ("/temporal.api.workflowservice.v1.WorkflowService/RespondNexusTaskCompleted", Access::Namespaced(85, Class::Worker)),
    ("/temporal.api.workflowservice.v1.WorkflowService/RespondNexusTaskFailed", Access::Namespaced(86, Class::Worker)),
    ("/temporal.api.workflowservice.v1.WorkflowService/RespondQueryTaskCompleted", Access::Namespaced(87, Class::Worker)),
    ("/temporal.api.workflowservice.v1.WorkflowService/RespondWorkflowTaskCompleted", Access::Namespaced(88, Class::Worker)),
    ("/temporal.api.workflowservice.v1.WorkflowService/RespondWorkflowTaskFailed", Access::Namespaced(89, Class::Worker)),
    ("/temporal.api.workflowservice.v1.WorkflowService/ScanWorkflowExecutions", Access::Namespaced(90, Class::Read)),
    ("/temporal.api.workflowservice.v1.WorkflowService/SetCurrentDeployment", Access::Namespaced(91, Class::Admin)),
    ("/temporal.api.workflowservice.v1.WorkflowService/SetWorkerDeploymentCurrentVersion", Access::Namespaced(92, Class::Admin)),
    ("/temporal.api.workflowservice.v1.WorkflowService/SetWorkerDeploymentManager", Access::Namespaced(93, Class::Admin)),
    ("/temporal.api.workflowservice.v1.WorkflowService/SetWorkerDeploymentRampingVersion", Access::Namespaced(94, Class::Admin)),
    ("/temporal.api.workflowservice.v1.WorkflowService/ShutdownWorker", Access::Namespaced(95, Class::Worker)),
    ("/temporal.api.workflowservice.v1.WorkflowService/SignalWithStartWorkflowExecution", Access::Namespaced(96, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/SignalWorkflowExecution", Access::Namespaced(97, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/StartActivityExecution", Access::Namespaced(98, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/StartBatchOperation", Access::Namespaced(99, Class::Admin)),
    ("/temporal.api.workflowservice.v1.WorkflowService/StartNexusOperationExecution", Access::Namespaced(100, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/StartWorkflowExecution", Access::Namespaced(101, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/StopBatchOperation", Access::Namespaced(102, Class::Admin)),
    ("/temporal.api.workflowservice.v1.WorkflowService/TerminateActivityExecution", Access::Namespaced(103, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/TerminateNexusOperationExecution", Access::Namespaced(104, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/TerminateWorkflowExecution", Access::Namespaced(105, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/TriggerWorkflowRule", Access::Namespaced(106, Class::Admin)),
    ("/temporal.api.workflowservice.v1.WorkflowService/UnpauseActivity", Access::Namespaced(108, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/UnpauseActivityExecution", Access::Namespaced(107, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/UnpauseWorkflowExecution", Access::Namespaced(109, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/UpdateActivityExecutionOptions", Access::Namespaced(110, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/UpdateActivityOptions", Access::Namespaced(111, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/UpdateNamespace", Access::Refused("changes the namespace itself (its state, including deleted, replication and failover); that is the cluster operators' job, not a namespace endpoint's")),
    ("/temporal.api.workflowservice.v1.WorkflowService/UpdateSchedule", Access::Namespaced(112, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/UpdateTaskQueueConfig", Access::Namespaced(113, Class::Admin)),
    ("/temporal.api.workflowservice.v1.WorkflowService/UpdateWorkerBuildIdCompatibility", Access::Namespaced(114, Class::Admin)),
    ("/temporal.api.workflowservice.v1.WorkflowService/UpdateWorkerConfig", Access::Namespaced(115, Class::Admin)),
    ("/temporal.api.workflowservice.v1.WorkflowService/UpdateWorkerDeploymentVersionComputeConfig", Access::Namespaced(116, Class::Admin)),
    ("/temporal.api.workflowservice.v1.WorkflowService/UpdateWorkerDeploymentVersionMetadata", Access::Namespaced(117, Class::Admin)),
    ("/temporal.api.workflowservice.v1.WorkflowService/UpdateWorkerVersioningRules", Access::Namespaced(118, Class::Admin)),
    ("/temporal.api.workflowservice.v1.WorkflowService/UpdateWorkflowExecution", Access::Namespaced(120, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/UpdateWorkflowExecutionOptions", Access::Namespaced(119, Class::Write)),
    ("/temporal.api.workflowservice.v1.WorkflowService/ValidateWorkerDeploymentVersionComputeConfig", Access::Namespaced(121, Class::Admin)),
];

/// The message types a namespaced request can reach, with only the fields that lead to a
/// namespace (or namespace id) string.
pub(crate) static MESSAGES: &[MessageType] = &[
    MessageType {
        name: "temporal.api.command.v1.Command",
        fields: &[
            Field { number: 12, name: "start_child_workflow_execution_command_attributes", kind: Kind::Message(3) },
            Field { number: 13, name: "signal_external_workflow_execution_command_attributes", kind: Kind::Message(2) },
            Field { number: 9, name: "request_cancel_external_workflow_execution_command_attributes", kind: Kind::Message(1) },
        ],
    },
    MessageType {
        name: "temporal.api.command.v1.RequestCancelExternalWorkflowExecutionCommandAttributes",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.command.v1.SignalExternalWorkflowExecutionCommandAttributes",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.command.v1.StartChildWorkflowExecutionCommandAttributes",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.operatorservice.v1.ListSearchAttributesRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.CountActivityExecutionsRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.CountNexusOperationExecutionsRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.CountSchedulesRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.CountWorkersRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.CountWorkflowExecutionsRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.CreateScheduleRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.CreateWorkerDeploymentRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.CreateWorkerDeploymentVersionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.CreateWorkflowRuleRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.DeleteActivityExecutionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.DeleteNexusOperationExecutionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.DeleteScheduleRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.DeleteWorkerDeploymentRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.DeleteWorkerDeploymentVersionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.DeleteWorkflowExecutionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.DeleteWorkflowRuleRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.DescribeActivityExecutionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.DescribeBatchOperationRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.DescribeDeploymentRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.DescribeNamespaceRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
            Field { number: 2, name: "id", kind: Kind::NamespaceId },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.DescribeNexusOperationExecutionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.DescribeScheduleRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.DescribeTaskQueueRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.DescribeWorkerDeploymentRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.DescribeWorkerDeploymentVersionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.DescribeWorkerRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.DescribeWorkflowExecutionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.DescribeWorkflowRuleRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.ExecuteMultiOperationRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
            Field { number: 2, name: "operations", kind: Kind::Message(34) },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.ExecuteMultiOperationRequest.Operation",
        fields: &[
            Field { number: 1, name: "start_workflow", kind: Kind::Message(101) },
            Field { number: 2, name: "update_workflow", kind: Kind::Message(120) },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.FetchWorkerConfigRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.GetCurrentDeploymentRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.GetDeploymentReachabilityRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.GetWorkerBuildIdCompatibilityRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.GetWorkerTaskReachabilityRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.GetWorkerVersioningRulesRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryReverseRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.ListActivityExecutionsRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.ListArchivedWorkflowExecutionsRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.ListBatchOperationsRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.ListClosedWorkflowExecutionsRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.ListDeploymentsRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.ListNexusOperationExecutionsRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.ListOpenWorkflowExecutionsRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.ListScheduleMatchingTimesRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.ListSchedulesRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.ListTaskQueuePartitionsRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.ListWorkerDeploymentsRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.ListWorkersRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.ListWorkflowExecutionsRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.ListWorkflowRulesRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.PatchScheduleRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.PauseActivityExecutionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.PauseActivityRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.PauseWorkflowExecutionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.PollActivityExecutionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.PollActivityTaskQueueRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.PollNexusOperationExecutionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.PollNexusTaskQueueRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.PollWorkflowExecutionTimeSkippingRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.PollWorkflowExecutionUpdateRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.PollWorkflowTaskQueueRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.QueryWorkflowRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.RecordActivityTaskHeartbeatByIdRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.RecordActivityTaskHeartbeatRequest",
        fields: &[
            Field { number: 4, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.RecordWorkerHeartbeatRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.RequestCancelActivityExecutionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.RequestCancelNexusOperationExecutionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.RequestCancelWorkflowExecutionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.ResetActivityExecutionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.ResetActivityRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.ResetStickyTaskQueueRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.ResetWorkflowExecutionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.RespondActivityTaskCanceledByIdRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.RespondActivityTaskCanceledRequest",
        fields: &[
            Field { number: 4, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.RespondActivityTaskCompletedByIdRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.RespondActivityTaskCompletedRequest",
        fields: &[
            Field { number: 4, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.RespondActivityTaskFailedByIdRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.RespondActivityTaskFailedRequest",
        fields: &[
            Field { number: 4, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.RespondNexusTaskCompletedRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.RespondNexusTaskFailedRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.RespondQueryTaskCompletedRequest",
        fields: &[
            Field { number: 6, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.RespondWorkflowTaskCompletedRequest",
        fields: &[
            Field { number: 2, name: "commands", kind: Kind::Message(0) },
            Field { number: 9, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.RespondWorkflowTaskFailedRequest",
        fields: &[
            Field { number: 6, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.ScanWorkflowExecutionsRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.SetCurrentDeploymentRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.SetWorkerDeploymentCurrentVersionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.SetWorkerDeploymentManagerRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.SetWorkerDeploymentRampingVersionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.ShutdownWorkerRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.SignalWithStartWorkflowExecutionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.SignalWorkflowExecutionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.StartActivityExecutionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.StartBatchOperationRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.StartNexusOperationExecutionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.StartWorkflowExecutionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.StopBatchOperationRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.TerminateActivityExecutionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.TerminateNexusOperationExecutionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.TerminateWorkflowExecutionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.TriggerWorkflowRuleRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.UnpauseActivityExecutionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.UnpauseActivityRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.UnpauseWorkflowExecutionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.UpdateActivityExecutionOptionsRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.UpdateActivityOptionsRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.UpdateScheduleRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.UpdateTaskQueueConfigRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.UpdateWorkerBuildIdCompatibilityRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.UpdateWorkerConfigRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.UpdateWorkerDeploymentVersionComputeConfigRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.UpdateWorkerDeploymentVersionMetadataRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.UpdateWorkerVersioningRulesRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.UpdateWorkflowExecutionOptionsRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.UpdateWorkflowExecutionRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
    MessageType {
        name: "temporal.api.workflowservice.v1.ValidateWorkerDeploymentVersionComputeConfigRequest",
        fields: &[
            Field { number: 1, name: "namespace", kind: Kind::Namespace },
        ],
    },
];
