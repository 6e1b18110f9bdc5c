//! The RPMs of versions.lock: which file each downloaded package resolved to, with every
//! package its requirements pulled in, and the repositories they were resolved over.
//!
//! The downloaded packages of one release are resolved together (a group), over that
//! release's repositories that packages are downloaded from and its base repositories
//! (resolved against, never shipped), as MetalK8s does with `repoquery --resolve
//! --recursive`. A group's entries are current when every repository of the group is
//! locked with its url, every request has a direct entry in its repository matching its
//! pin, and no direct entry lacks a request; the dependencies are trusted as locked. A
//! group that is not current is resolved again preferring its locked versions, so that
//! adding a package moves nothing else.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Context as _, Result};
use buildchain_rpm::fetch::{pin_matches, Preferred};
use serde::{Deserialize, Serialize};

use super::{at_line, Lock, Mode, LOCK_FILE};
use crate::versions::{PackageSource, RpmPins, Versions};

/// A repository packages were resolved over (`[[repository]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedRepository {
    pub id: String,
    pub url: String,
    /// Resolved against, never shipped (`[[repositories]] base = true`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub base: bool,
}

/// One package a resolution chose (`[[rpm]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedRpm {
    pub name: String,
    /// `[epoch:]version-release`.
    pub version: String,
    pub arch: String,
    /// The `[[repository]]` it comes from.
    pub repository: String,
    /// Shipped packages only: the path in the repository, the SHA-256 and the size of the
    /// file (a base repository's packages are not downloaded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Requested by versions.toml `[[packages]]` (else pulled in by a requirement).
    pub direct: bool,
    /// The requested package whose resolution chose it.
    pub pulled_by: String,
    /// For a dependency: the chosen package (`name-version.arch`) whose requirement it
    /// satisfies, and that requirement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirement: Option<String>,
}

impl LockedRpm {
    /// `name-[epoch:]version-release.arch`.
    pub fn nevra(&self) -> String {
        format!("{}-{}.{}", self.name, self.version, self.arch)
    }

    pub(super) fn sort_key(&self) -> (&str, &str, &str) {
        (&self.repository, &self.name, &self.arch)
    }
}

/// A package versions.toml downloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmRequest {
    pub name: String,
    /// The pin, `[epoch:]version[-release]`.
    pub version: Option<String>,
    /// The repository it must come from.
    pub repository: String,
}

/// The downloaded packages of one release and the repositories they resolve over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmGroup {
    pub release: String,
    /// The base repositories first (ties go to them: what the nodes have is not shipped
    /// again), then those packages are downloaded from, each in versions.toml order.
    pub repositories: Vec<LockedRepository>,
    pub requests: Vec<RpmRequest>,
}

/// How a group is resolved: reading its repositories (or a stand-in in tests), the
/// `preferred` choices (repository id, NEVRA) winning over newer versions.
pub type RpmResolver<'a> = dyn Fn(&RpmGroup, &Preferred) -> Result<Vec<LockedRpm>> + Sync + 'a;

/// The groups of `versions`, by release; releases without downloads have none.
pub fn groups(versions: &Versions) -> Vec<RpmGroup> {
    let mut by_release: BTreeMap<&str, RpmGroup> = BTreeMap::new();
    for package in &versions.packages {
        if package.source != PackageSource::Download {
            continue;
        }
        let Some(repo) = versions
            .repositories
            .iter()
            .find(|r| r.id == package.repository)
        else {
            continue;
        };
        let group = by_release
            .entry(repo.release.as_str())
            .or_insert_with(|| RpmGroup {
                release: repo.release.clone(),
                repositories: Vec::new(),
                requests: Vec::new(),
            });
        group.requests.push(RpmRequest {
            name: package.name.clone(),
            version: package.version.clone(),
            repository: package.repository.clone(),
        });
    }
    for group in by_release.values_mut() {
        let downloaded: BTreeSet<&str> = group
            .requests
            .iter()
            .map(|r| r.repository.as_str())
            .collect();
        for base in [true, false] {
            for repo in &versions.repositories {
                let member = repo.release == group.release
                    && repo.base == base
                    && (base || downloaded.contains(repo.id.as_str()));
                if let (true, Some(url)) = (member, &repo.url) {
                    group.repositories.push(LockedRepository {
                        id: repo.id.clone(),
                        url: url.clone(),
                        base,
                    });
                }
            }
        }
    }
    by_release.into_values().collect()
}

