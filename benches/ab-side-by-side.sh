#!/usr/bin/env bash
# benches/ab-side-by-side.sh - two Lychgate binaries (A = before a change, B = after) measured
# interleaved in one run, on the loads of the side-by-side benches, to put a number on what a
# change costs when the machine is too noisy for separate runs to compare:
#
#   HTTP: the shared yardstick's load (nginx origin from ../shared/bench/peers, 1 KB bodies,
#         wrk -t1 -c50 keep-alive, absolute-URI requests from peers/proxy-get.lua), client
#         127.0.0.1 (staff), every request logged.
#   DNS:  dnsperf -c4 -q100 from 127.0.0.2 (ks2), half the questions for DOMAINS synthetic
#         blocked names (adult), half for [[static_host]] names: both answered without an
#         upstream, every question logged (the upstream is a closed loopback port, never asked).
#
# Both daemons run all the time on their own ports, config (the default one plus the list) and
# log folder; each round measures A then B, or B then A (alternating), so load from elsewhere on
# the box falls on both alike. The report gives the medians and B ÷ A.
#
# Usage (benchmarks are run by hand, not by CI):
#   benches/ab-side-by-side.sh OLD_BINARY NEW_BINARY
#   DUR=5 ROUNDS=3 benches/ab-side-by-side.sh /tmp/lychgate-main target/release/lychgate
# Environment: DUR (10 s per measurement), ROUNDS (5), DOMAINS (100000), SEED (20261130),
#   WORK_DIR (a new /tmp dir, kept; the two request logs, ~1 GB a run each, are
#   removed at the end unless KEEP_LOGS=1), SHARED_BENCH (<repo>/../shared/bench),
#   BENCH_LOCK (/tmp/lychgate-bench.lock, the shared scripts' lock: one bench at a time).
# Ports (loopback): origin 18081 (the shared nginx config's); A: proxy 18280, dns 18253,
#   admin 18289; B: proxy 18380, dns 18353, admin 18389.
# Everything started here is stopped by PID, also on error or interrupt.
set -euo pipefail
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED_BENCH=${SHARED_BENCH:-$ROOT/../shared/bench}
DUR=${DUR:-10}
ROUNDS=${ROUNDS:-5}
DOMAINS=${DOMAINS:-100000}
SEED=${SEED:-20261130}
BENCH_LOCK=${BENCH_LOCK-/tmp/lychgate-bench.lock}

log() { printf '[ab-bench] %s\n' "$*" >&2; }
die() { printf '[ab-bench] ERROR: %s\n' "$*" >&2; exit 1; }

