//! A private certificate authority and a server certificate it signed (for 127.0.0.1 and
//! localhost), made with `openssl`: a registry or a mirror behind TLS that only a client
//! given the CA file trusts.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::tools::{require_tool, run_ok};

pub struct PrivateCa {
    /// The CA certificate (PEM): what `--ca-file` gets.
    pub ca_cert: PathBuf,
    /// The server certificate (PEM) and its key.
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

/// Makes the CA and a server certificate in `dir`.
pub fn private_ca(dir: &Path) -> PrivateCa {
    let openssl = require_tool("openssl");
    let p = |name: &str| dir.join(name);
    let ossl = |args: &[&str]| run_ok(Command::new(&openssl).args(args).current_dir(dir));
    ossl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=buildchain testkit CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    ossl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(
        p("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write server.ext");
    ossl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.pem",
    ]);
    PrivateCa {
        ca_cert: p("ca.pem"),
        server_cert: p("server.pem"),
        server_key: p("server.key"),
    }
}
