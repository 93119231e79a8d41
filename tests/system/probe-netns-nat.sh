#!/usr/bin/env bash
# Feasibility probe for Lychgate's transparent mode: do nftables NAT redirects with conntrack
# work inside network namespaces on this machine, with deploy/nftables/lychgate.nft.in as is?
#
# Builds client ⇄ gateway ⇄ origin namespaces (tests/system/lib/netns.sh), loads the rendered
# rules in the gateway and checks, for IPv4 and IPv6:
#   - TCP 80 and 443 from the client to the origin reach the gateway's transparent listeners,
#     and SO_ORIGINAL_DST there gives the address the client dialled;
#   - DNS to any resolver is answered by the gateway's DNS port;
#   - other TCP ports are forwarded untouched (the control);
#   - UDP 443 (QUIC), UDP 853 and TCP 853 (DoT) are dropped, while UDP to another port arrives;
#   - a DoH resolver address in the doh_resolvers set is unreachable on 443;
#   - the listeners are not reachable from the uplink side.
# Exits non-zero on the first failed check. Needs root; installs its prerequisites with apt-get
# when missing; under CI=true a missing prerequisite is a failure, elsewhere a skip (exit 0).
set -euo pipefail
cd "$(dirname "$0")/../.."

HERE=tests/system
PEER="python3 $PWD/$HERE/lib/probe_peer.py"
HTTP_PORT=3129
HTTPS_PORT=3130
DNS_PORT=5353

log() { printf '[probe] %s\n' "$*"; }
fail() { printf '[probe] FAIL: %s\n' "$*" >&2; exit 1; }
skip_or_fail() {
  if [[ ${CI:-} == true ]]; then fail "$*"; fi
  log "SKIP: $*"
  exit 0
}

[[ $(id -u) == 0 ]] || skip_or_fail "needs root (network namespaces, nftables)"

