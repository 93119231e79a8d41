# shellcheck shell=bash
# Shared shell helpers for Lychgate's system tests: prerequisites, building the binary, a test
# config derived from config/lychgate.toml, and starting/stopping the daemon.
#
# Source it from a script under tests/system/ after `cd` to the repository root, with LG_TAG set
# to a short name for messages. Functions:
#   log MSG / fail MSG / skip_or_fail MSG
#   lg_need_root                       fails (CI) or skips unless running as root
#   lg_require CMD:PKG[,PKG]...        installs the packages of missing commands with apt-get
#   lg_build                           cargo build --release -p lychgate --locked; sets LG_BIN
#   lg_config OUT WORKDIR NAME=VALUE.. writes a config: the default one with [listen] addresses
#                                      replaced (proxy, admin, transparent_http,
#                                      transparent_https, dns: every one must be given, so no
#                                      default fixed port is bound; an empty value drops it),
#                                      [log] dir and state_dir under WORKDIR, and stdin appended
#   lg_start NAME CONFIG [PREFIX...]   runs `lychgate run CONFIG` in the background (behind
#                                      PREFIX, e.g. `ip netns exec NS`), waits for `ready` and
#                                      sets LG_<NAME>_PID and
#                                      LG_<NAME>_{PROXY,ADMIN,THTTP,THTTPS,DNS} (DNS: the first
#                                      `listening dns` line when there are several)
#   lg_addr NAME proxy|admin|thttp|thttps|dns  prints one of those addresses
#   lg_stop NAME                       SIGTERM, bounded wait, SIGKILL if it does not stop; sets
#                                      LG_STOP_RC to its exit status
#   lg_stop_all                        lg_stop for every started daemon (put it in the EXIT trap)
#   lg_free_port                       prints a TCP port free on 127.0.0.1 now

LG_TAG=${LG_TAG:-system}
LG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
LG_STARTED=()

log() { printf '[%s] %s\n' "$LG_TAG" "$*"; }
fail() {
  printf '[%s] FAIL: %s\n' "$LG_TAG" "$*" >&2
  exit 1
}
# A missing prerequisite fails under CI and skips (exit 0) elsewhere.
skip_or_fail() {
  if [[ ${CI:-} == true ]]; then fail "$*"; fi
  log "SKIP: $*"
  exit 0
}

lg_need_root() {
  [[ $(id -u) == 0 ]] || skip_or_fail "needs root"
}