/// Checks the RPM entries of a lock read from its file.
pub(super) fn check(lock: &Lock) -> Result<()> {
    let mut repositories = BTreeMap::new();
    for (repo, line) in &lock.repositories {
        let at = || format!("line {line}: [[repository]] {}", repo.id);
        crate::versions::check_locked_repository(&repo.id, &repo.url).with_context(at)?;
        if repositories.insert(repo.id.as_str(), repo.base).is_some() {
            bail!("{}: listed twice", at());
        }
    }
    let mut seen = BTreeSet::new();
    let mut files = BTreeSet::new();
    for (rpm, line) in &lock.rpms {
        let at = || format!("line {line}: [[rpm]] {}", rpm.nevra());
        crate::versions::check_locked_rpm(rpm).with_context(at)?;
        let Some(&base) = repositories.get(rpm.repository.as_str()) else {
            bail!(
                "{}: repository {:?} has no [[repository]] entry",
                at(),
                rpm.repository
            );
        };
        match (base, &rpm.location, &rpm.sha256) {
            (false, Some(_), Some(_)) | (true, None, None) => {}
            (false, _, _) => bail!("{}: a shipped package needs a location and a sha256", at()),
            (true, _, _) => bail!(
                "{}: a base repository's package is not downloaded: no location or sha256",
                at()
            ),
        }
        if base && rpm.size.is_some() {
            bail!(
                "{}: a base repository's package is not downloaded: no size",
                at()
            );
        }
        if rpm.direct != (rpm.required_by.is_none() && rpm.requirement.is_none())
            || rpm.required_by.is_some() != rpm.requirement.is_some()
        {
            bail!(
                "{}: a direct entry has no required_by or requirement, a dependency has both",
                at()
            );
        }
        if !seen.insert((rpm.repository.as_str(), rpm.name.as_str())) {
            bail!("{}: listed twice", at());
        }
        if let Some(location) = &rpm.location {
            let file = location.rsplit('/').next().unwrap_or(location);
            if !files.insert((rpm.repository.as_str(), file)) {
                bail!(
                    "{}: another package of {} has the file name {file}",
                    at(),
                    rpm.repository
                );
            }
        }
    }
    Ok(())
}

/// Why a group is not current, and what to run.
struct Problem {
    text: String,
    /// The name to give `buildchain lock --update`.
    update: String,
}

fn describe(repo: &LockedRepository) -> String {
    match repo.base {
        true => format!("{} (base)", repo.url),
        false => repo.url.clone(),
    }
}

/// Why `group`'s entries in `lock` are not current (empty: they are).
fn problems(group: &RpmGroup, lock: &Lock) -> Vec<Problem> {
    let mut problems = Vec::new();
    for repo in &group.repositories {
        match lock.repositories.iter().find(|(r, _)| r.id == repo.id) {
            None => problems.push(Problem {
                text: format!(
                    "versions.toml [[repositories]] {}: no {LOCK_FILE} entry",
                    repo.id
                ),
                update: repo.id.clone(),
            }),
            Some((locked, line)) if locked != repo => problems.push(Problem {
                text: format!(
                    "{}: [[repository]] {} locks {} (versions.toml: {})",
                    at_line(*line),
                    repo.id,
                    describe(locked),
                    describe(repo)
                ),
                update: repo.id.clone(),
            }),
            Some(_) => {}
        }
    }
    for request in &group.requests {
        let found = lock.rpms.iter().find(|(r, _)| {
            r.direct && r.name == request.name && r.repository == request.repository
        });
        match (found, &request.version) {
            (None, _) => problems.push(Problem {
                text: format!(
                    "versions.toml [[packages]] {} ({}): no {LOCK_FILE} entry",
                    request.name, request.repository
                ),
                update: request.name.clone(),
            }),
            (Some((rpm, line)), Some(pin)) if !pin_matches(&rpm.version, pin) => {
                problems.push(Problem {
                    text: format!(
                    "{}: [[rpm]] {} does not match the pin {pin} of versions.toml [[packages]] {}",
                    at_line(*line),
                    rpm.nevra(),
                    request.name
                ),
                    update: request.name.clone(),
                })
            }
            _ => {}
        }
    }
    let ids: BTreeSet<&str> = group.repositories.iter().map(|r| r.id.as_str()).collect();
    for (rpm, line) in &lock.rpms {
        let requested = group
            .requests
            .iter()
            .any(|r| r.name == rpm.name && r.repository == rpm.repository);
        if rpm.direct && ids.contains(rpm.repository.as_str()) && !requested {
            problems.push(Problem {
                text: format!(
                    "{}: [[rpm]] {}: not requested by versions.toml",
                    at_line(*line),
                    rpm.nevra()
                ),
                update: rpm.name.clone(),
            });
        }
    }
    problems
}

