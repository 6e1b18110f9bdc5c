use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

use buildchain_graph::{Engine, Graph, GraphError, PathKeys, Status, Task};
use common::Recorder;

fn s(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn engine(dir: &Path, tasks: Vec<Task>) -> Engine {
    let mut graph = Graph::new();
    graph.add_all(tasks).unwrap();
    Engine::new(graph, dir.join("state.json")).with_keys(PathKeys::new().with_root("t", dir))
}

/// A task copying `src` to `dst`, counting its runs.
fn copy_task(name: &str, src: &Path, dst: &Path, runs: &Arc<AtomicUsize>) -> Task {
    let (src2, dst2, runs) = (src.to_path_buf(), dst.to_path_buf(), runs.clone());
    Task::new(name)
        .file_dep(src)
        .target(dst)
        .version("copy v1")
        .action(move |_| -> io::Result<()> {
            runs.fetch_add(1, Ordering::SeqCst);
            buildchain_fs::write_atomic(&dst2, &fs::read(&src2)?, None).map_err(io::Error::from)
        })
}

#[test]
fn dependencies_run_first() {
    let dir = tempfile::tempdir().unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mk = |name: &str, deps: &[&str]| {
        let order = order.clone();
        let n = name.to_string();
        Task::new(name)
            .task_deps(deps.iter().copied())
            .action(move |_| -> io::Result<()> {
                std::thread::sleep(Duration::from_millis(5));
                order.lock().unwrap().push(n.clone());
                Ok(())
            })
    };
    let e = engine(
        dir.path(),
        vec![
            mk("d", &["b", "c"]),
            mk("b", &["a"]),
            mk("c", &["a"]),
            mk("a", &[]),
            mk("unrelated", &[]),
        ],
    );
    let summary = e.run(&s(&["d"]), 4, &Recorder::default()).unwrap();
    assert!(summary.success());
    let order = order.lock().unwrap().clone();
    let pos = |n: &str| order.iter().position(|x| x == n).unwrap();
    assert_eq!(order.len(), 4, "{order:?}");
    assert!(pos("a") < pos("b") && pos("a") < pos("c"));
    assert!(pos("b") < pos("d") && pos("c") < pos("d"));
}

/// Runs `count` independent tasks that each hold for a while, and returns the highest
/// number seen running at once.
fn max_concurrency(jobs: usize, count: usize) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let tasks = (0..count)
        .map(|i| {
            let (now, max) = (now.clone(), max.clone());
            Task::new(format!("t:{i}")).action(move |_| -> io::Result<()> {
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                max.fetch_max(n, Ordering::SeqCst);
                // Wait (bounded) until everyone that can run at once is running.
                let deadline = Instant::now() + Duration::from_secs(2);
                while now.load(Ordering::SeqCst) < jobs.min(count) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(1));
                }
                std::thread::sleep(Duration::from_millis(20));
                now.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            })
        })
        .collect();
    let e = engine(dir.path(), tasks);
    assert!(e
        .run(
            &s(&["t:*"])
                .iter()
                .flat_map(|p| e.graph().select(std::slice::from_ref(p)).unwrap())
                .collect::<Vec<_>>(),
            jobs,
            &Recorder::default()
        )
        .unwrap()
        .success());
    max.load(Ordering::SeqCst)
}

#[test]
fn runs_on_n_workers() {
    assert_eq!(max_concurrency(1, 4), 1);
    assert_eq!(max_concurrency(3, 6), 3);
}

