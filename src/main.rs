fn main() {
    std::process::exit(swarmlab::cli::main());
}
