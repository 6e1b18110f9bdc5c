//! Console and JSON reporters, and `build.log` (JSON lines) in the build root.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use buildchain_graph::{Event, Reporter};
use buildchain_http::escape_controls;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};

/// The console's bars of this run, when shown (libraries add their own bars to it).
static SHARED_BARS: std::sync::OnceLock<MultiProgress> = std::sync::OnceLock::new();

/// The console's progress bars, when stderr is a terminal (e.g. for image pull bars).
pub fn shared_bars() -> Option<MultiProgress> {
    SHARED_BARS.get().cloned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Console,
    Json,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Console => "console",
            Kind::Json => "json",
        }
    }
}

struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    tasks: Mutex<HashMap<String, ProgressBar>>,
}

pub struct Output {
    kind: Kind,
    verbose: bool,
    log: Mutex<Option<BufWriter<File>>>,
    bars: Option<Bars>,
    /// The first error writing the report to stdout: from then on the output is closed.
    stdout_error: Mutex<Option<std::io::Error>>,
    closed: AtomicBool,
}

fn secs(d: &Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The JSON form of an event (`None` for events only the console shows).
fn to_json(event: &Event) -> Option<Value> {
    Some(match event {
        Event::Started { task, title } => json!({"event": "started", "task": task, "title": title}),
        Event::Success {
            task,
            title,
            duration,
        } => {
            json!({"event": "success", "task": task, "title": title, "duration": secs(duration)})
        }
        Event::Skipped { task, title } => json!({"event": "skipped", "task": task, "title": title}),
        Event::Restored {
            task,
            title,
            duration,
        } => {
            json!({"event": "restored", "task": task, "title": title, "duration": secs(duration)})
        }
        Event::Failed {
            task,
            title,
            duration,
            error,
        } => json!({
            "event": "failed", "task": task, "title": title, "duration": secs(duration), "error": error
        }),
        Event::Log { task, message } => json!({"event": "log", "task": task, "message": message}),
        Event::Planned { .. } | Event::Progress { .. } => return None,
    })
}

impl Output {
    /// `build_log`: where to write the JSON-lines log (its directory is created).
    pub fn new(kind: Kind, verbose: bool, build_log: Option<&Path>) -> Result<Output> {
        let log = match build_log {
            Some(path) => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("{}: cannot create", parent.display()))?;
                }
                // Never written through a link (or into whatever was planted there).
                if std::fs::symlink_metadata(path).is_ok_and(|m| !m.is_file()) {
                    buildchain_fs::remove_path(path)?;
                }
                Some(BufWriter::new(File::create(path).with_context(|| {
                    format!("{}: cannot create", path.display())
                })?))
            }
            None => None,
        };
        let bars = (kind == Kind::Console && std::io::stderr().is_terminal()).then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let _ = SHARED_BARS.set(multi.clone());
            let overall = multi.add(ProgressBar::new(0));
            overall.set_style(
                ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} tasks")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            Bars {
                multi,
                overall,
                tasks: Mutex::new(HashMap::new()),
            }
        });
        Ok(Output {
            kind,
            verbose,
            log: Mutex::new(log),
            bars,
            stdout_error: Mutex::new(None),
            closed: AtomicBool::new(false),
        })
    }

    /// Writes a line of the report to stdout; the first failure closes the output (the
    /// engine then stops) and is kept for [`Output::write_error`].
    fn print(&self, line: &str) {
        if self.closed.load(Ordering::Relaxed) {
            return;
        }
        let write = || {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", escape_controls(line)).and_then(|()| out.flush())
        };
        let result = match &self.bars {
            Some(b) => b.multi.suspend(write),
            None => write(),
        };
        if let Err(e) = result {
            self.closed.store(true, Ordering::Relaxed);
            if let Ok(mut slot) = self.stdout_error.lock() {
                slot.get_or_insert(e);
            }
        }
    }

    /// Writes a line to stderr (messages, never the report): a failure there is ignored.
    fn eprint(&self, line: &str) {
        let write = || {
            let _ = writeln!(std::io::stderr(), "{}", escape_controls(line));
        };
        match &self.bars {
            Some(b) => b.multi.suspend(write),
            None => write(),
        }
    }

    /// A warning of the run itself (not of a task), on stderr and in build.log.
    pub fn warn(&self, message: &str) {
        self.event(&Event::Log {
            task: String::new(),
            message: message.to_string(),
        });
    }

    /// The error that closed stdout, if any (taken: reported once).
    pub fn write_error(&self) -> Option<std::io::Error> {
        self.stdout_error.lock().ok().and_then(|mut e| e.take())
    }

    fn write_log(&self, event: &Event) {
        let Some(mut value) = to_json(event) else {
            return;
        };
        if let Ok(mut guard) = self.log.lock() {
            if let Some(log) = guard.as_mut() {
                value["time"] = json!(now());
                let _ = writeln!(log, "{value}");
                let _ = log.flush();
            }
        }
    }

    fn console(&self, event: &Event) {
        match event {
            Event::Started { title, .. } => self.print(&format!("STARTED  {title}")),
            Event::Success {
                title, duration, ..
            } => self.print(&format!(
                "SUCCESS  {title} [{:.2}s]",
                duration.as_secs_f64()
            )),
            Event::Skipped { title, .. } => self.print(&format!("SKIPPED  {title}")),
            Event::Restored {
                title, duration, ..
            } => self.print(&format!(
                "CACHED   {title} [{:.2}s]",
                duration.as_secs_f64()
            )),
            Event::Failed {
                title,
                duration,
                error,
                ..
            } => {
                self.print(&format!(
                    "FAILED   {title} [{:.2}s]",
                    duration.as_secs_f64()
                ));
                self.eprint(&format!("buildchain: {title}: {error}"));
            }
            Event::Log { task, message } => {
                if task.is_empty() {
                    self.eprint(&format!("buildchain: warning: {message}"));
                } else if self.verbose || message.starts_with("warning: ") {
                    self.eprint(&format!("         {task}: {message}"));
                }
            }
            Event::Planned { .. } | Event::Progress { .. } => {}
        }
    }

    fn bars(&self, event: &Event) {
        let Some(b) = &self.bars else { return };
        match event {
            Event::Planned { count } => b.overall.inc_length(*count as u64),
            Event::Success { task, .. }
            | Event::Skipped { task, .. }
            | Event::Restored { task, .. }
            | Event::Failed { task, .. } => {
                b.overall.inc(1);
                if let Some(bar) = b.tasks.lock().ok().and_then(|mut t| t.remove(task)) {
                    bar.finish_and_clear();
                    b.multi.remove(&bar);
                }
            }
            Event::Progress { task, done, total } => {
                if let Ok(mut tasks) = b.tasks.lock() {
                    let bar = tasks.entry(task.clone()).or_insert_with(|| {
                        let bar = b.multi.add(ProgressBar::new(*total));
                        bar.set_style(
                            ProgressStyle::with_template("     [{bar:30}] {percent:>3}% {msg}")
                                .unwrap_or_else(|_| ProgressStyle::default_bar())
                                .progress_chars("=> "),
                        );
                        bar.set_message(task.clone());
                        bar
                    });
                    bar.set_length(*total);
                    bar.set_position(*done);
                }
            }
            _ => {}
        }
    }

    /// Removes the progress bars.
    pub fn finish(&self) {
        if let Some(b) = &self.bars {
            b.overall.finish_and_clear();
            let _ = b.multi.clear();
        }
    }
}

impl Reporter for Output {
    fn event(&self, event: &Event) {
        self.write_log(event);
        match self.kind {
            Kind::Console => {
                self.bars(event);
                self.console(event);
            }
            Kind::Json => match event {
                Event::Log { task, message } => {
                    if task.is_empty() {
                        self.eprint(&format!("buildchain: warning: {message}"));
                    } else if self.verbose || message.starts_with("warning: ") {
                        self.eprint(&format!("{task}: {message}"));
                    }
                }
                _ => {
                    if let Some(value) = to_json(event) {
                        self.print(&value.to_string());
                    }
                }
            },
        }
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }
}
