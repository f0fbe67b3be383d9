fn main() -> std::process::ExitCode {
    temper_gateway::cli::main()
}
