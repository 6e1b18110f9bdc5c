//! What the engine guarantees about outputs: damage under a directory target is repaired,
//! outputs nobody declares are removed, nothing outside the output root is ever removed,
//! and a run whose reporter breaks stops instead of hanging.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

mod common;

use buildchain_graph::{Engine, Event, Graph, PathKeys, Reporter, Task};
use common::Recorder;

fn engine(root: &Path, tasks: Vec<Task>) -> Engine {
    let mut graph = Graph::new();
    graph.add_all(tasks).unwrap();
    Engine::new(graph, root.join(".state"))
        .with_keys(PathKeys::new().with_root("build", root))
        .with_output_root(root)
}

/// A task writing `files` (name, content) into the directory `dir`, replaced wholly.
fn tree_task(name: &str, dir: &Path, files: &[(&str, &str)], runs: &Arc<AtomicUsize>) -> Task {
    let (d, runs) = (dir.to_path_buf(), runs.clone());
    let files: Vec<(String, String)> = files
        .iter()
        .map(|(n, c)| (n.to_string(), c.to_string()))
        .collect();
    Task::new(name)
        .target(dir)
        .version(format!("{files:?}"))
        .action(move |_| -> io::Result<()> {
            runs.fetch_add(1, Ordering::SeqCst);
            buildchain_fs::replace_dir(&d, |t| -> io::Result<()> {
                for (n, c) in &files {
                    fs::write(t.join(n), c)?;
                }
                Ok(())
            })
        })
}

fn run(engine: &Engine, names: &[&str], reporter: &Recorder) {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let summary = engine.run(&names, 2, reporter).unwrap();
    assert!(summary.success(), "{summary:?} {:?}", reporter.take());
}

#[test]
fn damage_under_a_directory_target_is_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let runs = Arc::new(AtomicUsize::new(0));
    let files = [("a", "A"), ("b", "B")];
    let e = engine(dir.path(), vec![tree_task("t", &out, &files, &runs)]);
    let r = Recorder::default();
    run(&e, &["t"], &r);
    run(&e, &["t"], &r);
    assert_eq!(runs.load(Ordering::SeqCst), 1, "second run is a no-op");
    r.take();
    // A removed, an edited, an added file and a changed mode each make it re-run.
    type Damage<'a> = (&'a str, Box<dyn Fn() + 'a>);
    let damages: Vec<Damage> = vec![
        (
            "removed",
            Box::new(|| fs::remove_file(out.join("a")).unwrap()),
        ),
        (
            "modified",
            Box::new(|| fs::write(out.join("b"), "edited").unwrap()),
        ),
        (
            "not there",
            Box::new(|| fs::write(out.join("extra"), "x").unwrap()),
        ),
        (
            "modified",
            Box::new(|| {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(out.join("a"), fs::Permissions::from_mode(0o600)).unwrap()
            }),
        ),
    ];
    for (n, (why, damage)) in damages.iter().enumerate() {
        damage();
        let status = format!("{:?}", e.status("t").unwrap());
        assert!(status.contains(why), "{why}: {status}");
        run(&e, &["t"], &r);
        assert_eq!(runs.load(Ordering::SeqCst), 2 + n, "{why}");
        assert_eq!(fs::read_to_string(out.join("a")).unwrap(), "A");
        assert_eq!(fs::read_to_string(out.join("b")).unwrap(), "B");
        assert!(!out.join("extra").exists());
    }
    // A FIFO planted in the target is replaced, not read.
    let fifo = out.join("fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    run(&e, &["t"], &r);
    assert!(!fifo.exists());
}

#[test]
fn created_directories_are_tracked_by_existence_only() {
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    let runs = Arc::new(AtomicUsize::new(0));
    let (s2, r2) = (shared.clone(), runs.clone());
    let mkdir = Task::new("mkdir")
        .creates_dir(&shared)
        .version("mkdir")
        .action(move |_| -> io::Result<()> {
            r2.fetch_add(1, Ordering::SeqCst);
            fs::create_dir_all(&s2)
        });
    let other = Arc::new(AtomicUsize::new(0));
    let fill = tree_task("fill", &shared.join("sub"), &[("x", "1")], &other).task_dep("mkdir");
    let e = engine(dir.path(), vec![mkdir, fill]);
    let r = Recorder::default();
    run(&e, &["fill"], &r);
    fs::write(shared.join("sub/x"), "2").unwrap();
    run(&e, &["fill"], &r);
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the content is not mkdir's");
    assert_eq!(other.load(Ordering::SeqCst), 2);
    fs::remove_dir_all(&shared).unwrap();
    run(&e, &["fill"], &r);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[test]
fn outputs_of_tasks_no_longer_defined_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let runs = Arc::new(AtomicUsize::new(0));
    let r = Recorder::default();
    let both = engine(
        dir.path(),
        vec![
            tree_task("a", &a, &[("f", "1")], &runs),
            tree_task("b", &b, &[("f", "2")], &runs),
        ],
    );
    run(&both, &["a", "b"], &r);
    assert!(b.join("f").exists());
    r.take();
    let only_a = engine(dir.path(), vec![tree_task("a", &a, &[("f", "1")], &runs)]);
    run(&only_a, &["a"], &r);
    assert!(!b.exists(), "b's output must go with b");
    assert!(a.join("f").exists());
    let lines = r.take();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("removed") && l.contains("no longer defined")),
        "{lines:?}"
    );
}

