//! Reading a repository's `repomd.xml` and `primary.xml` (streaming, with quick-xml).

use std::borrow::Cow;
use std::io::BufRead;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::dependency::Dependency;
use crate::error::RpmError;
use crate::vercmp::{Comparison, Evr};

/// One `<data>` record of repomd.xml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoMdRecord {
    pub kind: String,
    pub location: String,
    pub checksum_type: String,
    pub checksum: String,
    pub size: Option<u64>,
}

/// The parts of repomd.xml a client needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoMd {
    pub revision: Option<String>,
    pub records: Vec<RepoMdRecord>,
}

impl RepoMd {
    pub fn record(&self, kind: &str) -> Option<&RepoMdRecord> {
        self.records.iter().find(|r| r.kind == kind)
    }
}

/// A package as a repository's primary.xml describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotePackage {
    pub name: String,
    pub arch: String,
    pub evr: Evr,
    pub checksum_type: String,
    pub checksum: String,
    /// `location href`, relative to the repository's base URL.
    pub location: String,
    pub size: Option<u64>,
    pub provides: Vec<Dependency>,
    pub requires: Vec<Dependency>,
    /// The file paths primary.xml lists (the "primary" ones: /etc, …bin/).
    pub files: Vec<String>,
}

impl RemotePackage {
    /// `name-[epoch:]version-release.arch`.
    pub fn nevra(&self) -> String {
        format!("{}-{}.{}", self.name, self.evr, self.arch)
    }
}

struct Context<'a> {
    repository: &'a str,
    file: &'a str,
}

impl Context<'_> {
    /// An error of the metadata; what it quotes from the file is the server's text, so it
    /// is shown escaped (no terminal control sequence reaches the user).
    fn fail(&self, rule: impl Into<String>) -> RpmError {
        RpmError::Metadata {
            repository: self.repository.to_string(),
            file: buildchain_http::printable(self.file),
            rule: buildchain_http::printable(&rule.into()),
        }
    }
    fn xml_error(&self, reader_pos: u64, e: impl std::fmt::Display) -> RpmError {
        self.fail(format!("malformed XML at byte {reader_pos}: {e}"))
    }
}

