//! Blob verification: every blob exists, has its size and hashes to its digest. Streamed
//! (1 MiB buffers) and in parallel (rayon); a file shared by several paths (hardlinks,
//! one ISO extent) is hashed once.

use crate::image::BlobRef;
use crate::report::{Finding, Rule};
use crate::source::{ArchiveSource, EntryKind, SourceError};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;

/// Outcome of [`verify`].
#[derive(Debug, Default)]
pub struct Verified {
    pub findings: Vec<Finding>,
    pub blobs: usize,
    pub bytes_hashed: u64,
}

enum Outcome {
    Ok,
    Missing,
    NotAFile,
    Size(u64),
    Digest(String),
    Unreadable(SourceError),
}

/// Verifies every blob (duplicates by path or by file identity are checked once).
pub fn verify(source: &dyn ArchiveSource, blobs: &[BlobRef]) -> Verified {
    // One job per distinct (path, digest, size); jobs whose file is shared are grouped.
    let mut by_path: BTreeMap<(&str, &str, u64), Vec<&BlobRef>> = BTreeMap::new();
    for blob in blobs {
        by_path
            .entry((&blob.path, &blob.digest_hex, blob.size))
            .or_default()
            .push(blob);
    }
    let jobs: Vec<_> = by_path.into_iter().collect();
    // Stat first (cheap), then hash each distinct file once.
    let stats: Vec<_> = jobs
        .par_iter()
        .map(|((path, _, _), _)| source.metadata(path))
        .collect();
    let mut groups: BTreeMap<(String, &str, u64), Vec<usize>> = BTreeMap::new();
    let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(jobs.len());
    for (i, (((path, digest, size), _), stat)) in jobs.iter().zip(stats).enumerate() {
        let outcome = match stat {
            Err(e) => Some(Outcome::Unreadable(e)),
            Ok(None) => Some(Outcome::Missing),
            Ok(Some(meta)) if meta.kind != EntryKind::File => Some(Outcome::NotAFile),
            Ok(Some(meta)) if meta.size != *size => Some(Outcome::Size(meta.size)),
            Ok(Some(meta)) => {
                let identity = match meta.file_id {
                    Some((a, b)) => format!("id:{a}:{b}"),
                    None => format!("path:{path}"),
                };
                groups.entry((identity, digest, *size)).or_default().push(i);
                None
            }
        };
        outcomes.push(outcome);
    }
    let hashed: Vec<(Vec<usize>, Result<String, SourceError>)> = groups
        .into_values()
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|members| {
            let path = jobs[members[0]].0 .0;
            let result = hash_file(source, path);
            (members, result)
        })
        .collect();
    let mut bytes_hashed = 0;
    for (members, result) in hashed {
        let expected = jobs[members[0]].0 .1;
        if result.is_ok() {
            bytes_hashed += jobs[members[0]].0 .2;
        }
        for &i in &members {
            outcomes[i] = Some(match &result {
                Ok(hex) if hex == expected => Outcome::Ok,
                Ok(hex) => Outcome::Digest(hex.clone()),
                Err(e) => Outcome::Unreadable(SourceError::Corrupt {
                    path: e.path().to_string(),
                    message: e.reason(),
                }),
            });
        }
    }
    let mut findings = Vec::new();
    for (((path, digest, size), refs), outcome) in jobs.iter().zip(outcomes) {
        let by = refs
            .iter()
            .map(|r| r.referenced_by.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let foreign = refs.iter().all(|r| r.foreign);
        let finding = match outcome {
            Some(Outcome::Ok) | None => continue,
            Some(Outcome::Missing) if foreign => Finding::warning(
                Rule::BlobMissing,
                *path,
                "missing (non-distributable layer with urls)",
                format!("the blob named in {by}"),
            ),
            Some(Outcome::Missing) => Finding::error(
                Rule::BlobMissing,
                *path,
                "missing",
                format!("the blob sha256:{digest} named in {by}"),
            ),
            Some(Outcome::NotAFile) => Finding::error(
                Rule::BlobMissing,
                *path,
                "not a regular file",
                format!("the blob sha256:{digest} named in {by}"),
            ),
            Some(Outcome::Size(actual)) => Finding::error(
                Rule::BlobSize,
                *path,
                format!("{actual} bytes"),
                format!("{size} bytes (as {by} says)"),
            ),
            Some(Outcome::Digest(actual)) => Finding::error(
                Rule::BlobDigest,
                *path,
                format!("sha256:{actual}"),
                format!("sha256:{digest} (as {by} says)"),
            ),
            Some(Outcome::Unreadable(e)) if e.is_path_problem() => Finding::error(
                Rule::ArchivePath,
                *path,
                e.reason(),
                "a safe path inside the archive",
            ),
            Some(Outcome::Unreadable(e)) => {
                Finding::error(Rule::ArchiveRead, *path, e.reason(), "a readable blob")
            }
        };
        findings.push(finding);
    }
    Verified {
        findings,
        blobs: jobs.len(),
        bytes_hashed,
    }
}

/// Streams a file through SHA-256.
pub fn hash_file(source: &dyn ArchiveSource, path: &str) -> Result<String, SourceError> {
    let mut reader = source.open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(SourceError::Io {
                    path: path.to_string(),
                    cause: source,
                })
            }
        };
        hasher.update(&buffer[..n]);
    }
    Ok(format!("{:x}", hasher.finalize()))
}
