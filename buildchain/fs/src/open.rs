//! Opening a path that an untrusted hand may have replaced.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Opens `path` with `options`, never through a symbolic link in its last component (the
/// open fails with `ELOOP`, see [`is_link_refusal`]) and without blocking on a FIFO put in
/// its place (callers check the file type of what they opened).
pub fn open_no_follow(options: &mut OpenOptions, path: &Path) -> io::Result<File> {
    options
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
}

/// Whether an error of [`open_no_follow`] says the path is a symbolic link.
pub fn is_link_refusal(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ELOOP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_refused_and_fifos_do_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("/etc/hostname", &link).unwrap();
        let err = open_no_follow(OpenOptions::new().read(true), &link).unwrap_err();
        assert!(is_link_refusal(&err), "{err}");
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let file = open_no_follow(OpenOptions::new().read(true), &fifo).unwrap();
        assert!(!file.metadata().unwrap().is_file());
    }
}
