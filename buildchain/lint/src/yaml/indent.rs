//! The `indentation` rule, token based like yamllint's: block mappings and sequences are
//! indented by a consistent (or configured) number of spaces relative to their parent, and
//! sequences inside mappings are indented (or not) consistently.

use yaml_rust2::scanner::{Scanner, TokenType};

/// How many spaces one indentation level is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spaces {
    /// The first indentation met in the file sets the width for the rest of it.
    Consistent,
    /// Exactly this many spaces.
    Exactly(usize),
}

/// Whether a block sequence that is a mapping value is indented under its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndentSequences {
    /// `key:\n  - item`
    Indented,
    /// `key:\n- item`
    NotIndented,
    /// Either, but the same everywhere in the file (the first one met wins).
    Consistent,
    /// Either, even mixed.
    Whatever,
}

/// Settings of the `indentation` rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndentConfig {
    pub spaces: Spaces,
    pub indent_sequences: IndentSequences,
}

impl Default for IndentConfig {
    /// yamllint's defaults: consistent spaces, sequences indented however but consistently
    /// (yamllint's default is `true`; `consistent` is what MetalK8s's tree needs, it mixes
    /// styles between files but not within one).
    fn default() -> Self {
        IndentConfig {
            spaces: Spaces::Consistent,
            indent_sequences: IndentSequences::Consistent,
        }
    }
}

/// A problem: 1-based line and column, message.
pub(crate) type Problem = (usize, usize, String);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Map(usize),
    Seq(usize),
    IndentlessSeq(usize),
}

impl Context {
    fn col(self) -> usize {
        match self {
            Context::Map(c) | Context::Seq(c) | Context::IndentlessSeq(c) => c,
        }
    }
}

struct Checker {
    config: IndentConfig,
    spaces: Option<usize>,
    sequences_indented: Option<bool>,
    problems: Vec<Problem>,
}

impl Checker {
    fn expect(&mut self, line: usize, found: usize, expected: usize) {
        if found != expected {
            self.problems.push((
                line,
                found + 1,
                format!("wrong indentation: expected {expected} but found {found}"),
            ));
        }
    }

    /// A nested block collection starting a new line at `found`, under a parent at `parent`.
    fn nested(&mut self, line: usize, found: usize, parent: usize) {
        match (self.config.spaces, self.spaces) {
            (Spaces::Exactly(n), _) | (Spaces::Consistent, Some(n)) => {
                self.expect(line, found, parent + n)
            }
            (Spaces::Consistent, None) => {
                if found > parent {
                    self.spaces = Some(found - parent);
                } else {
                    self.expect(line, found, parent + 1);
                }
            }
        }
    }

    /// A block sequence that is the value of a mapping key at `key_col`.
    fn sequence_in_mapping(&mut self, line: usize, found: usize, key_col: usize) {
        let indented = found > key_col;
        let wanted = match self.config.indent_sequences {
            IndentSequences::Whatever => indented,
            IndentSequences::Indented => true,
            IndentSequences::NotIndented => false,
            IndentSequences::Consistent => *self.sequences_indented.get_or_insert(indented),
        };
        if wanted {
            self.nested(line, found, key_col);
        } else {
            self.expect(line, found, key_col);
        }
    }
}