/// Fills `versions.rpm_pins` from `lock`, as `mode` says:
/// - a current group's entries are used as they are;
/// - Update mode resolves again the groups that are not current (those of the releases
///   `needed` only), preferring their locked versions, and drops the entries of
///   repositories versions.toml no longer downloads from or resolves against;
/// - Locked mode refuses anything that is not current or stale, naming it.
///
/// Returns what changed in the lock.
pub(super) fn reconcile(
    versions: &mut Versions,
    lock: &mut Lock,
    mode: Mode,
    needed: &dyn Fn(&str) -> bool,
    resolve: &RpmResolver,
) -> Result<Vec<String>> {
    let groups = groups(versions);
    let mut changes = Vec::new();
    let grouped: BTreeSet<String> = groups
        .iter()
        .flat_map(|g| g.repositories.iter().map(|r| r.id.clone()))
        .collect();
    let stale = |id: &str| !grouped.contains(id);
    match mode {
        Mode::Read => {}
        Mode::Locked => {
            if let Some((repo, line)) = lock.repositories.iter().find(|(r, _)| stale(&r.id)) {
                bail!(
                    "{}: [[repository]] {}: versions.toml neither downloads from it nor resolves against it (--locked): run `buildchain lock --update {}` to drop it",
                    at_line(*line),
                    repo.id,
                    repo.id
                );
            }
        }
        Mode::Update => {
            for (rpm, _) in lock.rpms.iter().filter(|(r, _)| stale(&r.repository)) {
                changes.push(format!(
                    "{LOCK_FILE}: removed rpm {} ({}: not in versions.toml)",
                    rpm.nevra(),
                    rpm.repository
                ));
            }
            for (repo, _) in lock.repositories.iter().filter(|(r, _)| stale(&r.id)) {
                changes.push(format!(
                    "{LOCK_FILE}: removed repository {} (not in versions.toml)",
                    repo.id
                ));
            }
            lock.rpms.retain(|(r, _)| !stale(&r.repository));
            lock.repositories.retain(|(r, _)| !stale(&r.id));
        }
    }
    let mut unresolved = BTreeSet::new();
    for group in &groups {
        let problems = problems(group, lock);
        let Some(first) = problems.first() else {
            continue;
        };
        match mode {
            Mode::Read => {
                unresolved.insert(group.release.clone());
            }
            Mode::Locked => bail!(
                "{} (--locked): run `buildchain lock --update {}`",
                first.text,
                first.update
            ),
            Mode::Update if !needed(&group.release) => {
                unresolved.insert(group.release.clone());
            }
            Mode::Update => {
                let preferred = locked_choices(group, lock, &|_| true);
                let resolved = resolve(group, &preferred).with_context(|| {
                    format!(
                        "{}: resolving the downloaded packages of release {}",
                        first.text, group.release
                    )
                })?;
                changes.extend(replace_group(lock, group, resolved));
            }
        }
    }
    versions.rpm_pins = RpmPins {
        entries: lock.rpms.clone(),
        unresolved,
    };
    Ok(changes)
}

