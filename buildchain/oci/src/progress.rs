//! A progress hook for pulls; the CLI maps it onto its own bars (indicatif) or log lines.

/// Receives pull progress. Every method has a no-op default; implementations must be
/// cheap and thread-safe (blobs are fetched from several threads).
pub trait Progress: Send + Sync {
    /// The manifest is known: `blobs` blobs, `total_bytes` bytes to put in place.
    fn image_started(&self, _image: &str, _blobs: usize, _total_bytes: u64) {}
    /// `bytes` more bytes of `image` are in place (downloaded or taken from the cache).
    fn bytes_done(&self, _image: &str, _bytes: u64) {}
    /// A blob is complete; `from_cache` when it was not downloaded.
    fn blob_done(&self, _image: &str, _digest: &crate::Digest, _from_cache: bool) {}
    /// A transient failure is being retried.
    fn retrying(&self, _image: &str, _what: &str, _reason: &str) {}
    /// The image directory is complete and in place.
    fn image_finished(&self, _image: &str) {}
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}