/// Checks the indentation of `text`; stops quietly at the first syntax error (reported by
/// the parser, not here).
pub(crate) fn check(text: &str, config: IndentConfig) -> Vec<Problem> {
    let mut checker = Checker {
        config,
        spaces: None,
        sequences_indented: None,
        problems: Vec::new(),
    };
    let mut stack: Vec<Context> = Vec::new();
    let mut flow_depth = 0usize;
    let mut previous_line = 0usize;
    let mut previous_was_value = false;
    // The scanner places `BlockMappingStart` after the first key; the key token that follows
    // has the real position. Holds the line of the token before the mapping started.
    let mut mapping_opened_after_line: Option<usize> = None;
    for token in Scanner::new(text.chars()) {
        let (line, col) = (token.0.line(), token.0.col());
        let line_before = previous_line;
        let after_value = previous_was_value;
        if !matches!(token.1, TokenType::BlockMappingStart) {
            previous_line = line;
        }
        previous_was_value = matches!(token.1, TokenType::Value);
        if flow_depth > 0 {
            match token.1 {
                TokenType::FlowSequenceStart | TokenType::FlowMappingStart => flow_depth += 1,
                TokenType::FlowSequenceEnd | TokenType::FlowMappingEnd => flow_depth -= 1,
                _ => {}
            }
            continue;
        }
        match token.1 {
            TokenType::FlowSequenceStart | TokenType::FlowMappingStart => flow_depth = 1,
            TokenType::DocumentStart | TokenType::DocumentEnd => stack.clear(),
            TokenType::BlockMappingStart => mapping_opened_after_line = Some(line_before),
            TokenType::BlockSequenceStart => {
                match stack.last().copied() {
                    None => checker.expect(line, col, 0),
                    Some(parent @ Context::Map(_)) if line != line_before => {
                        checker.sequence_in_mapping(line, col, parent.col())
                    }
                    Some(parent) if line != line_before => checker.nested(line, col, parent.col()),
                    Some(_) => {}
                }
                stack.push(Context::Seq(col));
            }
            TokenType::BlockEntry => {
                // A dash directly in a mapping starts an indentless sequence: the dash is at
                // the keys' column (the token's own mark is after the dash).
                if let Some(Context::Map(key_col)) = stack.last().copied() {
                    if after_value || line != line_before {
                        checker.sequence_in_mapping(line, key_col, key_col);
                    }
                    stack.push(Context::IndentlessSeq(key_col));
                }
            }
            TokenType::Key => {
                if let Some(opened_after) = mapping_opened_after_line.take() {
                    match stack.last().copied() {
                        None => checker.expect(line, col, 0),
                        Some(parent) if line != opened_after => {
                            checker.nested(line, col, parent.col())
                        }
                        Some(_) => {}
                    }
                    stack.push(Context::Map(col));
                } else if let Some(Context::IndentlessSeq(_)) = stack.last() {
                    stack.pop();
                }
            }
            TokenType::BlockEnd => {
                if let Some(Context::IndentlessSeq(_)) = stack.last() {
                    stack.pop();
                }
                stack.pop();
            }
            _ => {}
        }
    }
    checker.problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str, config: IndentConfig) -> Vec<usize> {
        check(text, config).into_iter().map(|p| p.0).collect()
    }

    #[test]
    fn consistent_two_spaces_pass() {
        let text = "a:\n  b:\n    c: 1\n  d:\n    - x\n    - y: 1\n      z: 2\n";
        assert_eq!(lines(text, IndentConfig::default()), Vec::<usize>::new());
    }

    #[test]
    fn inconsistent_spaces_are_found() {
        let text = "a:\n  b:\n      c: 1\n";
        assert_eq!(lines(text, IndentConfig::default()), vec![3]);
        let text = "a:\n    b: 1\nc:\n  d: 1\n";
        assert_eq!(lines(text, IndentConfig::default()), vec![4]);
    }

    #[test]
    fn fixed_spaces() {
        let config = IndentConfig {
            spaces: Spaces::Exactly(4),
            indent_sequences: IndentSequences::Whatever,
        };
        assert_eq!(lines("a:\n  b: 1\n", config), vec![2]);
        assert_eq!(lines("a:\n    b: 1\n", config), Vec::<usize>::new());
    }

    #[test]
    fn sequence_styles() {
        let mixed = "a:\n- 1\nb:\n  - 2\n";
        assert_eq!(lines(mixed, IndentConfig::default()), vec![4]);
        let whatever = IndentConfig {
            indent_sequences: IndentSequences::Whatever,
            ..IndentConfig::default()
        };
        assert_eq!(lines(mixed, whatever), Vec::<usize>::new());
        let indented = IndentConfig {
            indent_sequences: IndentSequences::Indented,
            ..IndentConfig::default()
        };
        assert_eq!(lines(mixed, indented), vec![2]);
        let list_of_maps = "a:\n- b: 1\n  c:\n  - 2\nd: 3\n";
        assert_eq!(
            lines(list_of_maps, IndentConfig::default()),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn root_must_start_at_column_zero_and_flow_is_ignored() {
        assert_eq!(lines("  a: 1\n", IndentConfig::default()), vec![1]);
        let flow = "a: {b: 1,\n        c: 2}\nd:\n  e: [1,\n 2]\n";
        assert_eq!(lines(flow, IndentConfig::default()), Vec::<usize>::new());
    }
}
