//! A progress hook for pulls; the CLI maps it onto its own bars (indicatif) or log lines.

/// Receives pull progress. Every method has a no-op default; implementations must be
/// cheap and thread-safe (blobs are fetched from several threads).
pub trait Progress: Send + Sync {
    /// The manifest is known: `blobs` blobs, `total_bytes` bytes to put in place.
    fn image_started(&self, _image: &str, _blobs: usize, _total_bytes: u64) {}
    /// `bytes` more bytes of `image` are in place (downloaded or taken from the cache).
    fn bytes_done(&self, _image: &str, _bytes: u64) {}
    /// A blob is complete; `from_cache` when it was not downloaded.
    fn blob_done(&self, _image: &str, _digest: &buildchain_oci_types::Digest, _from_cache: bool) {}
    /// A transient failure is being retried.
    fn retrying(&self, _image: &str, _what: &str, _reason: &str) {}
    /// The image directory is complete and in place.
    fn image_finished(&self, _image: &str) {}
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// Progress bars on an [`indicatif::MultiProgress`]: one per image being pulled (bytes)
/// and one overall. indicatif hides them when stderr is not a terminal.
pub struct BarsProgress {
    multi: indicatif::MultiProgress,
    overall: indicatif::ProgressBar,
    images: std::sync::Mutex<std::collections::HashMap<String, indicatif::ProgressBar>>,
}

impl BarsProgress {
    /// Adds the overall bar to `multi`; image bars come and go under it.
    pub fn new(multi: indicatif::MultiProgress) -> BarsProgress {
        let overall = multi.add(indicatif::ProgressBar::new(0));
        overall.set_style(style(
            "{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {msg}",
        ));
        overall.set_prefix("images");
        BarsProgress {
            multi,
            overall,
            images: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Finishes the overall bar.
    pub fn finish(&self) {
        self.overall.finish_and_clear();
    }

    fn bar(&self, image: &str) -> Option<indicatif::ProgressBar> {
        self.images.lock().ok()?.get(image).cloned()
    }
}

fn style(template: &str) -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template(template)
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl Progress for BarsProgress {
    fn image_started(&self, image: &str, _blobs: usize, total_bytes: u64) {
        let bar = self.multi.add(indicatif::ProgressBar::new(total_bytes));
        bar.set_style(style("  [{bar:30}] {bytes}/{total_bytes} {wide_msg}"));
        bar.set_message(image.to_string());
        self.overall.inc_length(total_bytes);
        if let Ok(mut images) = self.images.lock() {
            images.insert(image.to_string(), bar);
        }
    }

    fn bytes_done(&self, image: &str, bytes: u64) {
        if let Some(bar) = self.bar(image) {
            bar.inc(bytes);
        }
        self.overall.inc(bytes);
    }

    fn retrying(&self, image: &str, what: &str, reason: &str) {
        let _ = self
            .multi
            .println(format!("{image}: retrying {what}: {reason}"));
    }

    fn image_finished(&self, image: &str) {
        let bar = self.images.lock().ok().and_then(|mut m| m.remove(image));
        if let Some(bar) = bar {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }
}
