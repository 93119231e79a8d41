//! `lychgate run`: loads the policy, binds every listener, prints where it listens (one
//! `listening WHAT ADDRESS` line each, then `ready`, so scripts and tests can find ports chosen
//! by the kernel), and serves until Ctrl-C or SIGTERM, then drains and flushes the log.
//! SIGHUP and SIGUSR1 are caught from the first moment (the default action of either would kill
//! the daemon and lose queued log lines). SIGUSR1 opens the request log again at its path (as
//! nginx does: logrotate's `postrotate` sends it); SIGHUP is said out loud and does the same,
//! changing nothing else until live reload exists.

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
    // The runtime and the signal handlers come before the config: `systemctl reload` or a log
    // tool sending SIGHUP or SIGUSR1 while the lists load must not kill the daemon either.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (hangups, reopens) = {
        let _in_runtime = runtime.enter();
        (caught(Signal::Hangup), caught(Signal::ReopenLog))
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
            bad_lines = config.bad_list_lines,
            "some list lines were skipped; run `lychgate check-config` for details"
        );
    }
    let hangup = Arc::new(Notify::new());
    if let Some(hangups) = hangups {
        runtime.spawn(answer(Signal::Hangup, hangups, Arc::clone(&hangup)));
    }
    if let Some(reopens) = reopens {
        runtime.spawn(answer(Signal::ReopenLog, reopens, Arc::clone(&hangup)));
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
type Caught = tokio::signal::unix::Signal;
#[cfg(not(unix))]
type Caught = std::convert::Infallible;

/// The signals `run` answers besides the ones that stop it.
#[derive(Debug, Clone, Copy)]
enum Signal {
    /// SIGHUP: `systemctl reload` and many log tools.
    Hangup,
    /// SIGUSR1: open the request log again (logrotate's `postrotate`, as for nginx).
    ReopenLog,
}

impl Signal {
    const fn name(self) -> &'static str {
        match self {
            Signal::Hangup => "SIGHUP",
            Signal::ReopenLog => "SIGUSR1",
        }
    }
}

/// Installs a handler (must run inside the runtime). `None` if the OS refused, which is said:
/// the signal would then keep its default action, which stops the daemon.
fn caught(which: Signal) -> Option<Caught> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let kind = match which {
            Signal::Hangup => SignalKind::hangup(),
            Signal::ReopenLog => SignalKind::user_defined1(),
        };
        match signal(kind) {
            Ok(s) => Some(s),
            Err(e) => {
                let name = which.name();
                tracing::error!(error = %e, "cannot catch {name}: a {name} would stop the daemon");
                None
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = which;
        None
    }
}

/// Says, for every signal, what it does, and passes it on to the daemon, which opens the request
/// log again at its path (for log tools that rotate and signal). Policy, listeners and
/// connections carry on untouched.
async fn answer(which: Signal, mut signals: Caught, reopen_log: Arc<Notify>) {
    #[cfg(unix)]
    while signals.recv().await.is_some() {
        match which {
            Signal::Hangup => tracing::warn!(
                "SIGHUP received: live reload is not available yet, so the running configuration \
                 is unchanged and nothing was interrupted (restart the service to apply changes); \
                 the request log is opened again at its path"
            ),
            Signal::ReopenLog => {
                tracing::info!("SIGUSR1 received: the request log is opened again at its path");
            }
        }
        reopen_log.notify_one();
    }
    #[cfg(not(unix))]
    {
        let _ = (which, reopen_log);
        match signals {}
    }
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
