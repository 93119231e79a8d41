#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Lychgate's filtering DNS server as `dig` sees it (docs/dns.md, "Try it" and "What it answers").
#
# Starts a local upstream (lib/dns_upstream.py on a loopback port: forcesafesearch.google.com,
# www.google.co.uk and www.bbc.co.uk have public addresses, every other name is NXDOMAIN; it
# records every question it gets) and Lychgate with the default config, its DNS listener on a
# free loopback port, `[dns] upstreams` = that upstream and one [[static_host]]. Then digs, each
# printed with its answer, from the default config's loopback addresses (127.0.0.1 staff,
# 127.0.0.2 KS2 pupil, 127.0.0.9 in no network):
#   - lychgate.internal answers the DNS listener's address;
#   - a gambling name is NXDOMAIN (with a SOA) for a pupil: A, AAAA, and A over TCP;
#   - an allowed name is answered from the upstream (UDP, then TCP from the cache) and a
#     [[static_host]] name from the config;
#   - www.google.co.uk is a CNAME to forcesafesearch.google.com plus its address for a pupil,
#     the plain upstream address for staff;
#   - the canaries use-application-dns.net and mask.icloud.com are NXDOMAIN for everyone;
#   - a client outside every [[network]] gets REFUSED.
# Then: the upstream never saw a blocked, canary, static or refused question and saw the allowed
# one once; the request log has exactly one `"type":"dns"` line per served dig, with the
# documented decision, category, flags, rcode and cache_hit for each kind, and the refused one
# in a summary line (count 1) written when Lychgate stops; Lychgate exits 0 on SIGTERM.
# Installs dnsutils (dig) with apt-get when missing; under CI=true a missing prerequisite is a
# failure, elsewhere a skip. Loopback only: nothing is sent to the internet.
set -euo pipefail
cd "$(dirname "$0")/../.."

HERE=tests/system
LG_TAG=dns
# shellcheck source=lib/lychgate.sh
source "$HERE/lib/lychgate.sh"

lg_require dig:dnsutils python3:python3
lg_build

