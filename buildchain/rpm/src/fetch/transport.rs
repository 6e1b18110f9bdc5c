//! Getting files from a repository: `http(s)://` with ureq (timeouts, retries), `file://`.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use crate::checksum::Checksum;
use crate::error::RpmError;
use crate::repodata::hex;

/// Where a repository lives.
pub(crate) enum Location {
    Http(String),
    Local(PathBuf),
}

impl Location {
    pub(crate) fn parse(base_url: &str) -> Result<Location, String> {
        let trimmed = base_url.trim_end_matches('/');
        if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
            Ok(Location::Http(trimmed.to_string()))
        } else if let Some(path) = trimmed.strip_prefix("file://") {
            Ok(Location::Local(PathBuf::from(path)))
        } else {
            Err(format!(
                "base URL '{base_url}' is neither http(s):// nor file://"
            ))
        }
    }

    pub(crate) fn join(&self, relative: &str) -> String {
        match self {
            Location::Http(base) => format!("{base}/{relative}"),
            Location::Local(base) => format!("file://{}", base.join(relative).display()),
        }
    }
}

/// Network settings.
pub(crate) struct Transport {
    agent: ureq::Agent,
    retries: u32,
    retry_delay: Duration,
}

/// One package to download and verify.
pub(crate) struct Download<'a> {
    pub repository: &'a str,
    pub package: &'a str,
    pub location: &'a Location,
    pub relative: &'a str,
    pub expected: &'a Checksum,
    pub expected_size: Option<u64>,
    pub target: &'a Path,
}

/// A failed attempt: retrying may help (network) or not (404, lying content).
enum Failure {
    Transient(String),
    Permanent(RpmError),
}

impl Transport {
    pub(crate) fn new(timeout: Duration, retries: u32, retry_delay: Duration) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Transport {
            agent,
            retries,
            retry_delay,
        }
    }

    /// Reads a whole (small) file: repomd.xml, primary.xml, a GPG key.
    pub(crate) fn get_bytes(
        &self,
        repository: &str,
        location: &Location,
        relative: &str,
        limit: u64,
    ) -> Result<Vec<u8>, RpmError> {
        let url = location.join(relative);
        self.with_retries(repository, &url, || {
            let mut out = Vec::new();
            let mut reader = self.open(repository, location, relative, &url)?;
            reader
                .by_ref()
                .take(limit + 1)
                .read_to_end(&mut out)
                .map_err(|e| Failure::Transient(format!("reading the body: {e}")))?;
            if out.len() as u64 > limit {
                return Err(Failure::Permanent(RpmError::Http {
                    repository: repository.to_string(),
                    url: url.clone(),
                    rule: format!("larger than the {limit}-byte limit for this file"),
                }));
            }
            Ok(out)
        })
    }

    /// Downloads `relative` to `target`, checking its size and checksum; on failure
    /// nothing is left at `target`.
    pub(crate) fn download(&self, job: &Download) -> Result<(), RpmError> {
        let Download {
            repository,
            package,
            location,
            relative,
            expected,
            expected_size,
            target,
        } = *job;
        let url = location.join(relative);
        let result = self.with_retries(repository, &url, || {
            let reader = self.open(repository, location, relative, &url)?;
            let (size, digest) = copy_hashing(reader, target, expected)
                .map_err(|e| Failure::Transient(format!("downloading: {e}")))?;
            let corrupted = |rule: String| {
                Failure::Permanent(RpmError::Corrupted {
                    package: package.to_string(),
                    url: url.clone(),
                    rule,
                })
            };
            if let Some(expected_size) = expected_size {
                if size < expected_size {
                    return Err(Failure::Transient(format!(
                        "truncated: {size} bytes received, repodata announces {expected_size}"
                    )));
                }
                if size != expected_size {
                    return Err(corrupted(format!(
                        "size {size} bytes differs from the {expected_size} bytes repodata announces"
                    )));
                }
            }
            if digest != expected.hex {
                return Err(corrupted(format!(
                    "{} checksum mismatch: repodata announces {}, the file has {digest}",
                    expected.kind, expected.hex
                )));
            }
            Ok(())
        });
        if result.is_err() {
            let _ = fs::remove_file(target);
        }
        result
    }

    fn open(
        &self,
        repository: &str,
        location: &Location,
        relative: &str,
        url: &str,
    ) -> Result<Box<dyn Read>, Failure> {
        match location {
            Location::Local(base) => {
                let path = base.join(relative);
                let file = File::open(&path).map_err(|e| {
                    Failure::Permanent(RpmError::Http {
                        repository: repository.to_string(),
                        url: url.to_string(),
                        rule: format!("cannot open {}: {e}", path.display()),
                    })
                })?;
                Ok(Box::new(file))
            }
            Location::Http(_) => {
                let response = self
                    .agent
                    .get(url)
                    .call()
                    .map_err(|e| Failure::Transient(e.to_string()))?;
                let status = response.status();
                if status.is_server_error() || status.as_u16() == 429 {
                    return Err(Failure::Transient(format!("server answered {status}")));
                }
                if !status.is_success() {
                    return Err(Failure::Permanent(RpmError::Http {
                        repository: repository.to_string(),
                        url: url.to_string(),
                        rule: format!("server answered {status}"),
                    }));
                }
                Ok(Box::new(response.into_body().into_reader()))
            }
        }
    }

    fn with_retries<T>(
        &self,
        repository: &str,
        url: &str,
        mut attempt: impl FnMut() -> Result<T, Failure>,
    ) -> Result<T, RpmError> {
        let mut tries = 0;
        loop {
            tries += 1;
            match attempt() {
                Ok(value) => return Ok(value),
                Err(Failure::Permanent(e)) => return Err(e),
                Err(Failure::Transient(rule)) if tries > self.retries => {
                    return Err(RpmError::Http {
                        repository: repository.to_string(),
                        url: url.to_string(),
                        rule: format!("{rule} (after {tries} attempts)"),
                    })
                }
                Err(Failure::Transient(_)) => {
                    thread::sleep(self.retry_delay * 2u32.saturating_pow(tries - 1));
                }
            }
        }
    }
}

fn copy_hashing(
    mut reader: impl Read,
    target: &Path,
    expected: &Checksum,
) -> io::Result<(u64, String)> {
    let mut hasher = expected.hasher();
    let mut out = BufWriter::new(File::create(target)?);
    let mut buf = vec![0u8; 128 * 1024];
    let mut size = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])?;
        size += n as u64;
    }
    out.flush()?;
    Ok((size, hex(&hasher.finalize())))
}
