#!/usr/bin/env python3
"""A tiny authoritative-style DNS server on loopback: the upstream for the DNS system test.

  dns_upstream.py PORT QUERYLOG NAME=ADDR[,ADDR...]...

Answers on 127.0.0.1:PORT over UDP and TCP (PORT 0: one the kernel chooses, free for both). A NAME=... entry gives the name its A records
(IPv4 addresses) and AAAA records (IPv6 addresses), TTL 300; NAME=>TARGET makes NAME a CNAME
of TARGET (followed within the table). A name in the table asked for another type gets
NOERROR with no answer; any other name gets NXDOMAIN with a SOA (negative TTL 60). An OPT
record in the question is answered with one. Every question is appended to QUERYLOG as
"PROTO NAME TYPE" (lower-case name, no trailing dot), so a test can tell what reached the
upstream. Prints "listening PORT" (the real port) once both sockets are bound. No internet, standard library
only.
"""
import ipaddress
import socket
import socketserver
import struct
import sys
import threading

TTL = 300
TYPES = {1: "A", 5: "CNAME", 6: "SOA", 28: "AAAA", 41: "OPT", 65: "HTTPS"}

RECORDS = {}  # name -> list of (type, rdata bytes) or ("cname", target)
LOG_LOCK = threading.Lock()


def encode_name(name):
    out = b""
    for label in name.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def read_name(msg, pos):
    labels = []
    jumped = False
    end = pos
    for _ in range(128):
        n = msg[pos]
        if n & 0xC0 == 0xC0:
            if not jumped:
                end = pos + 2
            pos = ((n & 0x3F) << 8) | msg[pos + 1]
            jumped = True
            continue
        pos += 1
        if n == 0:
            break
        labels.append(msg[pos:pos + n].decode("ascii", "replace"))
        pos += n
    if not jumped:
        end = pos
    return ".".join(labels).lower(), end


def rr(name, rtype, rdata, ttl=TTL):
    return encode_name(name) + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


def soa(zone):
    rdata = encode_name("ns." + zone) + encode_name("hostmaster." + zone) + struct.pack(
        "!IIIII", 1, 3600, 600, 86400, 60)
    return rr(zone, 6, rdata, 60)


def answer(query, proto):
    if len(query) < 12:
        return None
    qid, flags, qd, _an, _ns, ar = struct.unpack("!HHHHHH", query[:12])
    if flags & 0x8000 or qd != 1:
        return None
    name, pos = read_name(query, 12)
    qtype, qclass = struct.unpack("!HH", query[pos:pos + 4])
    question = query[12:pos + 4]
    has_opt = False
    p = pos + 4
    try:
        for _ in range(ar):
            _n, p = read_name(query, p)
            rtype, _c, _t, rdlen = struct.unpack("!HHIH", query[p:p + 10])
            has_opt |= rtype == 41
            p += 10 + rdlen
    except (IndexError, struct.error):
        pass
    with LOG_LOCK, open(LOG_PATH, "a", encoding="utf-8") as f:
        f.write(f"{proto} {name} {TYPES.get(qtype, qtype)}\n")

    answers = []
    rcode = 0
    current = name
    for _ in range(8):
        entry = RECORDS.get(current)
        if entry is None:
            if not answers:
                rcode = 3
            break
        if entry[0] == "cname":
            answers.append(rr(current, 5, encode_name(entry[1])))
            current = entry[1]
            continue
        for rtype, rdata in entry:
            if rtype == qtype:
                answers.append(rr(current, rtype, rdata))
        break
    authority = [] if answers else [soa(name.split(".", 1)[-1] if "." in name else name)]
    out_flags = 0x8000 | (flags & 0x7900) | 0x0400 | 0x0080 | rcode  # QR, opcode+RD, AA, RA
    additional = [b"\0" + struct.pack("!HHIH", 41, 1232, 0, 0)] if has_opt else []
    header = struct.pack("!HHHHHH", qid, out_flags, 1, len(answers), len(authority), len(additional))
    if qclass != 1:
        return struct.pack("!HHHHHH", qid, 0x8000 | (flags & 0x7900) | 0x0080 | 5, 1, 0, 0, 0) + question
    return header + question + b"".join(answers) + b"".join(authority) + b"".join(additional)


def serve_udp(sock):
    while True:
        data, peer = sock.recvfrom(4096)
        try:
            reply = answer(data, "udp")
        except Exception as e:  # a test helper: say it, keep serving
            print(f"bad question from {peer}: {e}", file=sys.stderr, flush=True)
            continue
        if reply:
            sock.sendto(reply, peer)


class TCPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        conn = self.request
        while True:
            head = conn.recv(2, socket.MSG_WAITALL)
            if len(head) < 2:
                return
            (n,) = struct.unpack("!H", head)
            data = conn.recv(n, socket.MSG_WAITALL)
            reply = answer(data, "tcp")
            if not reply:
                return
            conn.sendall(struct.pack("!H", len(reply)) + reply)


class TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True


def bind_both(port):
    """UDP and TCP on one port; port 0 takes the kernel's UDP port and then the same port for TCP,
    trying again (bounded) when TCP already has it."""
    for _ in range(50 if port == 0 else 1):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", port))
        try:
            return udp, TCPServer(("127.0.0.1", udp.getsockname()[1]), TCPHandler)
        except OSError:
            udp.close()
            if port != 0:
                raise
    sys.exit("no port free for both UDP and TCP")


def main():
    global LOG_PATH
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    port = int(sys.argv[1])
    LOG_PATH = sys.argv[2]
    for spec in sys.argv[3:]:
        name, sep, value = spec.partition("=")
        if not sep:
            sys.exit(f"bad record {spec!r}: NAME=ADDR[,ADDR] or NAME=>TARGET")
        name = name.strip(".").lower()
        if value.startswith(">"):
            RECORDS[name] = ("cname", value[1:].strip(".").lower())
            continue
        recs = []
        for addr in value.split(","):
            ip = ipaddress.ip_address(addr)
            recs.append((1 if ip.version == 4 else 28, ip.packed))
        RECORDS[name] = recs
    udp, tcp = bind_both(port)
    port = udp.getsockname()[1]
    threading.Thread(target=serve_udp, args=(udp,), daemon=True).start()
    print(f"listening {port}", flush=True)
    tcp.serve_forever()


if __name__ == "__main__":
    main()
