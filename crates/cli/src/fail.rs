//! How commands fail: a one-line message and an exit status.

use std::fmt;
use std::process::ExitCode;

/// A failed command. `Input` (exit 2) is anything about what the user gave us; `Internal`
/// (exit 1) is everything else.
#[derive(Debug)]
pub(crate) enum Failure {
    Input(String),
    /// The server refused the request (a rule, a role, a conflict): exit 1.
    Refused(String),
    Internal(String),
}

impl Failure {
    pub(crate) fn exit_code(&self) -> ExitCode {
        match self {
            Self::Input(_) => ExitCode::from(2),
            Self::Refused(_) | Self::Internal(_) => ExitCode::from(1),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Input(m) | Self::Refused(m) | Self::Internal(m) => f.write_str(m),
        }
    }
}

macro_rules! input_errors {
    ($($t:ty),*) => {$(
        impl From<$t> for Failure {
            fn from(e: $t) -> Self {
                Failure::Input(e.to_string())
            }
        }
    )*};
}

input_errors!(
    gatehouse_pki::InputError,
    gatehouse_pki::DurationError,
    gatehouse_pki::WriteError,
    gatehouse_policy::FilterError
);

impl From<gatehouse_pki::IssueError> for Failure {
    fn from(e: gatehouse_pki::IssueError) -> Self {
        use gatehouse_pki::{IssueError, KeyError};
        match e {
            IssueError::Generation(_) | IssueError::Key(KeyError::Generation { .. }) => {
                Failure::Internal(e.to_string())
            }
            other => Failure::Input(other.to_string()),
        }
    }
}

impl From<gatehouse_server::StartError> for Failure {
    fn from(e: gatehouse_server::StartError) -> Self {
        match e {
            gatehouse_server::StartError::Input(m) => Failure::Input(m),
            other => Failure::Internal(other.to_string()),
        }
    }
}
