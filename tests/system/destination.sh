#!/usr/bin/env bash
# The proxy's destination policy with real dials (issue 11, SSRF), in network namespaces with no
# route out of them (tests/system/lib/netns.sh): client ⇄ gateway ⇄ origin. The origin also
# holds a private address (10.77.0.10) and a link-local one (169.254.77.10), routed from the
# gateway, and one web server answers on all of them — so a request the policy failed to stop
# would get an answer. Names come from the gateway namespace's /etc/hosts (ip netns exec mounts
# /etc/netns/NAME/hosts), so they go through the system resolver like any name on the internet.
#
# The explicit proxy on the LAN address, for a KS2 client:
#   - http://public.test/ (the origin's TEST-NET address) → 200 from the origin (the control);
#   - http://intranet.test/ (10.77.0.10) → 403, flag destination_refused, rule `private`;
#   - http://metadata.test/ (169.254.77.10) → 403, rule `link_local`;
#   - http://gateway.test:<admin port>/metrics and :<DNS port> (the gateway's own LAN address;
#     the listeners are on loopback) → 403 `own_listener`; http://gateway.test/ → 403
#     `own_address`;
#   - the origin saw none of the refused requests; lychgate_destination_refused_total counts them.
# Then with `[proxy] allowed_private_destinations = ["10.77.0.0/24"]`: intranet.test → 200, and
# metadata.test still 403.
# Needs root; installs missing packages with apt-get; under CI=true a missing prerequisite is a
# failure, elsewhere a skip.
set -euo pipefail
cd "$(dirname "$0")/../.."

HERE=tests/system
LG_TAG=destination
# shellcheck source=lib/lychgate.sh
source "$HERE/lib/lychgate.sh"

lg_need_root
lg_require ip:iproute2 ss:iproute2 curl:curl python3:python3
if ! { ip netns add "lgprobe$$" 2>/dev/null && ip netns delete "lgprobe$$"; }; then
  skip_or_fail "cannot create network namespaces here"
fi
lg_build

# shellcheck source=lib/netns.sh
source "$HERE/lib/netns.sh"
WORK=$(mktemp -d)
LOGDIR=
ORIGIN_LOG=$WORK/origin.log
REQLOG="python3 $PWD/$HERE/lib/requestlog.py"
PROXY_PORT=3128
ADMIN_PORT=9090
DNS_PORT=5300
PRIVATE4=10.77.0.10
LINKLOCAL4=169.254.77.10
on_exit() {
  local rc=$?
  lg_stop_all
  if ((rc != 0)); then
    echo "---- lychgate stderr ----" >&2
    tail -n 30 "$WORK"/*.toml.*.err >&2 2>/dev/null || true
    echo "---- request log (last lines) ----" >&2
    tail -n 10 "$WORK"/*/log/requests-*.jsonl >&2 2>/dev/null || true
    echo "---- origin saw ----" >&2
    cat "$ORIGIN_LOG" >&2 2>/dev/null || true
  fi
  rm -rf "$WORK"
  [[ -z ${NETNS_GW:-} ]] || rm -rf "/etc/netns/$NETNS_GW"
}
trap on_exit EXIT
netns_setup # appends the namespace teardown to the EXIT trap

# The origin's extra addresses, reachable from the gateway only through these routes.
netns_exec origin ip addr add "$PRIVATE4/24" dev "$NETNS_ORIGIN_IF"
netns_exec origin ip addr add "$LINKLOCAL4/24" dev "$NETNS_ORIGIN_IF"
netns_exec gw ip route add 10.77.0.0/24 via "$NETNS_ORIGIN4"
netns_exec gw ip route add 169.254.77.0/24 via "$NETNS_ORIGIN4"
: >"$ORIGIN_LOG"
# One web server on every origin address; it logs each request line to stderr.
mkdir -p "$WORK/site"
echo "origin" >"$WORK/site/index.html"
ip netns exec "$NETNS_ORIGIN" python3 -m http.server 80 --bind 0.0.0.0 \
  --directory "$WORK/site" 2>"$ORIGIN_LOG" >/dev/null &
disown
netns_wait_listen origin tcp:80 10 || fail "the origin did not start"
netns_exec gw timeout 5 curl -sS -o /dev/null "http://$PRIVATE4/" ||
  fail "the gateway cannot reach the origin's private address (the test would prove nothing)"
netns_exec gw timeout 5 curl -sS -o /dev/null "http://$LINKLOCAL4/" ||
  fail "the gateway cannot reach the origin's link-local address"