WORK=$(mktemp -d)
UP_PID=""
on_exit() {
  local rc=$?
  lg_stop_all
  if [[ -n $UP_PID ]]; then
    kill "$UP_PID" 2>/dev/null || true
    timeout 10 tail --pid="$UP_PID" -f /dev/null 2>/dev/null || kill -KILL "$UP_PID" 2>/dev/null || true
  fi
  if ((rc != 0)); then
    echo "---- upstream questions ----" >&2
    cat "$WORK/upstream-queries.log" >&2 2>/dev/null || true
    tail -n 10 "$WORK/upstream.err" >&2 2>/dev/null || true
    echo "---- lychgate stdout/stderr (last lines) ----" >&2
    tail -n 20 "$WORK"/lychgate.toml.lg.out "$WORK"/lychgate.toml.lg.err >&2 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap on_exit EXIT

# ---------------------------------------------------------------- the local upstream
SAFE_V4=216.239.38.120
SAFE_V6=2001:4860:4802:32::78
GOOGLE_V4=142.250.187.227
BBC_V4=151.101.0.81
STATIC_NAME=learning.lychgate-primary.sch.uk
STATIC_V4=203.0.113.80
: >"$WORK/upstream-queries.log"
python3 "$HERE/lib/dns_upstream.py" 0 "$WORK/upstream-queries.log" \
  "forcesafesearch.google.com=$SAFE_V4,$SAFE_V6" "www.google.co.uk=$GOOGLE_V4" "www.bbc.co.uk=$BBC_V4" \
  >"$WORK/upstream.out" 2>"$WORK/upstream.err" &
UP_PID=$!
timeout 10 bash -c "until grep -q '^listening' '$WORK/upstream.out'; do kill -0 $UP_PID || exit 1; sleep 0.05; done" ||
  fail "the local upstream did not start: $(cat "$WORK/upstream.err")"
UP_PORT=$(awk '$1 == "listening" {print $2; exit}' "$WORK/upstream.out")
log "local upstream on 127.0.0.1:$UP_PORT (UDP and TCP)"

# ---------------------------------------------------------------- Lychgate
lg_config "$WORK/lychgate.toml" "$WORK" proxy=127.0.0.1:0 admin=127.0.0.1:0 transparent_http= \
  transparent_https= dns=127.0.0.1:0 <<EOF
[[static_host]]
name = "$STATIC_NAME"
addresses = ["$STATIC_V4"]
EOF
# [dns] upstreams: into the default config's [dns] table if it has one, else a new table.
if grep -qx '\[dns\]' "$WORK/lychgate.toml"; then
  sed -i -e '/^upstreams = /d' -e "s|^\\[dns\\]\$|[dns]\\nupstreams = [\"127.0.0.1:$UP_PORT\"]|" "$WORK/lychgate.toml"
else
  printf '\n[dns]\nupstreams = ["127.0.0.1:%s"]\n' "$UP_PORT" >>"$WORK/lychgate.toml"
fi
"$LG_BIN" check-config "$WORK/lychgate.toml" >"$WORK/check.txt" 2>&1 || {
  cat "$WORK/check.txt" >&2
  fail "lychgate check-config refused the DNS test config"
}
lg_start lg "$WORK/lychgate.toml"
DNS=$(lg_addr lg dns)
DNS_PORT=${DNS##*:}
[[ $DNS == "127.0.0.1:$DNS_PORT" && $DNS_PORT != 0 ]] || fail "listening dns $DNS, configured 127.0.0.1:0"

# ---------------------------------------------------------------- digs
DIGS=0
STATUS=""
ANSWER=""
# ask EXPECTED-STATUS SOURCE [DIG-ARGS...] NAME — one question from SOURCE (no retry), printed
# with the answer; sets STATUS and ANSWER (the answer and authority records).
ask() {
  local want=$1 src=$2 out
  shift 2
  DIGS=$((DIGS + 1))
  out=$(timeout 20 dig @127.0.0.1 -p "$DNS_PORT" -b "$src" +tries=1 +time=5 +noall +comments \
    +answer +authority "$@" 2>&1) || {
    printf '%s\n' "$out" | sed 's/^/    /'
    fail "dig -b $src $* got no answer"
  }
  STATUS=$(sed -n 's/.*status: \([A-Z]*\),.*/\1/p' <<<"$out" | head -n 1)
  ANSWER=$(grep -v -e '^;' -e '^$' <<<"$out" || true)
  log "dig @127.0.0.1 -p $DNS_PORT -b $src $* -> ${STATUS:-no status}"
  grep -e '^;; flags:' <<<"$out" | sed 's/^;; /    /' || true
  [[ -z $ANSWER ]] || printf '    %s\n' "${ANSWER//$'\n'/$'\n    '}"
  [[ $STATUS == "$want" ]] || fail "dig -b $src $*: status ${STATUS:-none}, expected $want"
  grep -q '^;; flags:.* ra[ ;]' <<<"$out" || fail "dig -b $src $*: RA not set in the answer"
}
# has NAME TYPE DATA — ANSWER holds that record.
has() {
  awk -v n="$1" -v t="$2" -v d="$3" '$1 == n && $4 == t && $5 == d { f = 1 } END { exit !f }' <<<"$ANSWER" ||
    fail "no record '$1 $2 $3' in the answer"
}
# no_type TYPE — ANSWER holds no record of that type.
no_type() {
  ! awk -v t="$1" '$4 == t { f = 1 } END { exit !f }' <<<"$ANSWER" || fail "unexpected $1 record in the answer"
}
# soa_ttl_max SECONDS — the answer carries a SOA (authority) whose TTL is at most SECONDS.
soa_ttl_max() {
  awk -v m="$1" '$4 == "SOA" && $2 <= m { f = 1 } END { exit !f }' <<<"$ANSWER" ||
    fail "no SOA with TTL <= $1 in the NXDOMAIN answer"
}

log "Lychgate's own name"
ask NOERROR 127.0.0.1 lychgate.internal A
has lychgate.internal. A 127.0.0.1

log "blocked for a KS2 pupil (gambling): NXDOMAIN for every type, UDP and TCP"
ask NXDOMAIN 127.0.0.2 www.bet365.com A
soa_ttl_max 60
no_type A
ask NXDOMAIN 127.0.0.2 www.bet365.com AAAA
ask NXDOMAIN 127.0.0.2 +tcp www.bet365.com A

log "allowed: from the upstream (UDP, then TCP from the cache) and from a [[static_host]]"
ask NOERROR 127.0.0.2 www.bbc.co.uk A
has www.bbc.co.uk. A "$BBC_V4"
ask NOERROR 127.0.0.2 +tcp www.bbc.co.uk A
has www.bbc.co.uk. A "$BBC_V4"
ask NOERROR 127.0.0.2 "$STATIC_NAME" A
has "$STATIC_NAME." A "$STATIC_V4"

log "SafeSearch: a CNAME to forcesafesearch.google.com for a pupil, the plain answer for staff"
ask NOERROR 127.0.0.2 www.google.co.uk A
has www.google.co.uk. CNAME forcesafesearch.google.com.
has forcesafesearch.google.com. A "$SAFE_V4"
ask NOERROR 127.0.0.1 www.google.co.uk A
has www.google.co.uk. A "$GOOGLE_V4"
no_type CNAME

log "canaries: NXDOMAIN for staff and pupils alike"
ask NXDOMAIN 127.0.0.1 use-application-dns.net A
ask NXDOMAIN 127.0.0.2 mask.icloud.com A

log "not a school network (127.0.0.9): REFUSED"
ask REFUSED 127.0.0.9 outsider.lychgate-primary.sch.uk A
[[ -z $ANSWER ]] || fail "REFUSED came with records"

# ---------------------------------------------------------------- what reached the upstream
log "questions the upstream received:"
sed 's/^/    /' "$WORK/upstream-queries.log"
for name in www.bet365.com use-application-dns.net mask.icloud.com "$STATIC_NAME" outsider.lychgate-primary.sch.uk lychgate.internal; do
  ! grep -q " $name " "$WORK/upstream-queries.log" || fail "the upstream was asked for $name"
done
n=$(grep -c '^[a-z]* www\.bbc\.co\.uk A$' "$WORK/upstream-queries.log" || true)
[[ $n == 1 ]] || fail "the upstream was asked for www.bbc.co.uk A $n times (expected once: the second answer is cached)"
grep -q ' forcesafesearch\.google\.com A$' "$WORK/upstream-queries.log" ||
  fail "forcesafesearch.google.com was not resolved upstream"

# ---------------------------------------------------------------- the request log
RL=(python3 "$HERE/lib/requestlog.py")
# The refused dig is not a line of its own: it is counted into a summary line, written every
# [log] summary_interval_seconds (10 s) and at shutdown (checked after the stop below).
SERVED=$((DIGS - 1))
if ! timeout 15 bash -c "until [[ \$(${RL[*]} count '$WORK/log' type=dns) -ge $SERVED ]]; do sleep 0.1; done"; then
  fail "$("${RL[@]}" count "$WORK/log" type=dns) request log lines of type dns within 15 s, expected $SERVED"
fi
sleep 0.5 # a line too many would come now
"${RL[@]}" check "$WORK/log" >/dev/null || fail "the request log does not follow schema v1 (with the DNS fields)"
lines=$("${RL[@]}" count "$WORK/log" type=dns)
all=$("${RL[@]}" count "$WORK/log")
summaries=$("${RL[@]}" count "$WORK/log" flags+=summary)
log "request log: $lines lines of type dns ($all in all, $summaries summaries) for $DIGS digs"
# A summary line may already be there if the digs took longer than the interval.
[[ $((lines - summaries)) == "$SERVED" ]] || fail "$lines dns log lines for $SERVED served digs"
[[ $((all - summaries)) == "$SERVED" ]] || fail "$all log lines in all for $SERVED served digs"

# expect_line COND... — the log has a line matching every COND; prints it.
expect_line() {
  local line
  line=$("${RL[@]}" wait "$WORK/log" 5 type=dns "$@") || fail "no dns log line with $*"
  log "log ($*):"
  printf '    %s\n' "$line"
}
expect_line host=lychgate.internal client=127.0.0.1 group=staff decision=allow rcode=NOERROR qtype=A cache_hit=null
expect_line host=www.bet365.com client=127.0.0.2 group=ks2 decision=block category=gambling qtype=A rcode=NXDOMAIN cache_hit=null
expect_line host=www.bet365.com client=127.0.0.2 decision=block category=gambling qtype=AAAA rcode=NXDOMAIN
expect_line host=www.bbc.co.uk client=127.0.0.2 decision=allow rcode=NOERROR cache_hit=false
expect_line host=www.bbc.co.uk client=127.0.0.2 decision=allow rcode=NOERROR cache_hit=true
expect_line host="$STATIC_NAME" decision=allow rcode=NOERROR cache_hit=null
expect_line host=www.google.co.uk client=127.0.0.2 group=ks2 rcode=NOERROR flags+=safe_search
expect_line host=www.google.co.uk client=127.0.0.1 group=staff decision=allow rcode=NOERROR
expect_line host=use-application-dns.net client=127.0.0.1 decision=block rcode=NXDOMAIN flags+=canary
expect_line host=mask.icloud.com client=127.0.0.2 decision=block rcode=NXDOMAIN flags+=canary
n=$("${RL[@]}" count "$WORK/log" type=dns host=www.google.co.uk client=127.0.0.1 flags+=safe_search)
[[ $n == 0 ]] || fail "staff's www.google.co.uk was logged with safe_search"

lg_stop lg
[[ $LG_STOP_RC == 0 ]] || fail "lychgate exited with status $LG_STOP_RC on SIGTERM"
# Refused traffic is a summary line per client (docs/logging.md), written at the latest on stop.
expect_line client=127.0.0.9 decision=block flags+=not_in_network flags+=summary count=1
[[ $("${RL[@]}" count "$WORK/log") == "$DIGS" ]] || fail "$("${RL[@]}" count "$WORK/log") log lines after the stop for $DIGS digs"
log "PASS: $DIGS digs answered as docs/dns.md says (blocked, allowed, static, SafeSearch, canaries, TCP, REFUSED), one log line each (the refused one a summary)"
