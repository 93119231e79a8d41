#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Transparent mode end to end, in network namespaces: a pupil's device that knows nothing about
# any proxy is filtered by Lychgate because the gateway's nftables rules (deploy/nftables/)
# redirect its web traffic to Lychgate's transparent listeners.
#
#   client 192.0.2.10 / 2001:db8:1::10  ⇄  gateway (Lychgate, the rendered nftables rules)  ⇄
#   origin 198.51.100.10 / 2001:db8:2::10 (HTTP :80, HTTPS :443, answering who asked what)
#
# Lychgate runs the default policy (config/lychgate.toml) with the LAN mapped to the pupil group
# ks2 and real names mapped to the origin by [[static_host]]. For IPv4 and IPv6, curl in the
# client checks: HTTP allowed and blocked (block page), HTTPS allowed and blocked by SNI (TLS
# alert), a Host/SNI that does not resolve to the dialled address refused (host_mismatch), and
# the request log line of each. Also: the explicit proxy on the gateway's LAN address, QUIC
# (UDP 443) dropped, and that blocked or refused requests never reached the origin.
# Needs root; installs missing packages with apt-get; under CI=true a missing prerequisite is a
# failure, elsewhere a skip.
set -euo pipefail
cd "$(dirname "$0")/../.."

HERE=tests/system
LG_TAG=transparent
# shellcheck source=lib/lychgate.sh
source "$HERE/lib/lychgate.sh"

lg_need_root
lg_require ip:iproute2 ss:iproute2 nft:nftables curl:curl python3:python3 openssl:openssl
if ! { ip netns add "lgprobe$$" 2>/dev/null && ip netns delete "lgprobe$$"; }; then
  skip_or_fail "cannot create network namespaces here"
fi
lg_build

