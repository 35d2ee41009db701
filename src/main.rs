//! The `gatehouse` binary: parses the command line and hands over to the library.

use clap::Parser;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    let cli = gatehouse::cli::Cli::parse();
    match gatehouse::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

/// glibc gives each thread that allocates an arena of its own, up to eight
/// per core, and each keeps the pages it has used. Most of Gatehouse's
/// threads (one per SQLite connection) allocate little; two arenas serve
/// them all, with about 0.7 MB less resident at idle and no difference in
/// speed that `benches/sign_in.rs` can tell from these machines' noise.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    // SAFETY: mallopt only sets a parameter of the allocator, and this
    // runs before any other thread is started.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