#[test]
fn first_failure_stops_new_work_and_reports_every_failure() {
    let dir = tempfile::tempdir().unwrap();
    let ran = Arc::new(Mutex::new(Vec::new()));
    let slow = |name: &str, ms: u64, fail: bool| {
        let ran = ran.clone();
        let n = name.to_string();
        Task::new(name).action(move |_| -> Result<(), String> {
            std::thread::sleep(Duration::from_millis(ms));
            ran.lock().unwrap().push(n.clone());
            if fail {
                Err(format!("{n} broke"))
            } else {
                Ok(())
            }
        })
    };
    let e = engine(
        dir.path(),
        vec![
            slow("fail-fast", 10, true),
            slow("fail-slow", 150, true),
            slow("long", 300, false),
            slow("after", 1, false).task_dep("fail-fast"),
            slow("queued", 1, false),
            Task::new("all").task_deps(["fail-fast", "fail-slow", "long", "after", "queued"]),
        ],
    );
    let rec = Recorder::default();
    // 3 workers: fail-fast, fail-slow and long start; queued waits for a free worker.
    let summary = e
        .run(
            &s(&["fail-fast", "fail-slow", "long", "queued", "all"]),
            3,
            &rec,
        )
        .unwrap();
    assert!(!summary.success());
    let failed: Vec<&str> = summary.failed.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(failed, vec!["fail-fast", "fail-slow"]);
    assert_eq!(summary.failed[0].1, "fail-fast broke");
    assert_eq!(summary.executed, vec!["long"], "running tasks finish");
    let mut not_run = summary.not_run.clone();
    not_run.sort();
    assert_eq!(not_run, vec!["after", "all", "queued"]);
    let ran = ran.lock().unwrap().clone();
    assert!(!ran.contains(&"after".to_string()) && !ran.contains(&"queued".to_string()));
    assert!(rec
        .take()
        .iter()
        .any(|l| l == "FAILED fail-slow: fail-slow broke"));
}

#[test]
fn keep_going_runs_every_task_whose_dependencies_succeeded() {
    let dir = tempfile::tempdir().unwrap();
    let task = |name: &str, fail: bool| {
        let n = name.to_string();
        Task::new(name).action(move |_| -> Result<(), String> {
            if fail {
                Err(format!("{n} broke"))
            } else {
                Ok(())
            }
        })
    };
    let e = engine(
        dir.path(),
        vec![
            task("a-fails", true),
            task("b-fails", true),
            task("after-a", false).task_dep("a-fails"),
            task("independent", false),
            task("after-independent", false).task_dep("independent"),
            Task::new("all").task_deps(["after-a", "b-fails", "after-independent"]),
        ],
    )
    .with_keep_going(true);
    // One worker: without keep-going nothing would start after the first failure.
    let summary = e.run(&s(&["all"]), 1, &Recorder::default()).unwrap();
    let mut failed: Vec<&str> = summary.failed.iter().map(|(n, _)| n.as_str()).collect();
    failed.sort();
    assert_eq!(failed, vec!["a-fails", "b-fails"]);
    let mut executed = summary.executed.clone();
    executed.sort();
    assert_eq!(executed, vec!["after-independent", "independent"]);
    let mut not_run = summary.not_run.clone();
    not_run.sort();
    assert_eq!(
        not_run,
        vec!["after-a", "all"],
        "only what depends on a failure"
    );
}

#[test]
fn up_to_date_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
    fs::write(&src, "one").unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let rec = Recorder::default();
    let run = |version: &str| {
        let e = engine(
            dir.path(),
            vec![copy_task("copy", &src, &dst, &runs).version(version)],
        );
        assert!(e.run(&s(&["copy"]), 2, &rec).unwrap().success());
        (runs.load(Ordering::SeqCst), e)
    };
    assert_eq!(run("v1").0, 1, "first run");
    let (n, e) = run("v1");
    assert_eq!(n, 1, "nothing changed: skipped");
    assert_eq!(e.status("copy").unwrap(), Status::UpToDate);
    assert_eq!(rec.statuses("SKIPPED"), vec!["copy"]);

    // Same content, new mtime: re-hashed, still up to date.
    std::thread::sleep(Duration::from_millis(10));
    fs::write(&src, "one").unwrap();
    assert_eq!(run("v1").0, 1, "touched, same content");

    fs::write(&src, "two").unwrap();
    let e = engine(
        dir.path(),
        vec![copy_task("copy", &src, &dst, &runs).version("v1")],
    );
    assert_eq!(
        e.status("copy").unwrap(),
        Status::Outdated("changed: t:src".into())
    );
    assert_eq!(run("v1").0, 2, "content changed");
    assert_eq!(fs::read_to_string(&dst).unwrap(), "two");

    let e = engine(
        dir.path(),
        vec![copy_task("copy", &src, &dst, &runs).version("v2")],
    );
    assert_eq!(
        e.status("copy").unwrap(),
        Status::Outdated("its definition changed".into())
    );
    assert_eq!(run("v2").0, 3, "definition changed");

    fs::remove_file(&dst).unwrap();
    assert_eq!(run("v2").0, 4, "target deleted");

    fs::write(&dst, "tampered").unwrap();
    let e = engine(
        dir.path(),
        vec![copy_task("copy", &src, &dst, &runs).version("v2")],
    );
    assert_eq!(
        e.status("copy").unwrap(),
        Status::Outdated("target t:dst was modified".into())
    );
    assert_eq!(run("v2").0, 5, "target modified");
    assert_eq!(fs::read_to_string(&dst).unwrap(), "two");
    assert_eq!(run("v2").0, 5);
}

