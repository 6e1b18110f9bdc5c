//! `buildchain-testkit` (dev-only): what the integration tests of every crate share (see
//! README.md). Real servers on 127.0.0.1, each binding its own port (no race with other
//! tests), stopped on drop: nginx, a private containerd, Debian's docker-registry (plain, basic auth, TLS), an
//! HTTP/CONNECT proxy; a private CA; tools required by name (a missing tool fails the test
//! saying which, never passes).

mod containerd;
pub mod hostile;
pub mod http;
mod nginx;
mod proxy;
mod registry;
mod rpm;
mod tls;
mod tools;

pub use containerd::Containerd;
pub use nginx::Nginx;
pub use proxy::Proxy;
pub use registry::{Registry, RegistryOptions};
pub use rpm::{rpmbuild, yum_repository, FixtureRpm};
pub use tls::{private_ca, PrivateCa};
pub use tools::{require_tool, require_venv_tool, run_ok};

/// A port of 127.0.0.1 free now (for a name, or a port nothing listens on: a server of
/// the test's own binds port 0 instead).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .local_addr()
        .expect("its address")
        .port()
}
