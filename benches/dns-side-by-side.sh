#!/usr/bin/env bash
# benches/dns-side-by-side.sh - Lychgate's filtering DNS server side by side with unbound and
# dnsmasq, in one run, through the shared yardstick ../shared/bench/dns-side-by-side.sh:
#
#   every server loaded with the same BLOCKED synthetic domains (default 1M), logging every
#   query to a file, forwarding allowed names to the same local upstream (an unbound answering
#   bench.test, 127.0.0.1:15353); dnsperf on one query file (half blocked, half allowed with
#   Zipf repetition), RUNS interleaved rounds, the median reported.
#
# Lychgate's policy here: the default config (config/lychgate.toml) with
#   - its groups unchanged, and the client 127.0.0.1 (dnsperf's address) in GROUP (default ks2,
#     a pupil group that blocks `adult`, has SafeSearch and time windows, as a school's DNS would);
#   - the blocked list from the shared script ($BLOCKED_FILE, plain format) as category `adult`;
#   - ONLY that list by default: the shipped [[list]]s (builtin:…, a few thousand domains) are
#     removed so every server has exactly the same N domains (SHIPPED_LISTS=1 keeps them). The
#     phrase lists ([phrases], not domains) stay: they are part of Lychgate's real policy;
#   - [dns] upstreams = the shared upstream, max_qps_per_client raised (the default 500 qps per
#     client would rate-limit dnsperf's single address; the peers have no rate limit), every
#     other [dns] key at its default (cache_entries 10000, as dnsmasq's cache-size here);
#   - the request log on (every query logged, `"type":"dns"` lines counted by the shared script);
#   - listen.dns = LYCHGATE_DNS (127.0.0.1:15356), proxy/admin on spare loopback ports
#     (18180/18189), no transparent listeners.
# The config is rendered from a template when the shared script starts Lychgate (it knows the
# list's path and the upstream only then); that takes a few milliseconds of the startup time.
#
# Usage (as root or not; benchmarks are run by hand, not by CI):
#   benches/dns-side-by-side.sh
#   BLOCKED=100000 DUR=3 RUNS=1 benches/dns-side-by-side.sh        # quick look
#   NO_LYCHGATE=1 BLOCKED=100000 DUR=3 RUNS=1 benches/dns-side-by-side.sh   # peers only
#
# Environment:
#   BLOCKED DUR RUNS WARMUP QUERIES ALLOWED_DISTINCT ZIPF SUB_PCT SEED CLIENTS OUTSTANDING
#   UNBOUND_THREADS QUIET_WAIT QUIET_BUDGET ...   passed to the shared script (its header lists
#                   them; defaults BLOCKED=1000000 DUR=10 RUNS=3 WARMUP=3 UNBOUND_THREADS="1 2")
#   DNS_WORK        the shared script's WORK (data cached there between runs; default
#                   /tmp/bench-dns, the shared default)
#   WORK_DIR        Lychgate's config, request log, state and our report (default: a new /tmp
#                   dir, kept)
#   LYCHGATE_DNS    where Lychgate answers (default 127.0.0.1:15356)
#   GROUP           group of 127.0.0.1 (default ks2; must block `adult`)
#   SHIPPED_LISTS   1 keeps the shipped builtin lists too (default 0)
#   MAX_QPS_PER_CLIENT  Lychgate's [dns] max_qps_per_client here (default 1000000)
#   LYCHGATE_START_TIMEOUT  seconds Lychgate may take to block the last entry (default 60)
#   SHARED_BENCH    folder of the shared scripts (default <repo>/../shared/bench)
#   BENCH_LOCK      the shared script's lock file ('' = none; default /tmp/lychgate-bench.lock):
#                   other benchmarks on the box wait for each other through it
#   NO_LYCHGATE=1   run the peers only (checks the harness; no build)
#   STRICT=1        exit 3 when a DESIGN target is missed (default: targets are only reported)
#
# Ports (loopback): Lychgate dns 15356, proxy 18180, admin 18189; the shared script's upstream
# 15353, dnsmasq 15354, unbound 15355/15357.
#
# Output: progress on stderr; on stdout (and in WORK_DIR/results.md) the shared script's markdown
# report (also in DNS_WORK/report.md), then Lychgate's peak RSS, ratios against the peers and the
# DESIGN targets: qps ≥ unbound's best thread setting, ≥ 2× dnsmasq, peak RSS ≤ 64 MB with 1M
# domains, ≤ 1 s to the first (blocking) answer. The last line is the shared one-line summary.
# Exit status: 0 measured, 1 setup failed, 2 a server failed its start or checks (shared
# script), 3 (STRICT=1 only) a target missed. Everything started here is stopped by PID.
# The request log is a day's file (requests-YYYY-MM-DD.jsonl, the config's time zone): a run
# across local midnight counts only the first day's lines.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED_BENCH=${SHARED_BENCH:-$ROOT/../shared/bench}
DNS_WORK=${DNS_WORK:-/tmp/bench-dns}
LYCHGATE_DNS=${LYCHGATE_DNS:-127.0.0.1:15356}
LG_PROXY=127.0.0.1:18180
LG_ADMIN=127.0.0.1:18189
GROUP=${GROUP:-ks2}
SHIPPED_LISTS=${SHIPPED_LISTS:-0}
MAX_QPS_PER_CLIENT=${MAX_QPS_PER_CLIENT:-1000000}
NO_LYCHGATE=${NO_LYCHGATE:-0}
STRICT=${STRICT:-0}
BLOCKED=${BLOCKED:-1000000}
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/lychgate