#[test]
fn a_directory_where_a_file_target_was_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("src"), dir.path().join("out/dst"));
    fs::write(&src, "x").unwrap();
    fs::create_dir(dir.path().join("out")).unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let e = engine(dir.path(), vec![copy_task("copy", &src, &dst, &runs)])
        .with_output_root(dir.path().join("out"));
    let run = || e.run(&s(&["copy"]), 1, &Recorder::default()).unwrap();
    assert!(run().success());
    fs::remove_file(&dst).unwrap();
    fs::create_dir(&dst).unwrap();
    fs::write(dst.join("planted"), "y").unwrap();
    let summary = run();
    assert!(summary.success(), "{:?}", summary.failed);
    assert_eq!(fs::read_to_string(&dst).unwrap(), "x");
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[test]
fn missing_file_dep_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let e = engine(
        dir.path(),
        vec![copy_task(
            "copy",
            &dir.path().join("nope"),
            &dir.path().join("out"),
            &runs,
        )],
    );
    let summary = e.run(&s(&["copy"]), 1, &Recorder::default()).unwrap();
    assert_eq!(summary.failed.len(), 1);
    assert!(summary.failed[0].1.contains("nope"), "{:?}", summary.failed);
    assert!(summary.failed[0].1.contains("does not exist"));
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

#[test]
fn a_failed_rerun_is_never_taken_as_up_to_date() {
    // Success, then an input change and a failure after the target was rewritten (as a
    // killed run could leave it): restoring the input must not make it look up to date.
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
    fs::write(&src, "A").unwrap();
    let make = |fail: bool| {
        let (src2, dst2) = (src.clone(), dst.clone());
        let task = Task::new("t")
            .file_dep(&src)
            .target(&dst)
            .action(move |_| -> io::Result<()> {
                fs::write(&dst2, fs::read(&src2)?)?;
                if fail {
                    Err(io::Error::other("killed"))
                } else {
                    Ok(())
                }
            });
        engine(dir.path(), vec![task])
    };
    assert!(make(false)
        .run(&s(&["t"]), 1, &Recorder::default())
        .unwrap()
        .success());
    fs::write(&src, "B").unwrap();
    assert!(!make(true)
        .run(&s(&["t"]), 1, &Recorder::default())
        .unwrap()
        .success());
    fs::write(&src, "A").unwrap();
    let e = make(false);
    assert!(matches!(e.status("t").unwrap(), Status::Outdated(_)));
    let rec = Recorder::default();
    assert!(e.run(&s(&["t"]), 1, &rec).unwrap().success());
    assert_eq!(rec.statuses("SUCCESS"), vec!["t"]);
    assert_eq!(fs::read_to_string(&dst).unwrap(), "A");
}

#[test]
fn missing_target_after_action_is_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(
        dir.path(),
        vec![Task::new("t")
            .target(dir.path().join("never"))
            .action(|_| -> io::Result<()> { Ok(()) })],
    );
    let summary = e.run(&s(&["t"]), 1, &Recorder::default()).unwrap();
    assert!(
        summary.failed[0].1.contains("did not create its target"),
        "{:?}",
        summary.failed
    );
}

#[test]
fn glob_selection_and_unknown_names() {
    let dir = tempfile::tempdir().unwrap();
    let noop = |n: &str| Task::new(n).action(|_| -> io::Result<()> { Ok(()) });
    let e = engine(
        dir.path(),
        vec![
            noop("images"),
            noop("_image_pull:etcd"),
            noop("_image_pull:coredns"),
            noop("_build_rpm:calico/get_source"),
            noop("_build_rpm:calico/srpm"),
            noop("_build_rpm:containerd/get_source"),
        ],
    );
    let g = e.graph();
    assert_eq!(g.select(&s(&["images"])).unwrap(), s(&["images"]));
    assert_eq!(
        g.select(&s(&["_image_pull:*"])).unwrap(),
        s(&["_image_pull:etcd", "_image_pull:coredns"])
    );
    assert_eq!(
        g.select(&s(&["*/get_source"])).unwrap(),
        s(&[
            "_build_rpm:calico/get_source",
            "_build_rpm:containerd/get_source"
        ])
    );
    assert_eq!(g.select(&s(&["_build_rpm:calico/*"])).unwrap().len(), 2);
    assert!(matches!(g.select(&s(&["imagez"])), Err(GraphError::UnknownTask(n)) if n == "imagez"));
    assert!(matches!(
        g.select(&s(&["nope:*"])),
        Err(GraphError::NoMatch(_))
    ));
    assert!(matches!(
        e.run(&s(&["nope"]), 1, &Recorder::default()),
        Err(GraphError::UnknownTask(_))
    ));
}

