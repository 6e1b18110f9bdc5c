//! `buildchain-http`: the one HTTP client of the build chain (see README.md). Pulls from
//! registries and downloads from yum mirrors go through it, so they share one retry
//! policy, one set of time limits, one way to read proxies and an extra CA, and the same
//! defences against servers we do not control: bounded and rate-checked bodies, checked
//! redirects, credentials kept to their origin, server text escaped.

mod client;
mod error;
mod policy;
mod proxy;
mod retry;
mod text;
mod tls;
mod url;

pub use client::{BodyReader, Client, Config, Method, Response};
pub use error::HttpError;
pub use policy::{host_is_internal, is_internal};
pub use proxy::ProxyConfig;
pub use retry::{Attempt, Retry, MAX_BACKOFF};
pub use text::{escape_controls, printable, SHOWN_CHARS};
