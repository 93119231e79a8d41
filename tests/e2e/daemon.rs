//! A running `lychgate run` on loopback ports chosen by the kernel, a loopback origin it can
//! reach under real names (via `[[static_host]]`), and a raw HTTP client that can pick its
//! source address (127.0.0.x) to act as different classrooms.

use crate::support::{data, root};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running daemon; stopped (SIGTERM, then wait) when dropped.
pub struct Daemon {
    child: Child,
    /// Explicit proxy address.
    pub proxy: SocketAddr,
    /// Admin address.
    pub admin: SocketAddr,
    /// Transparent port-80 listener.
    pub transparent_http: Option<SocketAddr>,
    /// Transparent port-443 listener.
    pub transparent_https: Option<SocketAddr>,
    /// The filtering DNS server's listeners, in the order printed (UDP and TCP on each).
    pub dns: Vec<SocketAddr>,
    /// The folder holding config, log and state.
    pub dir: tempfile::TempDir,
    stderr: Arc<Mutex<String>>,
}

/// The default config, moved onto kernel-chosen ports with its log in `dir`, plus `extra` TOML.
pub fn config_text(dir: &Path, extra: &str) -> String {
    let text =
        std::fs::read_to_string(root().join("config/lychgate.toml")).expect("default config");
    let mut out = String::new();
    for line in text.lines() {
        let replaced = match line.split('=').next().map(str::trim) {
            Some("proxy") if line.contains("127.0.0.1:") => "proxy = \"127.0.0.1:0\"".to_string(),
            Some("admin") if line.contains("127.0.0.1:") => "admin = \"127.0.0.1:0\"".to_string(),
            Some("dns") if line.contains("127.0.0.1:") => "dns = \"127.0.0.1:0\"".to_string(),
            Some("transparent_http") => "transparent_http = \"127.0.0.1:0\"".to_string(),
            Some("transparent_https") => "transparent_https = \"127.0.0.1:0\"".to_string(),
            Some("dir") if line.contains("var/") => {
                format!("dir = \"{}\"", dir.join("log").display())
            }
            Some("state_dir") if line.contains("var/") => {
                format!("state_dir = \"{}\"", dir.join("state").display())
            }
            _ => line.to_string(),
        };
        out.push_str(&replaced);
        out.push('\n');
    }
    out.push_str(&format!(
        "\n[[list]]\ncategory = \"illegal\"\nname = \"fake IWF list\"\npath = \"{}\"\n",
        data().join("fake-illegal.txt").display()
    ));
    out.push_str(extra);
    out
}

impl Daemon {
    /// Starts the daemon on the default config plus `extra`.
    pub fn start(extra: &str) -> Daemon {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = config_text(dir.path(), extra);
        Self::start_with(dir, &text)
    }

    /// Starts the daemon with extra `[proxy]` keys (the default config has that table).
    pub fn start_tuned(proxy_keys: &str, extra: &str) -> Daemon {
        let dir = tempfile::tempdir().expect("temp dir");
        let keys = if proxy_keys.contains("connect_ports") {
            proxy_keys.to_string()
        } else {
            format!("connect_ports = [443]\n{proxy_keys}")
        };
        let text = config_text(dir.path(), extra).replacen("connect_ports = [443]", &keys, 1);
        Self::start_with(dir, &text)
    }

