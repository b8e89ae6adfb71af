//! Why a server did not start, or stopped.

/// A start-up failure. `Input` is about what the operator gave (a flag, a file, a busy port);
/// `Internal` is everything else.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Internal(String),
}

impl StartError {
    pub(crate) fn input(message: impl Into<String>) -> Self {
        Self::Input(message.into())
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::Internal(message.into())
    }
}

impl From<gatehouse_pki::WriteError> for StartError {
    fn from(e: gatehouse_pki::WriteError) -> Self {
        Self::Input(e.to_string())
    }
}

impl From<gatehouse_pki::IssueError> for StartError {
    fn from(e: gatehouse_pki::IssueError) -> Self {
        Self::Internal(e.to_string())
    }
}
