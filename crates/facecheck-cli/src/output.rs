//! What the command prints, and how.
//!
//! - `println!` and `eprintln!` in this crate are the two macros below, not std's: a line written to a closed pipe
//!   (`facecheck detect IMG | head -c 10`) ends the process quietly with status 141, what a program killed by
//!   SIGPIPE reports (Rust ignores the signal, and std's macros would panic). Another write error (a full disk) is
//!   reported once and ends it with status 1.
//! - [`escaped`]: text that comes from a statement, a token, a file or a folder listing is escaped before it goes
//!   into a line meant for a person, so that it cannot carry terminal control sequences (which could, say, erase
//!   "registered" and print "registration rejected" instead) or reorder the line (bidirectional overrides).
//!   JSON output is escaped by serde already.

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

#[cfg(test)]
mod tests {
    use super::escaped;

    #[test]
    fn escapes_what_a_terminal_would_act_on() {
        assert_eq!(escaped("driver-7 é \"x\""), "driver-7 é \"x\"");
        assert_eq!(escaped("a\u{1b}[2K\rb"), "a\\u{1b}[2K\\rb");
        assert_eq!(escaped("\u{9b}31m"), "\\u{9b}31m", "C1 control (8-bit CSI)");
        assert_eq!(escaped("x\u{202e}y\u{2066}\u{200b}"), "x\\u{202e}y\\u{2066}\\u{200b}", "format characters");
        assert_eq!(escaped("a\nb\u{2028}c\\"), "a\\nb\\u{2028}c\\\\");
    }
}