#[test]
fn graph_errors() {
    let mut g = Graph::new();
    g.add(Task::new("a").task_dep("b")).unwrap();
    g.add(Task::new("b").task_dep("c")).unwrap();
    g.add(Task::new("c").task_dep("a")).unwrap();
    g.add(Task::new("d").task_dep("ghost")).unwrap();
    assert!(matches!(
        g.add(Task::new("a")),
        Err(GraphError::DuplicateTask(_))
    ));
    assert!(matches!(
        g.add(Task::new("x*")),
        Err(GraphError::InvalidName { .. })
    ));
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::new(g, dir.path().join("state"));
    let err = e.run(&s(&["a"]), 1, &Recorder::default()).unwrap_err();
    assert_eq!(err.to_string(), "dependency cycle: a -> b -> c -> a");
    let err = e.run(&s(&["d"]), 1, &Recorder::default()).unwrap_err();
    assert_eq!(err.to_string(), "task 'd' depends on unknown task 'ghost'");
}

#[test]
fn calculated_file_deps() {
    // "build" fills a directory; "pack" depends on every file in it (known only after
    // "build" ran), like `_iso_build` on the ISO root.
    let dir = tempfile::tempdir().unwrap();
    let (input, tree, out) = (
        dir.path().join("in"),
        dir.path().join("tree"),
        dir.path().join("out"),
    );
    fs::create_dir(&input).unwrap();
    fs::write(input.join("a"), "a").unwrap();
    let packs = Arc::new(AtomicUsize::new(0));
    let make = || {
        let (input2, tree2, tree3, out2, packs) = (
            input.clone(),
            tree.clone(),
            tree.clone(),
            out.clone(),
            packs.clone(),
        );
        let build = Task::new("build")
            .file_deps(list(&input))
            .target(&tree)
            .action(move |_| -> io::Result<()> {
                buildchain_fs::replace_dir(&tree2, |t| {
                    for f in list(&input2) {
                        fs::copy(&f, t.join(f.file_name().unwrap()))?;
                    }
                    Ok::<(), io::Error>(())
                })
            });
        let pack = Task::new("pack")
            .task_dep("build")
            .calc_file_deps(move || -> io::Result<Vec<PathBuf>> { Ok(list(&tree3)) })
            .target(&out)
            .action(move |ctx| -> io::Result<()> {
                packs.fetch_add(1, Ordering::SeqCst);
                let names: Vec<String> = ctx
                    .file_deps()
                    .iter()
                    .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                    .collect();
                fs::write(&out2, names.join(","))
            });
        engine(dir.path(), vec![build, pack])
    };
    assert!(make()
        .run(&s(&["pack"]), 2, &Recorder::default())
        .unwrap()
        .success());
    assert_eq!(fs::read_to_string(&out).unwrap(), "a");
    assert!(make()
        .run(&s(&["pack"]), 2, &Recorder::default())
        .unwrap()
        .success());
    assert_eq!(packs.load(Ordering::SeqCst), 1);
    fs::write(input.join("b"), "b").unwrap();
    assert!(make()
        .run(&s(&["pack"]), 2, &Recorder::default())
        .unwrap()
        .success());
    assert_eq!(packs.load(Ordering::SeqCst), 2);
    assert_eq!(fs::read_to_string(&out).unwrap(), "a,b");
}

