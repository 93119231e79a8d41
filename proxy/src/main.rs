//! The `lychgate` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    lychgate::cli::main()
}