log() { printf '[lychgate-dns-bench] %s\n' "$*" >&2; }
die() {
  printf '[lychgate-dns-bench] ERROR: %s\n' "$*" >&2
  exit 1
}

# ---------------------------------------------------------------- processes (by PID only)
SHARED_PID=
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  local i
  trap '' INT TERM
  # The shared script stops its own servers on TERM: give it time, then insist.
  if [[ -n $SHARED_PID ]] && kill -0 "$SHARED_PID" 2>/dev/null; then
    kill -TERM "$SHARED_PID" 2>/dev/null || true
    for ((i = 0; i < 600; i++)); do
      kill -0 "$SHARED_PID" 2>/dev/null || break
      # bash runs its TERM trap only when the command it waits for ends (e.g. flock on the
      # bench lock): after 5 s, TERM the shared script's direct children too.
      # shellcheck disable=SC2046 # word-split the PID list
      ((i == 50)) && kill -TERM $(ps -o pid= --ppid "$SHARED_PID") 2>/dev/null
      sleep 0.1
    done
    kill -0 "$SHARED_PID" 2>/dev/null && kill -KILL "$SHARED_PID" 2>/dev/null
    wait "$SHARED_PID" 2>/dev/null || true
  fi
  return 0
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b + 0 == 0) print "NA"; else printf "%.2f", a / b }'; }
verdict() { # value op threshold
  awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { if (v !~ /^[0-9.]+$/) { print "not measured"; exit }
    ok = (op == ">=" ? v + 0 >= t + 0 : v + 0 <= t + 0); print (ok ? "met" : "MISSED") }'
}

# ---------------------------------------------------------------- preflight
[[ $BLOCKED =~ ^[1-9][0-9]*$ ]] || die "BLOCKED must be a positive integer"
[[ $LYCHGATE_DNS =~ ^127\.[0-9]+\.[0-9]+\.[0-9]+:[0-9]+$ ]] || die "LYCHGATE_DNS must be 127.x.y.z:port"
[[ -r $SHARED_BENCH/dns-side-by-side.sh ]] ||
  die "shared bench script not found: $SHARED_BENCH/dns-side-by-side.sh (set SHARED_BENCH)"

need_pkgs=()
for pair in unbound:unbound dnsmasq:dnsmasq-base dnsperf:dnsperf dig:dnsutils python3:python3 ss:iproute2 ps:procps; do
  command -v "${pair%%:*}" >/dev/null || need_pkgs+=("${pair#*:}")
