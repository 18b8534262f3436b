//! The `swarmlab` binary: everything is in the library; see `swarmlab::cli`.

fn main() {
    std::process::exit(swarmlab::cli::main());
}
