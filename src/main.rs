//! Binary entry point: hands the command line to [`crmgate::cli`].

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    crmgate::cli::main()
}
