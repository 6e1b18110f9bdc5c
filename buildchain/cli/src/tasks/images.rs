//! `images`: the container images of `versions.toml`, in `$BUILD_ROOT/root/images/`.
//!
//! Today this creates `root/images/` only: the image capabilities (buildchain-oci) are
//! wired here when they land. To wire them, return one task per entry from
//! [`image_task`] (`_image_build:<name>` for `source = "build"`, `_image_pull:<name>`
//! otherwise) whose action calls the library with typed values; each is added to
//! `images`' sub-tasks and depends on `_image_mkdir_root`. A `_image_dedup_layers` task
//! depending on all of them then hardlinks identical layers.

use std::path::PathBuf;

use anyhow::Result;
use buildchain_graph::Task;

use super::iso::MKDIR_ROOT;
use super::{mkdir_task, Cfg};
use crate::versions::Image;

pub const MKDIR: &str = "_image_mkdir_root";

/// `root/images/<name>/<version>/`: where an image goes (skopeo `dir:` layout).
pub fn image_dir(cfg: &Cfg, image: &Image) -> PathBuf {
    cfg.iso_root()
        .join("images")
        .join(&image.name)
        .join(&image.version)
}

pub fn tasks(cfg: &Cfg) -> Result<Vec<Task>> {
    let mut tasks = vec![mkdir_task(
        MKDIR,
        "Create the images directory of the ISO.",
        cfg.iso_root().join("images"),
        &[MKDIR_ROOT],
    )];
    let mut group = Task::new("images")
        .doc("Pull/build the container images.")
        .subtask(MKDIR);
    for image in &cfg.versions.images {
        if let Some(task) = image_task(cfg, image)? {
            group = group.subtask(task.name().to_string());
            tasks.push(task.task_dep(MKDIR));
        }
    }
    tasks.push(group);
    Ok(tasks)
}

/// The task producing one image of `versions.toml`, once the image library is wired
/// (`None` until then: `images` ships what is available).
fn image_task(cfg: &Cfg, image: &Image) -> Result<Option<Task>> {
    let _destination = image_dir(cfg, image);
    Ok(None)
}
