//! The `temper` binary, built inside this crate so the tests can find it:
//! Cargo exposes a binary's path only to integration tests of its own package.

fn main() -> std::process::ExitCode {
    temper_gateway::cli::main()
}
