#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The block page as a real browser shows it: headless Chromium, configured to use Lychgate as its
# proxy, loads a blocked site once as a pupil and once as a member of staff.
#
# Chromium connects from 127.0.0.1, so each run starts Lychgate with a config (the default one)
# in which 127.0.0.1/32 belongs to the pupil group ks2, then to staff. Checks the rendered DOM:
#   pupil: "Turn off the screen and tell your teacher", the reference code of the logged block,
#          and neither the category (adult), the address nor the review form;
#   staff: the category, the address and "Request a review", with the logged reference.
# Takes a 1000×800 screenshot of each page into $SCREENSHOT_DIR (default: a temporary folder;
# `SCREENSHOT_DIR=docs` refreshes docs/block-page-pupil.png and docs/block-page-staff.png) and
# checks they are PNGs of that size that are not blank.
#
# Lychgate and Chromium run in a network namespace of their own with only loopback, so the
# requests Chromium makes by itself (time, updates, sign-in) cannot leave the machine.
# Needs root (the namespace); installs Chromium with apt-get when missing; under CI=true a
# missing prerequisite is a failure, elsewhere a skip.
set -euo pipefail
cd "$(dirname "$0")/../.."

HERE=tests/system
LG_TAG=block-page
# shellcheck source=lib/lychgate.sh
source "$HERE/lib/lychgate.sh"

# pornhub.com is on Chromium's HSTS preload list: Chromium asks for https://pornhub.com/ (a
# CONNECT, refused by Lychgate), and no browser shows a proxy's answer to a CONNECT. This host is
# in the shipped adult list and is not preloaded, so Chromium asks for the http:// page.
BLOCKED_HOST=porn.com
BLOCKED_URL="http://$BLOCKED_HOST/"

lg_need_root
lg_require ip:iproute2 python3:python3 chromium:chromium,fonts-liberation
if ! { ip netns add "lgprobe$$" 2>/dev/null && ip netns delete "lgprobe$$"; }; then
  skip_or_fail "cannot create network namespaces here"
fi
lg_build

NS="lg$$-browser"
WORK=$(mktemp -d)
SHOTS=${SCREENSHOT_DIR:-$WORK/shots}
mkdir -p "$SHOTS"
PAGES="python3 $PWD/$HERE/lib/pages.py"
REQLOG="python3 $PWD/$HERE/lib/requestlog.py"
on_exit() {
  local rc=$? pids
  lg_stop_all
  if ip netns list | grep -qw -- "$NS"; then
    pids=$(ip netns pids "$NS" 2>/dev/null || true)
    # shellcheck disable=SC2086
    [[ -z $pids ]] || kill $pids 2>/dev/null || true
    ip netns delete "$NS" 2>/dev/null || true
  fi
  if ((rc != 0)); then
    echo "---- chromium stderr (last lines) ----" >&2
    grep -v 'dbus\|ssl_client_socket' "$WORK/chromium.err" 2>/dev/null | tail -n 15 >&2 || true
    echo "---- lychgate stderr ----" >&2
    tail -n 20 "$WORK"/*.toml.*.err >&2 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap on_exit EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up

# browse PROXY ARGS... — one headless Chromium run through the proxy, with a fresh profile.
browse() {
  local proxy=$1 profile
  shift
  profile=$(mktemp -d -p "$WORK" profile.XXXX)
  ip netns exec "$NS" timeout 90 chromium --headless --no-sandbox --disable-gpu \
    --disable-dev-shm-usage --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync \
    --user-data-dir="$profile" --proxy-server="$proxy" --proxy-bypass-list='<-loopback>' \
    "$@" 2>>"$WORK/chromium.err"
}

for audience in pupil staff; do
  group=$([[ $audience == pupil ]] && echo ks2 || echo staff)
  log "=== $audience: 127.0.0.1 in group $group ==="
  config=$WORK/$audience.toml
  lg_config "$config" "$WORK/$audience" proxy=127.0.0.1:0 admin=127.0.0.1:0 transparent_http= \
    transparent_https= dns=127.0.0.1:0
  sed -i "/^cidr = \"127.0.0.1\/32\"\$/{n;s/^group = .*/group = \"$group\"/}" "$config"
  [[ $(sed -n '/^cidr = "127.0.0.1\/32"$/{n;p}' "$config") == "group = \"$group\"" ]] ||
    fail "could not map 127.0.0.1 to $group in $config"
  lg_start "$audience" "$config" ip netns exec "$NS"
  proxy=$(lg_addr "$audience" proxy)

  browse "$proxy" --dump-dom "$BLOCKED_URL" >"$WORK/$audience.html" || fail "chromium failed (status $?)"
  if [[ ! -s $WORK/$audience.html ]]; then
    if [[ $($REQLOG count "$WORK/$audience/log" type=connect host="$BLOCKED_HOST") != 0 ]]; then
      fail "Chromium asked for https://$BLOCKED_HOST (HSTS preload?): pick another blocked host"
    fi
    fail "Chromium rendered nothing for $BLOCKED_URL"
  fi
  text=$($PAGES text "$WORK/$audience.html")
  log "Chromium shows ($audience):"
  while IFS= read -r line; do printf '    | %s\n' "$line"; done <<<"$text"

  # The page's reference code is the id of a logged block of this request, for this group.
  ref=""
  for code in $(grep -oE '\b[0-9A-Z]{4}-?[0-9A-Z]{4}\b' <<<"$text" | tr -d - | sort -u); do
    if [[ $($REQLOG count "$WORK/$audience/log" id="$code" type=http host="$BLOCKED_HOST" \
      path=/ decision=block category=adult group="$group" client=127.0.0.1) == 1 ]]; then
      ref=$code
    fi
  done
  [[ -n $ref ]] || fail "no reference code on the $audience page matches a logged block"
  log "reference $ref on the page is the request log's block of $BLOCKED_URL for $group"

  if [[ $audience == pupil ]]; then
    grep -qF "Turn off the screen and tell your teacher" <<<"$text" ||
      fail "pupil page: no 'Turn off the screen and tell your teacher'"
    if grep -qi adult "$WORK/$audience.html"; then fail "pupil page names the category (adult)"; fi
    if grep -qiF "$BLOCKED_HOST" "$WORK/$audience.html"; then fail "pupil page shows the address"; fi
    if grep -qi "review" <<<"$text"; then fail "pupil page offers a review request"; fi
  else
    grep -qx adult <<<"$text" || fail "staff page: the category (adult) is not shown"
    grep -qF "Request a review" <<<"$text" || fail "staff page: no 'Request a review'"
    grep -qF "$BLOCKED_URL" <<<"$text" || fail "staff page: the address is not shown"
    if grep -qF "Turn off the screen" <<<"$text"; then fail "staff page has the pupil wording"; fi
  fi

  shot=$SHOTS/block-page-$audience.png
  rm -f "$shot"
  browse "$proxy" --screenshot="$shot" --window-size=1000,800 "$BLOCKED_URL" >/dev/null ||
    fail "chromium --screenshot failed (status $?)"
  [[ -s $shot ]] || fail "no screenshot at $shot"
  distinct=$($PAGES png "$shot" 1000 800) || fail "bad screenshot $shot"
  log "screenshot $shot: 1000x800 PNG, $(stat -c %s "$shot") bytes, $distinct distinct byte values"
  lg_stop "$audience"
  ((LG_STOP_RC == 0)) || fail "lychgate exited with status $LG_STOP_RC on SIGTERM"
done
log "PASS: Chromium shows the pupil and staff block pages as specified"
