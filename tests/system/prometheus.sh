#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Lychgate's metrics as a real Prometheus server sees them.
#
# Starts Lychgate on loopback (the default config, ports chosen by the kernel, www.bbc.co.uk sent
# to a local origin by [[static_host]]), makes allowed and blocked requests through it with curl
# (as staff from 127.0.0.1 and as the KS2 pupil address 127.0.0.2), checks /healthz and
# /readyz, then starts Prometheus (Debian's /usr/bin/prometheus) scraping the admin listener
# every second and asks its HTTP API for lychgate_requests_total: the blocked and allowed sums
# and the per-group series must equal the requests made, and must follow one more block.
# Installs Prometheus with apt-get when missing; under CI=true a missing prerequisite is a
# failure, elsewhere a skip. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/../.."

HERE=tests/system
LG_TAG=prometheus
# shellcheck source=lib/lychgate.sh
source "$HERE/lib/lychgate.sh"

lg_require prometheus:prometheus curl:curl python3:python3
lg_build

WORK=$(mktemp -d)
ORIGIN_PID=""
PROM_PID=""
on_exit() {
  local rc=$? pid
  lg_stop_all
  for pid in $PROM_PID $ORIGIN_PID; do
    kill "$pid" 2>/dev/null || true
    timeout 10 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  done
  if ((rc != 0)); then
    echo "---- prometheus stderr (last lines) ----" >&2
    tail -n 15 "$WORK/prometheus.err" >&2 2>/dev/null || true
    echo "---- lychgate stderr ----" >&2
    tail -n 20 "$WORK"/lychgate.toml.lg.err >&2 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap on_exit EXIT

# The origin for the allowed requests.
mkdir -p "$WORK/site"
for page in index.html a b; do echo "origin page $page" >"$WORK/site/$page"; done
ORIGIN_PORT=$(lg_free_port)
python3 -m http.server "$ORIGIN_PORT" --bind 127.0.0.1 --directory "$WORK/site" \
  >/dev/null 2>&1 &
ORIGIN_PID=$!
timeout 10 bash -c "until curl -fs -o /dev/null http://127.0.0.1:$ORIGIN_PORT/; do sleep 0.05; done" ||
  fail "the local origin did not start"

lg_config "$WORK/lychgate.toml" "$WORK" proxy=127.0.0.1:0 admin=127.0.0.1:0 transparent_http= \
  transparent_https= dns=127.0.0.1:0 <<EOF
[[static_host]]
name = "www.bbc.co.uk"
addresses = ["127.0.0.1"]
EOF
lg_start lg "$WORK/lychgate.toml"
PROXY=$(lg_addr lg proxy)
ADMIN=$(lg_addr lg admin)

# proxy_get EXPECTED-STATUS SOURCE URL — one request through the explicit proxy from SOURCE.
proxy_get() {
  local status
  status=$(timeout 20 curl -sS --max-time 10 -o /dev/null -w '%{http_code}' --interface "$2" \
    -x "http://$PROXY" "$3") || fail "curl $3 from $2 failed"
  log "curl from $2 via the proxy: $3 -> $status"
  [[ $status == "$1" ]] || fail "$3 from $2: status $status, expected $1"
}

log "requests through Lychgate"
ALLOWED=0
BLOCKED=0
for path in / /a /b; do
  proxy_get 200 127.0.0.1 "http://www.bbc.co.uk:$ORIGIN_PORT$path"
  ALLOWED=$((ALLOWED + 1))
done
proxy_get 403 127.0.0.2 http://pornhub.com/ # ks2: adult
proxy_get 403 127.0.0.2 http://bet365.com/  # ks2: gambling
proxy_get 403 127.0.0.1 http://pornhub.com/ # staff: adult
BLOCKED=$((BLOCKED + 3))

for path in healthz readyz; do
  status=$(timeout 10 curl -sS -o "$WORK/$path" -w '%{http_code}' "http://$ADMIN/$path") ||
    fail "GET /$path failed"
  log "GET http://$ADMIN/$path -> $status $(head -c 80 "$WORK/$path")"
  [[ $status == 200 ]] || fail "/$path answered $status"
done

# prom_value QUERY — the single value of an instant query, or "none" when it has no result.
PROM_PORT=$(lg_free_port)
PROM="http://127.0.0.1:$PROM_PORT"
prom_value() {
  timeout 10 curl -fsS --max-time 5 -G "$PROM/api/v1/query" --data-urlencode "query=$1" |
    python3 -c '
import json, sys
answer = json.load(sys.stdin)
assert answer["status"] == "success", answer
result = answer["data"]["result"]
if not result:
    print("none")
elif len(result) > 1:
    sys.exit(f"{len(result)} series, expected one: {result}")
else:
    value = float(result[0]["value"][1])
    print(int(value) if value.is_integer() else value)'
}

cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: lychgate
    scrape_interval: 1s
    scrape_timeout: 1s
    static_configs:
      - targets: ["$ADMIN"]
EOF
log "starting Prometheus on 127.0.0.1:$PROM_PORT, scraping $ADMIN every second"
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prometheus.out" 2>"$WORK/prometheus.err" &
PROM_PID=$!
timeout 60 bash -c "until curl -fs -o /dev/null $PROM/-/ready; do kill -0 $PROM_PID || exit 1; sleep 0.2; done" ||
  fail "Prometheus did not become ready within 60 s"

# Bounded wait for the first successful scrape of Lychgate.
if ! timeout 60 bash -c "until [[ \$(curl -fs -G '$PROM/api/v1/query' --data-urlencode 'query=up{job=\"lychgate\"} == 1' | grep -c '\"value\"') == 1 ]]; do sleep 0.2; done"; then
  curl -sS "$PROM/api/v1/targets" >&2 || true
  fail "Prometheus did not scrape Lychgate successfully within 60 s"
fi
target=$(curl -fsS "$PROM/api/v1/targets" | python3 -c '
import json, sys
t = json.load(sys.stdin)["data"]["activeTargets"][0]
print(t["scrapeUrl"], t["health"], repr(t["lastError"]))')
log "Prometheus target: $target"

# expect_query QUERY VALUE — the query's value, as Prometheus has it now.
expect_query() {
  local got
  got=$(prom_value "$1") || fail "query $1 failed"
  log "Prometheus: $1 = $got"
  [[ $got == "$2" ]] || fail "$1 = $got, expected $2"
}
expect_query 'sum(lychgate_requests_total{decision="block"})' "$BLOCKED"
expect_query 'sum(lychgate_requests_total{decision="allow"})' "$ALLOWED"
expect_query 'lychgate_requests_total{kind="http",decision="block",group="ks2",category="adult"}' 1
expect_query 'lychgate_requests_total{kind="http",decision="block",group="ks2",category="gambling"}' 1
expect_query 'lychgate_requests_total{kind="http",decision="block",group="staff",category="adult"}' 1
expect_query 'lychgate_log_healthy' 1
expect_query 'lychgate_log_lines_written_total' "$((ALLOWED + BLOCKED))"

# The counter moves with traffic: one more block shows up within a few scrapes.
proxy_get 403 127.0.0.2 http://pornhub.com/again
BLOCKED=$((BLOCKED + 1))
query='sum(lychgate_requests_total{decision="block"})'
if ! timeout 30 bash -c "until [[ \$(curl -fs -G '$PROM/api/v1/query' --data-urlencode 'query=$query == $BLOCKED' | grep -c '\"value\"') == 1 ]]; do sleep 0.2; done"; then
  fail "Prometheus never saw the blocked count reach $BLOCKED (now $(prom_value "$query"))"
fi
expect_query "$query" "$BLOCKED"
log "PASS: Prometheus scrapes Lychgate; $BLOCKED blocked and $ALLOWED allowed requests counted exactly"
