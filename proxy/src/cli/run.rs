//! `lychgate run`: loads the policy and serves. The HTTP proxy and DNS filter are separate pieces
//! of work; until they land, `run` loads and checks everything, says what it will serve, and
//! waits for Ctrl-C or SIGTERM.

use super::check::summary;
use super::load_config;
use std::io::IsTerminal as _;
use std::path::Path;

pub(super) fn run(config: Option<&Path>) -> anyhow::Result<u8> {
    // Colour only on a terminal: under systemd or a pipe, escape codes would pollute the log.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let config = match load_config(config) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    print!("{}", summary(&config));
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    if !config.list_warnings.is_empty() {
        tracing::warn!(
            bad_lines = config.list_warnings.len(),
            "some list lines were skipped; run `lychgate check-config` for details"
        );
    }
    tracing::info!(
        proxy = %config.listen.proxy,
        dns = %config.listen.dns,
        admin = %config.listen.admin,
        "policy loaded; the proxy and DNS listeners are not part of this build yet — waiting for Ctrl-C"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(shutdown_signal());
    tracing::info!("shutting down");
    Ok(0)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
