//! Writing the primary, filelists and other documents of one package, as createrepo_c does.

use std::fmt::Write;

use super::xml::{escape_attr, escape_text};
use crate::dependency::Dependency;
use crate::header::{is_primary_file, FileKind, PackageHeader};

/// One package as repodata describes it: its header plus what the file says.
pub(crate) struct IndexedPackage {
    pub header: PackageHeader,
    pub location: String,
    pub sha256: String,
    pub file_size: u64,
    pub file_time: u64,
}

pub(crate) const PRIMARY_NS: &str = "http://linux.duke.edu/metadata/common";
pub(crate) const RPM_NS: &str = "http://linux.duke.edu/metadata/rpm";
pub(crate) const FILELISTS_NS: &str = "http://linux.duke.edu/metadata/filelists";
pub(crate) const OTHER_NS: &str = "http://linux.duke.edu/metadata/other";
pub(crate) const REPO_NS: &str = "http://linux.duke.edu/metadata/repo";

fn version_element(out: &mut String, h: &PackageHeader) {
    let _ = writeln!(
        out,
        "  <version epoch=\"{}\" ver=\"{}\" rel=\"{}\"/>",
        h.epoch,
        escape_attr(&h.version),
        escape_attr(&h.release)
    );
}

pub(crate) fn primary_entry(p: &IndexedPackage) -> String {
    let h = &p.header;
    let mut out = String::with_capacity(2048);
    out.push_str("<package type=\"rpm\">\n");
    let _ = writeln!(out, "  <name>{}</name>", escape_text(&h.name));
    let _ = writeln!(out, "  <arch>{}</arch>", escape_text(&h.arch));
    version_element(&mut out, h);
    let _ = writeln!(
        out,
        "  <checksum type=\"sha256\" pkgid=\"YES\">{}</checksum>",
        p.sha256
    );
    let _ = writeln!(out, "  <summary>{}</summary>", escape_text(&h.summary));
    let _ = writeln!(
        out,
        "  <description>{}</description>",
        escape_text(&h.description)
    );
    let _ = writeln!(out, "  <packager>{}</packager>", escape_text(&h.packager));
    let _ = writeln!(out, "  <url>{}</url>", escape_text(&h.url));
    let _ = writeln!(
        out,
        "  <time file=\"{}\" build=\"{}\"/>",
        p.file_time, h.build_time
    );
    let _ = writeln!(
        out,
        "  <size package=\"{}\" installed=\"{}\" archive=\"{}\"/>",
        p.file_size, h.installed_size, h.archive_size
    );
    let _ = writeln!(out, "  <location href=\"{}\"/>", escape_attr(&p.location));
    out.push_str("  <format>\n");
    let _ = writeln!(
        out,
        "    <rpm:license>{}</rpm:license>",
        escape_text(&h.license)
    );
    let _ = writeln!(
        out,
        "    <rpm:vendor>{}</rpm:vendor>",
        escape_text(&h.vendor)
    );
    let group = if h.group.is_empty() {
        "Unspecified"
    } else {
        &h.group
    };
    let _ = writeln!(out, "    <rpm:group>{}</rpm:group>", escape_text(group));
    let _ = writeln!(
        out,
        "    <rpm:buildhost>{}</rpm:buildhost>",
        escape_text(&h.build_host)
    );
    let _ = writeln!(
        out,
        "    <rpm:sourcerpm>{}</rpm:sourcerpm>",
        escape_text(&h.source_rpm)
    );
    let _ = writeln!(
        out,
        "    <rpm:header-range start=\"{}\" end=\"{}\"/>",
        h.header_start, h.header_end
    );
    for (tag, list, with_pre) in [
        ("provides", &h.provides, false),
        ("requires", &h.requires, true),
        ("conflicts", &h.conflicts, false),
        ("obsoletes", &h.obsoletes, false),
        ("suggests", &h.suggests, false),
        ("enhances", &h.enhances, false),
        ("recommends", &h.recommends, false),
        ("supplements", &h.supplements, false),
    ] {
        dependency_list(&mut out, tag, list, with_pre);
    }
    for file in h.files.iter().filter(|f| is_primary_file(&f.path)) {
        file_element(&mut out, &file.path, file.kind, "    ");
    }
    out.push_str("  </format>\n</package>\n");
    out
}

fn dependency_list(out: &mut String, tag: &str, list: &[Dependency], with_pre: bool) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(out, "    <rpm:{tag}>");
    for dep in list {
        let _ = write!(out, "      <rpm:entry name=\"{}\"", escape_attr(&dep.name));
        if let Some((cmp, evr)) = &dep.version {
            let _ = write!(
                out,
                " flags=\"{}\" epoch=\"{}\" ver=\"{}\"",
                cmp.repodata_flag(),
                evr.epoch,
                escape_attr(&evr.version)
            );
            if let Some(release) = &evr.release {
                let _ = write!(out, " rel=\"{}\"", escape_attr(release));
            }
        }
        if with_pre && dep.pre {
            out.push_str(" pre=\"1\"");
        }
        out.push_str("/>\n");
    }
    let _ = writeln!(out, "    </rpm:{tag}>");
}

fn file_element(out: &mut String, path: &str, kind: FileKind, indent: &str) {
    let kind = match kind {
        FileKind::File => "",
        FileKind::Dir => " type=\"dir\"",
        FileKind::Ghost => " type=\"ghost\"",
    };
    let _ = writeln!(out, "{indent}<file{kind}>{}</file>", escape_text(path));
}

fn package_opening(out: &mut String, p: &IndexedPackage) {
    let _ = writeln!(
        out,
        "<package pkgid=\"{}\" name=\"{}\" arch=\"{}\">",
        p.sha256,
        escape_attr(&p.header.name),
        escape_attr(&p.header.arch)
    );
    version_element(out, &p.header);
}

pub(crate) fn filelists_entry(p: &IndexedPackage) -> String {
    let mut out = String::with_capacity(256 + p.header.files.len() * 48);
    package_opening(&mut out, p);
    for file in &p.header.files {
        file_element(&mut out, &file.path, file.kind, "  ");
    }
    out.push_str("</package>\n");
    out
}

pub(crate) fn other_entry(p: &IndexedPackage) -> String {
    let mut out = String::with_capacity(256);
    package_opening(&mut out, p);
    for entry in &p.header.changelogs {
        let _ = writeln!(
            out,
            "  <changelog author=\"{}\" date=\"{}\">{}</changelog>",
            escape_attr(&entry.author),
            entry.date,
            escape_text(&entry.text)
        );
    }
    out.push_str("</package>\n");
    out
}