fn list(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| rd.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn tasks_created_after_a_task_ran() {
    // "discover" writes a list; sub-tasks are created from it after it ran, and
    // "final" (which depends on "discover") waits for them.
    let dir = tempfile::tempdir().unwrap();
    let listing = dir.path().join("listing");
    let order = Arc::new(Mutex::new(Vec::new()));
    let (l1, l2, o1, o2) = (
        listing.clone(),
        listing.clone(),
        order.clone(),
        order.clone(),
    );
    let discover = Task::new("discover")
        .target(&listing)
        .action(move |_| fs::write(&l1, "x\ny\n"))
        .create_after(move || -> io::Result<Vec<Task>> {
            let text = fs::read_to_string(&l2)?;
            Ok(text
                .lines()
                .map(|item| {
                    let (order, item2) = (o1.clone(), item.to_string());
                    Task::new(format!("_fetch:{item}"))
                        .task_dep("prepare")
                        .action(move |_| -> io::Result<()> {
                            std::thread::sleep(Duration::from_millis(20));
                            order.lock().unwrap().push(item2.clone());
                            Ok(())
                        })
                })
                .collect())
        });
    let prepare = Task::new("prepare").action(|_| -> io::Result<()> { Ok(()) });
    let fin = Task::new("final")
        .task_dep("discover")
        .action(move |_| -> io::Result<()> {
            o2.lock().unwrap().push("final".into());
            Ok(())
        });
    let e = engine(dir.path(), vec![discover, prepare, fin]);
    let rec = Recorder::default();
    let summary = e.run(&s(&["final"]), 4, &rec).unwrap();
    assert!(summary.success(), "{summary:?}");
    let order = order.lock().unwrap().clone();
    assert_eq!(order.len(), 3);
    assert_eq!(order[2], "final");
    assert!(summary.executed.contains(&"_fetch:x".to_string()));
    assert!(
        summary.executed.contains(&"prepare".to_string()),
        "pulled in by a created task"
    );
    // `expand` makes them visible to list/info/clean.
    let mut e = e;
    assert!(e.graph_mut().expand().is_empty());
    assert!(e.graph().get("_fetch:y").is_some());
}

#[test]
fn clean_removes_targets_of_the_task_and_its_subtasks() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, tree) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("tree"),
    );
    let (a2, b2, t2) = (a.clone(), b.clone(), tree.clone());
    let cleaned = Arc::new(AtomicUsize::new(0));
    let c2 = cleaned.clone();
    let make = || {
        let (a2, b2, t2, c2) = (a2.clone(), b2.clone(), t2.clone(), c2.clone());
        engine(
            dir.path(),
            vec![
                Task::new("group")
                    .subtasks(["_group:a", "_group:tree"])
                    .task_dep("other"),
                Task::new("_group:a")
                    .target(&a)
                    .action(move |_| fs::write(&a2, "a")),
                Task::new("_group:tree")
                    .target(&tree)
                    .action(move |_| -> io::Result<()> {
                        fs::create_dir_all(t2.join("sub"))?;
                        fs::write(t2.join("sub/f"), "f")
                    }),
                Task::new("other")
                    .target(&b)
                    .action(move |_| fs::write(&b2, "b"))
                    .clean(move |ctx| -> io::Result<()> {
                        c2.fetch_add(1, Ordering::SeqCst);
                        ctx.note("custom clean");
                        Ok(())
                    }),
            ],
        )
    };
    let e = make();
    assert!(e
        .run(&s(&["group"]), 2, &Recorder::default())
        .unwrap()
        .success());
    let lines = e.clean(&s(&["group"]), true).unwrap();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines.iter().all(|l| l.starts_with("would remove")));
    assert!(a.exists() && tree.exists());
    e.clean(&s(&["group"]), false).unwrap();
    assert!(
        !a.exists() && !tree.exists(),
        "sub-tasks cleaned, directories recursively"
    );
    assert!(b.exists(), "a plain dependency is not cleaned");
    assert_eq!(cleaned.load(Ordering::SeqCst), 0);
    let rec = Recorder::default();
    assert!(e.run(&s(&["group"]), 2, &rec).unwrap().success());
    assert_eq!(rec.statuses("SKIPPED"), vec!["other"]);
    let lines = e.clean(&[], false).unwrap();
    assert!(lines.contains(&"custom clean".to_string()));
    assert!(b.exists(), "the custom clean replaced the default");
}

#[test]
fn undeclared_old_targets_are_removed_on_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = (dir.path().join("x"), dir.path().join("y"));
    let make = |target: &Path, version: &str| {
        let t = target.to_path_buf();
        engine(
            dir.path(),
            vec![Task::new("t")
                .target(target)
                .version(version)
                .action(move |_| fs::write(&t, "1"))],
        )
    };
    assert!(make(&x, "1")
        .run(&s(&["t"]), 1, &Recorder::default())
        .unwrap()
        .success());
    assert!(make(&y, "2")
        .run(&s(&["t"]), 1, &Recorder::default())
        .unwrap()
        .success());
    assert!(!x.exists() && y.exists());
}

