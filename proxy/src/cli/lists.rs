//! `lychgate lists stats` and `lychgate lists lookup HOST`.

use super::load_config;
use lychgate_classifier::category::CategoryId;
use lychgate_classifier::policy::Target;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

/// Prints a command's output. A reader that stops early (`lychgate lists stats | head`) closes
/// the pipe: that ends the command quietly, as it does for any Unix tool, instead of a panic.
fn print_out(text: &str) -> anyhow::Result<u8> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(0),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(anyhow::Error::new(e).context("writing to standard output")),
    }
}

pub(super) fn stats(config: Option<&Path>) -> anyhow::Result<u8> {
    let config = match load_config(config) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let p = &config.policy;
    let mut out = super::check::list_rows(&config, "");
    let idx = p.domain_index();
    let _ = writeln!(
        out,
        "index: {} distinct domains, {} bytes ({:.1} bytes/domain); phrases: {}; loaded in {:.0} ms",
        idx.len(),
        idx.heap_bytes(),
        if idx.is_empty() {
            0.0
        } else {
            idx.heap_bytes() as f64 / idx.len() as f64
        },
        p.phrases().len(),
        config.load_time.as_secs_f64() * 1000.0
    );
    print_out(&out)
}

pub(super) fn lookup(config: Option<&Path>, input: &str) -> anyhow::Result<u8> {
    let config = match load_config(config) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let p = &config.policy;
    let target = match Target::parse(input) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("lychgate: `{input}` is not a host: {e}");
            return Ok(super::EXIT_CONFIG);
        }
    };
    let host = target
        .request(lychgate_classifier::policy::RequestKind::HostOnly)
        .host
        .to_string();
    let cats = p.host_categories(&host);
    if cats.is_empty() {
        return print_out(&format!("{host}: on no list\n"));
    }
    let names: Vec<&str> = cats.iter().map(|c| p.categories().name(c)).collect();
    let mut out = format!("{host}: {}\n", names.join(", "));
    for (list, line) in p.find_domain_sources(&host) {
        let l = p.list(list);
        if l.category == Some(CategoryId::ILLEGAL) {
            // IWF members must keep the list's entries confidential: name the list only.
            let _ = writeln!(out, "  illegal: on list `{}`", l.name);
        } else {
            let _ = writeln!(
                out,
                "  {}: {}:{line}",
                l.category.map_or("-", |c| p.categories().name(c)),
                l.origin.display_path().display()
            );
        }
    }
    print_out(&out)
}
