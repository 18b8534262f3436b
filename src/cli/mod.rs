//! The command line: parse arguments, call the library, map errors to exit statuses.

/// Runs the command line and returns the process exit status.
pub fn main() -> i32 {
    0
}
pub mod tcp;