#[test]
fn fingerprints_do_not_depend_on_where_the_tree_is() {
    let fp = |dir: &Path| {
        fs::write(dir.join("src"), "same").unwrap();
        let runs = Arc::new(AtomicUsize::new(0));
        let e = engine(
            dir,
            vec![copy_task("copy", &dir.join("src"), &dir.join("dst"), &runs)],
        );
        assert!(e
            .run(&s(&["copy"]), 1, &Recorder::default())
            .unwrap()
            .success());
        e.last_fingerprint("copy").unwrap().unwrap()
    };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(fp(a.path()), fp(b.path()));
}

#[test]
fn corrupt_state_file_means_rerun_not_trust() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
    fs::write(&src, "x").unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let e = engine(dir.path(), vec![copy_task("copy", &src, &dst, &runs)]);
    let ok = || {
        assert!(e
            .run(&s(&["copy"]), 1, &Recorder::default())
            .unwrap()
            .success())
    };
    ok();
    ok();
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let log = dir.path().join("state.json").join("log");
    assert_eq!(
        list(&dir.path().join("state.json")),
        std::slice::from_ref(&log),
        "one log"
    );
    // Cut in the middle of the task's record, as a kill during the append leaves it.
    let bytes = fs::read(&log).unwrap();
    fs::write(&log, &bytes[..bytes.len() / 2]).unwrap();
    let rec = Recorder::default();
    assert!(e.run(&s(&["copy"]), 1, &rec).unwrap().success());
    assert!(
        rec.take().iter().any(|l| l.contains("incomplete entry")),
        "the damage is reported"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    ok();
    assert_eq!(runs.load(Ordering::SeqCst), 2, "the log was mended");
    // A flipped byte in the record: its checksum fails, the task re-runs.
    let mut bytes = fs::read(&log).unwrap();
    let last = bytes.len() - 10;
    bytes[last] ^= 0x55;
    fs::write(&log, &bytes).unwrap();
    ok();
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    // A FIFO in its place would block a read: ignored with a warning, then replaced.
    fs::remove_file(&log).unwrap();
    assert!(std::process::Command::new("mkfifo")
        .arg(&log)
        .status()
        .unwrap()
        .success());
    let rec = Recorder::default();
    assert!(e.run(&s(&["copy"]), 1, &rec).unwrap().success());
    let warnings = rec.take();
    assert!(
        warnings.iter().any(|l| l.contains("not a regular file")),
        "{warnings:?}"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 4);
    assert!(fs::symlink_metadata(&log).unwrap().is_file());
    ok();
    assert_eq!(runs.load(Ordering::SeqCst), 4);
    // A directory in its place cannot be replaced: one clear error naming it, at the start
    // before any task, not blamed on one.
    fs::remove_file(&log).unwrap();
    fs::create_dir(&log).unwrap();
    let error = e
        .run(&s(&["copy"]), 1, &Recorder::default())
        .unwrap_err()
        .to_string();
    assert!(error.contains(&log.display().to_string()), "{error}");
}

#[test]
fn custom_uptodate_check_and_always_run() {
    let dir = tempfile::tempdir().unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let (r1, r2) = (runs.clone(), runs.clone());
    let e = engine(
        dir.path(),
        vec![
            Task::new("snap")
                .uptodate(|| -> io::Result<bool> { Ok(true) })
                .action(move |_| -> io::Result<()> {
                    r1.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }),
            Task::new("up")
                .always_run()
                .action(move |_| -> io::Result<()> {
                    r2.fetch_add(10, Ordering::SeqCst);
                    Ok(())
                }),
        ],
    );
    let rec = Recorder::default();
    assert!(e.run(&s(&["snap", "up"]), 1, &rec).unwrap().success());
    assert!(e.run(&s(&["snap", "up"]), 1, &rec).unwrap().success());
    assert_eq!(runs.load(Ordering::SeqCst), 20);
}

