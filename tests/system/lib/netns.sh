# shellcheck shell=bash
# Network namespaces for Lychgate's system tests: client ⇄ gateway ⇄ origin.
#
# Source this file, then:
#   netns_setup            # builds the three namespaces and installs a teardown trap on EXIT
#   netns_exec gw CMD...   # runs CMD in a namespace: client, gw or origin
#   netns_teardown         # deletes them (idempotent; the EXIT trap calls it too)
#
# Addresses (TEST-NET-1/2 and the IPv6 documentation prefix, so nothing can leak to real hosts):
#   client  192.0.2.10/24    2001:db8:1::10/64   on NETNS_CLIENT_IF, default route via the gateway
#   gw      192.0.2.1/24     2001:db8:1::1/64    on NETNS_GW_LAN_IF  (the school LAN side)
#           198.51.100.1/24  2001:db8:2::1/64    on NETNS_GW_WAN_IF  (the "internet" side)
#   origin  198.51.100.10/24 2001:db8:2::10/64   on NETNS_ORIGIN_IF, default route via the gateway
# The gateway forwards IPv4 and IPv6. Names carry the shell's PID so parallel runs do not clash.
# Needs root and iproute2.

NETNS_ID=${NETNS_ID:-lg$$}
NETNS_CLIENT="${NETNS_ID}-client"
NETNS_GW="${NETNS_ID}-gw"
NETNS_ORIGIN="${NETNS_ID}-origin"
NETNS_CLIENT_IF=eth0
NETNS_GW_LAN_IF=lan0
NETNS_GW_WAN_IF=wan0
NETNS_ORIGIN_IF=eth0

NETNS_CLIENT4=192.0.2.10
NETNS_CLIENT6=2001:db8:1::10
NETNS_GW_LAN4=192.0.2.1
NETNS_GW_LAN6=2001:db8:1::1
NETNS_GW_WAN4=198.51.100.1
NETNS_GW_WAN6=2001:db8:2::1
NETNS_ORIGIN4=198.51.100.10
NETNS_ORIGIN6=2001:db8:2::10
NETNS_LAN_NET4=192.0.2.0/24
NETNS_LAN_NET6=2001:db8:1::/64

# Maps a role (client, gw, origin) to its namespace name.
netns_name() {
  case $1 in
    client) echo "$NETNS_CLIENT" ;;
    gw) echo "$NETNS_GW" ;;
    origin) echo "$NETNS_ORIGIN" ;;
    *) echo "netns_name: unknown role '$1'" >&2; return 1 ;;
  esac
}

# Runs a command inside a role's namespace.
netns_exec() {
  local ns
  ns=$(netns_name "$1") || return 1
  shift
  ip netns exec "$ns" "$@"
}

# Kills every process still running in our namespaces, then deletes them. Safe to call twice.
netns_teardown() {
  local ns pids
  for ns in "$NETNS_CLIENT" "$NETNS_GW" "$NETNS_ORIGIN"; do
    if ip netns list 2>/dev/null | grep -qw -- "$ns"; then
      # Only processes inside our own namespaces: listeners the test started there.
      pids=$(ip netns pids "$ns" 2>/dev/null || true)
      if [[ -n $pids ]]; then
        # shellcheck disable=SC2086
        kill $pids 2>/dev/null || true
      fi
      ip netns delete "$ns" 2>/dev/null || true
    fi
  done
}

# Runs netns_teardown on exit, after any EXIT trap the caller already set.
netns_trap_teardown() {
  local prev
  prev=$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")
  # shellcheck disable=SC2064
  trap "${prev:+$prev; }netns_teardown" EXIT
}

# Builds the three namespaces, their veth links, addresses and routes.
netns_setup() {
  netns_trap_teardown
  netns_teardown
  ip netns add "$NETNS_CLIENT"
  ip netns add "$NETNS_GW"
  ip netns add "$NETNS_ORIGIN"

  # veth pairs are created in the gateway namespace and one end moved out, so a failed run
  # leaves no interface behind in the host namespace.
  ip -n "$NETNS_GW" link add "$NETNS_GW_LAN_IF" type veth peer name "$NETNS_CLIENT_IF" netns "$NETNS_CLIENT"
  ip -n "$NETNS_GW" link add "$NETNS_GW_WAN_IF" type veth peer name "$NETNS_ORIGIN_IF" netns "$NETNS_ORIGIN"

  local role
  for role in client gw origin; do
    netns_exec "$role" ip link set lo up
    # No duplicate address detection: addresses are usable at once instead of after ~2 s.
    netns_exec "$role" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
  done

  netns_exec client ip addr add "$NETNS_CLIENT4/24" dev "$NETNS_CLIENT_IF"
  netns_exec client ip -6 addr add "$NETNS_CLIENT6/64" dev "$NETNS_CLIENT_IF" nodad
  netns_exec client ip link set "$NETNS_CLIENT_IF" up
  netns_exec client ip route add default via "$NETNS_GW_LAN4"
  netns_exec client ip -6 route add default via "$NETNS_GW_LAN6"

  netns_exec gw ip addr add "$NETNS_GW_LAN4/24" dev "$NETNS_GW_LAN_IF"
  netns_exec gw ip -6 addr add "$NETNS_GW_LAN6/64" dev "$NETNS_GW_LAN_IF" nodad
  netns_exec gw ip addr add "$NETNS_GW_WAN4/24" dev "$NETNS_GW_WAN_IF"
  netns_exec gw ip -6 addr add "$NETNS_GW_WAN6/64" dev "$NETNS_GW_WAN_IF" nodad
  netns_exec gw ip link set "$NETNS_GW_LAN_IF" up
  netns_exec gw ip link set "$NETNS_GW_WAN_IF" up
  netns_exec gw sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

  netns_exec origin ip addr add "$NETNS_ORIGIN4/24" dev "$NETNS_ORIGIN_IF"
  netns_exec origin ip -6 addr add "$NETNS_ORIGIN6/64" dev "$NETNS_ORIGIN_IF" nodad
  netns_exec origin ip link set "$NETNS_ORIGIN_IF" up
  netns_exec origin ip route add default via "$NETNS_GW_WAN4"
  netns_exec origin ip -6 route add default via "$NETNS_GW_WAN6"
}

# Renders deploy/nftables/lychgate.nft.in for the gateway namespace and loads it there.
# Extra NAME=value arguments (ports) go to render.sh.
netns_load_nftables() {
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
  "$root/deploy/nftables/render.sh" LAN_IF="$NETNS_GW_LAN_IF" LAN_NET4="$NETNS_LAN_NET4" \
    LAN_NET6="$NETNS_LAN_NET6" "$@" <"$root/deploy/nftables/lychgate.nft.in" |
    netns_exec gw nft -f -
}

# Waits (at most $3 seconds, default 5) until something listens on TCP or UDP port $2 in role $1.
# Usage: netns_wait_listen gw tcp:3129 [5]
netns_wait_listen() {
  local role=$1 proto=${2%%:*} port=${2#*:} secs=${3:-5} flag
  flag=$([[ $proto == udp ]] && echo -uln || echo -tln)
  timeout "$secs" bash -c "until ip netns exec '$(netns_name "$role")' ss -H $flag 'sport = :$port' | grep -q .; do sleep 0.05; done"
}