: >"$ORIGIN_LOG"

# Names for the gateway's system resolver.
mkdir -p "/etc/netns/$NETNS_GW"
cat >"/etc/netns/$NETNS_GW/hosts" <<EOF
127.0.0.1 localhost
$NETNS_ORIGIN4 public.test
$PRIVATE4 intranet.test
$LINKLOCAL4 metadata.test
$NETNS_GW_LAN4 gateway.test
EOF

start_gateway() { # name [extra [proxy] keys]; each run its own work folder and request log
  mkdir -p "$WORK/$1"
  LOGDIR=$WORK/$1/log
  lg_config "$WORK/$1.toml" "$WORK/$1" proxy="$NETNS_GW_LAN4:$PROXY_PORT" \
    admin="127.0.0.1:$ADMIN_PORT" dns="127.0.0.1:$DNS_PORT" transparent_http= transparent_https= <<EOF
[[network]]
cidr = "$NETNS_LAN_NET4"
group = "ks2"
name = "system test: KS2 classroom"
EOF
  if [[ -n ${2:-} ]]; then
    sed -i "s|^connect_ports = \[443\]|connect_ports = [443]\n$2|" "$WORK/$1.toml"
    "$LG_BIN" check-config "$WORK/$1.toml" >/dev/null || fail "check-config refused $2"
  fi
  lg_start "$1" "$WORK/$1.toml" ip netns exec "$NETNS_GW"
}

fetch() { # url → STATUS, BODY
  STATUS=$(netns_exec client timeout 20 curl -sS --max-time 10 -x "http://$NETNS_GW_LAN4:$PROXY_PORT" \
    -o "$WORK/body" -w '%{http_code}' "$1" 2>"$WORK/curl.err") || true
  BODY=$(cat "$WORK/body" 2>/dev/null || true)
  log "client: $1 -> $STATUS $(head -c 80 <<<"$BODY" | tr '\n' ' ')"
}

expect_refused() { # url reason host
  fetch "$1"
  [[ $STATUS == 403 ]] || fail "$1: expected 403, got $STATUS"
  LINE=$($REQLOG wait "$LOGDIR" 5 type=http host="$3" decision=block flags+=destination_refused) ||
    fail "no log line for $1 with destination_refused"
  [[ $LINE == *"($2)"* ]] || fail "$1: the log line does not give the reason $2: $LINE"
  log "  log: $LINE"
}

start_gateway first
fetch "http://public.test/"
[[ $STATUS == 200 && $BODY == origin ]] || fail "the control request did not reach the origin"
grep -q "GET / " "$ORIGIN_LOG" || fail "the origin did not log the control request"
: >"$ORIGIN_LOG"
expect_refused "http://intranet.test/" private intranet.test
expect_refused "http://metadata.test/" link_local metadata.test
expect_refused "http://gateway.test:$ADMIN_PORT/metrics" own_listener "gateway.test:$ADMIN_PORT"
expect_refused "http://gateway.test:$DNS_PORT/" own_listener "gateway.test:$DNS_PORT"
expect_refused "http://gateway.test/" own_address gateway.test
[[ ! -s $ORIGIN_LOG ]] || fail "the origin received a refused request: $(cat "$ORIGIN_LOG")"
metrics=$(netns_exec gw timeout 5 curl -sS "http://127.0.0.1:$ADMIN_PORT/metrics")
for count in private=1 link_local=1 own_listener=2 own_address=1; do
  grep -qx "lychgate_destination_refused_total{reason=\"${count%=*}\"} ${count#*=}" <<<"$metrics" ||
    fail "lychgate_destination_refused_total{reason=\"${count%=*}\"} is not ${count#*=}"
done
lg_stop first
$REQLOG check "$LOGDIR" || fail "the request log does not follow schema v1"

log "with allowed_private_destinations = [\"10.77.0.0/24\"]"
start_gateway second 'allowed_private_destinations = ["10.77.0.0/24"]'
fetch "http://intranet.test/"
[[ $STATUS == 200 && $BODY == origin ]] || fail "a listed private range was not reached"
grep -q "GET / " "$ORIGIN_LOG" || fail "the origin did not log the listed private request"
: >"$ORIGIN_LOG"
expect_refused "http://metadata.test/" link_local metadata.test
[[ ! -s $ORIGIN_LOG ]] || fail "the origin received a refused request: $(cat "$ORIGIN_LOG")"
lg_stop second
$REQLOG check "$LOGDIR" || fail "the request log does not follow schema v1"
log "ok"
