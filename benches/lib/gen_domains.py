#!/usr/bin/env python3
"""Writes N distinct synthetic domains, one per line (Lychgate's `plain` list format).

  gen_domains.py OUT N [SEED]

Deterministic: the same N and SEED give a byte-identical file (a SplitMix64 stream, as
`lychgate_benches::Rng`; no set iteration order is ever written). The names look like those
of public block lists: syllable words, some with digits or a word, a com-heavy TLD spread,
and a host label on about a third. Standard library only.
"""
import os
import sys

MASK = (1 << 64) - 1

SYLLABLES = (
    "ba be bi bo bu ca ce ci co cu da de di do du fa fe fi fo ga ge go ka ke ki ko ku la le li "
    "lo lu ma me mi mo mu na ne ni no nu pa pe pi po ra re ri ro ru sa se si so su ta te ti to "
    "tu va ve vi vo za ze zi zo tra tro pro kra lin tex vor mar kel dor zan ryn quo xel nix bro "
    "fli gra ster"
).split()
WORDS = (
    "ad ads bet bingo blue bonus cash casino cdn chat click cloud coin crypto date deal free fun "
    "game games gold hot live loan lucky mail media mega movie online play poker prize promo "
    "proxy quick shop slot spin sport star stream tube ultra unblock video vpn watch win zone"
).split()
TLDS = (
    ["com"] * 40 + ["net"] * 9 + ["org"] * 5 + ["info"] * 4 + ["xyz"] * 4 + ["ru"] * 4
    + ["de"] * 3 + ["co.uk"] * 3 + ["top"] * 3 + ["io", "online", "site", "club", "biz", "cn"] * 2
    + ["pl", "fr", "nl", "com.br", "in", "it", "es", "eu", "us", "me", "tv", "live", "win", "icu"]
)
SUBS = "www m ads cdn img static api track stats pixel app mail media video s1 go".split()


class Rng:
    """SplitMix64, the same stream as lychgate_benches::Rng."""

    def __init__(self, seed):
        self.state = seed & MASK

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, n):
        return self.next_u64() % n

    def pick(self, seq):
        return seq[self.next_u64() % len(seq)]


def name(rng):
    label = "".join(rng.pick(SYLLABLES) for _ in range(2 + rng.below(3)))
    r = rng.below(100)
    if r < 30:
        label += str(rng.below(1000))
    elif r < 45:
        label = rng.pick(WORDS) + label
    elif r < 55:
        label = label + "-" + rng.pick(WORDS)
    d = label + "." + rng.pick(TLDS)
    if rng.below(100) < 30:
        d = rng.pick(SUBS) + "." + d
    return d


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    out, n = sys.argv[1], int(sys.argv[2])
    seed = int(sys.argv[3]) if len(sys.argv) == 4 else 20261130
    rng, seen, written = Rng(seed), set(), 0
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"# {n} synthetic domains, gen_domains.py seed {seed}\n")
        while written < n:
            d = name(rng)
            if d not in seen:
                seen.add(d)
                f.write(d + "\n")
                written += 1
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
