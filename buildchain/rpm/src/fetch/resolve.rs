//! Choosing packages: the newest (or pinned) version of each request, then whatever their
//! requirements need, transitively, against Provides and file paths.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet, VecDeque};

use crate::dependency::Dependency;
use crate::error::RpmError;
use crate::repodata::RemotePackage;
use crate::vercmp::{rpmvercmp, Evr};

use super::PackageRequest;

/// One repository's packages, as read from its primary.xml.
pub(crate) struct RepositoryIndex {
    pub id: String,
    pub packages: Vec<RemotePackage>,
}

/// A chosen package: index of the repository, and of the package in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Choice {
    pub repository: usize,
    pub package: usize,
}

/// A chosen package and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chosen {
    pub choice: Choice,
    /// `None` when requested; else the chosen package (an index in the result) whose
    /// requirement it satisfies, and that requirement.
    pub required_by: Option<(usize, String)>,
    /// The request (an index in the requests) whose resolution pulled it in.
    pub request: usize,
}

/// Packages preferred over newer ones (the versions a lock already chose): by repository
/// id and `name-[epoch:]version-release.arch`.
pub(crate) type Preferred = HashSet<(String, String)>;

struct Universe<'a> {
    indexes: &'a [RepositoryIndex],
    /// Candidates (indexes in `all`) to choose before any other that fits.
    preferred: HashSet<usize>,
    /// Candidates (architecture allowed), in repository order.
    all: Vec<Choice>,
    by_name: HashMap<&'a str, Vec<usize>>,
    /// Per provided name, each package providing it once, with its distinct provides of
    /// that name: a package repeating a provide a million times is one entry, and a
    /// requirement is compared with that package's provides of its name only.
    by_provide: HashMap<&'a str, Vec<(usize, Vec<&'a Dependency>)>>,
    by_file: HashMap<&'a str, Vec<usize>>,
    arch_rank: HashMap<&'a str, usize>,
}

impl<'a> Universe<'a> {
    fn new(indexes: &'a [RepositoryIndex], arches: &'a [String], preferred: &Preferred) -> Self {
        let arch_rank: HashMap<&str, usize> = arches
            .iter()
            .enumerate()
            .map(|(i, a)| (a.as_str(), i))
            .collect();
        let mut universe = Universe {
            indexes,
            preferred: HashSet::new(),
            all: Vec::new(),
            by_name: HashMap::new(),
            by_provide: HashMap::new(),
            by_file: HashMap::new(),
            arch_rank,
        };
        for (r, index) in indexes.iter().enumerate() {
            for (p, package) in index.packages.iter().enumerate() {
                if !universe.arch_rank.contains_key(package.arch.as_str()) {
                    continue;
                }
                let i = universe.all.len();
                universe.all.push(Choice {
                    repository: r,
                    package: p,
                });
                if !preferred.is_empty() && preferred.contains(&(index.id.clone(), package.nevra()))
                {
                    universe.preferred.insert(i);
                }
                universe.by_name.entry(&package.name).or_default().push(i);
                for (name, provides) in provides_by_name(package) {
                    universe
                        .by_provide
                        .entry(name)
                        .or_default()
                        .push((i, provides));
                }
                let mut files: HashSet<&str> = HashSet::new();
                for file in &package.files {
                    if files.insert(file) {
                        universe.by_file.entry(file).or_default().push(i);
                    }
                }
            }
        }
        universe
    }

