//! The `newsledger` binary: everything lives in the library; see `cli`.

fn main() -> std::process::ExitCode {
    newsledger::cli::main()
}
