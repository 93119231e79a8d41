#!/usr/bin/env python3
"""One oha JSON result (oha --output-format json) as one line of key=value figures for
benches/http-side-by-side.sh: rps (requests completed per second), p50, p99 and p999 latency in
ms (oha's latencyPercentiles, in seconds), and err (responses that were not 2xx plus errors)."""
import json
import sys


def main(path: str) -> None:
    with open(path, encoding="utf-8") as f:
        r = json.load(f)
    pct = r["latencyPercentiles"]
    statuses = r.get("statusCodeDistribution", {})
    not_2xx = sum(n for code, n in statuses.items() if not code.startswith("2"))
    errors = sum(r.get("errorDistribution", {}).values())
    if not statuses:
        raise SystemExit(f"{path}: no responses at all")
    print(
        "rps=%.0f p50=%.2f p99=%.2f p999=%.2f err=%d"
        % (
            r["summary"]["requestsPerSec"],
            pct["p50"] * 1000,
            pct["p99"] * 1000,
            pct["p99.9"] * 1000,
            not_2xx + errors,
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
