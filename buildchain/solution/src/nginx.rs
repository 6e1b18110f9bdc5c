//! A small reader of nginx configuration text, enough to check the registry include a
//! Solution ships. Hand-written: the include is a Jinja template (`{{ repository }}` in
//! unquoted words), which no nginx parser crate accepts.

/// One directive: its words (quotes removed) and its block, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub args: Vec<String>,
    pub block: Option<Vec<Directive>>,
    pub line: usize,
}

impl Directive {
    /// The first directive of the block named `name`.
    pub fn child(&self, name: &str) -> Option<&Directive> {
        self.block
            .as_ref()?
            .iter()
            .find(|d| d.args.first().is_some_and(|a| a == name))
    }

    /// Every directive of the block named `name`.
    pub fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Directive> + 'a {
        self.block
            .iter()
            .flatten()
            .filter(move |d| d.args.first().is_some_and(|a| a == name))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String, usize),
    Open(usize),
    Close(usize),
    Semicolon(usize),
}

const MAX_DEPTH: usize = 32;

/// Parses configuration text into directives; the error names the line.
pub fn parse(text: &str) -> Result<Vec<Directive>, String> {
    let tokens = tokenize(text)?;
    let mut pos = 0;
    let directives = parse_block(&tokens, &mut pos, 0)?;
    if let Some(token) = tokens.get(pos) {
        return Err(format!("line {}: unexpected `}}`", line_of(token)));
    }
    Ok(directives)
}

fn line_of(token: &Token) -> usize {
    match token {
        Token::Word(_, l) | Token::Open(l) | Token::Close(l) | Token::Semicolon(l) => *l,
    }
}

fn parse_block(tokens: &[Token], pos: &mut usize, depth: usize) -> Result<Vec<Directive>, String> {
    if depth > MAX_DEPTH {
        return Err("blocks nested too deeply".to_string());
    }
    let mut out = Vec::new();
    let mut args: Vec<String> = Vec::new();
    let mut first_line = 0;
    while let Some(token) = tokens.get(*pos) {
        match token {
            Token::Word(word, line) => {
                if args.is_empty() {
                    first_line = *line;
                }
                args.push(word.clone());
                *pos += 1;
            }
            Token::Semicolon(line) => {
                if args.is_empty() {
                    return Err(format!("line {line}: `;` without a directive"));
                }
                out.push(Directive {
                    args: std::mem::take(&mut args),
                    block: None,
                    line: first_line,
                });
                *pos += 1;
            }
            Token::Open(line) => {
                if args.is_empty() {
                    return Err(format!("line {line}: `{{` without a directive"));
                }
                *pos += 1;
                let block = parse_block(tokens, pos, depth + 1)?;
                match tokens.get(*pos) {
                    Some(Token::Close(_)) => *pos += 1,
                    _ => return Err(format!("line {line}: block never closed")),
                }
                out.push(Directive {
                    args: std::mem::take(&mut args),
                    block: Some(block),
                    line: first_line,
                });
            }
            Token::Close(line) => {
                if !args.is_empty() {
                    return Err(format!("line {line}: directive without `;` before `}}`"));
                }
                if depth == 0 {
                    return Err(format!("line {line}: unexpected `}}`"));
                }
                return Ok(out);
            }
        }
    }
    if !args.is_empty() {
        return Err(format!(
            "line {first_line}: directive without `;` at end of file"
        ));
    }
    Ok(out)
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let mut word = String::new();
    let mut word_line = 1;
    let mut in_word = false;
    macro_rules! flush {
        () => {
            if in_word {
                tokens.push(Token::Word(std::mem::take(&mut word), word_line));
                in_word = false;
            }
        };
    }
    while i < chars.len() {
        let c = chars[i];
        // Jinja: `{{ … }}` is part of a word; `{% … %}` and `{# … #}` are skipped.
        if c == '{' && matches!(chars.get(i + 1), Some('{' | '%' | '#')) {
            let close = match chars[i + 1] {
                '{' => '}',
                other => other,
            };
            let start_line = line;
            let mut j = i + 2;
            loop {
                match chars.get(j) {
                    None => return Err(format!("line {start_line}: unterminated Jinja tag")),
                    Some('\n') => line += 1,
                    Some(&ch) if ch == close && chars.get(j + 1) == Some(&'}') => break,
                    _ => {}
                }
                j += 1;
            }
            if chars[i + 1] == '{' {
                if !in_word {
                    in_word = true;
                    word_line = start_line;
                }
                word.extend(&chars[i..j + 2]);
            }
            i = j + 2;
            continue;
        }
        match c {
            '\n' | ' ' | '\t' | '\r' => {
                flush!();
                if c == '\n' {
                    line += 1;
                }
                i += 1;
            }
            '#' if !in_word => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '{' => {
                flush!();
                tokens.push(Token::Open(line));
                i += 1;
            }
            '}' => {
                flush!();
                tokens.push(Token::Close(line));
                i += 1;
            }
            ';' => {
                flush!();
                tokens.push(Token::Semicolon(line));
                i += 1;
            }
            '\'' | '"' if !in_word => {
                let start_line = line;
                let mut j = i + 1;
                let mut value = String::new();
                loop {
                    match chars.get(j) {
                        None => return Err(format!("line {start_line}: unterminated quote")),
                        Some('\\') => {
                            if let Some(&next) = chars.get(j + 1) {
                                if next != c && next != '\\' {
                                    value.push('\\');
                                }
                                value.push(next);
                            }
                            j += 2;
                        }
                        Some(&ch) if ch == c => break,
                        Some(&ch) => {
                            if ch == '\n' {
                                line += 1;
                            }
                            value.push(ch);
                            j += 1;
                        }
                    }
                }
                tokens.push(Token::Word(value, start_line));
                i = j + 1;
            }
            _ => {
                if !in_word {
                    in_word = true;
                    word_line = line;
                }
                word.push(c);
                i += 1;
            }
        }
    }
    if in_word {
        tokens.push(Token::Word(word, word_line));
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_template() {
        let text = "# comment\nlocation = /v2/{{ repository }}/a/tags/list {\n    types { } default_type \"application/json\";\n    return 200 '{\"name\": \"a\", \"tags\": [\"1\"]}';\n}\n";
        let directives = parse(text).unwrap();
        assert_eq!(directives.len(), 1);
        let location = &directives[0];
        assert_eq!(
            location.args,
            ["location", "=", "/v2/{{ repository }}/a/tags/list"]
        );
        let ret = location.child("return").unwrap();
        assert_eq!(ret.args[2], "{\"name\": \"a\", \"tags\": [\"1\"]}");
        assert_eq!(location.child("types").unwrap().block, Some(vec![]));
    }

    #[test]
    fn malformed_is_an_error() {
        for bad in [
            "location / {",
            "}",
            "a b",
            "location / { 'x }",
            "{{ x",
            "a;;",
            "{ }",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let deep = "a {".repeat(100) + &"}".repeat(100);
        assert!(parse(&deep).is_err());
    }
}
