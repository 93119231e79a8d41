#!/usr/bin/env python3
"""Reads Lychgate's request log (docs/logging.md) for the system tests.

  requestlog.py wait DIR SECONDS COND...   waits (at most SECONDS) for a line matching every
                                           COND, prints it, exits 1 if none appears in time
  requestlog.py count DIR COND...          prints how many lines match (all lines without COND)
  requestlog.py check DIR                  every line is JSON of schema v1 with the documented
                                           fields in order; prints the number of lines

COND is FIELD=VALUE (the field's value, JSON null as `null`, numbers as written) or
FIELD+=VALUE (VALUE is an element of the list FIELD, e.g. flags+=host_mismatch).
Reads every requests-*.jsonl in DIR. Standard library only.
"""
import glob
import json
import os
import sys
import time

FIELDS = [
    "v", "time", "id", "type", "client", "user", "account_type", "device", "group", "method",
    "scheme", "host", "path", "query", "status", "bytes_in", "bytes_out", "duration_ms",
    "decision", "category", "rule", "search", "concerns", "flags",
    # DNS questions' fields, at the end of every line (null for web requests): docs/dns.md
    "qtype", "rcode", "cache_hit", "upstream_ms",
    # how many requests the line stands for (1, or a summary's count): docs/logging.md
    "count",
    # CONNECT's authority, after the DNS fields: docs/logging.md
    "authority",
]


def lines(directory):
    for path in sorted(glob.glob(os.path.join(directory, "requests-*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    yield path, n, line.rstrip("\n")


def render(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def matches(record, conds):
    for cond in conds:
        key, _, want = cond.partition("=")
        if key.endswith("+"):
            items = record.get(key[:-1])
            if not isinstance(items, list) or want not in [render(i) for i in items]:
                return False
        elif key not in record or render(record[key]) != want:
            return False
    return True


def matching(directory, conds):
    for _, _, line in lines(directory):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if matches(record, conds):
            yield line


def main(argv):
    mode, directory = argv[1], argv[2]
    if mode == "wait":
        deadline = time.monotonic() + float(argv[3])
        while True:
            found = next(matching(directory, argv[4:]), None)
            if found is not None:
                print(found)
                return 0
            if time.monotonic() > deadline:
                print(f"no log line with {' '.join(argv[4:])} in {directory}", file=sys.stderr)
                return 1
            time.sleep(0.05)
    if mode == "count":
        print(sum(1 for _ in matching(directory, argv[3:])))
        return 0
    if mode == "check":
        count = 0
        for path, n, line in lines(directory):
            record = json.loads(line)
            if list(record) != FIELDS:
                print(f"{path}:{n}: fields {list(record)} differ from schema v1", file=sys.stderr)
                return 1
            if record["v"] != 1:
                print(f"{path}:{n}: v is {record['v']}", file=sys.stderr)
                return 1
            count += 1
        print(count)
        return 0
    sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