fn attribute(ctx: &Context, e: &BytesStart, name: &str) -> Result<Option<String>, RpmError> {
    for attr in e.attributes() {
        let attr = attr.map_err(|err| ctx.fail(format!("malformed attribute: {err}")))?;
        if attr.key.local_name().as_ref() == name.as_bytes() {
            let value = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|err| ctx.fail(format!("malformed attribute {name}: {err}")))?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

fn required_attribute(ctx: &Context, e: &BytesStart, name: &str) -> Result<String, RpmError> {
    attribute(ctx, e, name)?.ok_or_else(|| {
        ctx.fail(format!(
            "<{}> has no {name} attribute",
            String::from_utf8_lossy(e.name().as_ref())
        ))
    })
}

/// The longest text of one element (a package description is a few KiB). Comments
/// between pieces of text do not reset it.
pub(crate) const MAX_TEXT_BYTES: usize = 16 << 20;

fn check_text_length(ctx: &Context, text: &str) -> Result<(), RpmError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(ctx.fail(format!(
            "an element's text is longer than {MAX_TEXT_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Text content accumulated across `Text` and entity-reference events.
fn push_reference(
    ctx: &Context,
    text: &mut String,
    r: &quick_xml::events::BytesRef,
) -> Result<(), RpmError> {
    if let Some(c) = r
        .resolve_char_ref()
        .map_err(|e| ctx.fail(format!("bad character reference: {e}")))?
    {
        text.push(c);
        return Ok(());
    }
    let name = r
        .decode()
        .map_err(|e| ctx.fail(format!("bad entity reference: {e}")))?;
    let c = match name.as_ref() {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        other => return Err(ctx.fail(format!("unknown entity &{other};"))),
    };
    text.push(c);
    Ok(())
}

/// Parses repomd.xml.
pub fn parse_repomd(bytes: &[u8], repository: &str) -> Result<RepoMd, RpmError> {
    let ctx = Context {
        repository,
        file: "repodata/repomd.xml",
    };
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut saw_root = false;
    let mut revision = None;
    let mut records = Vec::new();
    let mut current: Option<RepoMdRecord> = None;
    let mut text = String::new();
    let mut checksum_type = String::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| ctx.xml_error(reader.buffer_position(), e))?;
        match event {
            Event::Start(e) | Event::Empty(e) => {
                text.clear();
                match e.local_name().as_ref() {
                    b"repomd" => saw_root = true,
                    b"data" => {
                        current = Some(RepoMdRecord {
                            kind: required_attribute(&ctx, &e, "type")?,
                            location: String::new(),
                            checksum_type: String::new(),
                            checksum: String::new(),
                            size: None,
                        })
                    }
                    b"location" => {
                        if let Some(record) = current.as_mut() {
                            record.location = required_attribute(&ctx, &e, "href")?;
                        }
                    }
                    b"checksum" => checksum_type = required_attribute(&ctx, &e, "type")?,
                    _ => {}
                }
            }
            Event::Text(t) => {
                text.push_str(
                    &t.decode()
                        .map_err(|e| ctx.xml_error(reader.buffer_position(), e))?,
                );
                check_text_length(&ctx, &text)?;
            }
            Event::GeneralRef(r) => push_reference(&ctx, &mut text, &r)?,
            Event::End(e) => {
                let value = text.trim().to_string();
                match (e.local_name().as_ref(), current.as_mut()) {
                    (b"revision", None) => revision = Some(value),
                    (b"checksum", Some(record)) => {
                        record.checksum_type = checksum_type.clone();
                        record.checksum = value;
                    }
                    (b"size", Some(record)) => {
                        record.size = Some(value.parse().map_err(|_| {
                            ctx.fail(format!(
                                "<size> '{value}' of {} is not a number",
                                record.kind
                            ))
                        })?)
                    }
                    (b"data", Some(_)) => {
                        if let Some(record) = current.take() {
                            if record.location.is_empty() || record.checksum.is_empty() {
                                return Err(ctx.fail(format!(
                                    "<data type=\"{}\"> lacks a location or checksum",
                                    record.kind
                                )));
                            }
                            records.push(record);
                        }
                    }
                    _ => {}
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !saw_root {
        return Err(ctx.fail("no <repomd> element"));
    }
    Ok(RepoMd { revision, records })
}

/// Parses primary.xml (already decompressed) from `input`, streaming.
pub fn parse_primary(
    input: impl BufRead,
    repository: &str,
    file: &str,
) -> Result<Vec<RemotePackage>, RpmError> {
    let ctx = Context { repository, file };
    let mut reader = Reader::from_reader(input);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut declared: Option<usize> = None;
    let mut saw_root = false;
    let mut packages = Vec::new();
    let mut current: Option<PartialPackage> = None;
    let mut section = Section::None;
    let mut text = String::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| ctx.xml_error(reader.buffer_position(), e))?;
        match event {
            Event::Start(e) | Event::Empty(e) => {
                text.clear();
                let local = e.local_name();
                match local.as_ref() {
                    b"metadata" => {
                        saw_root = true;
                        if let Some(n) = attribute(&ctx, &e, "packages")? {
                            declared = Some(n.parse().map_err(|_| {
                                ctx.fail(format!("packages=\"{n}\" is not a number"))
                            })?);
                        }
                    }
                    b"package" => current = Some(PartialPackage::default()),
                    _ => {
                        if let Some(p) = current.as_mut() {
                            start_in_package(&ctx, p, &e, &mut section)?;
                        }
                    }
                }
            }
            Event::Text(t) => {
                text.push_str(
                    &t.decode()
                        .map_err(|e| ctx.xml_error(reader.buffer_position(), e))?,
                );
                check_text_length(&ctx, &text)?;
            }
            Event::GeneralRef(r) => push_reference(&ctx, &mut text, &r)?,
            Event::End(e) => {
                let local = e.local_name();
                match (local.as_ref(), current.as_mut()) {
                    (b"package", Some(_)) => {
                        if let Some(p) = current.take() {
                            packages.push(p.finish(&ctx)?);
                        }
                    }
                    (b"name", Some(p)) => p.name = Some(std::mem::take(&mut text)),
                    (b"arch", Some(p)) => p.arch = Some(std::mem::take(&mut text)),
                    (b"checksum", Some(p)) => p.checksum = Some(std::mem::take(&mut text)),
                    (b"file", Some(p)) => p.files.push(std::mem::take(&mut text)),
                    (b"provides" | b"requires", Some(_)) => section = Section::None,
                    _ => {}
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !saw_root {
        return Err(ctx.fail("no <metadata> element"));
    }
    if current.is_some() {
        return Err(ctx.fail("truncated: a <package> element is not closed"));
    }
    if let Some(n) = declared {
        if n != packages.len() {
            return Err(ctx.fail(format!(
                "declares packages=\"{n}\" but lists {}",
                packages.len()
            )));
        }
    }
    Ok(packages)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    Provides,
    Requires,
}

#[derive(Default)]
struct PartialPackage {
    name: Option<String>,
    arch: Option<String>,
    evr: Option<Evr>,
    checksum_type: Option<String>,
    checksum: Option<String>,
    location: Option<String>,
    size: Option<u64>,
    provides: Vec<Dependency>,
    requires: Vec<Dependency>,
    files: Vec<String>,
}

fn start_in_package(
    ctx: &Context,
    p: &mut PartialPackage,
    e: &BytesStart,
    section: &mut Section,
) -> Result<(), RpmError> {
    match e.local_name().as_ref() {
        b"version" => {
            p.evr =
                Some(parse_evr_attributes(ctx, e, true)?.unwrap_or_else(|| Evr::new(0, "", None)))
        }
        b"checksum" => p.checksum_type = Some(required_attribute(ctx, e, "type")?),
        b"location" => p.location = Some(required_attribute(ctx, e, "href")?),
        b"size" => {
            if let Some(size) = attribute(ctx, e, "package")? {
                p.size =
                    Some(size.parse().map_err(|_| {
                        ctx.fail(format!("<size package=\"{size}\"> is not a number"))
                    })?);
            }
        }
        b"provides" => *section = Section::Provides,
        b"requires" => *section = Section::Requires,
        b"conflicts" | b"obsoletes" | b"suggests" | b"enhances" | b"recommends"
        | b"supplements" => *section = Section::None,
        b"entry" => {
            if *section == Section::None {
                return Ok(());
            }
            let name = required_attribute(ctx, e, "name")?;
            let version = match attribute(ctx, e, "flags")? {
                Some(flag) => {
                    let cmp = Comparison::from_repodata_flag(&flag).ok_or_else(|| {
                        ctx.fail(format!("entry {name}: unknown flags=\"{flag}\""))
                    })?;
                    parse_evr_attributes(ctx, e, false)?.map(|evr| (cmp, evr))
                }
                None => None,
            };
            let pre = attribute(ctx, e, "pre")?.is_some_and(|v| v == "1");
            let dep = Dependency { name, version, pre };
            match section {
                Section::Provides => p.provides.push(dep),
                Section::Requires => p.requires.push(dep),
                Section::None => {}
            }
        }
        _ => {}
    }
    Ok(())
}

fn parse_evr_attributes(
    ctx: &Context,
    e: &BytesStart,
    version_required: bool,
) -> Result<Option<Evr>, RpmError> {
    let epoch = match attribute(ctx, e, "epoch")? {
        Some(text) if !text.is_empty() => text
            .parse::<u32>()
            .map_err(|_| ctx.fail(format!("epoch=\"{text}\" is not a number")))?,
        _ => 0,
    };
    let Some(version) = attribute(ctx, e, "ver")? else {
        if version_required {
            return Err(ctx.fail("<version> has no ver attribute"));
        }
        return Ok(None);
    };
    let release = attribute(ctx, e, "rel")?.filter(|r| !r.is_empty());
    Ok(Some(Evr::new(epoch, version, release)))
}

impl PartialPackage {
    fn finish(self, ctx: &Context) -> Result<RemotePackage, RpmError> {
        let name = self
            .name
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ctx.fail("a <package> has no <name>"))?;
        let missing = |what: &str| ctx.fail(format!("package {name}: no {what}"));
        let evr = self.evr.ok_or_else(|| missing("<version>"))?;
        if evr.version.is_empty() || evr.release.is_none() {
            return Err(missing("version/release"));
        }
        let location = self.location.ok_or_else(|| missing("<location>"))?;
        check_package_location(&location)
            .map_err(|rule| ctx.fail(format!("package {name}: location '{location}': {rule}")))?;
        let checksum = self.checksum.ok_or_else(|| missing("<checksum>"))?;
        // Checked when the package is chosen for download: one package with a checksum
        // type we do not read (md5) must not make the whole repository unusable.
        let checksum_type = self.checksum_type.unwrap_or_default();
        Ok(RemotePackage {
            arch: self.arch.ok_or_else(|| missing("<arch>"))?,
            name,
            evr,
            checksum_type,
            checksum,
            location,
            size: self.size,
            provides: self.provides,
            requires: self.requires,
            files: self.files,
        })
    }
}

/// A package location must stay inside the repository and name an `.rpm`, as written and
/// as a server decodes it (`%2e%2e/` is `../`).
pub fn check_package_location(location: &str) -> Result<(), Cow<'static, str>> {
    if location.contains('%') {
        check_location_text(&percent_encoding::percent_decode_str(location).decode_utf8_lossy())?;
    }
    check_location_text(location)
}

fn check_location_text(location: &str) -> Result<(), Cow<'static, str>> {
    if location.starts_with('/') || location.contains("://") || location.contains('\\') {
        return Err("must be a relative path inside the repository".into());
    }
    if location
        .split('/')
        .any(|c| c == ".." || c == "." || c.is_empty())
    {
        return Err("must not contain '..', '.' or empty components".into());
    }
    let base = location.rsplit('/').next().unwrap_or(location);
    if !base.ends_with(".rpm") || base.starts_with('.') {
        return Err("must name a visible .rpm file".into());
    }
    if location.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_split_by_comments_is_still_one_text() {
        let piece = "A".repeat(1 << 20) + "<!---->";
        let xml = format!(
            "<metadata xmlns=\"http://linux.duke.edu/metadata/common\" packages=\"1\"><package type=\"rpm\"><name>{}</name></package></metadata>",
            piece.repeat(17)
        );
        let err = parse_primary(xml.as_bytes(), "r", "primary.xml").unwrap_err();
        assert!(err.to_string().contains("longer than"), "{err}");
    }
}
