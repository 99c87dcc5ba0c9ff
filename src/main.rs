//! `alemtuzumab-cds`: see `cli` for the commands.

fn main() -> std::process::ExitCode {
    match alemtuzumab_cds::cli::run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("alemtuzumab-cds: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