#[test]
fn tree_deps_see_contents_structure_modes_and_links() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (tree, out) = (dir.path().join("tree"), dir.path().join("out"));
    fs::create_dir_all(tree.join("sub")).unwrap();
    fs::write(tree.join("sub/a"), "a").unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let run = || {
        let (counter, out2) = (runs.clone(), out.clone());
        let e = engine(
            dir.path(),
            vec![Task::new("pack")
                .tree_dep(&tree)
                .target(&out)
                .action(move |ctx| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    fs::write(&out2, format!("{}", ctx.file_deps().len()))
                })],
        );
        assert!(e
            .run(&s(&["pack"]), 1, &Recorder::default())
            .unwrap()
            .success());
        (runs.load(Ordering::SeqCst), e)
    };
    assert_eq!(run().0, 1);
    assert_eq!(fs::read_to_string(&out).unwrap(), "1");
    assert_eq!(run().0, 1, "unchanged tree: skipped");
    fs::set_permissions(tree.join("sub/a"), fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(run().0, 2, "mode changed");
    fs::create_dir(tree.join("empty")).unwrap();
    let (_, e) = run();
    assert_eq!(runs.load(Ordering::SeqCst), 3, "new empty directory");
    assert_eq!(
        e.current_file_deps("pack").unwrap(),
        vec![tree.join("sub/a")]
    );
    std::os::unix::fs::symlink("sub/a", tree.join("link")).unwrap();
    assert_eq!(run().0, 4, "new symlink");
    fs::remove_file(tree.join("link")).unwrap();
    std::os::unix::fs::symlink("sub", tree.join("link")).unwrap();
    assert_eq!(run().0, 5, "symlink retargeted");
    fs::write(tree.join("sub/a"), "b").unwrap();
    assert_eq!(run().0, 6, "content changed");
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        "2",
        "the link is a file dep of the action"
    );
    assert_eq!(run().0, 6);
}

/// The fingerprint depends on the definition and the inputs, never on the history: after
/// a version bump it is the one a fresh state computes; a no-op writes nothing to the log.
#[test]
fn fingerprints_do_not_depend_on_history_and_no_ops_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
    fs::write(&src, "one").unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let run = |version: &str| {
        let e = engine(
            dir.path(),
            vec![copy_task("copy", &src, &dst, &runs).version(version)],
        );
        assert!(e
            .run(&s(&["copy"]), 1, &Recorder::default())
            .unwrap()
            .success());
        e.last_fingerprint("copy").unwrap().unwrap()
    };
    run("v1");
    let bumped = run("v2");
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    fs::remove_dir_all(dir.path().join("state.json")).unwrap();
    assert_eq!(run("v2"), bumped, "a fresh state agrees");
    let log = dir.path().join("state.json/log");
    let before = fs::read(&log).unwrap();
    let meta = fs::metadata(&log).unwrap();
    assert_eq!(run("v2"), bumped);
    assert_eq!(fs::read(&log).unwrap(), before, "a no-op appends nothing");
    assert_eq!(
        fs::metadata(&log).unwrap().modified().unwrap(),
        meta.modified().unwrap()
    );
}

/// A task that reworks what its dependencies wrote runs again when one of them ran, even
/// if what they wrote has the same content (its links to other files may be undone).
#[test]
fn a_task_can_rerun_whenever_a_dependency_ran() {
    let dir = tempfile::tempdir().unwrap();
    let (src, out) = (dir.path().join("src"), dir.path().join("out"));
    fs::write(&src, "one").unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let reworks = Arc::new(AtomicUsize::new(0));
    let e = |version: &str| {
        let counter = reworks.clone();
        engine(
            dir.path(),
            vec![
                copy_task("write", &src, &out, &runs).version(version),
                Task::new("rework")
                    .task_dep("write")
                    .file_dep(&out)
                    .reruns_after_its_deps()
                    .action(move |_| -> io::Result<()> {
                        counter.fetch_add(1, Ordering::SeqCst);
                        Ok(())
                    }),
            ],
        )
    };
    let run = |version: &str| {
        assert!(e(version)
            .run(&s(&["rework"]), 1, &Recorder::default())
            .unwrap()
            .success());
        (runs.load(Ordering::SeqCst), reworks.load(Ordering::SeqCst))
    };
    assert_eq!(run("v1"), (1, 1));
    assert_eq!(run("v1"), (1, 1), "nothing ran: both skipped");
    // `write` runs again (new definition) and writes the same bytes: `rework` runs too.
    assert_eq!(run("v2"), (2, 2));
    assert_eq!(run("v2"), (2, 2));
}
