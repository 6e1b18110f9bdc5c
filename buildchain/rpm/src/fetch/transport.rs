//! Getting files from a repository: `http(s)://` with the shared client (buildchain-http:
//! time limits, retries, bounded bodies), `file://`.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use buildchain_http::{printable, Attempt, Client, HttpError, Retry};

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

    /// The URL of `relative`, a path as repodata writes it (not URL-encoded: `%`, `#`,
    /// `?` and spaces are characters of the file name, encoded here); `""` is the base
    /// itself.
    pub(crate) fn join(&self, relative: &str) -> String {
        match self {
            Location::Http(base) if relative.is_empty() => base.clone(),
            Location::Http(base) => format!(
                "{base}/{}",
                percent_encoding::utf8_percent_encode(relative, PATH_ESCAPED)
            ),
            Location::Local(_) => format!("file://{}", self.path(relative).display()),
        }
    }

    /// The file of `relative` in a local repository.
    fn path(&self, relative: &str) -> PathBuf {
        match self {
            Location::Local(base) if !relative.is_empty() => base.join(relative),
            Location::Local(base) => base.clone(),
            Location::Http(base) => PathBuf::from(base),
        }
    }
}

/// What a path component keeps of its bytes in a URL: RFC 3986's unreserved characters,
/// sub-delimiters, `:`, `@` and the separator `/`; the rest is percent-encoded.
const PATH_ESCAPED: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// The network side: the shared HTTP client (its retry policy, time limits, proxies, CA).
pub(crate) struct Transport {
    http: Client,
    retry: Retry,
}

/// One package to download and verify.
pub(crate) struct Download<'a> {
    pub repository: &'a str,
    pub package: &'a str,
    pub location: &'a Location,
    pub relative: &'a str,
    pub expected: &'a Checksum,
    pub expected_size: Option<u64>,
    /// What announced the checksum and size (`repodata`, a lock's line), for messages.
    pub announced_by: &'a str,
    /// The most bytes read when repodata announces no size.
    pub max_bytes: u64,
    pub target: &'a Path,
}

impl Transport {
    pub(crate) fn new(config: &buildchain_http::Config) -> Result<Self, RpmError> {
        let http = Client::new(config.clone()).map_err(|e| RpmError::Options(e.to_string()))?;
        Ok(Transport {
            retry: config.retry,
            http,
        })
    }

    fn http_error(repository: &str, url: &str, rule: String) -> RpmError {
        RpmError::Http {
            repository: repository.to_string(),
            url: printable(url),
            rule,
        }
    }

    /// Reads a whole (small) file: repomd.xml, primary.xml, a GPG key; at most `limit` bytes.
    pub(crate) fn get_bytes(
        &self,
        repository: &str,
        location: &Location,
        relative: &str,
        limit: u64,
    ) -> Result<Vec<u8>, RpmError> {
        let url = location.join(relative);
        self.with_retries(repository, &url, || {
            let reader = self.open(repository, location, relative, &url, limit)?;
            let mut out = Vec::new();
            reader
                .take(limit + 1)
                .read_to_end(&mut out)
                .map_err(|e| self.failure(repository, &url, e))?;
            if out.len() as u64 > limit {
                return Err(Attempt::Fail(Self::http_error(
                    repository,
                    &url,
                    format!("larger than the {limit}-byte limit for this file"),
                )));
            }
            Ok(out)
        })
    }

