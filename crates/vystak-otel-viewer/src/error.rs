//! Errors of the viewer.

use std::net::SocketAddr;
use std::path::PathBuf;

/// What can go wrong starting the viewer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A listen address could not be bound.
    #[error("cannot listen on {addr}: {}", bind_reason(source, flag))]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The command-line flag that chooses this address (`--grpc`, `--http`, `--ui`).
        flag: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The SQLite file could not be opened, read or created.
    #[error("cannot use the store file {}: {source}", path.display())]
    Storage {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn bind_reason(source: &std::io::Error, flag: &str) -> String {
    if source.kind() == std::io::ErrorKind::AddrInUse {
        format!("it is in use: pick another with {flag} ADDR")
    } else {
        format!("{source} (choose the address with {flag} ADDR)")
    }
}
