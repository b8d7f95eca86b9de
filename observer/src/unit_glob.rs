//! `-u` patterns, as `journalctl -u` and `systemctl` take them (fnmatch(3) without flags): `*`,
//! `?` and character classes `[abc]`, `[a-z]`, `[!x]` (or `[^x]`). A backslash is an ordinary
//! character (unit names hold escapes like `\x2d`). A bare name (no `.`) matches its
//! `.service`. A pattern fnmatch would call malformed (an unclosed `[`) is refused when given.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// `*`: any run of characters.
    Any,
    /// `?`: one character.
    One,
    /// `[…]`: one character in (or, negated, not in) these ranges.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    Literal(char),
}

fn tokens(pattern: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        out.push(match chars[i] {
            '*' => Token::Any,
            '?' => Token::One,
            '[' => {
                let mut j = i + 1;
                let negated = matches!(chars.get(j), Some('!' | '^'));
                if negated {
                    j += 1;
                }
                let first = j;
                let mut ranges = Vec::new();
                loop {
                    let Some(&c) = chars.get(j) else {
                        return Err(format!(
                            "unclosed '[' in {pattern:?}: a character class ends with ']'"
                        ));
                    };
                    // A ']' first in the class is one of its members, as fnmatch reads it.
                    if c == ']' && j > first {
                        break;
                    }
                    match (chars.get(j + 1), chars.get(j + 2)) {
                        (Some('-'), Some(&end)) if end != ']' => {
                            ranges.push((c, end));
                            j += 3;
                        }
                        _ => {
                            ranges.push((c, c));
                            j += 1;
                        }
                    }
                }
                i = j;
                Token::Class { negated, ranges }
            }
            c => Token::Literal(c),
        });
        i += 1;
    }
    Ok(out)
}

/// Whether `pattern` is a glob `-u` can take; the error says what is wrong with it.
pub fn check(pattern: &str) -> Result<(), String> {
    tokens(pattern).map(drop)
}

/// Whether unit `name` matches `pattern` (a pattern [`check`] refuses matches nothing).
pub fn matches(pattern: &str, name: &str) -> bool {
    let Ok(mut p) = tokens(pattern) else {
        return false;
    };
    let t: Vec<char> = name.chars().collect();
    if go(&p, &t) {
        return true;
    }
    // A bare name matches its .service, like systemctl/journalctl.
    !pattern.contains('.') && {
        p.extend(".service".chars().map(Token::Literal));
        go(&p, &t)
    }
}

fn go(p: &[Token], t: &[char]) -> bool {
    match (p.first(), t.first()) {
        (None, None) => true,
        (Some(Token::Any), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
        (Some(Token::One), Some(_)) => go(&p[1..], &t[1..]),
        (Some(Token::Class { negated, ranges }), Some(c)) => {
            ranges.iter().any(|(lo, hi)| (lo..=hi).contains(&c)) != *negated && go(&p[1..], &t[1..])
        }
        (Some(Token::Literal(a)), Some(b)) if a == b => go(&p[1..], &t[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