# shellcheck source=lib/netns.sh
source "$HERE/lib/netns.sh"
WORK=$(mktemp -d)
LOGDIR=$WORK/log
ORIGIN_LOG=$WORK/origin.log
REQLOG="python3 $PWD/$HERE/lib/requestlog.py"
on_exit() {
  local rc=$?
  lg_stop_all
  if ((rc != 0)); then
    echo "---- lychgate stderr ----" >&2
    tail -n 30 "$WORK"/lychgate.toml.gw.err >&2 2>/dev/null || true
    echo "---- request log (last lines) ----" >&2
    tail -n 10 "$LOGDIR"/requests-*.jsonl >&2 2>/dev/null || true
    echo "---- origin saw ----" >&2
    cat "$ORIGIN_LOG" >&2 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap on_exit EXIT
netns_setup # appends the namespace teardown to the EXIT trap

PROXY_PORT=3128
HTTP_PORT=3129
HTTPS_PORT=3130
DNS_PORT=5300
log "loading the rendered nftables rules into the gateway namespace"
netns_load_nftables PROXY_PORT=$PROXY_PORT PROXY_HTTP_PORT=$HTTP_PORT \
  PROXY_HTTPS_PORT=$HTTPS_PORT DNS_PORT=$DNS_PORT || fail "nft refused the rendered rules"

# The origin: the "real" sites, plus a second address (.99) that is not where www.bbc.co.uk
# resolves, so that a request the host check fails to stop would get an answer.
netns_exec origin ip addr add 198.51.100.99/24 dev "$NETNS_ORIGIN_IF"
netns_exec origin ip -6 addr add 2001:db8:2::99/64 dev "$NETNS_ORIGIN_IF" nodad
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=www.bbc.co.uk -addext subjectAltName=DNS:www.bbc.co.uk,DNS:pornhub.com \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null || fail "openssl could not make a certificate"
: >"$ORIGIN_LOG"
# Disowned: netns_teardown ends everything in the namespaces, and bash stays quiet about it.
ip netns exec "$NETNS_ORIGIN" python3 "$HERE/lib/origin.py" web "$WORK/cert.pem" "$WORK/key.pem" \
  "$ORIGIN_LOG" 2>"$WORK/origin.err" &
disown
for port in 443 4433; do
  ip netns exec "$NETNS_ORIGIN" python3 "$HERE/lib/probe_peer.py" udp-log $port "$WORK/udp$port" &
  disown
done
for p in tcp:80 tcp:443 udp:443 udp:4433; do
  netns_wait_listen origin "$p" 10 || fail "origin listener on $p did not start"
done

# Lychgate in the gateway: the explicit proxy on the LAN address, the transparent listeners
# dual-stack on the ports the rules redirect to (IPv4 clients arrive as IPv4-mapped addresses),
# admin on the gateway's own loopback. The nftables input chain keeps the uplink out.
lg_config "$WORK/lychgate.toml" "$WORK" proxy="$NETNS_GW_LAN4:$PROXY_PORT" admin=127.0.0.1:9090 \
  transparent_http="[::]:$HTTP_PORT" transparent_https="[::]:$HTTPS_PORT" dns="[::]:$DNS_PORT" <<EOF
[[network]]
cidr = "$NETNS_LAN_NET4"
group = "ks2"
name = "system test: KS2 classroom (IPv4)"

[[network]]
cidr = "$NETNS_LAN_NET6"
group = "ks2"
name = "system test: KS2 classroom (IPv6)"

[[static_host]]
name = "www.bbc.co.uk"
addresses = ["$NETNS_ORIGIN4", "$NETNS_ORIGIN6"]

[[static_host]]
name = "pornhub.com"
addresses = ["$NETNS_ORIGIN4", "$NETNS_ORIGIN6"]
EOF
lg_start gw "$WORK/lychgate.toml" ip netns exec "$NETNS_GW"

EXPECTED_LINES=0 # requests that reached Lychgate, one log line each

# client_curl ARGS... — curl in the client namespace. Sets STATUS (HTTP code, 000 for none),
# BODY, HEADERS, CURL_RC and CURL_ERR, and prints the command with its outcome.
client_curl() {
  CURL_RC=0
  STATUS=$(netns_exec client timeout 20 curl -gsS --max-time 10 -D "$WORK/headers" \
    -o "$WORK/body" -w '%{http_code}' "$@" 2>"$WORK/curl.err") || CURL_RC=$?
  BODY=$(cat "$WORK/body" 2>/dev/null || true)
  HEADERS=$(tr -d '\r' <"$WORK/headers" 2>/dev/null || true)
  CURL_ERR=$(cat "$WORK/curl.err")
  rm -f "$WORK/body" "$WORK/headers"
  local err=""
  [[ -z $CURL_ERR ]] || err="err='$CURL_ERR' "
  log "client: curl $* -> rc=$CURL_RC status=$STATUS ${err}body='$(head -c 120 <<<"$BODY" | tr '\n' ' ')'"
  EXPECTED_LINES=$((EXPECTED_LINES + 1))
}

# expect_log COND... — the request log has a line matching every COND (within 5 s); sets LINE.
expect_log() {
  LINE=$($REQLOG wait "$LOGDIR" 5 "$@") || fail "no request log line with: $*"
  log "  log: $LINE"
}

origin_never_saw() { # text
  if grep -F -- "$1" "$ORIGIN_LOG"; then fail "the origin received a request with '$1'"; fi
}

for fam in 4 6; do
  if [[ $fam == 4 ]]; then
    client=$NETNS_CLIENT4 origin=$NETNS_ORIGIN4 other=198.51.100.99 gw_wan=$NETNS_GW_WAN4
  else
    client=$NETNS_CLIENT6 origin="[$NETNS_ORIGIN6]" other="[2001:db8:2::99]" gw_wan=$NETNS_GW_WAN6
  fi
  log "=== IPv$fam: client $client, origin $origin ==="

  # HTTP, allowed: the origin answers, and sees the gateway (Lychgate), not the client.
  client_curl -$fam --resolve "www.bbc.co.uk:80:$origin" "http://www.bbc.co.uk/allowed-http-v$fam"
  [[ $STATUS == 200 ]] || fail "HTTP to an allowed site: status $STATUS"
  [[ $BODY == "origin scheme=http host=www.bbc.co.uk sni=- peer=$gw_wan path=/allowed-http-v$fam" ]] ||
    fail "HTTP to an allowed site: unexpected body (not proxied by the gateway?)"
  expect_log type=http client="$client" group=ks2 account_type=none host=www.bbc.co.uk \
    path="/allowed-http-v$fam" decision=allow status=200

  # HTTP, blocked: the pupil block page, with its reference in the header and the log.
  client_curl -$fam --resolve "pornhub.com:80:$origin" "http://pornhub.com/blocked-http-v$fam"
  [[ $STATUS == 403 ]] || fail "HTTP to a blocked site: status $STATUS, expected 403"
  [[ $BODY == *"Turn off the screen and tell your teacher"* ]] || fail "no pupil block page text"
  [[ $BODY != *adult* ]] || fail "the pupil block page names the category"
  ref=$(sed -n 's/^x-lychgate-reference: *//Ip' <<<"$HEADERS")
  [[ $ref =~ ^[0-9A-Z]{8}$ ]] || fail "no x-lychgate-reference header (got '$ref')"
  expect_log type=http client="$client" group=ks2 host=pornhub.com path="/blocked-http-v$fam" \
    decision=block category=adult status=403 id="$ref"
  origin_never_saw "path=/blocked-http-v$fam"

  # HTTPS, allowed by SNI: the TLS bytes are spliced through to the origin.
  client_curl -$fam -k --resolve "www.bbc.co.uk:443:$origin" "https://www.bbc.co.uk/allowed-tls-v$fam"
  [[ $STATUS == 200 ]] || fail "HTTPS to an allowed site: status $STATUS"
  [[ $BODY == "origin scheme=https host=www.bbc.co.uk sni=www.bbc.co.uk peer=$gw_wan path=/allowed-tls-v$fam" ]] ||
    fail "HTTPS to an allowed site: unexpected body (not spliced by the gateway?)"
  expect_log type=tls client="$client" group=ks2 host=www.bbc.co.uk decision=allow

  # HTTPS, blocked by SNI: a TLS alert, no connection to the origin.
  client_curl -$fam -k --resolve "pornhub.com:443:$origin" "https://pornhub.com/blocked-tls-v$fam"
  [[ $CURL_RC != 0 && $STATUS == 000 ]] || fail "HTTPS to a blocked site was not refused"
  [[ $CURL_ERR == *alert* || $CURL_ERR == *SSL* || $CURL_ERR == *TLS* ]] ||
    fail "HTTPS to a blocked site: expected a TLS failure, curl said '$CURL_ERR'"
  expect_log type=tls client="$client" group=ks2 host=pornhub.com decision=block category=adult
  origin_never_saw "sni=pornhub.com"

  # host_verify_strict: a Host (or SNI) that does not resolve to the dialled address is refused,
  # although something answers at that address.
  client_curl -$fam --resolve "www.bbc.co.uk:80:$other" "http://www.bbc.co.uk/mismatch-http-v$fam"
  [[ $STATUS == 4?? ]] || fail "HTTP Host mismatch: status $STATUS, expected 4xx"
  expect_log type=http client="$client" host=www.bbc.co.uk path="/mismatch-http-v$fam" \
    decision=block flags+=host_mismatch
  origin_never_saw "path=/mismatch-http-v$fam"

  client_curl -$fam -k --resolve "www.bbc.co.uk:443:$other" "https://www.bbc.co.uk/mismatch-tls-v$fam"
  [[ $CURL_RC != 0 && $STATUS == 000 ]] || fail "HTTPS SNI mismatch was not refused"
  expect_log type=tls client="$client" host=www.bbc.co.uk decision=block flags+=host_mismatch
  origin_never_saw "path=/mismatch-tls-v$fam"

  # QUIC: a client's first QUIC packet to UDP 443 is dropped by the gateway; the same datagram
  # to another port (the control) arrives, so forwarding itself works.
  : >"$WORK/udp443"
  : >"$WORK/udp4433"
  before=$(netns_exec gw nft list chain inet lychgate forward | sed -n 's/.*counter packets \([0-9]*\) .*"lychgate: QUIC".*/\1/p')
  for port in 443 4433; do
    netns_exec client timeout 5 python3 "$HERE/lib/origin.py" quic-send "${origin//[\[\]]/}" $port
  done
  timeout 5 bash -c "until [[ -s '$WORK/udp4433' ]]; do sleep 0.05; done" ||
    fail "the control datagram to UDP 4433 never arrived: forwarding is broken"
  after=$(netns_exec gw nft list chain inet lychgate forward | sed -n 's/.*counter packets \([0-9]*\) .*"lychgate: QUIC".*/\1/p')
  [[ ! -s $WORK/udp443 ]] || fail "a QUIC datagram to UDP 443 reached the origin"
  ((after - before == 3)) || fail "the QUIC drop rule counted $((after - before)) packets, expected 3"
  log "client: 3 QUIC Initial datagrams to $origin UDP 443 -> dropped (rule counter +3); control to UDP 4433 arrived"
done

log "=== explicit proxy on the gateway's LAN address ==="
client_curl -x "http://$NETNS_GW_LAN4:$PROXY_PORT" http://www.bbc.co.uk/explicit-allowed
[[ $STATUS == 200 && $BODY == "origin scheme=http host=www.bbc.co.uk sni=- peer="*" path=/explicit-allowed" ]] ||
  fail "explicit proxy, allowed site: status $STATUS"
expect_log type=http client="$NETNS_CLIENT4" group=ks2 path=/explicit-allowed decision=allow
client_curl -x "http://$NETNS_GW_LAN4:$PROXY_PORT" http://pornhub.com/explicit-blocked
[[ $STATUS == 403 && $BODY == *"Turn off the screen and tell your teacher"* ]] ||
  fail "explicit proxy, blocked site: status $STATUS"
expect_log type=http client="$NETNS_CLIENT4" group=ks2 path=/explicit-blocked decision=block category=adult

log "=== the listeners are not reachable from the uplink ==="
if netns_exec origin timeout 5 python3 "$HERE/lib/probe_peer.py" tcp-connect "$NETNS_GW_WAN4" $HTTP_PORT 2>/dev/null; then
  fail "the transparent listener is reachable from the uplink"
fi
log "origin: TCP to $NETNS_GW_WAN4 port $HTTP_PORT -> blocked (as expected)"

log "=== the request log ==="
lines=$($REQLOG check "$LOGDIR") || fail "the request log does not follow schema v1"
((lines == EXPECTED_LINES)) || fail "request log has $lines lines for $EXPECTED_LINES requests"
log "request log: $lines lines, one per request, all schema v1"
blocked=$($REQLOG count "$LOGDIR" decision=block)
metric=$(netns_exec gw timeout 5 curl -sS http://127.0.0.1:9090/metrics |
  awk '/^lychgate_requests_total\{/ && /decision="block"/ {s += $NF} END {print s + 0}')
((metric == blocked)) || fail "metrics count $metric blocked requests, the log $blocked"
log "metrics: lychgate_requests_total{decision=\"block\"} sums to $metric, as in the log"

lg_stop gw
((LG_STOP_RC == 0)) || fail "lychgate exited with status $LG_STOP_RC on SIGTERM"
if grep -E ' (ERROR|WARN) ' "$WORK/lychgate.toml.gw.err" | grep -v 'illegal` list\|list lines were skipped'; then
  fail "lychgate logged unexpected warnings or errors"
fi
log "PASS: transparent HTTP and HTTPS filtering, host checks and QUIC drop over IPv4 and IPv6"