    /// Starts the daemon on this config text (written into `dir`).
    pub fn start_with(dir: tempfile::TempDir, text: &str) -> Daemon {
        let path = dir.path().join("lychgate.toml");
        std::fs::write(&path, text).expect("write config");
        let mut child = Command::new(env!("CARGO_BIN_EXE_lychgate"))
            .arg("run")
            .arg(&path)
            .current_dir(dir.path())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start lychgate run");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut found: Vec<(String, SocketAddr)> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("listening ") {
                        let mut parts = rest.split_whitespace();
                        if let (Some(what), Some(addr)) = (parts.next(), parts.next()) {
                            found.push((what.to_string(), addr.parse().expect("address")));
                        }
                    }
                    if line.starts_with("ready") {
                        break;
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait();
                    // The reader thread may still hold the last of stderr (the reason it exited).
                    std::thread::sleep(Duration::from_millis(200));
                    panic!(
                        "lychgate did not become ready ({status:?}): {}",
                        stderr.lock().unwrap()
                    );
                }
            }
        }
        let get = |w: &str| found.iter().find(|(k, _)| k == w).map(|(_, a)| *a);
        Daemon {
            proxy: get("proxy").expect("proxy address"),
            admin: get("admin").expect("admin address"),
            transparent_http: get("transparent_http"),
            transparent_https: get("transparent_https"),
            dns: found
                .iter()
                .filter(|(what, _)| what == "dns")
                .map(|(_, addr)| *addr)
                .collect(),
            child,
            dir,
            stderr,
        }
    }

    /// The daemon's process id (to read its memory from /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the daemon wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The log folder.
    pub fn log_dir(&self) -> PathBuf {
        self.dir.path().join("log")
    }

    /// Every request-log record written so far (waits up to 5 s for at least `at_least`).
    pub fn log_records(&self, at_least: usize) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut out = Vec::new();
            if let Ok(entries) = std::fs::read_dir(self.log_dir()) {
                let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
                files.sort();
                for f in files {
                    if f.extension().is_some_and(|e| e == "jsonl") {
                        let text = std::fs::read_to_string(&f).unwrap_or_default();
                        // A line still being appended as the file is read ends without its
                        // newline: it is read whole next time.
                        let whole = text.rfind('\n').map_or("", |end| &text[..end]);
                        for line in whole.lines() {
                            out.push(
                                serde_json::from_str(line)
                                    .unwrap_or_else(|e| panic!("log line is JSON ({e}): {line}")),
                            );
                        }
                    }
                }
            }
            if out.len() >= at_least || Instant::now() > deadline {
                return out;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The record with this reference code.
    pub fn record(&self, reference: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(r) = self
                .log_records(0)
                .into_iter()
                .find(|r| r["id"] == reference)
            {
                return r;
            }
            assert!(Instant::now() < deadline, "no log record {reference}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The admin listener's /metrics text.
    pub fn metrics(&self) -> String {
        let r = send(
            self.admin,
            local(1),
            "GET /metrics HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(r.status, 200);
        r.body_text()
    }

    /// Sends a signal (`"HUP"`, `"TERM"` ...) to the daemon with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name}");
    }

    /// Whether the daemon process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the daemon with SIGKILL — a crash: no shutdown, no flush — and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the daemon and returns its exit code.
    pub fn stop(&mut self) -> Option<i32> {
        self.terminate()
    }

    fn terminate(&mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.terminate();
        }
    }
}

/// 127.0.0.n: the default config maps .1 staff, .2 ks2, .3 ks1, .4 year1, .5 reception,
/// .6 guest, .7 staff; .8 and above are outside every network.
pub fn local(n: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, n])
}

/// Connects from a chosen loopback source address.
pub fn connect_from(src: IpAddr, dst: SocketAddr) -> TcpStream {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket
        .bind(&SocketAddr::new(src, 0).into())
        .expect("bind source");
    socket
        .connect_timeout(&dst.into(), Duration::from_secs(5))
        .expect("connect");
    let stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    stream
}

/// A parsed response.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Reply {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The reference code on a Lychgate page (from the log record id in the page).
    pub fn reference(&self) -> String {
        self.header("x-lychgate-reference")
            .expect("reference header")
            .to_string()
    }
}

