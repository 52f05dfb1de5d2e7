//! What the command prints, and how.
//!
//! - `println!` and `eprintln!` in this crate are the two macros below, not std's: a line written to a closed pipe
//!   (`facecheck detect IMG | head -c 10`) ends the process quietly with status 141, what a program killed by
//!   SIGPIPE reports (Rust ignores the signal, and std's macros would panic). Another write error (a full disk) is
//!   reported once and ends it with status 1.
//! - [`escaped`]: text that comes from a statement, a token, a file or a folder listing is escaped before it goes
//!   into a line meant for a person, so that it cannot carry terminal control sequences (which could, say, erase
//!   "registered" and print "registration rejected" instead) or reorder the line (bidirectional overrides).
//!   [`json_escaped`] does the same for JSON meant for a terminal: serde escapes only the ASCII control
//!   characters, and leaves the C1 controls (U+009B is a CSI on some terminals), DEL and the format characters as
//!   they are.

use std::fmt;
use std::io::{ErrorKind, Write};

/// `println!`, ending quietly on a closed pipe (see the module doc).
macro_rules! println {
    () => {
        $crate::output::line(&mut ::std::io::stdout(), format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::line(&mut ::std::io::stdout(), format_args!($($arg)*))
    };
}

/// `eprintln!`, ending quietly on a closed pipe (see the module doc).
macro_rules! eprintln {
    () => {
        $crate::output::line(&mut ::std::io::stderr(), format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::line(&mut ::std::io::stderr(), format_args!($($arg)*))
    };
}

/// The status of a process that wrote to a closed pipe (128 + SIGPIPE).
pub const CLOSED_PIPE_STATUS: i32 = 141;

/// Writes `args` and a newline to `out`, or ends the process (see the module doc).
pub fn line(out: &mut impl Write, args: fmt::Arguments<'_>) {
    if let Err(e) = writeln!(out, "{args}").and_then(|()| out.flush()) {
        if e.kind() == ErrorKind::BrokenPipe {
            std::process::exit(CLOSED_PIPE_STATUS);
        }
        let _ = writeln!(std::io::stderr(), "facecheck: cannot write the output: {e}");
        std::process::exit(1);
    }
}

/// `text` with every character that is not printable as such (control characters, including escape; format
/// characters such as bidirectional overrides and zero-width spaces; separators other than the space; combining
/// marks) and the backslash written as Rust escapes (`\u{1b}`, `\\`). Quotes are left as they are.
pub fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' | '\'' => out.push(c),
            _ => out.extend(c.escape_debug()),
        }
    }
    out
}

/// Serialised JSON with DEL and every non-ASCII character [`escaped`] would escape written as `\uXXXX` escapes: the
/// same JSON value, safe on a terminal. (Such characters only occur inside strings: the layout is ASCII.)
pub fn json_escaped(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c == '\u{7f}' || (!c.is_ascii() && c.escape_debug().count() > 1) {
            for unit in c.encode_utf16(&mut [0; 2]) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{escaped, json_escaped};

    #[test]
    fn json_keeps_its_value_and_loses_what_a_terminal_would_act_on() {
        let value = serde_json::json!({"sub": "d\u{9b}31m\u{202e}x\u{7f}é\u{e0001}", "n": 1});
        let json = json_escaped(&serde_json::to_string_pretty(&value).expect("serialises"));
        assert!(json.chars().all(|c| (c.is_ascii() && c != '\u{7f}') || c == 'é'), "{json}");
        assert!(json.contains("\\u009b31m\\u202ex\\u007f"), "{json}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&json).expect("still JSON"), value);
    }

    #[test]
    fn escapes_what_a_terminal_would_act_on() {
        assert_eq!(escaped("driver-7 é \"x\""), "driver-7 é \"x\"");
        assert_eq!(escaped("a\u{1b}[2K\rb"), "a\\u{1b}[2K\\rb");
        assert_eq!(escaped("\u{9b}31m"), "\\u{9b}31m", "C1 control (8-bit CSI)");
        assert_eq!(escaped("x\u{202e}y\u{2066}\u{200b}"), "x\\u{202e}y\\u{2066}\\u{200b}", "format characters");
        assert_eq!(escaped("a\nb\u{2028}c\\"), "a\\nb\\u{2028}c\\\\");
    }
}
