//! `lychgate run`: loads the policy, binds every listener, prints where it listens (one
//! `listening WHAT ADDRESS` line each, then `ready`, so scripts and tests can find ports chosen
//! by the kernel), and serves until Ctrl-C or SIGTERM, then drains and flushes the log.
//! SIGHUP is caught from the first moment (its default action would kill the daemon and lose
//! queued log lines) and said out loud; it opens the request log again at its path and changes
//! nothing else until live reload exists.

use super::check::summary;
use super::load_config;
use std::io::{IsTerminal as _, Write as _};
use std::path::Path;
use std::sync::Arc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub(super) fn run(config: Option<&Path>) -> anyhow::Result<u8> {
    // Colour only on a terminal: under systemd or a pipe, escape codes would pollute the log.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    // The runtime and the SIGHUP handler come before the config: `systemctl reload` or a log
    // tool sending SIGHUP while the lists load must not kill the daemon either.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let hangups = {
        let _in_runtime = runtime.enter();
        hangup_signals()
    };
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
    let hangup = Arc::new(Notify::new());
    if let Some(hangups) = hangups {
        runtime.spawn(answer_hangups(hangups, Arc::clone(&hangup)));
    }
    let shutdown = CancellationToken::new();
    let stopper = shutdown.clone();
    runtime.spawn(async move {
        shutdown_signal().await;
        tracing::info!("stopping: finishing requests in flight");
        stopper.cancel();
    });
    runtime.block_on(crate::daemon::run(
        config,
        crate::clock::system(),
        shutdown,
        hangup,
        |bound| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "listening proxy {}", bound.proxy);
            if let Some(a) = bound.transparent_http {
                let _ = writeln!(out, "listening transparent_http {a}");
            }
            if let Some(a) = bound.transparent_https {
                let _ = writeln!(out, "listening transparent_https {a}");
            }
            for a in &bound.dns {
                let _ = writeln!(out, "listening dns {a}");
            }
            let _ = writeln!(out, "listening admin {}", bound.admin);
            let _ = writeln!(out, "ready");
            let _ = out.flush();
        },
    ))?;
    tracing::info!("stopped");
    Ok(0)
}

#[cfg(unix)]
type Hangups = tokio::signal::unix::Signal;
#[cfg(not(unix))]
type Hangups = std::convert::Infallible;

/// Installs the SIGHUP handler (must run inside the runtime). `None` if the OS refused, which
/// is said: SIGHUP would then keep its default action.
fn hangup_signals() -> Option<Hangups> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::hangup()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!(error = %e, "cannot catch SIGHUP: a SIGHUP would stop the daemon");
                None
            }
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Says, for every SIGHUP, that it was received and that the configuration is unchanged, and
/// passes it on to the daemon, which opens the request log again at its path (for log tools
/// that rotate and signal). Policy, listeners and connections carry on untouched.
async fn answer_hangups(mut hangups: Hangups, hangup: Arc<Notify>) {
    #[cfg(unix)]
    while hangups.recv().await.is_some() {
        tracing::warn!(
            "SIGHUP received: live reload is not available yet, so the running configuration is \
             unchanged and nothing was interrupted (restart the service to apply changes); the \
             request log is opened again at its path"
        );
        hangup.notify_one();
    }
    #[cfg(not(unix))]
    match hangups {}
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