/// Reads one response (Content-Length, chunked, or until close).
pub fn read_reply(stream: &mut TcpStream) -> Reply {
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).expect("status line");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    if let Some(len) = get("content-length").and_then(|l| l.parse::<usize>().ok()) {
        body.resize(len, 0);
        reader.read_exact(&mut body).expect("body");
    } else if get("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).expect("chunk size");
            let n = usize::from_str_radix(size.trim(), 16).expect("chunk size hex");
            let mut chunk = vec![0u8; n + 2];
            reader.read_exact(&mut chunk).expect("chunk");
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else if status != 200 || get("connection").is_some_and(|c| c.eq_ignore_ascii_case("close")) {
        let _ = reader.read_to_end(&mut body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

/// Sends raw request text from `src` to `dst` and reads the reply.
pub fn send(dst: SocketAddr, src: IpAddr, request: &str) -> Reply {
    let mut s = connect_from(src, dst);
    s.write_all(request.as_bytes()).expect("send");
    read_reply(&mut s)
}

/// `GET url` through the proxy from `src`, `Connection: close`.
pub fn get(proxy: SocketAddr, src: IpAddr, url: &str) -> Reply {
    let host = url
        .split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or("");
    send(
        proxy,
        src,
        &format!("GET {url} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
    )
}

/// Two listeners on the same port of two loopback addresses, both held from the start (a port
/// found free and bound again later may have been taken by then on a busy machine).
pub fn listeners_on_one_port(a: IpAddr, b: IpAddr) -> (TcpListener, TcpListener) {
    (0..50)
        .find_map(|_| {
            let first = TcpListener::bind((a, 0)).ok()?;
            let port = first.local_addr().ok()?.port();
            let second = TcpListener::bind((b, port)).ok()?;
            Some((first, second))
        })
        .expect("a port free on both addresses")
}

/// A loopback port that refuses connections and that no one else can take while the returned
/// socket lives: bound but never listening.
pub fn refusing_port() -> (socket2::Socket, u16) {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .expect("bind");
    let port = socket
        .local_addr()
        .expect("address")
        .as_socket()
        .expect("inet")
        .port();
    (socket, port)
}

/// A loopback HTTP origin: answers every request with what it saw.
pub struct Origin {
    /// Its address.
    pub addr: SocketAddr,
    /// Raw request heads it received.
    pub seen: Arc<Mutex<Vec<String>>>,
}

impl Origin {
    /// Starts an origin that answers `200` with body `origin NAME saw PATH`.
    pub fn start(name: &'static str) -> Origin {
        Self::start_on(name, "127.0.0.1:0")
    }

    /// The same, on a given address.
    pub fn start_on(name: &'static str, addr: &str) -> Origin {
        Self::serve(name, TcpListener::bind(addr).expect("bind origin"))
    }

    /// The same, on a listener the test already holds.
    pub fn serve(name: &'static str, listener: TcpListener) -> Origin {
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = Arc::clone(&log);
                std::thread::spawn(move || serve_origin(stream, name, &log));
            }
        });
        Origin { addr, seen }
    }

    /// The request heads seen so far.
    pub fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve_origin(stream: TcpStream, name: &str, log: &Mutex<Vec<String>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    loop {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" || line == "\n" {
                break;
            }
            head.push_str(&line);
        }
        let len = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
            })
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
        log.lock().unwrap().push(head.clone());
        let reply = format!("origin {name} saw {path}");
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nX-Origin: {name}\r\n\r\n{reply}",
            reply.len()
        );
        if writer.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}

/// A loopback TCP server standing in for a TLS site: records the first bytes it receives and
/// answers `tls-origin NAME`.
pub struct TlsOrigin {
    /// Its address.
    pub addr: SocketAddr,
    /// First bytes of each connection.
    pub seen: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl TlsOrigin {
    /// Starts one.
    pub fn start(name: &'static str) -> TlsOrigin {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let log = Arc::clone(&log);
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                    let mut buf = vec![0u8; 65536];
                    if let Ok(n) = stream.read(&mut buf) {
                        log.lock().unwrap().push(buf[..n].to_vec());
                        let _ = stream.write_all(format!("tls-origin {name}").as_bytes());
                    }
                });
            }
        });
        TlsOrigin { addr, seen }
    }
}

/// A minimal but well-formed TLS 1.3 ClientHello naming `sni` (no SNI when `None`).
pub fn client_hello(sni: Option<&str>) -> Vec<u8> {
    let mut ext = Vec::new();
    if let Some(name) = sni {
        let n = name.as_bytes();
        let list_len = 3 + n.len();
        ext.extend_from_slice(&[0x00, 0x00]);
        ext.extend_from_slice(&((list_len + 2) as u16).to_be_bytes());
        ext.extend_from_slice(&(list_len as u16).to_be_bytes());
        ext.push(0);
        ext.extend_from_slice(&(n.len() as u16).to_be_bytes());
        ext.extend_from_slice(n);
    }
    // supported_versions: TLS 1.3
    ext.extend_from_slice(&[0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04]);
    let mut body = Vec::new();
    body.extend_from_slice(&[0x03, 0x03]);
    body.extend_from_slice(&[7u8; 32]);
    body.push(0); // session id
    body.extend_from_slice(&[0x00, 0x02, 0x13, 0x01]); // one cipher suite
    body.extend_from_slice(&[0x01, 0x00]); // null compression
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hs = vec![0x01];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}