    /// Downloads `relative` to `target`, reading at most the size repodata announces and
    /// checking size and checksum; on failure nothing is left at `target`.
    pub(crate) fn download(&self, job: &Download) -> Result<(), RpmError> {
        let Download {
            repository,
            package,
            location,
            relative,
            expected,
            expected_size,
            announced_by,
            max_bytes,
            target,
        } = *job;
        let url = location.join(relative);
        let corrupted = |rule: String| {
            Attempt::Fail(RpmError::Corrupted {
                package: package.to_string(),
                url: printable(&url),
                rule,
            })
        };
        let limit = expected_size.unwrap_or(max_bytes);
        let result = self.with_retries(repository, &url, || {
            let reader = self.open(repository, location, relative, &url, limit)?;
            let (size, digest) = match copy_hashing(reader, target, expected, limit) {
                Ok(done) => done,
                Err(CopyError::Write(e)) => {
                    return Err(Attempt::Fail(RpmError::io("writing", target, e)))
                }
                Err(CopyError::TooLong) => {
                    return Err(corrupted(format!(
                        "the server sent more than the {limit} bytes {}",
                        if expected_size.is_some() {
                            format!("{announced_by} announces")
                        } else {
                            "a package may have".to_string()
                        }
                    )))
                }
                Err(CopyError::Read(e)) => return Err(self.failure(repository, &url, e)),
            };
            if let Some(expected_size) = expected_size {
                if size < expected_size {
                    return Err(Attempt::Retry(format!(
                        "truncated: {size} bytes received, {announced_by} announces {expected_size}"
                    )));
                }
            }
            if digest != expected.hex {
                return Err(corrupted(format!(
                    "{} checksum mismatch: {announced_by} announces {}, the file has {digest}",
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

    /// A read error of a body: transient (retried) or final.
    fn failure(&self, repository: &str, url: &str, e: io::Error) -> Attempt<RpmError> {
        let e = HttpError::from_io(url, e);
        if e.is_transient() {
            Attempt::Retry(e.to_string())
        } else {
            Attempt::Fail(Self::http_error(repository, url, e.to_string()))
        }
    }

    fn open(
        &self,
        repository: &str,
        location: &Location,
        relative: &str,
        url: &str,
        limit: u64,
    ) -> Result<Box<dyn Read>, Attempt<RpmError>> {
        match location {
            Location::Local(_) => {
                let path = location.path(relative);
                let file = File::open(&path).map_err(|e| {
                    Attempt::Fail(Self::http_error(
                        repository,
                        url,
                        format!("cannot open {}: {e}", path.display()),
                    ))
                })?;
                Ok(Box::new(file))
            }
            Location::Http(_) => {
                let response = match self.http.get(url, &[], &[]) {
                    Ok(r) => r,
                    Err(e) if e.is_transient() => return Err(Attempt::Retry(e.to_string())),
                    Err(e) => {
                        return Err(Attempt::Fail(Self::http_error(
                            repository,
                            url,
                            e.to_string(),
                        )))
                    }
                };
                let status = response.status();
                if response.is_transient_status() {
                    return Err(Attempt::Retry(format!("server answered {status}")));
                }
                if !response.is_success() {
                    return Err(Attempt::Fail(Self::http_error(
                        repository,
                        url,
                        format!("server answered {status}"),
                    )));
                }
                Ok(Box::new(response.into_reader(limit, relative)))
            }
        }
    }

    fn with_retries<T>(
        &self,
        repository: &str,
        url: &str,
        attempt: impl FnMut() -> Result<T, Attempt<RpmError>>,
    ) -> Result<T, RpmError> {
        let mut attempt = attempt;
        self.retry.run(
            |_| attempt(),
            |_, _| {},
            |why, tries| {
                Self::http_error(repository, url, format!("{why} (after {tries} attempts)"))
            },
        )
    }
}

enum CopyError {
    Read(io::Error),
    Write(io::Error),
    TooLong,
}

fn copy_hashing(
    mut reader: impl Read,
    target: &Path,
    expected: &Checksum,
    limit: u64,
) -> Result<(u64, String), CopyError> {
    let mut hasher = expected.hasher();
    let mut out = BufWriter::new(File::create(target).map_err(CopyError::Write)?);
    let mut buf = vec![0u8; 128 * 1024];
    let mut size = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                if let Some(HttpError::TooLarge { .. }) =
                    e.get_ref().and_then(|i| i.downcast_ref::<HttpError>())
                {
                    return Err(CopyError::TooLong);
                }
                return Err(CopyError::Read(e));
            }
        };
        size += n as u64;
        if size > limit {
            return Err(CopyError::TooLong);
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(CopyError::Write)?;
    }
    out.flush().map_err(CopyError::Write)?;
    Ok((size, hex(&hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_encoded_in_urls() {
        let base = Location::parse("http://mirror/repo/").unwrap();
        assert_eq!(
            base.join("Packages/a b#1?x%41+y.rpm"),
            "http://mirror/repo/Packages/a%20b%231%3Fx%2541+y.rpm"
        );
        assert_eq!(base.join(""), "http://mirror/repo");
        let local = Location::parse("file:///srv/repo").unwrap();
        assert_eq!(local.join("a b.rpm"), "file:///srv/repo/a b.rpm");
    }
}
