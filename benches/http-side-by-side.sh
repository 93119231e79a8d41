#!/usr/bin/env bash
# benches/http-side-by-side.sh - Lychgate's HTTP proxy side by side with its peers, in one run:
#
#  1. HTTP forward proxy (the shared yardstick ../shared/bench/http-side-by-side.sh): nginx origin
#     (1 KB body) direct, squid 5 (no cache, access log on), e2guardian (default content
#     filtering) and Lychgate with the default policy + N extra blocked domains (default 1M) +
#     the shipped phrase lists, every request logged; wrk -t1 -c50, keep-alive, absolute-URI
#     requests. Adds to the shared script's table: peak RSS (VmHWM) of every server process,
#     and a check that Lychgate's request log has a line for every request.
#  2. CONNECT tunnel throughput: a 1 GiB download through CONNECT, repeated, direct / squid /
#     Lychgate interleaved, median. The client sends a real TLS ClientHello first (Lychgate reads
#     it before connecting upstream), then the bulk bytes flow unencrypted so the proxies' splice
#     is measured, not two TLS stacks.
#  3. Latency at the same offered load: oha sends a constant RATE req/s (default 15,000) through
#     squid and through Lychgate, interleaved, with latency correction (a request that waited for
#     a late one counts the wait: no coordinated omission), 50 keep-alive connections, the same
#     nginx origin and absolute-URI requests. wrk in part 1 drives each proxy flat out, so its
#     tails compare a proxy serving twice the requests with one serving half; this part compares
#     them doing the same work. Requests still in flight at the end are waited for (-w).
#
# Usage (as root, from anywhere; benchmarks are run by hand, not by CI):
#   benches/http-side-by-side.sh
#   DUR=5 ROUNDS=1 CONNECT_ROUNDS=1 benches/http-side-by-side.sh     # quick look
#
# Environment:
#   DUR ROUNDS WARMUP QUIET_MAX NOISY_RETRIES   passed to the shared script (defaults 10 3 2 60 2)
#   DOMAINS         extra blocked domains in Lychgate's policy (default 1000000)
#   SEED            generator seed for them (default 20261130)
#   PARTS           which parts to run, any of "http connect rate" (the default: all three)
#   CONNECT_BYTES   bytes per CONNECT transfer (default 1073741824 = 1 GiB)
#   CONNECT_ROUNDS  transfers per target, interleaved; the median is reported (default 5)
#   CONNECT_PORT    loopback port of the bulk source, added to both proxies' CONNECT ports (18443)
#   SHARED_BENCH    folder of the shared scripts (default <repo>/../shared/bench)
#   WORK_DIR        where the config, lists, logs and results go (default: a new /tmp dir, kept)
#   RATE            offered load of part 3 in req/s (default 15000)
#   RATE_DUR        seconds per part-3 run (default 15); RATE_ROUNDS runs per proxy (default 3)
#   OHA             the oha binary (default: oha on PATH; `cargo install oha --locked`)
#   STRICT=1        exit 3 when a target is missed (default: targets are only reported)
#
# Lychgate's bench config lists `allowed_private_destinations = ["127.0.0.1/32"]`: the shared
# yardstick's origin is 127.0.0.1:18081, and the destination policy refuses loopback otherwise.
#
# Ports (loopback): Lychgate proxy 18080, transparent 18083/18084, admin 18089, dns 18053
# (served but idle in this bench); the shared script's origin 18081, squid 13128, e2guardian 18082;
# CONNECT: bulk source 18443, bench squid 13129. Rate: origin 18081 (part 1's, started again),
# bench squid 13130.
#
# Output: progress on stderr; the results (markdown) on stdout and in WORK_DIR/results.md.
# Exit status: 0 measured, 1 something failed, 3 (STRICT=1 only) a target missed.
# Everything started here is stopped by PID, also on error or interrupt.

set -euo pipefail
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LIB=$ROOT/benches/lib
SHARED_BENCH=${SHARED_BENCH:-$ROOT/../shared/bench}
DOMAINS=${DOMAINS:-1000000}
SEED=${SEED:-20261130}
PARTS=${PARTS:-http connect rate}
RATE=${RATE:-15000}
RATE_DUR=${RATE_DUR:-15}
RATE_ROUNDS=${RATE_ROUNDS:-3}
OHA=${OHA:-oha}
CONNECT_BYTES=${CONNECT_BYTES:-1073741824}
CONNECT_ROUNDS=${CONNECT_ROUNDS:-5}
QUIET_MAX=${QUIET_MAX:-60}
STRICT=${STRICT:-0}
BIN=$ROOT/target/release/lychgate

