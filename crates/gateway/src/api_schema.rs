//! The shapes of the method table (`api_table.rs`, generated) that the namespace walk
//! (`namespace_check.rs`) reads: each method's access class, and for the message types a
//! namespaced request can reach, the fields that can lead to a namespace.

/// What a method may do through a namespace endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Carries no namespace and reveals none (GetSystemInfo, GetClusterInfo, health).
    Open,
    /// Refused, and why.
    Refused(&'static str),
    /// Its request (index into `MESSAGES`) must name the connection's namespace; the class says
    /// which certificate-filter roles may call it.
    Namespaced(usize, Class),
}

/// What a namespaced method does, for roles on certificate filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Poll, respond, heartbeat.
    Worker,
    /// A read that workers need too (history, the namespace, versioning).
    WorkerRead,
    Read,
    Write,
    Admin,
}

impl Class {
    pub(crate) fn allowed(self, p: gatehouse_policy::Permissions) -> bool {
        use gatehouse_policy::Permissions as P;
        match self {
            Self::Worker => p.contains(P::WORKER),
            Self::WorkerRead => p.contains(P::WORKER) || p.contains(P::READ),
            Self::Read => p.contains(P::READ),
            Self::Write => p.contains(P::WRITE),
            Self::Admin => p.contains(P::ADMIN),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Worker => "worker",
            Self::WorkerRead | Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }
}

/// A message type, with only the fields that lead to a namespace.
#[derive(Debug)]
pub(crate) struct MessageType {
    pub(crate) name: &'static str,
    pub(crate) fields: &'static [Field],
}

#[derive(Debug)]
pub(crate) struct Field {
    pub(crate) number: u32,
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// A `namespace` string: must be the connection's namespace (nested ones may be empty,
    /// which means "the same namespace").
    Namespace,
    /// A namespace id: a request through a namespace endpoint names its namespace, so ids
    /// (which could name any namespace) must be empty.
    NamespaceId,
    /// A message that can contain either.
    Message(usize),
}