/// The names `buildchain lock --update` takes for packages: the downloaded packages of
/// `versions`, the packages and repositories `lock` has, and the repositories of the groups.
pub(super) fn names<'a>(versions: &'a Versions, lock: &'a Lock) -> BTreeSet<&'a str> {
    let mut names: BTreeSet<&str> = versions
        .packages
        .iter()
        .filter(|p| p.source == PackageSource::Download)
        .map(|p| p.name.as_str())
        .collect();
    names.extend(lock.rpms.iter().map(|(r, _)| r.name.as_str()));
    names.extend(lock.repositories.iter().map(|(r, _)| r.id.as_str()));
    names.extend(
        versions
            .repositories
            .iter()
            .filter(|r| r.url.is_some())
            .map(|r| r.id.as_str()),
    );
    names
}

/// Resolves again the groups holding a `selected` package or repository (every group with
/// `None`), preferring their locked choices except the selected ones (none with `None`).
pub(super) fn relock(
    versions: &Versions,
    lock: &mut Lock,
    selected: Option<Vec<String>>,
    resolve: &RpmResolver,
) -> Result<Vec<String>> {
    let mut changes = Vec::new();
    for group in groups(versions) {
        let moved = |name: &str, repository: &str| match &selected {
            None => true,
            Some(names) => names.iter().any(|n| n == name || n == repository),
        };
        let touched = group.requests.iter().any(|r| moved(&r.name, &r.repository))
            || lock.rpms.iter().any(|(r, _)| {
                group.repositories.iter().any(|g| g.id == r.repository)
                    && moved(&r.name, &r.repository)
            })
            || group.repositories.iter().any(|r| moved("", &r.id));
        if !touched {
            continue;
        }
        let preferred = locked_choices(&group, lock, &|r| !moved(&r.name, &r.repository));
        let resolved = resolve(&group, &preferred).with_context(|| {
            format!(
                "resolving the downloaded packages of release {}",
                group.release
            )
        })?;
        changes.extend(replace_group(lock, &group, resolved));
    }
    Ok(changes)
}

/// The locked choices of `group`'s repositories that `keep` keeps.
fn locked_choices(group: &RpmGroup, lock: &Lock, keep: &dyn Fn(&LockedRpm) -> bool) -> Preferred {
    lock.rpms
        .iter()
        .filter(|(r, _)| group.repositories.iter().any(|g| g.id == r.repository) && keep(r))
        .map(|(r, _)| (r.repository.clone(), r.nevra()))
        .collect()
}

