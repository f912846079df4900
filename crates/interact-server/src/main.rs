//! `interact-server`: the reference server's command line ([`interact_server::cli`]).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    interact_server::cli::main().await
}