done
if ((${#need_pkgs[@]})); then
  log "installing ${need_pkgs[*]}"
  command -v apt-get >/dev/null || die "missing ${need_pkgs[*]} and no apt-get"
  ((EUID == 0)) || die "missing ${need_pkgs[*]}; installing them needs root"
  { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y "${need_pkgs[@]}" >&2; } ||
    die "cannot install ${need_pkgs[*]}"
fi

WORK_DIR=${WORK_DIR:-$(mktemp -d /tmp/lychgate-dns-bench.XXXXXX)}
mkdir -p "$WORK_DIR" && rm -rf "${WORK_DIR:?}"/{log,state} && mkdir -p "$WORK_DIR"/{log,state}
log "work dir: $WORK_DIR (shared data and peers' files: $DNS_WORK)"

# ---------------------------------------------------------------- build and config
LG_ENV=()
if [[ $NO_LYCHGATE != 1 ]]; then
  command -v cargo >/dev/null || die "cargo not found"
  log "cargo build --release -p lychgate --locked"
  (cd "$ROOT" && cargo build --release -p lychgate --locked) >&2 || die "build failed"
  [[ -x $BIN ]] || die "$BIN missing after the build"

  # The template: the default config with @BLOCKED_FILE@ and @UPSTREAM@ filled in at start.
  TEMPLATE=$WORK_DIR/lychgate.toml.in
  awk -v state="$WORK_DIR/state" -v logdir="$WORK_DIR/log" -v dns="$LYCHGATE_DNS" \
    -v proxy="$LG_PROXY" -v admin="$LG_ADMIN" -v group="$GROUP" -v shipped="$SHIPPED_LISTS" \
    -v maxqps="$MAX_QPS_PER_CLIENT" '
    function dns_keys() {
      print "upstreams = [\"@UPSTREAM@\"]"
      print "max_qps_per_client = " maxqps
      dns_done = 1
    }
    function flush() { if (!drop) printf "%s", block; block = ""; drop = 0 }
    /^\[/ { flush(); section = $0; net127 = 0 }
    # the shipped domain lists (unless SHIPPED_LISTS=1): a [[list]] block whose path is builtin:
    section == "[[list]]" && !shipped {
      block = block $0 "\n"
      if ($0 ~ /^path = "builtin:/) drop = 1
      next
    }
    /^state_dir = / { print "state_dir = \"" state "\""; next }
    section == "[listen]" && /^dns = / { print "dns = \"" dns "\""; next }
    section == "[listen]" && /^proxy = / { print "proxy = \"" proxy "\""; next }
    section == "[listen]" && /^admin = / { print "admin = \"" admin "\""; next }
    section == "[listen]" && /^transparent_https? = / { next }
    section == "[log]" && /^dir = / { print "dir = \"" logdir "\""; next }
    section == "[[network]]" && /^cidr = "127\.0\.0\.1\/32"/ { net127 = 1 }
    section == "[[network]]" && net127 && /^group = / { print "group = \"" group "\""; next }
    section == "[dns]" && /^(upstreams|max_qps_per_client) *=/ { next }
    { print }
    $0 == "[dns]" { dns_keys() }
    END {
      flush()
      if (!dns_done) { print ""; print "[dns]"; dns_keys() }
    }' "$ROOT/config/lychgate.toml" >"$TEMPLATE"
  cat >>"$TEMPLATE" <<'EOF'

# ---- added by benches/dns-side-by-side.sh: the shared benchmark's blocked domains
[[list]]
category = "adult"
name = "dns bench: synthetic blocked domains"
path = "@BLOCKED_FILE@"
format = "plain"
EOF
  for kv in "state_dir = \"$WORK_DIR/state\"" "dns = \"$LYCHGATE_DNS\"" "proxy = \"$LG_PROXY\"" \
    "admin = \"$LG_ADMIN\"" "dir = \"$WORK_DIR/log\"" "group = \"$GROUP\"" \
    'upstreams = ["@UPSTREAM@"]' "max_qps_per_client = $MAX_QPS_PER_CLIENT" '[dns]'; do
    grep -qxF "$kv" "$TEMPLATE" || die "config edit failed: '$kv' not in $TEMPLATE (did config/lychgate.toml change?)"
  done
  if [[ $SHIPPED_LISTS != 1 ]] && grep -q '^path = "builtin:' "$TEMPLATE"; then
    die "config edit failed: shipped lists left in $TEMPLATE"
  fi

  # The start command: render the template with the shared script's list and upstream, then
  # exec Lychgate (same PID, so the shared script's RSS and CPU figures are Lychgate's own).
  RUNNER=$WORK_DIR/run-lychgate.sh
  cat >"$RUNNER" <<EOF
#!/usr/bin/env bash
# Started by the shared script with BLOCKED_FILE and UPSTREAM in the environment.
set -euo pipefail
sed -e "s#@BLOCKED_FILE@#\$BLOCKED_FILE#" -e "s#@UPSTREAM@#\$UPSTREAM#" "$TEMPLATE" >"$WORK_DIR/lychgate.toml"
exec "$BIN" run "$WORK_DIR/lychgate.toml"
EOF
  chmod +x "$RUNNER"

  # Fail early (before minutes of peers) when the config does not load: a stand-in list.
  printf 'blocked-one.example\nblocked-two.example\n' >"$WORK_DIR/precheck-list.txt"
  sed -e "s#@BLOCKED_FILE@#$WORK_DIR/precheck-list.txt#" -e "s#@UPSTREAM@#127.0.0.1:15353#" \
    "$TEMPLATE" >"$WORK_DIR/precheck.toml"
  "$BIN" check-config "$WORK_DIR/precheck.toml" >"$WORK_DIR/precheck.txt" 2>&1 ||
    { cat "$WORK_DIR/precheck.txt" >&2; die "check-config refused the bench config ($WORK_DIR/precheck.toml)"; }
  log "config template $TEMPLATE passes check-config (group of 127.0.0.1: $GROUP, shipped lists: $SHIPPED_LISTS)"

  TZ_NAME=$(sed -n 's/^timezone = "\(.*\)"/\1/p' "$TEMPLATE" | head -n 1)
  LG_LOG=$WORK_DIR/log/requests-$(TZ=${TZ_NAME:-UTC} date +%F).jsonl
  LG_ENV=(LYCHGATE_CMD="$RUNNER" LYCHGATE_DNS="$LYCHGATE_DNS" LYCHGATE_LOG="$LG_LOG"
    LYCHGATE_LOG_MATCH='"type":"dns"')
fi

# ---------------------------------------------------------------- the shared run
mkdir -p "$DNS_WORK"
log "running $SHARED_BENCH/dns-side-by-side.sh (progress below)"
SHARED_RC=0
env -u LYCHGATE_CMD -u LYCHGATE_DNS -u LYCHGATE_LOG -u LYCHGATE_LOG_MATCH \
  WORK="$DNS_WORK" BLOCKED="$BLOCKED" "${LG_ENV[@]}" \
  bash "$SHARED_BENCH/dns-side-by-side.sh" >"$WORK_DIR/shared.md" 2> >(tee "$WORK_DIR/shared.log" >&2) &
SHARED_PID=$!
wait "$SHARED_PID" || SHARED_RC=$?
SHARED_PID=
((SHARED_RC == 0)) || log "the shared script exited with status $SHARED_RC (see above)"
[[ -s $WORK_DIR/shared.md ]] || die "the shared script wrote no report"

# ---------------------------------------------------------------- our additions
# cell LABEL-PREFIX TABLE-NO COLUMN: a cell of the shared report's first or second table, by
# the row's label (the first row whose label starts with the prefix; for unbound the caller
# passes the full label).
cell() {
  awk -F'|' -v p="$1" -v t="$2" -v c="$3" '
    /^\| server \|/ { n++ }
    n == t && /^\| / { l = $2; gsub(/^ +| +$/, "", l)
      if (index(l, p) == 1) { v = $(c + 1); gsub(/^ +| +$/, "", v); print v; exit } }' "$WORK_DIR/shared.md"
}
SUMMARY=$(grep '^dns: ' "$WORK_DIR/shared.md" | tail -n 1)
field() { sed -n "s/.* $1=\\([^ ]*\\).*/\\1/p" <<<" $SUMMARY"; }
QPS_U=$(field unbound)
QPS_D=$(field dnsmasq)
QPS_L=$(field lychgate)
# the best unbound variant's label: the unbound row with the summary's qps
UNBOUND_LABEL=$(awk -F'|' -v q="$QPS_U" '/^\| server \|/ { n++ } n == 1 && /^\| unbound/ {
  l = $2; v = $3; gsub(/^ +| +$/, "", l); gsub(/ /, "", v); if (v == q) { print l; exit } }' "$WORK_DIR/shared.md")
HWM_L=$(cell Lychgate 2 3)
START_L=$(cell Lychgate 1 6)
# Lychgate's figures count only when it was measured (the shared script fills 0.0/NA otherwise).
if ! [[ $QPS_L =~ ^[0-9]+$ ]]; then HWM_L=NA START_L=NA; fi
HWM_D=$(cell dnsmasq 2 3)
HWM_U=NA
[[ -n $UNBOUND_LABEL ]] && HWM_U=$(cell "$UNBOUND_LABEL" 2 3)
LOGGED_L=$(cell Lychgate 2 6)

# The request log: lines of type dns, and the bench's blocked probes logged as blocked adult.
LOG_CHECK=
if [[ $NO_LYCHGATE != 1 ]]; then
  dns_lines=$(grep -c '"type":"dns"' "$LG_LOG" 2>/dev/null || true)
  LOG_CHECK="request log $LG_LOG: ${dns_lines:-0} lines of type dns"
  if [[ -r $DNS_WORK/data/probes.env ]]; then
    probe=$(sed -n 's/^PROBE_BLOCKED_MID=//p' "$DNS_WORK/data/probes.env" | tr -d "'\"")
    if [[ -n $probe ]] && grep -F "\"host\":\"$probe\"" "$LG_LOG" 2>/dev/null | grep -F '"type":"dns"' |
      grep -F '"decision":"block"' | grep -qF '"category":"adult"'; then
      LOG_CHECK+="; the probe $probe logged as blocked, category adult"
    else
      LOG_CHECK+="; NO block line (category adult) for the probe $probe"
    fi
  fi
  log "$LOG_CHECK"
fi

{
  sed '$d' "$WORK_DIR/shared.md"
  if [[ $NO_LYCHGATE != 1 ]]; then
    echo "### Lychgate against the DESIGN targets"
    echo
    echo "Lychgate $("$BIN" --version 2>/dev/null | awk '{ print $2 }') ($(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')): default groups, 127.0.0.1 in group \`$GROUP\`, the $BLOCKED listed domains as \`adult\`$([[ $SHIPPED_LISTS == 1 ]] && echo ' plus the shipped lists' || echo ' only (no shipped lists)'), [dns] max_qps_per_client = $MAX_QPS_PER_CLIENT, request log on."
    echo "Peak RSS (VmHWM at the end of the runs): lychgate $HWM_L MB, ${UNBOUND_LABEL:-unbound} $HWM_U MB, dnsmasq $HWM_D MB;"
    echo "ratios (peak RSS): lychgate/unbound $(ratio "$HWM_L" "$HWM_U"), lychgate/dnsmasq $(ratio "$HWM_L" "$HWM_D")."
    echo "Ratios (qps): lychgate/unbound $(ratio "$QPS_L" "$QPS_U") (best variant: ${UNBOUND_LABEL:-none}), lychgate/dnsmasq $(ratio "$QPS_L" "$QPS_D")."
    echo "${LOG_CHECK^}; logged % (shared count over the measured runs): ${LOGGED_L:-NA}."
    echo
    if [[ $HWM_L == NA && -r $DNS_WORK/lychgate.out ]]; then
      echo "Lychgate was not measured; the last lines of its output ($DNS_WORK/lychgate.out):"
      echo
      tail -n 5 "$DNS_WORK/lychgate.out" | sed 's/^/    /'
      echo
    fi
    echo "| target | measured | verdict |"
    echo "|---|---|---|"
    r_u=$(ratio "$QPS_L" "$QPS_U")
    r_d=$(ratio "$QPS_L" "$QPS_D")
    echo "| qps ≥ unbound's best thread setting | ${r_u}× | $(verdict "$r_u" '>=' 1) |"
    echo "| qps ≥ 2× dnsmasq | ${r_d}× | $(verdict "$r_d" '>=' 2) |"
    echo "| peak RSS ≤ 64 MB with $BLOCKED domains$( ((BLOCKED < 1000000)) && echo ' (target is for 1M)') | ${HWM_L:-NA} MB | $(verdict "${HWM_L:-NA}" '<=' 64) |"
    echo "| ≤ 1 s to the first blocking answer | ${START_L:-NA} s | $(verdict "${START_L:-NA}" '<=' 1) |"
    echo
  fi
  echo "$SUMMARY"
} >"$WORK_DIR/results.md"
cat "$WORK_DIR/results.md"
log "results in $WORK_DIR/results.md (shared report: $DNS_WORK/report.md)"
((SHARED_RC == 0)) || exit "$SHARED_RC"
grep -q '| MISSED |' "$WORK_DIR/results.md" && ((STRICT)) && exit 3
exit 0