#[test]
fn pruned_directories_keep_only_declared_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    let runs = Arc::new(AtomicUsize::new(0));
    let keep = images.join("app/1.0");
    let e = engine(
        dir.path(),
        vec![tree_task("app", &keep, &[("m", "1")], &runs)],
    )
    .with_pruned_dir(&images);
    let r = Recorder::default();
    run(&e, &["app"], &r);
    // What a killed run or a hand left: a staging directory, an old version, a stray file.
    fs::create_dir_all(images.join("app/.1.0.partial-x")).unwrap();
    fs::create_dir_all(images.join("app/0.9")).unwrap();
    fs::create_dir_all(images.join("gone/2.0")).unwrap();
    fs::write(images.join("stray.txt"), "x").unwrap();
    // Outside the pruned directory nothing is touched.
    fs::write(dir.path().join("user-file"), "x").unwrap();
    run(&e, &["app"], &r);
    let mut left: Vec<PathBuf> = walkdir(&images);
    left.sort();
    assert_eq!(
        left,
        vec![
            images.join("app"),
            images.join("app/1.0"),
            images.join("app/1.0/m")
        ]
    );
    assert!(dir.path().join("user-file").exists());
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        out.push(p.clone());
        if p.is_dir() {
            out.extend(walkdir(&p));
        }
    }
    out
}

#[test]
fn nothing_outside_the_output_root_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("build");
    fs::create_dir(&root).unwrap();
    let outside = dir.path().join("precious");
    fs::write(&outside, "keep me").unwrap();
    // A task declaring a path outside the root, and one reaching out through a link.
    fs::create_dir(dir.path().join("elsewhere")).unwrap();
    fs::write(dir.path().join("elsewhere/f"), "keep me too").unwrap();
    std::os::unix::fs::symlink(dir.path().join("elsewhere"), root.join("link")).unwrap();
    let e = engine(
        &root,
        vec![
            Task::new("out")
                .target(&outside)
                .action(|_| -> io::Result<()> { Ok(()) }),
            Task::new("via-link")
                .target(root.join("link/f"))
                .action(|_| -> io::Result<()> { Ok(()) }),
            Task::new("self")
                .target(&root)
                .action(|_| -> io::Result<()> { Ok(()) }),
        ],
    );
    for task in ["out", "via-link", "self"] {
        let err = e.clean(&[task.to_string()], false).unwrap_err().to_string();
        assert!(err.contains("outside the output root"), "{task}: {err}");
    }
    assert!(outside.exists());
    assert!(dir.path().join("elsewhere/f").exists());
    assert!(root.exists());
}

/// A reporter whose output breaks after `limit` events.
struct Breaking {
    seen: AtomicUsize,
    limit: usize,
    closed: AtomicBool,
    panics: bool,
}

impl Reporter for Breaking {
    fn event(&self, _event: &Event) {
        if self.seen.fetch_add(1, Ordering::SeqCst) >= self.limit {
            self.closed.store(true, Ordering::SeqCst);
            if self.panics {
                panic!("Broken pipe");
            }
        }
    }
    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

fn chain(dir: &Path, n: usize, runs: &Arc<AtomicUsize>) -> Vec<Task> {
    (0..n)
        .map(|i| {
            let runs = runs.clone();
            let mut t = Task::new(format!("t{i}"))
                .target(dir.join(format!("f{i}")))
                .action(move |_| -> io::Result<()> {
                    runs.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                });
            if i > 0 {
                t = t.task_dep(format!("t{}", i - 1));
            }
            t
        })
        .collect()
}

#[test]
fn a_closed_reporter_stops_the_run_and_a_panicking_one_never_hangs_it() {
    for panics in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let runs = Arc::new(AtomicUsize::new(0));
        let e = engine(dir.path(), chain(dir.path(), 20, &runs));
        let reporter = Breaking {
            seen: AtomicUsize::new(0),
            limit: 3,
            closed: AtomicBool::new(false),
            panics,
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            s.spawn(|| {
                let summary = e.run(&["t19".to_string()], 2, &reporter).unwrap();
                tx.send(summary).unwrap();
            });
            let summary = rx
                .recv_timeout(std::time::Duration::from_secs(20))
                .expect("the run hung");
            assert!(!summary.success(), "panics={panics}");
            assert!(!summary.not_run.is_empty(), "panics={panics}: {summary:?}");
        });
        assert!(runs.load(Ordering::SeqCst) < 20, "panics={panics}");
    }
}
