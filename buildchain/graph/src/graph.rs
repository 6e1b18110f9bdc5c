use std::collections::HashMap;

use crate::error::{render_chain, GraphError};
use crate::glob::{glob_match, is_pattern};
use crate::task::Task;

/// The set of defined tasks.
#[derive(Default, Clone)]
pub struct Graph {
    tasks: Vec<Task>,
    index: HashMap<String, usize>,
}

fn validate_name(name: &str) -> Result<(), GraphError> {
    let invalid = |rule| GraphError::InvalidName {
        name: name.to_string(),
        rule,
    };
    if name.is_empty() {
        return Err(invalid("empty"));
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("no whitespace or control characters"));
    }
    if is_pattern(name) {
        return Err(invalid("'*' and '?' are reserved for selection patterns"));
    }
    Ok(())
}

impl Graph {
    pub fn new() -> Self {
        Graph::default()
    }

    /// Adds a task; names are unique.
    pub fn add(&mut self, task: Task) -> Result<(), GraphError> {
        validate_name(&task.name)?;
        if self.index.contains_key(&task.name) {
            return Err(GraphError::DuplicateTask(task.name));
        }
        self.index.insert(task.name.clone(), self.tasks.len());
        self.tasks.push(task);
        Ok(())
    }

    pub fn add_all(&mut self, tasks: impl IntoIterator<Item = Task>) -> Result<(), GraphError> {
        tasks.into_iter().try_for_each(|t| self.add(t))
    }

    pub fn get(&self, name: &str) -> Option<&Task> {
        self.index.get(name).map(|&i| &self.tasks[i])
    }

    pub(crate) fn index_of(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    pub(crate) fn task(&self, i: usize) -> &Task {
        &self.tasks[i]
    }

    /// Every task, in definition order.
    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }

    /// Resolves names and glob patterns (`*`, `?`) to task names, in the order given
    /// (duplicates removed). A name or pattern that matches nothing is an error.
    pub fn select(&self, patterns: &[String]) -> Result<Vec<String>, GraphError> {
        let mut out: Vec<String> = Vec::new();
        for pattern in patterns {
            let matched: Vec<&str> = if is_pattern(pattern) {
                self.tasks
                    .iter()
                    .filter(|t| glob_match(pattern, &t.name))
                    .map(|t| t.name.as_str())
                    .collect()
            } else {
                self.get(pattern)
                    .map(|t| t.name.as_str())
                    .into_iter()
                    .collect()
            };
            if matched.is_empty() {
                return Err(if is_pattern(pattern) {
                    GraphError::NoMatch(pattern.clone())
                } else {
                    GraphError::UnknownTask(pattern.clone())
                });
            }
            for name in matched {
                if !out.iter().any(|n| n == name) {
                    out.push(name.to_string());
                }
            }
        }
        Ok(out)
    }

    /// Adds the tasks created by `create_after` generators, evaluated now with whatever is
    /// on disk (for `list`, `info`, `clean`). Returns the generators' errors as messages.
    pub fn expand(&mut self) -> Vec<String> {
        let mut errors = Vec::new();
        let mut i = 0;
        while i < self.tasks.len() {
            if let Some(generate) = self.tasks[i].create_after.clone() {
                match generate() {
                    Ok(children) => {
                        for child in children {
                            if self.index.contains_key(&child.name) {
                                continue;
                            }
                            if let Err(e) = self.add(child) {
                                errors.push(e.to_string());
                            }
                        }
                    }
                    Err(e) => errors.push(format!(
                        "task '{}': cannot create its sub-tasks: {}",
                        self.tasks[i].name,
                        render_chain(e.as_ref())
                    )),
                }
            }
            i += 1;
        }
        errors
    }

    /// Whether running `names` runs `task` (it is one of them or one of their dependencies).
    pub fn runs(&self, names: &[String], task: &str) -> bool {
        self.closure(names)
            .is_ok_and(|order| order.iter().any(|&i| self.tasks[i].name == task))
    }

    /// The selected tasks and everything they depend on, dependencies first.
    pub(crate) fn closure(&self, names: &[String]) -> Result<Vec<usize>, GraphError> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            None,
            Visiting,
            Done,
        }
        let mut marks = vec![Mark::None; self.tasks.len()];
        let mut order = Vec::new();
        // Iterative DFS keeping the path for cycle reports.
        for name in names {
            let root = self
                .index_of(name)
                .ok_or_else(|| GraphError::UnknownTask(name.clone()))?;
            if marks[root] == Mark::Done {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
            marks[root] = Mark::Visiting;
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                let deps = &self.tasks[node].task_deps;
                if *next < deps.len() {
                    let dep_name = &deps[*next];
                    *next += 1;
                    let dep =
                        self.index_of(dep_name)
                            .ok_or_else(|| GraphError::UnknownDependency {
                                task: self.tasks[node].name.clone(),
                                dep: dep_name.clone(),
                            })?;
                    match marks[dep] {
                        Mark::Done => {}
                        Mark::Visiting => {
                            let start = stack.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                            let mut cycle: Vec<String> = stack[start..]
                                .iter()
                                .map(|(n, _)| self.tasks[*n].name.clone())
                                .collect();
                            cycle.push(self.tasks[dep].name.clone());
                            return Err(GraphError::Cycle(cycle));
                        }
                        Mark::None => {
                            marks[dep] = Mark::Visiting;
                            stack.push((dep, 0));
                        }
                    }
                } else {
                    marks[node] = Mark::Done;
                    order.push(node);
                    stack.pop();
                }
            }
        }
        Ok(order)
    }

    /// The selected tasks and their sub-tasks (recursively), dependents first: the order
    /// in which to clean.
    pub(crate) fn clean_set(&self, names: &[String]) -> Result<Vec<usize>, GraphError> {
        let mut seen = vec![false; self.tasks.len()];
        let mut order = Vec::new();
        let mut queue: Vec<usize> = Vec::new();
        for name in names {
            let i = self
                .index_of(name)
                .ok_or_else(|| GraphError::UnknownTask(name.clone()))?;
            queue.push(i);
        }
        while let Some(i) = queue.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            order.push(i);
            for sub in &self.tasks[i].subtasks {
                let j = self
                    .index_of(sub)
                    .ok_or_else(|| GraphError::UnknownDependency {
                        task: self.tasks[i].name.clone(),
                        dep: sub.clone(),
                    })?;
                queue.push(j);
            }
        }
        // Dependents before their dependencies: reverse of a topological order.
        let topo = self.closure(
            &order
                .iter()
                .map(|&i| self.tasks[i].name.clone())
                .collect::<Vec<_>>(),
        )?;
        Ok(topo.into_iter().rev().filter(|i| seen[*i]).collect())
    }
}
