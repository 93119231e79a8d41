#!/usr/bin/env bash
# Renders the Lychgate nftables template: replaces each @NAME@ placeholder with a value.
#
#   render.sh LAN_IF=eth1 LAN_NET4=10.0.0.0/16 LAN_NET6=fd00:1::/64 < lychgate.nft.in > lychgate.nft
#
# Ports default to Lychgate's shipped config (PROXY_PORT=3128, PROXY_HTTP_PORT=3129,
# PROXY_HTTPS_PORT=3130, DNS_PORT=53); the interface and address blocks must be given.
# Refuses unknown names, values that could break out of the rule syntax, and any placeholder
# left unreplaced, so a typo fails here rather than as a half-loaded firewall.
set -euo pipefail

declare -A vals=(
  [PROXY_PORT]=3128
  [PROXY_HTTP_PORT]=3129
  [PROXY_HTTPS_PORT]=3130
  [DNS_PORT]=53
)
known=" LAN_IF LAN_NET4 LAN_NET6 PROXY_PORT PROXY_HTTP_PORT PROXY_HTTPS_PORT DNS_PORT "

die() { echo "render.sh: $*" >&2; exit 64; }

for arg in "$@"; do
  [[ $arg == *=* ]] || die "expected NAME=value, got '$arg'"
  name=${arg%%=*}
  value=${arg#*=}
  [[ $known == *" $name "* ]] || die "unknown name '$name' (known:$known)"
  case $name in
    LAN_IF) [[ $value =~ ^[A-Za-z0-9._-]{1,15}$ ]] || die "LAN_IF '$value' is not an interface name" ;;
    LAN_NET4) [[ $value =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}(/[0-9]{1,2})?$ ]] || die "LAN_NET4 '$value' is not an IPv4 block" ;;
    LAN_NET6) [[ $value =~ ^[0-9A-Fa-f:]+(/[0-9]{1,3})?$ && $value == *:* ]] || die "LAN_NET6 '$value' is not an IPv6 block" ;;
    *) [[ $value =~ ^[0-9]{1,5}$ ]] && ((value >= 1 && value <= 65535)) || die "$name '$value' is not a port" ;;
  esac
  vals[$name]=$value
done

for name in LAN_IF LAN_NET4 LAN_NET6; do
  [[ -n ${vals[$name]:-} ]] || die "$name is required"
done
ports=("${vals[PROXY_PORT]}" "${vals[PROXY_HTTP_PORT]}" "${vals[PROXY_HTTPS_PORT]}" "${vals[DNS_PORT]}")
if (($(printf '%s\n' "${ports[@]}" | sort -u | wc -l) != 4)); then
  die "the four ports must differ (got ${ports[*]})"
fi

script=()
for name in "${!vals[@]}"; do
  # Values are validated above to hold no sed metacharacters other than '/', '.' and ':'.
  script+=(-e "s|@${name}@|${vals[$name]}|g")
done

out=$(sed "${script[@]}")
if left=$(grep -o '@[A-Z0-9_]*@' <<<"$out" | sort -u | tr '\n' ' ') && [[ -n $left ]]; then
  die "placeholders left unreplaced: $left"
fi
printf '%s\n' "$out"