/// Puts `resolved` in place of the entries of `group`'s repositories. Returns the changes.
fn replace_group(lock: &mut Lock, group: &RpmGroup, resolved: Vec<LockedRpm>) -> Vec<String> {
    let mut changes = Vec::new();
    for repo in &group.repositories {
        match lock.repositories.iter_mut().find(|(r, _)| r.id == repo.id) {
            Some((locked, line)) if locked != repo => {
                changes.push(format!(
                    "{LOCK_FILE}: repository {}: {} -> {}",
                    repo.id,
                    describe(locked),
                    describe(repo)
                ));
                *locked = repo.clone();
                *line = 0;
            }
            Some(_) => {}
            None => {
                changes.push(format!(
                    "{LOCK_FILE}: added repository {} ({})",
                    repo.id,
                    describe(repo)
                ));
                lock.repositories.push((repo.clone(), 0));
            }
        }
    }
    let in_group = |r: &LockedRpm| group.repositories.iter().any(|g| g.id == r.repository);
    let before: BTreeMap<(String, String), LockedRpm> = lock
        .rpms
        .iter()
        .filter(|(r, _)| in_group(r))
        .map(|(r, _)| ((r.repository.clone(), r.name.clone()), r.clone()))
        .collect();
    let mut after = BTreeMap::new();
    for rpm in resolved {
        let key = (rpm.repository.clone(), rpm.name.clone());
        let why = match (&rpm.required_by, &rpm.requirement) {
            (Some(by), Some(requirement)) => format!("{requirement} of {by}"),
            _ => "requested".to_string(),
        };
        match before.get(&key) {
            None => changes.push(format!(
                "{LOCK_FILE}: added rpm {} from {} ({why})",
                rpm.nevra(),
                rpm.repository
            )),
            Some(old) if old.nevra() != rpm.nevra() => changes.push(format!(
                "{LOCK_FILE}: updated rpm {} {} -> {} from {}",
                rpm.name, old.version, rpm.version, rpm.repository
            )),
            Some(old)
                if (&old.location, &old.sha256, old.size)
                    != (&rpm.location, &rpm.sha256, rpm.size) =>
            {
                changes.push(format!(
                    "{LOCK_FILE}: updated rpm {} from {} (its file changed)",
                    rpm.nevra(),
                    rpm.repository
                ))
            }
            // The same file (why it is pulled in may change: written, not said).
            Some(_) => {}
        }
        after.insert(key, rpm);
    }
    for (key, old) in &before {
        if !after.contains_key(key) {
            changes.push(format!(
                "{LOCK_FILE}: removed rpm {} from {} (no longer required)",
                old.nevra(),
                old.repository
            ));
        }
    }
    let unchanged: BTreeMap<(String, String), usize> = lock
        .rpms
        .iter()
        .filter(|(r, _)| in_group(r))
        .filter(|(r, _)| after.get(&(r.repository.clone(), r.name.clone())) == Some(r))
        .map(|(r, line)| ((r.repository.clone(), r.name.clone()), *line))
        .collect();
    lock.rpms.retain(|(r, _)| !in_group(r));
    for (key, rpm) in after {
        let line = unchanged.get(&key).copied().unwrap_or(0);
        lock.rpms.push((rpm, line));
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::{reconcile, relock, Needed, Resolvers};
    use std::sync::Mutex;

    const VERSIONS: &str = r#"
[kubernetes]
version = "1.29.1"

[[repositories]]
id = "os"
release = "8"
url = "http://mirror/os/"
base = true

[[repositories]]
id = "extra"
release = "8"
url = "http://mirror/extra/"

[[packages]]
name = "app"
repository = "extra"
source = "download"
"#;

    fn rpm(name: &str, version: &str, repository: &str, by: Option<&str>) -> LockedRpm {
        let shipped = repository != "os";
        LockedRpm {
            name: name.into(),
            version: version.into(),
            arch: "x86_64".into(),
            repository: repository.into(),
            location: shipped.then(|| format!("{name}-{version}.x86_64.rpm")),
            sha256: shipped.then(|| "a".repeat(64)),
            size: shipped.then_some(10),
            direct: by.is_none(),
            pulled_by: "app".into(),
            required_by: by.map(Into::into),
            requirement: by.map(|_| name.to_string()),
        }
    }

    /// A repository world where `app` requires `lib` (base has lib 1, extra has a newer
    /// `lib` only when `newer` is set), choosing as the real resolver does.
    fn world(app: &'static str) -> impl Fn(&RpmGroup, &Preferred) -> Result<Vec<LockedRpm>> {
        move |group, preferred| {
            assert_eq!(group.repositories[0].id, "os", "base first");
            let mut out = Vec::new();
            for request in &group.requests {
                let version = if preferred.contains(&(
                    request.repository.clone(),
                    format!("{}-1.0-1.x86_64", request.name),
                )) {
                    "1.0-1"
                } else {
                    app
                };
                out.push(rpm(&request.name, version, &request.repository, None));
            }
            out.push(rpm("lib", "1-1", "os", Some("app-1.0-1.x86_64")));
            Ok(out)
        }
    }

    fn no_image(_: &crate::versions::Image) -> Result<crate::lock::LockedImage> {
        bail!("no image lookups here")
    }

    /// A reconciliation where everything is needed.
    fn run(
        versions: &mut Versions,
        lock: &mut Lock,
        mode: Mode,
        resolvers: &Resolvers,
    ) -> Result<Vec<String>> {
        reconcile(versions, lock, mode, &Needed::everything(), resolvers)
    }

    #[test]
    fn locks_resolve_update_and_refuse() {
        let declared = Versions::parse(VERSIONS).unwrap();
        let calls = Mutex::new(0);
        let first = world("1.0-1");
        let counting = |g: &RpmGroup, p: &Preferred| {
            *calls.lock().unwrap() += 1;
            first(g, p)
        };
        let resolvers = Resolvers {
            image: &no_image,
            rpms: &counting,
        };
        // Locked without entries: refused, naming the package.
        let mut lock = Lock::default();
        let err = run(&mut declared.clone(), &mut lock, Mode::Locked, &resolvers).unwrap_err();
        assert!(format!("{err:#}").contains("lock --update"), "{err:#}");
        // A run resolves, records both repositories and both packages.
        let mut versions = declared.clone();
        let changes = run(&mut versions, &mut lock, Mode::Update, &resolvers).unwrap();
        assert_eq!(changes.len(), 4, "{changes:?}");
        assert_eq!(versions.rpm_pins.entries.len(), 2);
        let text = lock.render().unwrap();
        let read = Lock::parse(&text).unwrap();
        assert_eq!(read.render().unwrap(), text, "a fixed point");
        // Current: nothing resolved again, in any mode.
        for mode in [Mode::Locked, Mode::Update] {
            let mut again = Lock::parse(&text).unwrap();
            let changes = run(&mut declared.clone(), &mut again, mode, &resolvers).unwrap();
            assert!(changes.is_empty(), "{changes:?}");
        }
        assert_eq!(*calls.lock().unwrap(), 1);

        // A newer app appears: the lock keeps 1.0-1; `--update app` moves it.
        let newer = world("2.0-1");
        let resolvers = Resolvers {
            image: &no_image,
            rpms: &newer,
        };
        let mut lock = Lock::parse(&text).unwrap();
        let changes = relock(
            &mut declared.clone(),
            &mut lock,
            &["lib".to_string()],
            &resolvers,
        )
        .unwrap();
        assert!(changes.is_empty(), "{changes:?}");
        let changes = relock(
            &mut declared.clone(),
            &mut lock,
            &["app".to_string()],
            &resolvers,
        )
        .unwrap();
        assert_eq!(
            changes,
            ["versions.lock: updated rpm app 1.0-1 -> 2.0-1 from extra"]
        );

        // A pin the lock does not match, a package no longer listed: refused when locked.
        let pinned = Versions::parse(&format!("{VERSIONS}version = \"3.0\"\n")).unwrap();
        let err = run(
            &mut pinned.clone(),
            &mut Lock::parse(&text).unwrap(),
            Mode::Locked,
            &resolvers,
        )
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("does not match the pin 3.0"),
            "{err:#}"
        );
        let gone =
            Versions::parse(&VERSIONS.replace("source = \"download\"", "source = \"build\""))
                .unwrap();
        let err = run(
            &mut gone.clone(),
            &mut Lock::parse(&text).unwrap(),
            Mode::Locked,
            &resolvers,
        )
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("[[repository]] extra"),
            "{err:#}"
        );
        // Without --locked, the stale entries go.
        let mut lock = Lock::parse(&text).unwrap();
        let changes = run(&mut gone.clone(), &mut lock, Mode::Update, &resolvers).unwrap();
        assert_eq!(changes.len(), 4, "{changes:?}");
        assert!(lock.rpms.is_empty() && lock.repositories.is_empty());
    }

    #[test]
    fn bad_rpm_entries_name_the_line() {
        let mut lock = Lock::default();
        lock.repositories.push((
            LockedRepository {
                id: "extra".into(),
                url: "http://mirror/extra/".into(),
                base: false,
            },
            0,
        ));
        lock.rpms.push((rpm("app", "1.0-1", "extra", None), 0));
        let good = lock.render().unwrap();
        let cases = [
            (
                good.replace("app-1.0-1.x86_64.rpm", "../app.rpm"),
                "location",
            ),
            (good.replace(&"a".repeat(64), "abc"), "sha256"),
            (
                good.replace("version = \"1.0-1\"", "version = \"\""),
                "version",
            ),
            (good.replace("direct = true", "direct = false"), "direct"),
            (
                good.replace(
                    "repository = \"extra\"\nlocation",
                    "repository = \"other\"\nlocation",
                ),
                "no [[repository]] entry",
            ),
            (good.replace("url = \"http", "url = \"ftp"), "url"),
        ];
        for (text, want) in cases {
            assert_ne!(text, good, "{want}: the case changes the lock");
            let err = format!("{:#}", Lock::parse(&text).unwrap_err());
            assert!(err.contains(want) && err.contains("line "), "{want}: {err}");
        }
    }
}