need=()
command -v ip >/dev/null || need+=(iproute2)
command -v ss >/dev/null || need+=(iproute2)
command -v nft >/dev/null || need+=(nftables)
command -v curl >/dev/null || need+=(curl)
command -v python3 >/dev/null || need+=(python3)
command -v timeout >/dev/null || need+=(coreutils)
if ((${#need[@]})); then
  log "installing ${need[*]}"
  if ! { timeout 300 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq "${need[@]}"; }; then
    skip_or_fail "could not install ${need[*]}"
  fi
fi
ip netns add "lgprobe$$" 2>/dev/null && ip netns delete "lgprobe$$" ||
  skip_or_fail "cannot create network namespaces here"

# shellcheck source=lib/netns.sh
source "$HERE/lib/netns.sh"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
netns_setup # adds the namespace teardown to the EXIT trap

log "loading the rendered rules into the gateway namespace"
netns_load_nftables PROXY_HTTP_PORT=$HTTP_PORT PROXY_HTTPS_PORT=$HTTPS_PORT DNS_PORT=$DNS_PORT ||
  fail "nft refused the rendered rules"

# The peers. They run inside the namespaces, so netns_teardown ends them; disowned so that bash
# does not report their deaths as noise.
peer() { ip netns exec "$(netns_name "$1")" $PEER "${@:2}" & disown; }
peer gw origdst-http $HTTP_PORT
peer gw origdst-http $HTTPS_PORT
peer gw udp-echo $DNS_PORT gateway-dns
netns_exec origin ip addr add 198.51.100.11/24 dev "$NETNS_ORIGIN_IF"
peer origin http 80 origin
peer origin http 443 origin
peer origin http 853 origin
peer origin http 8080 origin
peer origin udp-log 443 "$WORK/udp443"
peer origin udp-log 853 "$WORK/udp853"
peer origin udp-log 4433 "$WORK/udp4433"
for p in tcp:$HTTP_PORT tcp:$HTTPS_PORT udp:$DNS_PORT; do
  netns_wait_listen gw "$p" || fail "gateway peer on $p did not start"
done
for p in tcp:80 tcp:443 tcp:853 tcp:8080 udp:443 udp:853 udp:4433; do
  netns_wait_listen origin "$p" || fail "origin peer on $p did not start"
done

# Every check prints the exact command and its answer, so a CI log is the probe's evidence.
expect_http() { # url expected-body
  local got
  got=$(netns_exec client timeout 10 curl -gsS --max-time 5 "$1" 2>&1) || true
  log "client: curl $1 -> ${got:-<nothing>}"
  [[ $got == "$2" ]] || fail "curl $1: expected '$2'"
}
expect_no_tcp() { # role host port
  if netns_exec "$1" timeout 5 $PEER tcp-connect "$2" "$3" 2>/dev/null; then
    fail "$1: TCP to $2 port $3 connected; it should be blocked"
  fi
  log "$1: TCP to $2 port $3 -> blocked (as expected)"
}

for origin in "$NETNS_ORIGIN4" "[$NETNS_ORIGIN6]"; do
  expect_http "http://$origin/" "original_dst=$origin:80"
  expect_http "http://$origin:443/" "original_dst=$origin:443"
  expect_http "http://$origin:8080/" "origin"

  got=$(netns_exec client timeout 5 $PEER udp-ask "${origin//[\[\]]/}" 53 "query" 2>&1) || true
  log "client: UDP to $origin:53 -> ${got:-<nothing>}"
  [[ $got == gateway-dns ]] || fail "UDP 53 to $origin was not redirected to the gateway's DNS port"

  expect_no_tcp client "${origin//[\[\]]/}" 853

  : >"$WORK/udp443" && : >"$WORK/udp853" && : >"$WORK/udp4433"
  for port in 443 853 4433; do
    netns_exec client timeout 5 $PEER udp-send "${origin//[\[\]]/}" $port "probe-$port"
  done
  # The control datagram arriving bounds the wait: by then the others would have arrived too.
  timeout 5 bash -c "until grep -q probe-4433 '$WORK/udp4433'; do sleep 0.05; done" ||
    fail "UDP to $origin:4433 (the control) never arrived: forwarding is broken"
  log "origin: UDP 4433 received: $(sort -u "$WORK/udp4433" | tr '\n' ' ')"
  log "origin: UDP 443 received: $(sort -u "$WORK/udp443" | tr '\n' ' ')<end>"
  log "origin: UDP 853 received: $(sort -u "$WORK/udp853" | tr '\n' ' ')<end>"
  [[ ! -s $WORK/udp443 ]] || fail "UDP 443 (QUIC) to $origin was forwarded"
  [[ ! -s $WORK/udp853 ]] || fail "UDP 853 to $origin was forwarded"
done

log "listeners are not reachable from the uplink"
expect_no_tcp origin "$NETNS_GW_WAN4" $HTTP_PORT
expect_no_tcp origin "$NETNS_GW_WAN6" $HTTPS_PORT
netns_exec client timeout 5 $PEER tcp-connect "$NETNS_GW_LAN4" $HTTP_PORT ||
  fail "the LAN cannot reach the gateway's listener directly"
log "client: TCP to $NETNS_GW_LAN4 port $HTTP_PORT -> connected (as expected)"

log "DoH resolver set"
expect_http "http://198.51.100.11:443/" "original_dst=198.51.100.11:443"
netns_exec gw nft add element inet lychgate doh_resolvers_v4 '{ 198.51.100.11 }'
expect_no_tcp client 198.51.100.11 443

log "conntrack entries seen by the gateway:"
netns_exec gw cat /proc/net/nf_conntrack 2>/dev/null | grep -c . || log "(no /proc/net/nf_conntrack on this kernel)"
log "counters:"
netns_exec gw nft list chain inet lychgate forward | grep -E 'counter packets [1-9]' || true
log "PASS: NAT redirect with conntrack and the QUIC/DoT drops work in namespaces"