# lg_require CMD:PKG[,PKG]... — apt-get installs the packages whose command is missing; runs
# `apt-get update` only when something is missing.
lg_require() {
  local spec missing=() pkgs
  for spec in "$@"; do
    if ! command -v "${spec%%:*}" >/dev/null 2>&1; then
      IFS=, read -ra pkgs <<<"${spec#*:}"
      missing+=("${pkgs[@]}")
    fi
  done
  ((${#missing[@]})) || return 0
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  log "installing ${missing[*]}"
  command -v apt-get >/dev/null || skip_or_fail "missing ${missing[*]} and no apt-get"
  [[ $(id -u) == 0 ]] || skip_or_fail "missing ${missing[*]}; installing them needs root"
  if ! { timeout 300 apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq --no-install-recommends \
      "${missing[@]}"; }; then
    skip_or_fail "could not install ${missing[*]}"
  fi
  for spec in "$@"; do
    command -v "${spec%%:*}" >/dev/null 2>&1 ||
      skip_or_fail "${spec%%:*} still missing after installing ${spec#*:}"
  done
}

lg_build() {
  command -v cargo >/dev/null || skip_or_fail "cargo is not installed"
  log "building lychgate (cargo build --release -p lychgate --locked)"
  (cd "$LG_ROOT" && timeout 1800 cargo build --release -p lychgate --locked) ||
    fail "cargo build failed"
  LG_BIN="${CARGO_TARGET_DIR:-$LG_ROOT/target}/release/lychgate"
  [[ -x $LG_BIN ]] || fail "no binary at $LG_BIN"
}

# lg_config OUT WORKDIR [proxy=ADDR] [admin=ADDR] [transparent_http=ADDR] ... < extra-toml
lg_config() {
  local out=$1 work=$2 kv key value given=" "
  shift 2
  local sed_args=(
    -e "s|^dir = \"var/log\"|dir = \"$work/log\"|"
    -e "s|^state_dir = .*|state_dir = \"$work/state\"|"
  )
  for kv in "$@"; do
    key=${kv%%=*}
    value=${kv#*=}
    [[ $key =~ ^(proxy|admin|transparent_http|transparent_https|dns)$ ]] ||
      fail "lg_config: unknown listener '$key'"
    given+="$key "
    if [[ -n $value ]]; then
      sed_args+=(-e "s|^$key = \".*\"|$key = \"$value\"|")
    else
      sed_args+=(-e "/^$key = /d")
    fi
  done
  # The default config's fixed ports (3128, 5300, 9090 ...) may be held by anything else on the
  # machine: every listener is given (port 0, or a port in the test's own namespace) or dropped.
  for key in proxy admin transparent_http transparent_https dns; do
    [[ $given == *" $key "* ]] || fail "lg_config: give $key=ADDR (port 0 on loopback) or $key= to drop it"
  done
  sed "${sed_args[@]}" "$LG_ROOT/config/lychgate.toml" >"$out"
  # Anything the caller gives (networks, static hosts) is appended as more top-level tables.
  if [[ ! -t 0 ]]; then
    printf '\n# --- added by the system test ---\n' >>"$out"
    cat >>"$out"
  fi
  grep -q "^dir = \"$work/log\"" "$out" || fail "lg_config: [log] dir not replaced"
  "$LG_BIN" check-config "$out" >"$out.check" 2>&1 || {
    cat "$out.check" >&2
    fail "lychgate check-config refused $out"
  }
}

# lg_start NAME CONFIG [PREFIX...] — the daemon's stdout/stderr go to CONFIG.NAME.{out,err}.
lg_start() {
  local name=$1 config=$2 pid out err
  shift 2
  out="$config.$name.out"
  err="$config.$name.err"
  "$@" "$LG_BIN" run "$config" >"$out" 2>"$err" &
  pid=$!
  LG_STARTED+=("$name")
  printf -v "LG_${name}_PID" %s "$pid"
  if ! timeout 60 bash -c "until grep -qx ready '$out'; do kill -0 $pid 2>/dev/null || exit 1; sleep 0.05; done"; then
    cat "$out" "$err" >&2
    fail "lychgate ($name) did not print 'ready' within 60 s"
  fi
  printf -v "LG_${name}_PROXY" %s "$(awk '$1 == "listening" && $2 == "proxy" {print $3}' "$out")"
  printf -v "LG_${name}_ADMIN" %s "$(awk '$1 == "listening" && $2 == "admin" {print $3}' "$out")"
  printf -v "LG_${name}_THTTP" %s "$(awk '$1 == "listening" && $2 == "transparent_http" {print $3}' "$out")"
  printf -v "LG_${name}_THTTPS" %s "$(awk '$1 == "listening" && $2 == "transparent_https" {print $3}' "$out")"
  printf -v "LG_${name}_DNS" %s "$(awk '$1 == "listening" && $2 == "dns" {print $3; exit}' "$out")"
  log "lychgate ($name) ready: $(grep '^listening' "$out" | tr '\n' ' ')"
}

lg_addr() {
  local var
  var="LG_$1_$(tr '[:lower:]' '[:upper:]' <<<"$2")"
  [[ -n ${!var:-} ]] || fail "lychgate ($1) has no $2 listener"
  printf '%s\n' "${!var}"
}

# shellcheck disable=SC2034 # LG_STOP_RC is read by the caller
lg_stop() {
  local var="LG_$1_PID" pid
  pid=${!var:-}
  [[ -n $pid ]] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    timeout 15 bash -c "while kill -0 $pid 2>/dev/null; do sleep 0.05; done" ||
      kill -KILL "$pid" 2>/dev/null || true
  fi
  LG_STOP_RC=0
  wait "$pid" 2>/dev/null || LG_STOP_RC=$?
  printf -v "$var" %s ""
}

lg_stop_all() {
  local name
  for name in "${LG_STARTED[@]}"; do lg_stop "$name"; done
}

lg_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
