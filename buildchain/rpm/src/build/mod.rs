//! Building RPMs natively from [`PackageDefinition`]s (with the `rpm` crate's writer).

mod definition;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

pub use definition::{
    Compression, DirectorySpec, FileSpec, PackageDefinition, Scripts, SymlinkSpec, DEFINITION_FILE,
};

use crate::dependency::Dependency;
use crate::error::RpmError;
use crate::vercmp::Comparison;

/// The build host recorded in every package: a constant, so that builds are reproducible.
pub const BUILD_HOST: &str = "buildchain";

/// Where a build reads its inputs and which time it records.
#[derive(Debug, Clone)]
pub struct BuildContext {
    /// The repository root: `source` paths of a definition are relative to it.
    pub repo_root: PathBuf,
    /// `SOURCE_DATE_EPOCH`: the build time, and the upper bound of every file's mtime.
    /// `None`: the current time and the sources' mtimes.
    pub source_date_epoch: Option<u64>,
    /// Signs the header (what `rpm --addsign` does) at the given time (seconds since the
    /// epoch: the build's, no earlier than the key's creation).
    pub signer: Option<(rpm::signature::pgp::Signer, u64)>,
}

/// Builds `definition` into `out_dir/<name>-<version>-<release>.<arch>.rpm` (written to a
/// temporary name, renamed when complete) and returns that path.
pub fn build_package(
    definition: &PackageDefinition,
    context: &BuildContext,
    out_dir: &Path,
) -> Result<PathBuf, RpmError> {
    let package = build_in_memory(definition, context)?;
    let out = out_dir.join(definition.file_name());
    let mut writer = std::io::BufWriter::new(buildchain_fs::AtomicFile::create(&out)?);
    package.write(&mut writer).map_err(|e| RpmError::Build {
        package: definition.nevra(),
        rule: format!("writing the RPM: {e}"),
    })?;
    let file = writer
        .into_inner()
        .map_err(|e| RpmError::io("writing", &out, e.into_error()))?;
    file.commit()?;
    Ok(out)
}