LG_PROXY=127.0.0.1:18080
LG_TPROXY_HTTP=127.0.0.1:18083
LG_TPROXY_HTTPS=127.0.0.1:18084
LG_ADMIN=127.0.0.1:18089
LG_DNS=127.0.0.1:18053
SINK=127.0.0.1:${CONNECT_PORT:-18443}
SQUID_CONNECT=127.0.0.1:13129
SQUID_CONNECT_LOG=/tmp/bench-squid-connect-access.log   # squid drops to its own user: /tmp
SQUID_CONNECT_CACHE_LOG=/tmp/bench-squid-connect-cache.log
SQUID_RATE=127.0.0.1:13130
RATE_ORIGIN=127.0.0.1:18081

log()  { printf '[lychgate-bench] %s\n' "$*" >&2; }
die()  { printf '[lychgate-bench] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- processes (by PID only)
PIDS=()
forget() { local p keep=(); for p in "${PIDS[@]}"; do [[ $p != "$1" ]] && keep+=("$p"); done; PIDS=("${keep[@]}"); }
alive() { local s; s=$(ps -o stat= -p "$1" 2>/dev/null) || return 1; [[ $s != Z* ]]; }
# stop PID [SECONDS]: TERM, then KILL after SECONDS (default 10); reaps it.
stop() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < ${2:-10} * 10; i++)); do alive "$pid" || break; sleep 0.1; done
  alive "$pid" && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
  forget "$pid"
}
cleanup() {
  local i
  trap '' INT TERM
  # (the shared script stops its own servers on TERM: give it time)
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop "${PIDS[i]}" 60; done
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/${1%:*}/${1##*:}" 2>/dev/null; }
# wait_port HOST:PORT PID SECONDS
wait_port() {
  local deadline=$((SECONDS + $3))
  until port_open "$1"; do
    alive "$2" || return 1
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}
# read_kb PID FIELD: KB = that /proc/PID/status field (VmRSS, VmHWM) in kB, 0 if gone; no fork.
read_kb() {
  local k v _
  KB=0
  [[ -r /proc/$1/status ]] || return 0
  while read -r k v _; do [[ $k == "$2:" ]] && { KB=$v; return 0; }; done 2>/dev/null <"/proc/$1/status" || true
}
status_kb() { read_kb "$1" "$2"; echo "$KB"; }
# running PID: alive and not a zombie, without forking (for polling loops).
running() {
  local stat
  read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "NA" || b == "NA" || b + 0 == 0) print "NA"; else printf "%.2f", a / b }'; }
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "NA" }'; }

# Waits up to QUIET_MAX s for one second in which the whole box uses < 10% of a core.
wait_quiet() {
  local a b hz deadline=$((SECONDS + QUIET_MAX))
  hz=$(getconf CLK_TCK)
  while :; do
    a=$(awk '/^cpu / { print $2 + $3 + $4 }' /proc/stat); sleep 1
    b=$(awk '/^cpu / { print $2 + $3 + $4 }' /proc/stat)
    (((b - a) * 100 < hz * 10)) && return 0
    ((SECONDS < deadline)) || { log "box still busy ($(((b - a) * 100 / hz))% of a core); measuring anyway"; return 0; }
  done
}

