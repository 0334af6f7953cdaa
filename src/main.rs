use std::process::ExitCode;

fn main() -> ExitCode {
    sagemaker_guard::cli::main()
}