fn build_in_memory(
    def: &PackageDefinition,
    context: &BuildContext,
) -> Result<rpm::Package, RpmError> {
    let fail = |rule: String| RpmError::Build {
        package: def.nevra(),
        rule,
    };
    let mut config = rpm::BuildConfig::v4().compression(match def.compression {
        Compression::Gzip => rpm::CompressionWithLevel::Gzip(9),
        Compression::Zstd => rpm::CompressionWithLevel::Zstd(19),
    });
    if let Some(epoch) = context.source_date_epoch {
        let epoch = u32::try_from(epoch).map_err(|_| {
            fail(format!(
                "SOURCE_DATE_EPOCH {epoch} does not fit an RPM time"
            ))
        })?;
        config = config.source_date(epoch);
    }
    let mut builder = rpm::PackageBuilder::new(
        &def.name,
        &def.version,
        &def.license,
        &def.arch,
        &def.summary,
    );
    builder
        .using_config(config)
        .release(def.release.clone())
        .description(def.description.clone())
        .build_host(BUILD_HOST);
    if let Some(epoch) = def.epoch {
        builder.epoch(epoch);
    }
    if let Some(url) = &def.url {
        builder.url(url.clone());
    }
    if let Some(vendor) = &def.vendor {
        builder.vendor(vendor.clone());
    }
    if let Some(packager) = &def.packager {
        builder.packager(packager.clone());
    }
    if let Some(group) = &def.group {
        builder.group(group.clone());
    }

    for dir in &def.directories {
        let options = rpm::FileOptions::dir(dir.path.clone())
            .permissions(definition_mode(&dir.mode))
            .user(dir.owner.clone())
            .group(dir.group.clone());
        builder
            .with_dir_entry(options)
            .map_err(|e| fail(format!("directory '{}': {e}", dir.path)))?;
    }
    for file in &def.files {
        let source = context.repo_root.join(&file.source);
        let describe = |what: &str| {
            format!(
                "file '{}': source '{}' {what}",
                file.dest,
                file.source.display()
            )
        };
        let metadata = fs::symlink_metadata(&source)
            .map_err(|e| fail(describe(&format!("cannot be read: {e}"))))?;
        if !metadata.file_type().is_file() {
            return Err(fail(describe("is not a regular file")));
        }
        let content =
            fs::read(&source).map_err(|e| fail(describe(&format!("cannot be read: {e}"))))?;
        let mtime = metadata
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .and_then(|d| u32::try_from(d.as_secs()).ok())
            .unwrap_or(0);
        let mut options = rpm::FileOptions::new(file.dest.clone())
            .permissions(definition_mode(&file.mode))
            .user(file.owner.clone())
            .group(file.group.clone())
            .modified_at(rpm::Timestamp::from(mtime));
        if file.config || file.noreplace {
            options = options.config();
        }
        if file.noreplace {
            options = options.noreplace();
        }
        if file.doc {
            options = options.doc();
        }
        builder
            .with_file_contents(content, options)
            .map_err(|e| fail(describe(&format!("cannot be added: {e}"))))?;
    }
    for link in &def.symlinks {
        builder
            .with_symlink(rpm::FileOptions::symlink(
                link.path.clone(),
                link.target.clone(),
            ))
            .map_err(|e| fail(format!("symlink '{}': {e}", link.path)))?;
    }

    for dep in &def.requires {
        builder.requires(to_rpm_dependency(dep));
    }
    for dep in &def.provides {
        builder.provides(to_rpm_dependency(dep));
    }
    for dep in &def.conflicts {
        builder.conflicts(to_rpm_dependency(dep));
    }
    for dep in &def.obsoletes {
        builder.obsoletes(to_rpm_dependency(dep));
    }
    let scripts = &def.scripts;
    if let Some(s) = &scripts.pre {
        builder.pre_install_script(s.as_str());
        builder.requires(rpm::Dependency::script_pre("/bin/sh"));
    }
    if let Some(s) = &scripts.post {
        builder.post_install_script(s.as_str());
        builder.requires(rpm::Dependency::script_post("/bin/sh"));
    }
    if let Some(s) = &scripts.preun {
        builder.pre_uninstall_script(s.as_str());
        builder.requires(rpm::Dependency::script_preun("/bin/sh"));
    }
    if let Some(s) = &scripts.postun {
        builder.post_uninstall_script(s.as_str());
        builder.requires(rpm::Dependency::script_postun("/bin/sh"));
    }
    let mut package = builder
        .build()
        .map_err(|e| fail(format!("assembling the RPM: {e}")))?;
    if let Some((signer, time)) = &context.signer {
        let time = u32::try_from(*time)
            .map_err(|_| fail(format!("signing time {time} does not fit an RPM time")))?;
        package
            .sign_with_timestamp(signer, rpm::Timestamp(time))
            .map_err(|e| fail(format!("signing the RPM: {e}")))?;
    }
    Ok(package)
}

/// Modes were validated when the definition was loaded.
fn definition_mode(mode: &str) -> u16 {
    definition::parse_mode(mode).unwrap_or(0o644)
}

fn to_rpm_dependency(dep: &Dependency) -> rpm::Dependency {
    let Some((op, evr)) = &dep.version else {
        return rpm::Dependency::any(dep.name.clone());
    };
    let version = evr.to_string();
    match op {
        Comparison::Lt => rpm::Dependency::less(dep.name.clone(), version),
        Comparison::Le => rpm::Dependency::less_eq(dep.name.clone(), version),
        Comparison::Eq => rpm::Dependency::eq(dep.name.clone(), version),
        Comparison::Ge => rpm::Dependency::greater_eq(dep.name.clone(), version),
        Comparison::Gt => rpm::Dependency::greater(dep.name.clone(), version),
    }
}