    fn package(&self, i: usize) -> &'a RemotePackage {
        let c = self.all[i];
        &self.indexes[c.repository].packages[c.package]
    }

    /// Preferred first, then newest; ties: earlier architecture of the list, then earlier
    /// repository.
    fn preference(&self, a: usize, b: usize) -> Ordering {
        let (pa, pb) = (self.package(a), self.package(b));
        self.is_preferred(b)
            .cmp(&self.is_preferred(a))
            .then_with(|| pb.evr.compare(&pa.evr))
            .then_with(|| self.arch_rank[pa.arch.as_str()].cmp(&self.arch_rank[pb.arch.as_str()]))
            .then_with(|| self.all[a].repository.cmp(&self.all[b].repository))
    }

    fn is_preferred(&self, i: usize) -> bool {
        self.preferred.contains(&i)
    }

    fn searched(&self) -> String {
        self.indexes
            .iter()
            .map(|i| i.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A package's distinct provides, grouped by name.
fn provides_by_name(package: &RemotePackage) -> HashMap<&str, Vec<&Dependency>> {
    let mut seen: HashSet<&Dependency> = HashSet::new();
    let mut by_name: HashMap<&str, Vec<&Dependency>> = HashMap::new();
    for provide in &package.provides {
        if seen.insert(provide) {
            by_name.entry(&provide.name).or_default().push(provide);
        }
    }
    by_name
}

/// Whether `required` names a file (a path, no version), which file lists satisfy.
fn is_file_requirement(required: &Dependency) -> bool {
    required.name.starts_with('/') && required.version.is_none()
}

/// Whether a package version matches a pin `[epoch:]version[-release]`.
pub(crate) fn matches_pin(evr: &Evr, pin: &str) -> bool {
    let Some(wanted) = Evr::parse(pin) else {
        return false;
    };
    let epoch_given = pin.contains(':');
    (!epoch_given || wanted.epoch == evr.epoch)
        && rpmvercmp(&wanted.version, &evr.version) == Ordering::Equal
        && match (&wanted.release, &evr.release) {
            (Some(w), Some(r)) => rpmvercmp(w, r) == Ordering::Equal,
            (Some(_), None) => false,
            (None, _) => true,
        }
}

/// The distinct provides and the files of the chosen packages, by name.
#[derive(Default)]
struct ChosenProvides<'a> {
    by_name: HashMap<&'a str, HashSet<&'a Dependency>>,
    files: HashSet<&'a str>,
}

impl<'a> ChosenProvides<'a> {
    fn add(&mut self, universe: &Universe<'a>, i: usize) {
        let package = universe.package(i);
        for provide in &package.provides {
            self.by_name
                .entry(provide.name.as_str())
                .or_default()
                .insert(provide);
        }
        self.files.extend(package.files.iter().map(String::as_str));
    }

    fn satisfies(&self, required: &Dependency) -> bool {
        (is_file_requirement(required) && self.files.contains(required.name.as_str()))
            || self
                .by_name
                .get(required.name.as_str())
                .is_some_and(|provides| provides.iter().any(|p| p.satisfies(required)))
    }
}

/// Resolves `requests` over `indexes`: each request's newest (or pinned, or preferred)
/// version, then its requirements transitively. Returns the choices in a stable order.
pub(crate) fn resolve(
    indexes: &[RepositoryIndex],
    requests: &[PackageRequest],
    arches: &[String],
    preferred: &Preferred,
) -> Result<Vec<Chosen>, RpmError> {
    let universe = Universe::new(indexes, arches, preferred);
    let mut chosen: Vec<Chosen> = Vec::new();
    let mut picked: Vec<usize> = Vec::new();
    let mut chosen_names: HashMap<&str, usize> = HashMap::new();
    let mut queue = VecDeque::new();

    for (r, request) in requests.iter().enumerate() {
        let by_name: Vec<usize> = universe
            .by_name
            .get(request.name.as_str())
            .into_iter()
            .flatten()
            .copied()
            .filter(|&i| {
                request
                    .repository
                    .as_deref()
                    .is_none_or(|id| indexes[universe.all[i].repository].id == id)
            })
            .collect();
        if by_name.is_empty() {
            let searched = match &request.repository {
                Some(id) => id.clone(),
                None => universe.searched(),
            };
            return Err(RpmError::NotFound {
                package: request.to_string(),
                rule: format!(
                    "no package of that name for architectures {} in repositories {searched}",
                    arches.join(","),
                ),
            });
        }
        let mut candidates: Vec<usize> = by_name
            .iter()
            .copied()
            .filter(|&i| {
                request
                    .version
                    .as_deref()
                    .is_none_or(|pin| matches_pin(&universe.package(i).evr, pin))
            })
            .collect();
        if candidates.is_empty() {
            let mut available: Vec<String> = by_name
                .iter()
                .map(|&i| universe.package(i).evr.to_string())
                .collect();
            available.sort();
            available.dedup();
            return Err(RpmError::NotFound {
                package: request.to_string(),
                rule: format!(
                    "no version matches the pin (available: {})",
                    available.join(", ")
                ),
            });
        }
        candidates.sort_by(|&a, &b| universe.preference(a, b));
        let best = candidates[0];
        let name = universe.package(best).name.as_str();
        match chosen_names.get(name) {
            Some(&existing) if picked[existing] != best => {
                return Err(RpmError::NotFound {
                    package: request.to_string(),
                    rule: format!(
                        "requested twice with different versions ({} and {})",
                        universe.package(picked[existing]).nevra(),
                        universe.package(best).nevra()
                    ),
                })
            }
            Some(_) => {}
            None => {
                chosen_names.insert(name, chosen.len());
                queue.push_back(chosen.len());
                picked.push(best);
                chosen.push(Chosen {
                    choice: universe.all[best],
                    required_by: None,
                    request: r,
                });
            }
        }
    }

    // What the chosen packages provide, indexed as they are chosen: a requirement is
    // checked against the few chosen packages providing its name, never against all of
    // them (a 100k-package chain resolves in O(n log n), not O(n²)).
    let mut chosen_provides = ChosenProvides::default();
    for &c in &picked {
        chosen_provides.add(&universe, c);
    }
    let mut satisfied: HashSet<&Dependency> = HashSet::new();
    while let Some(at) = queue.pop_front() {
        let current = picked[at];
        let package = universe.package(current);
        for required in &package.requires {
            if required.name.starts_with("rpmlib(") || satisfied.contains(required) {
                continue;
            }
            if chosen_provides.satisfies(required) {
                satisfied.insert(required);
                continue;
            }
            let by_provide = universe
                .by_provide
                .get(required.name.as_str())
                .into_iter()
                .flatten()
                .filter(|(_, provides)| provides.iter().any(|p| p.satisfies(required)))
                .map(|(i, _)| *i);
            let by_file = universe
                .by_file
                .get(required.name.as_str())
                .filter(|_| is_file_requirement(required))
                .into_iter()
                .flatten()
                .copied();
            let mut providers: Vec<usize> = by_provide
                .chain(by_file)
                .filter(|&i| !chosen_names.contains_key(universe.package(i).name.as_str()))
                .collect();
            providers.sort_unstable();
            providers.dedup();
            providers.sort_by(|&a, &b| {
                let (pa, pb) = (universe.package(a), universe.package(b));
                // A preferred package first, then one named like the requirement, then by
                // name, then newest.
                universe
                    .is_preferred(b)
                    .cmp(&universe.is_preferred(a))
                    .then_with(|| (pb.name == required.name).cmp(&(pa.name == required.name)))
                    .then_with(|| pa.name.cmp(&pb.name))
                    .then_with(|| universe.preference(a, b))
            });
            let Some(&best) = providers.first() else {
                return Err(RpmError::Unresolvable {
                    package: package.nevra(),
                    requirement: required.to_string(),
                    searched: universe.searched(),
                });
            };
            chosen_names.insert(universe.package(best).name.as_str(), chosen.len());
            queue.push_back(chosen.len());
            picked.push(best);
            chosen.push(Chosen {
                choice: universe.all[best],
                required_by: Some((at, required.to_string())),
                request: chosen[at].request,
            });
            chosen_provides.add(&universe, best);
            satisfied.insert(required);
        }
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, evr: &str, provides: &[&str], requires: &[&str]) -> RemotePackage {
        RemotePackage {
            name: name.into(),
            arch: "x86_64".into(),
            evr: Evr::parse(evr).unwrap(),
            checksum_type: "sha256".into(),
            checksum: "0".repeat(64),
            location: format!("{name}-{evr}.x86_64.rpm"),
            size: None,
            provides: provides
                .iter()
                .map(|p| Dependency::parse(p).unwrap())
                .chain([Dependency::parse(&format!("{name} = {evr}")).unwrap()])
                .collect(),
            requires: requires
                .iter()
                .map(|r| Dependency::parse(r).unwrap())
                .collect(),
            files: vec![],
        }
    }

    fn names(indexes: &[RepositoryIndex], choices: &[Chosen]) -> Vec<String> {
        choices
            .iter()
            .map(|c| indexes[c.choice.repository].packages[c.choice.package].nevra())
            .collect()
    }

    fn request(name: &str, version: Option<&str>) -> PackageRequest {
        PackageRequest {
            name: name.into(),
            version: version.map(Into::into),
            repository: None,
        }
    }

    #[test]
    fn newest_pinned_and_transitive() {
        let indexes = vec![RepositoryIndex {
            id: "r".into(),
            packages: vec![
                pkg("app", "1.9-1", &[], &["webserver >= 2"]),
                pkg("app", "1.10-1", &[], &["webserver >= 2"]),
                pkg("nginx", "2.1-1", &["webserver = 2.1"], &["libfoo"]),
                pkg("oldhttpd", "1.0-1", &["webserver = 1.0"], &[]),
                pkg("libfoo", "1-1", &[], &["rpmlib(Foo) <= 1"]),
            ],
        }];
        let arches = vec!["x86_64".to_string(), "noarch".to_string()];
        let none = Preferred::new();
        let got = resolve(&indexes, &[request("app", None)], &arches, &none).unwrap();
        assert_eq!(
            names(&indexes, &got),
            [
                "app-1.10-1.x86_64",
                "nginx-2.1-1.x86_64",
                "libfoo-1-1.x86_64"
            ]
        );
        assert_eq!(got[0].required_by, None);
        assert_eq!(got[1].required_by, Some((0, "webserver >= 2".to_string())));
        assert_eq!(got[2].required_by, Some((1, "libfoo".to_string())));
        assert!(got.iter().all(|c| c.request == 0));
        let got = resolve(&indexes, &[request("app", Some("1.9"))], &arches, &none).unwrap();
        assert_eq!(names(&indexes, &got)[0], "app-1.9-1.x86_64");
        let err = resolve(&indexes, &[request("app", Some("3.0"))], &arches, &none).unwrap_err();
        assert!(err.to_string().contains("no version matches"), "{err}");
        let err = resolve(&indexes, &[request("nope", None)], &arches, &none).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn preferred_versions_win_over_newer_ones() {
        let indexes = vec![RepositoryIndex {
            id: "r".into(),
            packages: vec![
                pkg("app", "1.0-1", &[], &["webserver"]),
                pkg("app", "2.0-1", &[], &["webserver"]),
                pkg("httpd", "1-1", &["webserver"], &[]),
                pkg("nginx", "1-1", &["webserver"], &[]),
            ],
        }];
        let arches = vec!["x86_64".to_string()];
        let newest = resolve(
            &indexes,
            &[request("app", None)],
            &arches,
            &Preferred::new(),
        );
        assert_eq!(
            names(&indexes, &newest.unwrap()),
            ["app-2.0-1.x86_64", "httpd-1-1.x86_64"]
        );
        let locked: Preferred = [("r", "app-1.0-1.x86_64"), ("r", "nginx-1-1.x86_64")]
            .iter()
            .map(|(r, n)| (r.to_string(), n.to_string()))
            .collect();
        let got = resolve(&indexes, &[request("app", None)], &arches, &locked).unwrap();
        assert_eq!(
            names(&indexes, &got),
            ["app-1.0-1.x86_64", "nginx-1-1.x86_64"]
        );
        // A pin the preferred version does not match wins over the preference.
        let got = resolve(&indexes, &[request("app", Some("2.0"))], &arches, &locked).unwrap();
        assert_eq!(names(&indexes, &got)[0], "app-2.0-1.x86_64");
    }

    #[test]
    fn a_request_naming_its_repository_is_found_there_only() {
        let indexes = vec![
            RepositoryIndex {
                id: "base".into(),
                packages: vec![pkg("app", "9-1", &[], &[])],
            },
            RepositoryIndex {
                id: "extra".into(),
                packages: vec![pkg("app", "1-1", &[], &[])],
            },
        ];
        let arches = vec!["x86_64".to_string()];
        let mut wanted = request("app", None);
        wanted.repository = Some("extra".into());
        let got = resolve(&indexes, &[wanted.clone()], &arches, &Preferred::new()).unwrap();
        assert_eq!(got[0].choice.repository, 1);
        wanted.name = "other".into();
        let err = resolve(&indexes, &[wanted], &arches, &Preferred::new()).unwrap_err();
        assert!(err.to_string().contains("in repositories extra"), "{err}");
    }

    /// A chain p0 -> p1 -> … -> p(n-1), each also providing a shared name many require.
    fn chain(n: usize) -> Vec<RepositoryIndex> {
        let packages = (0..n)
            .map(|i| {
                let name = format!("p{i}");
                let next = format!("p{} >= 1", i + 1);
                let requires: Vec<&str> = if i + 1 < n {
                    vec![next.as_str(), "shared"]
                } else {
                    vec!["shared"]
                };
                pkg(&name, "1-1", &["shared"], &requires)
            })
            .collect();
        vec![RepositoryIndex {
            id: "r".into(),
            packages,
        }]
    }

    #[test]
    fn long_chains_resolve_whole() {
        let indexes = chain(20_000);
        let arches = vec!["x86_64".to_string()];
        let got = resolve(&indexes, &[request("p0", None)], &arches, &Preferred::new()).unwrap();
        assert_eq!(got.len(), 20_000);
    }

    #[test]
    fn repeated_provides_count_once() {
        // b repeats one provide 100k times; a has 2,000 distinct requirements on it:
        // compared provide by provide that is 200 million comparisons, grouped it is 2,000.
        let mut b = pkg("b", "1-1", &[], &[]);
        let x = Dependency::parse("x = 1").unwrap();
        b.provides.extend(std::iter::repeat_n(x, 100_000));
        let requires: Vec<String> = (0..2_000).map(|k| format!("x >= 0.{k}")).collect();
        let requires: Vec<&str> = requires.iter().map(String::as_str).collect();
        let a = pkg("a", "1-1", &[], &requires);
        let indexes = vec![RepositoryIndex {
            id: "main".into(),
            packages: vec![a, b],
        }];
        let arches = vec!["x86_64".to_string()];
        let got = resolve(&indexes, &[request("a", None)], &arches, &Preferred::new()).unwrap();
        assert_eq!(got.len(), 2);
    }

    /// `cargo test --release -p buildchain-rpm -- --ignored --nocapture resolve_timing`:
    /// the time to resolve a 100k-package chain (a figure for the notes, not an assertion).
    #[test]
    #[ignore]
    fn resolve_timing() {
        for n in [10_000, 30_000, 100_000] {
            let indexes = chain(n);
            let arches = vec!["x86_64".to_string()];
            let started = std::time::Instant::now();
            let got =
                resolve(&indexes, &[request("p0", None)], &arches, &Preferred::new()).unwrap();
            println!(
                "{n}-package chain: {} chosen in {:?}",
                got.len(),
                started.elapsed()
            );
        }
    }
}