# ---------------------------------------------------------------- preflight
for v in DOMAINS CONNECT_BYTES CONNECT_ROUNDS RATE RATE_DUR RATE_ROUNDS; do [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer"; done
for p in $PARTS; do [[ $p == http || $p == connect || $p == rate ]] || die "PARTS takes http, connect and/or rate (got '$PARTS')"; done
if [[ " $PARTS " == *" rate "* ]]; then
  command -v "$OHA" >/dev/null || die "part 3 needs oha (cargo install oha --locked, or set OHA=/path/to/oha)"
fi
((EUID == 0)) || die "run as root (squid and e2guardian start as root and drop privileges)"
[[ -r $SHARED_BENCH/http-side-by-side.sh ]] || die "shared bench script not found: $SHARED_BENCH/http-side-by-side.sh (set SHARED_BENCH)"

need_pkgs=()
for pair in squid:squid e2guardian:e2guardian nginx:nginx-light wrk:wrk curl:curl python3:python3 ps:procps; do
  command -v "${pair%%:*}" >/dev/null || need_pkgs+=("${pair#*:}")
done
if ((${#need_pkgs[@]})); then
  log "installing ${need_pkgs[*]}"
  command -v apt-get >/dev/null || die "missing ${need_pkgs[*]} and no apt-get"
  apt-get install -y "${need_pkgs[@]}" >&2 || { apt-get update >&2 && apt-get install -y "${need_pkgs[@]}" >&2; } ||
    die "cannot install ${need_pkgs[*]}"
fi
command -v cargo >/dev/null || die "cargo not found"

for hp in "$LG_PROXY" "$LG_TPROXY_HTTP" "$LG_TPROXY_HTTPS" "$LG_ADMIN" "$SINK" "$SQUID_CONNECT"; do
  port_open "$hp" && die "$hp is already in use; stop whatever listens there first"
done

WORK_DIR=${WORK_DIR:-$(mktemp -d /tmp/lychgate-bench.XXXXXX)}
mkdir -p "$WORK_DIR" && rm -rf "${WORK_DIR:?}"/{log,state,http} && mkdir -p "$WORK_DIR"/{log,state}
log "work dir: $WORK_DIR"

# ---------------------------------------------------------------- build, data, config
log "cargo build --release -p lychgate --locked"
(cd "$ROOT" && cargo build --release -p lychgate --locked) >&2 || die "build failed"
[[ -x $BIN ]] || die "$BIN missing after the build"

LIST=$WORK_DIR/blocked-$DOMAINS.txt
log "generating $DOMAINS blocked domains (seed $SEED) into $LIST"
python3 "$LIB/gen_domains.py" "$LIST" "$DOMAINS" "$SEED" || die "domain generator failed"
PROBE_MID=$(sed -n "$((DOMAINS / 2 + 1))p" "$LIST")
PROBE_LAST=$(tail -n 1 "$LIST")

CONF=$WORK_DIR/lychgate.toml
sed -E \
  -e "s#^state_dir = .*#state_dir = \"$WORK_DIR/state\"#" \
  -e "s#^proxy = \"127\\.0\\.0\\.1:3128\"#proxy = \"$LG_PROXY\"#" \
  -e "s#^dns = .*#dns = \"$LG_DNS\"#" \
  -e "s#^admin = .*#admin = \"$LG_ADMIN\"#" \
  -e "s#^transparent_http = .*#transparent_http = \"$LG_TPROXY_HTTP\"#" \
  -e "s#^transparent_https = .*#transparent_https = \"$LG_TPROXY_HTTPS\"#" \
  -e "s#^dir = \"var/log\"#dir = \"$WORK_DIR/log\"#" \
  -e "s#^connect_ports = \\[443\\]#connect_ports = [443, ${SINK##*:}]\\nallowed_private_destinations = [\"127.0.0.1/32\"]#" \
  "$ROOT/config/lychgate.toml" >"$CONF"
cat >>"$CONF" <<EOF

# ---- added by benches/http-side-by-side.sh: $DOMAINS synthetic blocked domains
[[list]]
category = "adult"
name = "synthetic $DOMAINS (gen_domains.py seed $SEED)"
path = "$LIST"
format = "plain"
EOF
for kv in "state_dir = \"$WORK_DIR/state\"" "proxy = \"$LG_PROXY\"" "dns = \"$LG_DNS\"" "admin = \"$LG_ADMIN\"" \
          "transparent_http = \"$LG_TPROXY_HTTP\"" "transparent_https = \"$LG_TPROXY_HTTPS\"" \
          "dir = \"$WORK_DIR/log\"" "connect_ports = [443, ${SINK##*:}]" 'allowed_private_destinations = ["127.0.0.1/32"]' \
          'lists = ["builtin:phrases"]'; do
  grep -qxF "$kv" "$CONF" || die "config edit failed: '$kv' not in $CONF (did config/lychgate.toml change?)"
done
"$BIN" check-config "$CONF" >"$WORK_DIR/check-config.txt" 2>&1 || { cat "$WORK_DIR/check-config.txt" >&2; die "check-config failed"; }
INDEX_LINE=$(grep '^index:' "$WORK_DIR/check-config.txt" || true)
grep -qE "^ *adult +$DOMAINS domains .* 0 bad " "$WORK_DIR/check-config.txt" || { cat "$WORK_DIR/check-config.txt" >&2; die "the $DOMAINS-domain list did not load completely"; }
log "check-config: $INDEX_LINE"

# ---------------------------------------------------------------- sanity run of Lychgate
# start_lychgate OUTFILE: starts it, waits for `ready`; sets LG_PID and READY_S.
start_lychgate() {
  local out=$1 t0 deadline
  : >"$out"
  t0=$(date +%s.%N)
  "$BIN" run "$CONF" </dev/null >"$out" 2>&1 &
  LG_PID=$!; PIDS+=("$LG_PID")
  deadline=$((SECONDS + 60))
  until grep -qx ready "$out"; do
    alive "$LG_PID" || { cat "$out" >&2; die "lychgate exited before it was ready"; }
    ((SECONDS < deadline)) || { cat "$out" >&2; die "lychgate not ready after 60 s"; }
    sleep 0.05
  done
  READY_S=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
}

start_lychgate "$WORK_DIR/lychgate-sanity.out"
IDLE_RSS_KB=$(status_kb "$LG_PID" VmRSS)
log "lychgate ready in ${READY_S} s with $DOMAINS extra domains; RSS idle $(mb "$IDLE_RSS_KB") MB"
for d in "$PROBE_MID" "www.$PROBE_LAST"; do
  hdrs=$(curl -s -m 5 -x "http://$LG_PROXY" -o /dev/null -D - "http://$d/") || die "curl through Lychgate failed for $d"
  code=$(printf '%s' "$hdrs" | awk 'NR == 1 { print $2 }')
  [[ $code == 403 ]] && grep -qi '^x-lychgate-reference:' <<<"$hdrs" ||
    die "http://$d/ (from the synthetic list) answered $code without a block reference: the big list is not in force"
done
sleep 0.5
grep -F "\"host\":\"$PROBE_MID\"" "$WORK_DIR"/log/requests-*.jsonl | grep -qF '"decision":"block","category":"adult"' ||
  die "no request-log line blocking $PROBE_MID as adult"
log "sanity: synthetic domains $PROBE_MID and www.$PROBE_LAST blocked (403, reference, logged)"
stop "$LG_PID"

# ---------------------------------------------------------------- part 1: HTTP side by side
declare -A HWM_KB PIDCOMM
HTTP_RC=NA
if [[ " $PARTS " == *" http "* ]]; then
  HTTP_DIR=$WORK_DIR/http
  log_lines_before=$(cat "$WORK_DIR"/log/requests-*.jsonl 2>/dev/null | wc -l || true)
  log "running $SHARED_BENCH/http-side-by-side.sh (progress below)"
  LYCHGATE_CMD="exec $BIN run $CONF" LYCHGATE_PROXY=$LG_PROXY RUN_DIR=$HTTP_DIR \
    bash "$SHARED_BENCH/http-side-by-side.sh" >"$WORK_DIR/http-shared.md" 2> >(tee "$WORK_DIR/http-shared.log" >&2) &
  SHARED_PID=$!; PIDS+=("$SHARED_PID")
  # Peak RSS: poll VmHWM of every server process under the shared script until it ends. The
  # loop forks nothing but a rare `ps` (the shared script counts any CPU used outside its own
  # processes as noise): bash builtins read /proc, and `read -t` on an idle pipe is the sleep.
  exec {TICK}<> <(:)
  i=0 next_scan=0
  while running "$SHARED_PID"; do
    if ((i >= next_scan)); then
      while read -r p c; do PIDCOMM[$p]=$c; done < <(ps -e -o pid=,ppid=,comm= | awk -v root="$SHARED_PID" '
        { pp[$1] = $2; c[$1] = $3 }
        END { for (p in pp) { q = p; n = 0
                while ((q in pp) && q != root && q > 1 && n++ < 50) q = pp[q]
                if (q == root && c[p] ~ /^(nginx|squid|e2guardian|lychgate)$/) print p, c[p] } }')
      # every 2 s until all four servers are up, then every 30 s
      kinds=$(printf '%s\n' "${PIDCOMM[@]}" | sort -u | wc -l)
      next_scan=$((i + (kinds < 4 ? 4 : 60)))
    fi
    for p in "${!PIDCOMM[@]}"; do
      read_kb "$p" VmHWM
      ((KB > ${HWM_KB[$p]:-0})) && HWM_KB[$p]=$KB
    done
    i=$((i + 1))
    read -rt 0.5 -u "$TICK" _ || true
  done
  exec {TICK}<&-
  wait "$SHARED_PID" && HTTP_RC=0 || HTTP_RC=$?
  forget "$SHARED_PID"
  ((HTTP_RC == 0)) || log "the shared script exited with status $HTTP_RC (see above)"

  # Per program: sum of each process's peak.
  declare -A PEAK_KB NPROC
  for p in "${!HWM_KB[@]}"; do
    c=${PIDCOMM[$p]}; PEAK_KB[$c]=$((${PEAK_KB[$c]:-0} + HWM_KB[$p])); NPROC[$c]=$((${NPROC[$c]:-0} + 1))
  done

  # Did Lychgate log every request? Lines written during the shared run >= requests wrk counted
  # (wrk also stops with up to 50 requests in flight, which are logged but not counted).
  log_total=$(cat "$WORK_DIR"/log/requests-*.jsonl 2>/dev/null | wc -l || true)
  log_run=$((log_total - log_lines_before))
  wrk_lg=$(cat "$HTTP_DIR"/wrk-lychgate-*.txt 2>/dev/null | awk '/requests in/ { s += $1 } END { print s + 0 }')
  read -r log_allow log_block log_error < <(tail -n "$log_run" -q "$WORK_DIR"/log/requests-*.jsonl 2>/dev/null | awk '
    /"decision":"allow"/ { a++ } /"decision":"block"/ { b++ } /"decision":"error"/ { e++ }
    END { print a + 0, b + 0, e + 0 }')
  LOG_CHECK="request log: $log_run lines during the run (allow $log_allow, block $log_block, error $log_error); wrk counted $wrk_lg requests through Lychgate (warm-ups included)"
  if ((log_run >= wrk_lg && wrk_lg > 0)); then LOG_CHECK+=" — every request logged"
  else LOG_CHECK+=" — FEWER LOG LINES THAN REQUESTS"; HTTP_RC=1; fi
  log "$LOG_CHECK"
fi

# ---------------------------------------------------------------- part 2: CONNECT throughput
declare -A MIBS
CONNECT_RC=NA
if [[ " $PARTS " == *" connect "* ]]; then
  CONNECT_RC=0
  for hp in "$SINK" "$SQUID_CONNECT"; do port_open "$hp" && die "$hp is in use now; stop whatever listens there first"; done
  python3 "$LIB/connect_bench.py" serve "${SINK%:*}" "${SINK##*:}" >"$WORK_DIR/sink.out" 2>&1 &
  SINK_PID=$!; PIDS+=("$SINK_PID")
  # its own line, printed once it has bound the port (someone else's listener does not count)
  for ((i = 0; i < 100; i++)); do grep -q '^listening' "$WORK_DIR/sink.out" && break; alive "$SINK_PID" || break; sleep 0.1; done
  grep -q '^listening' "$WORK_DIR/sink.out" || die "bulk source did not start: $(cat "$WORK_DIR/sink.out")"

  # squid: the shared peer config, its own port and logs, and squid's usual CONNECT rule with
  # the bench port added to SSL_ports (as Lychgate's connect_ports).
  SQUID_CONF=$WORK_DIR/squid-connect.conf
  rm -f "$SQUID_CONNECT_LOG" "$SQUID_CONNECT_CACHE_LOG"
  sed -e "s#^http_port .*#http_port $SQUID_CONNECT#" \
      -e "s#^access_log .*#access_log stdio:$SQUID_CONNECT_LOG#" \
      -e "s#^cache_log .*#cache_log $SQUID_CONNECT_CACHE_LOG#" \
      -e "s#^pid_filename .*#pid_filename /tmp/bench-squid-connect.pid#" \
      -e "s#^http_access allow localnet#acl SSL_ports port 443 ${SINK##*:}\nacl CONNECT method CONNECT\nhttp_access deny CONNECT !SSL_ports\nhttp_access allow localnet#" \
      "$SHARED_BENCH/peers/squid.conf" >"$SQUID_CONF"
  grep -qx "http_access deny CONNECT !SSL_ports" "$SQUID_CONF" && grep -qx "http_port $SQUID_CONNECT" "$SQUID_CONF" ||
    die "squid CONNECT config edit failed ($SQUID_CONF)"
  squid -N -f "$SQUID_CONF" </dev/null >"$WORK_DIR/squid-connect.out" 2>&1 &
  SQUID_PID=$!; PIDS+=("$SQUID_PID")
  wait_port "$SQUID_CONNECT" "$SQUID_PID" 30 && sleep 0.5 && alive "$SQUID_PID" ||
    die "squid (CONNECT) did not start: $(tail -n 5 "$WORK_DIR/squid-connect.out" "$SQUID_CONNECT_CACHE_LOG" 2>/dev/null)"

  start_lychgate "$WORK_DIR/lychgate-connect.out"
  connect_before=$(cat "$WORK_DIR"/log/requests-*.jsonl 2>/dev/null | wc -l || true)

  declare -A PROXY_OF=([direct]=- [squid]=$SQUID_CONNECT [lychgate]=$LG_PROXY)
  declare -A RUNS_OF
  for ((r = 1; r <= CONNECT_ROUNDS; r++)); do
    for t in direct squid lychgate; do
      wait_quiet
      out=$(timeout 300 python3 "$LIB/connect_bench.py" fetch "${PROXY_OF[$t]}" "$SINK" "$CONNECT_BYTES" 2>&1) || {
        log "CONNECT $t round $r failed: $out"; CONNECT_RC=1; continue; }
      v=${out##*mib_per_s=}
      log "CONNECT round $r/$CONNECT_ROUNDS, $t: $out"
      RUNS_OF[$t]+="$v "
      sleep 0.5
    done
  done
  LG_CONNECT_HWM_KB=$(status_kb "$LG_PID" VmHWM)
  SQUID_CONNECT_HWM_KB=$(status_kb "$SQUID_PID" VmHWM)
  sleep 0.5
  stop "$LG_PID"; stop "$SQUID_PID"; stop "$SINK_PID"
  for t in direct squid lychgate; do
    MIBS[$t]=$(tr ' ' '\n' <<<"${RUNS_OF[$t]:-}" | { grep . || true; } | median)
  done
  # Lychgate logged each tunnel with every byte it carried.
  tunnels=$(tail -n +"$((connect_before + 1))" -q "$WORK_DIR"/log/requests-*.jsonl | grep -F '"type":"connect"' |
            grep -F '"decision":"allow"' | grep -cF "\"bytes_out\":$CONNECT_BYTES," || true)
  CONNECT_LOG_CHECK="request log: $tunnels CONNECT lines with decision allow and bytes_out $CONNECT_BYTES (expected $CONNECT_ROUNDS)"
  ((tunnels == CONNECT_ROUNDS)) || { CONNECT_LOG_CHECK+=" — MISMATCH"; CONNECT_RC=1; }
  log "$CONNECT_LOG_CHECK"
fi

# ---------------------------------------------------------------- part 3: latency at one rate
declare -A RATE_P50 RATE_P99 RATE_P999 RATE_RPS RATE_ERR
RATE_RC=NA
if [[ " $PARTS " == *" rate "* ]]; then
  RATE_RC=0
  for hp in "$RATE_ORIGIN" "$SQUID_RATE"; do port_open "$hp" && die "$hp is in use now; stop whatever listens there first"; done
  nginx -c "$SHARED_BENCH/peers/nginx-origin.conf" </dev/null >"$WORK_DIR/nginx-rate.out" 2>&1 &
  NGINX_PID=$!; PIDS+=("$NGINX_PID")
  wait_port "$RATE_ORIGIN" "$NGINX_PID" 15 || die "nginx origin did not start: $(cat "$WORK_DIR/nginx-rate.out")"
  SQUID_RATE_CONF=$WORK_DIR/squid-rate.conf
  rm -f /tmp/bench-squid-rate-access.log /tmp/bench-squid-rate-cache.log
  sed -e "s#^http_port .*#http_port $SQUID_RATE#" \
      -e "s#^access_log .*#access_log stdio:/tmp/bench-squid-rate-access.log#" \
      -e "s#^cache_log .*#cache_log /tmp/bench-squid-rate-cache.log#" \
      -e "s#^pid_filename .*#pid_filename /tmp/bench-squid-rate.pid#" \
      "$SHARED_BENCH/peers/squid.conf" >"$SQUID_RATE_CONF"
  grep -qx "http_port $SQUID_RATE" "$SQUID_RATE_CONF" || die "squid rate config edit failed ($SQUID_RATE_CONF)"
  squid -N -f "$SQUID_RATE_CONF" </dev/null >"$WORK_DIR/squid-rate.out" 2>&1 &
  SQUID_RATE_PID=$!; PIDS+=("$SQUID_RATE_PID")
  wait_port "$SQUID_RATE" "$SQUID_RATE_PID" 30 && sleep 0.5 && alive "$SQUID_RATE_PID" ||
    die "squid (rate) did not start: $(tail -n 5 "$WORK_DIR/squid-rate.out" /tmp/bench-squid-rate-cache.log 2>/dev/null)"
  start_lychgate "$WORK_DIR/lychgate-rate.out"
  declare -A RATE_PROXY=([squid]=$SQUID_RATE [lychgate]=$LG_PROXY)
  declare -A RATE_RUNS
  for ((r = 1; r <= RATE_ROUNDS; r++)); do
    for t in squid lychgate; do
      wait_quiet
      out=$WORK_DIR/oha-$t-$r.json
      # a short unrecorded warm-up opens the 50 connections, then the measured run
      timeout 60 "$OHA" -z 2s -q "$RATE" -c 50 --no-tui --output-format json -x "http://${RATE_PROXY[$t]}" \
        "http://$RATE_ORIGIN/" >/dev/null 2>&1 || true
      if ! timeout $((RATE_DUR + 60)) "$OHA" -z "${RATE_DUR}s" -w -q "$RATE" --latency-correction -c 50 --no-tui \
           --output-format json -x "http://${RATE_PROXY[$t]}" "http://$RATE_ORIGIN/" >"$out" 2>"$out.err"; then
        log "rate $t round $r: oha failed: $(head -c 300 "$out.err")"; RATE_RC=1; continue
      fi
      line=$(python3 "$LIB/oha_summary.py" "$out") || { log "rate $t round $r: unreadable oha output"; RATE_RC=1; continue; }
      log "rate round $r/$RATE_ROUNDS, $t: $line"
      RATE_RUNS[$t]+="$line"$'\n'
    done
  done
  stop "$LG_PID"; stop "$SQUID_RATE_PID"; stop "$NGINX_PID"
  # Per proxy: the median of each figure over the rounds.
  for t in squid lychgate; do
    for f in rps p50 p99 p999 err; do
      v=$(printf '%s' "${RATE_RUNS[$t]:-}" | tr ' ' '\n' | awk -F= -v k="$f" '$1 == k { print $2 }' | median)
      case $f in rps) RATE_RPS[$t]=$v ;; p50) RATE_P50[$t]=$v ;; p99) RATE_P99[$t]=$v ;; p999) RATE_P999[$t]=$v ;; err) RATE_ERR[$t]=$v ;; esac
    done
  done
fi

# ---------------------------------------------------------------- report
# Fields of the shared table: | name | req/s | p50 ms | p99 ms | RSS MB | req/s per run | errors |
row() { awk -F'|' -v n="$1" -v f="$2" '{ x = $2; gsub(/ /, "", x) } x == n { v = $f; gsub(/^ +| +$/, "", v); print v; exit }' "$WORK_DIR/http-shared.md" 2>/dev/null; }
verdict() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { if (v == "NA" || v == "") { print "not measured"; exit }
  ok = (op == ">=" ? v + 0 >= t + 0 : v + 0 <= t + 0); print (ok ? "met" : "MISSED") }'; }
MISSED=0
{
  echo "## Results ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))"
  echo
  echo "Lychgate $("$BIN" --version | awk '{ print $2 }') ($(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')), default policy + $DOMAINS synthetic blocked domains + shipped phrase lists; ${INDEX_LINE#index: }."
  echo "Ready ${READY_S} s after start; RSS idle after loading $(mb "$IDLE_RSS_KB") MB."
  if [[ $HTTP_RC != NA ]]; then
    echo
    echo "### HTTP forward proxy (shared script, exit status $HTTP_RC)"
    echo
    sed -n '/^HTTP forward proxy/,$p' "$WORK_DIR/http-shared.md" | sed '/^http: /d'
    echo
    echo "Peak RSS (sum of VmHWM over each program's processes, polled every 0.5 s during the run):"
    for c in nginx squid e2guardian lychgate; do
      [[ -n ${PEAK_KB[$c]:-} ]] && echo "- $c: $(mb "${PEAK_KB[$c]}") MB (${NPROC[$c]} process(es))"
    done
    echo
    echo "Lychgate $LOG_CHECK."
    rps_l=$(row lychgate 3); rps_s=$(row squid 3); rps_e=$(row e2guardian 3)
    p99_l=$(row lychgate 5); p99_s=$(row squid 5)
    r_s=$(ratio "$rps_l" "$rps_s"); r_e=$(ratio "$rps_l" "$rps_e")
    hwm_l=$(mb "${PEAK_KB[lychgate]:-0}")
    echo
    echo "| target | measured | verdict |"
    echo "|---|---|---|"
    echo "| req/s ≥ 2× squid | $r_s× | $(verdict "$r_s" '>=' 2) |"
    echo "| req/s ≥ 10× e2guardian | $r_e× | $(verdict "$r_e" '>=' 10) |"
    echo "| p99 ≤ squid's | $p99_l ms vs $p99_s ms | $(verdict "$(ratio "$p99_l" "$p99_s")" '<=' 1) |"
    echo "| RSS ≤ 64 MB with $DOMAINS domains | $hwm_l MB peak | $(verdict "$hwm_l" '<=' 64) |"
  fi
  if [[ $CONNECT_RC != NA ]]; then
    echo
    echo "### CONNECT tunnel, $CONNECT_BYTES bytes per transfer, median of $CONNECT_ROUNDS interleaved (exit status $CONNECT_RC)"
    echo
    echo "| path | MiB/s (median) | per run | ratio vs squid |"
    echo "|---|---:|---|---:|"
    for t in direct squid lychgate; do
      echo "| $t | ${MIBS[$t]} | ${RUNS_OF[$t]:-} | $(ratio "${MIBS[$t]}" "${MIBS[squid]}") |"
    done
    echo
    echo "Peak RSS after the transfers: lychgate $(mb "${LG_CONNECT_HWM_KB:-0}") MB, squid $(mb "${SQUID_CONNECT_HWM_KB:-0}") MB."
    echo "Lychgate $CONNECT_LOG_CHECK."
    echo
    echo "| target | measured | verdict |"
    echo "|---|---|---|"
    r_c=$(ratio "${MIBS[lychgate]}" "${MIBS[squid]}")
    echo "| CONNECT ≥ squid's | $r_c× | $(verdict "$r_c" '>=' 1) |"
  fi
  if [[ $RATE_RC != NA ]]; then
    echo
    echo "### Latency at the same offered load: $RATE req/s for ${RATE_DUR} s, oha -c 50 --latency-correction, median of $RATE_ROUNDS interleaved (exit status $RATE_RC)"
    echo
    echo "| proxy | req/s achieved | p50 ms | p99 ms | p99.9 ms | non-2xx or errors | runs (rps, p99) |"
    echo "|---|---:|---:|---:|---:|---:|---|"
    for t in squid lychgate; do
      runs=$(printf '%s' "${RATE_RUNS[$t]:-}" | awk '{ r = ""; p = ""; for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "rps") r = kv[2]; if (kv[1] == "p99") p = kv[2] } if (r != "") printf "%s%s, %s ms", (n++ ? "; " : ""), r, p }')
      echo "| $t | ${RATE_RPS[$t]} | ${RATE_P50[$t]} | ${RATE_P99[$t]} | ${RATE_P999[$t]} | ${RATE_ERR[$t]} | $runs |"
    done
    echo
    echo "| target | measured | verdict |"
    echo "|---|---|---|"
    r_p=$(ratio "${RATE_P99[lychgate]}" "${RATE_P99[squid]}")
    echo "| p99 ≤ squid's at $RATE req/s | ${RATE_P99[lychgate]} ms vs ${RATE_P99[squid]} ms ($r_p×) | $(verdict "$r_p" '<=' 1) |"
  fi
} >"$WORK_DIR/results.md"
cat "$WORK_DIR/results.md"
grep -q 'MISSED' "$WORK_DIR/results.md" && MISSED=1
log "results in $WORK_DIR/results.md"
[[ $HTTP_RC == NA || $HTTP_RC == 0 ]] && [[ $CONNECT_RC == NA || $CONNECT_RC == 0 ]] && [[ $RATE_RC == NA || $RATE_RC == 0 ]] || exit 1
((STRICT && MISSED)) && exit 3
exit 0