(($# == 2)) || die "usage: $0 OLD_BINARY NEW_BINARY"
declare -A BIN=([A]=$1 [B]=$2) PROXY=([A]=127.0.0.1:18280 [B]=127.0.0.1:18380)
declare -A DNS=([A]=127.0.0.1:18253 [B]=127.0.0.1:18353) ADMIN=([A]=127.0.0.1:18289 [B]=127.0.0.1:18389)
for t in A B; do [[ -x ${BIN[$t]} ]] || die "${BIN[$t]} is not an executable"; done
for b in wrk dnsperf nginx python3; do command -v "$b" >/dev/null || die "$b not found (apt-get install -y wrk dnsperf nginx-light)"; done

PIDS=()
alive() { local s; s=$(ps -o stat= -p "$1" 2>/dev/null) || return 1; [[ $s != Z* ]]; }
stop() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do alive "$pid" || break; sleep 0.1; done
  alive "$pid" && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop "${PIDS[i]}"; done
  # Every request is logged: a few runs would fill /tmp.
  if [[ -n ${WORK_DIR:-} && ${KEEP_LOGS:-0} != 1 ]]; then rm -rf "$WORK_DIR/A/log" "$WORK_DIR/B/log"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/${1%:*}/${1##*:}" 2>/dev/null; }
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "NA" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "NA" || b == "NA" || b + 0 == 0) print "NA"; else printf "%.3f", a / b }'; }

if [[ -n $BENCH_LOCK ]]; then
  exec {LOCK}>"$BENCH_LOCK"
  log "waiting for $BENCH_LOCK (another bench may be running)"
  flock -w 1800 "$LOCK" || die "$BENCH_LOCK still held after 30 min"
fi
for hp in 127.0.0.1:18081 "${PROXY[@]}" "${ADMIN[@]}"; do port_open "$hp" && die "$hp is in use"; done

WORK_DIR=${WORK_DIR:-$(mktemp -d /tmp/lychgate-ab.XXXXXX)}
mkdir -p "$WORK_DIR"
log "work dir: $WORK_DIR"
LIST=$WORK_DIR/blocked-$DOMAINS.txt
[[ -s $LIST ]] || python3 "$ROOT/benches/lib/gen_domains.py" "$LIST" "$DOMAINS" "$SEED" || die "domain generator failed"

# dnsperf questions: blocked names and static-host names, alternating.
QUERIES=$WORK_DIR/queries.txt
awk 'NR <= 5000 { printf "%s A\nhost%d.static.test A\n", $1, NR % 200 }' "$LIST" >"$QUERIES"
STATIC=$WORK_DIR/static-hosts.toml
: >"$STATIC"
for ((i = 0; i < 200; i++)); do printf '[[static_host]]\nname = "host%d.static.test"\naddresses = ["192.0.2.1"]\n' "$i" >>"$STATIC"; done

for t in A B; do
  d=$WORK_DIR/$t; mkdir -p "$d"/{log,state}
  sed -E \
    -e "s#^state_dir = .*#state_dir = \"$d/state\"#" \
    -e "s#^proxy = \"127\\.0\\.0\\.1:3128\"#proxy = \"${PROXY[$t]}\"#" \
    -e "s#^dns = .*#dns = \"${DNS[$t]}\"#" \
    -e "s#^admin = .*#admin = \"${ADMIN[$t]}\"#" \
    -e "/^transparent_https? = /d" \
    -e "s#^dir = \"var/log\"#dir = \"$d/log\"#" \
    "$ROOT/config/lychgate.toml" >"$d/lychgate.toml"
  {
    printf '\n[[list]]\ncategory = "adult"\nname = "synthetic %s"\npath = "%s"\nformat = "plain"\n' "$DOMAINS" "$LIST"
    cat "$STATIC"
    printf '\n[dns]\nupstreams = ["127.0.0.1:9"]\nmax_qps_per_client = 1000000\n'
  } >>"$d/lychgate.toml"
  # The origin is on loopback, which the destination policy (issue 11) refuses unless listed;
  # a binary from before the policy does not know the key, and needs no listing.
  sed -i 's#^connect_ports = \[443\]#connect_ports = [443]\nallowed_private_destinations = ["127.0.0.1/32"]#' "$d/lychgate.toml"
  if ! "${BIN[$t]}" check-config "$d/lychgate.toml" >"$d/check.txt" 2>&1 &&
     grep -q "allowed_private_destinations" "$d/check.txt"; then
    sed -i '/^allowed_private_destinations = /d' "$d/lychgate.toml"
  fi
  "${BIN[$t]}" check-config "$d/lychgate.toml" >"$d/check.txt" 2>&1 || { cat "$d/check.txt" >&2; die "check-config failed for $t"; }
done

nginx -c "$SHARED_BENCH/peers/nginx-origin.conf" >"$WORK_DIR/nginx.out" 2>&1 &
PIDS+=($!)
for t in A B; do
  "${BIN[$t]}" run "$WORK_DIR/$t/lychgate.toml" </dev/null >"$WORK_DIR/$t/out.txt" 2>&1 &
  PIDS+=($!)
  for ((i = 0; i < 600; i++)); do grep -qx ready "$WORK_DIR/$t/out.txt" && break; sleep 0.1; done
  grep -qx ready "$WORK_DIR/$t/out.txt" || { cat "$WORK_DIR/$t/out.txt" >&2; die "$t not ready"; }
done
port_open 127.0.0.1:18081 || die "nginx origin not up"

http_run() { # TARGET -> req/s and p99 ms
  local out
  out=$(ORIGIN=http://127.0.0.1:18081 wrk -t1 -c50 -d"${DUR}s" --latency -s "$SHARED_BENCH/peers/proxy-get.lua" "http://${PROXY[$1]}" 2>&1)
  echo "$out" >>"$WORK_DIR/$1/wrk.txt"
  awk '/Requests\/sec/ { r = $2 } $1 == "99%" { p = $2; if (p ~ /us$/) p = p / 1000; else if (p ~ /ms$/) p = p + 0; else if (p ~ /s$/) p = p * 1000 }
       END { printf "%s %s\n", r, p }' <<<"$out"
}
dns_run() { # TARGET -> qps
  local out
  out=$(dnsperf -s "${DNS[$1]%:*}" -p "${DNS[$1]##*:}" -a 127.0.0.2 -d "$QUERIES" -l "$DUR" -c 4 -q 100 -t 2 2>&1)
  echo "$out" >>"$WORK_DIR/$1/dnsperf.txt"
  awk '/Queries per second/ { print $4 }' <<<"$out"
}

# warm-up, then the rounds
for t in A B; do http_run "$t" >/dev/null; dns_run "$t" >/dev/null; done
declare -A RPS P99 QPS
for ((r = 1; r <= ROUNDS; r++)); do
  order="A B"; ((r % 2 == 0)) && order="B A"
  for t in $order; do
    read -r rps p99 < <(http_run "$t")
    qps=$(dns_run "$t")
    log "round $r/$ROUNDS $t: http $rps req/s (p99 $p99 ms), dns $qps qps; load $(cut -d' ' -f1 /proc/loadavg)"
    RPS[$t]+="$rps "; P99[$t]+="$p99 "; QPS[$t]+="$qps "
  done
done

med() { tr ' ' '\n' <<<"$1" | grep . | median; }
{
  echo "## A/B ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $ROUNDS interleaved rounds of $DUR s)"
  echo
  echo "A = ${BIN[A]}, B = ${BIN[B]}; $DOMAINS blocked domains."
  echo
  echo "| | A | B | B ÷ A | per run A | per run B |"
  echo "|---|---:|---:|---:|---|---|"
  echo "| HTTP req/s | $(med "${RPS[A]}") | $(med "${RPS[B]}") | $(ratio "$(med "${RPS[B]}")" "$(med "${RPS[A]}")") | ${RPS[A]} | ${RPS[B]} |"
  echo "| HTTP p99 ms | $(med "${P99[A]}") | $(med "${P99[B]}") | $(ratio "$(med "${P99[B]}")" "$(med "${P99[A]}")") | ${P99[A]} | ${P99[B]} |"
  echo "| DNS qps | $(med "${QPS[A]}") | $(med "${QPS[B]}") | $(ratio "$(med "${QPS[B]}")" "$(med "${QPS[A]}")") | ${QPS[A]} | ${QPS[B]} |"
  for t in A B; do
    n=$(awk '/Non-2xx or 3xx responses/ { s += $NF } END { print s + 0 }' "$WORK_DIR/$t/wrk.txt")
    ((n == 0)) || echo "WARNING: $t answered $n requests with a non-2xx status (see $WORK_DIR/$t/wrk.txt): its HTTP figures are not proxying"
  done
} | tee "$WORK_DIR/report.md"
