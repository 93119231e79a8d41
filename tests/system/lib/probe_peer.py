#!/usr/bin/env python3
"""Tiny peers for the namespace probes (tests/system/probe-netns-nat.sh).

  probe_peer.py origdst-http PORT         HTTP listener (IPv4 and IPv6 sockets) answering every
                                           request with "original_dst=ADDR:PORT" read from
                                           SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST: what a
                                           transparent listener behind an nftables redirect sees
  probe_peer.py http PORT TEXT            HTTP listener answering TEXT (the "real" origin)
  probe_peer.py udp-log PORT FILE         UDP listener appending each datagram's text to FILE
  probe_peer.py udp-echo PORT TEXT        UDP listener answering each datagram with TEXT
  probe_peer.py udp-send HOST PORT TEXT   sends TEXT three times (UDP is lossy on purpose here)
  probe_peer.py udp-ask HOST PORT TEXT    sends TEXT, prints the answer (2 s timeout)
  probe_peer.py tcp-connect HOST PORT     exits 0 if a TCP connection opens within 2 s

Standard library only, so a bare Debian image runs it.
"""
import http.server
import ipaddress
import socket
import socketserver
import struct
import sys
import threading

SO_ORIGINAL_DST = 80  # same number for SOL_IP and IP6T_SO_ORIGINAL_DST on SOL_IPV6


def original_dst(sock):
    if sock.family == socket.AF_INET:
        raw = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
        port = struct.unpack("!H", raw[2:4])[0]
        return f"{socket.inet_ntop(socket.AF_INET, raw[4:8])}:{port}"
    raw = sock.getsockopt(socket.IPPROTO_IPV6, SO_ORIGINAL_DST, 28)
    port = struct.unpack("!H", raw[2:4])[0]
    return f"[{ipaddress.IPv6Address(raw[8:24])}]:{port}"


def serve_http(port, answer):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            try:
                body = answer(self.connection).encode() + b"\n"
            except OSError as e:
                body = f"original_dst=error:{e.errno}\n".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    class Server4(socketserver.ThreadingMixIn, http.server.HTTPServer):
        address_family = socket.AF_INET
        allow_reuse_address = True
        daemon_threads = True

    class Server6(Server4):
        address_family = socket.AF_INET6

        def server_bind(self):
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            super().server_bind()

    servers = [Server4(("0.0.0.0", port), Handler), Server6(("::", port), Handler)]
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    servers[0].serve_forever()


def udp_socket(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    return s


def main(argv):
    mode = argv[1]
    if mode == "origdst-http":
        serve_http(int(argv[2]), lambda conn: "original_dst=" + original_dst(conn))
    elif mode == "http":
        serve_http(int(argv[2]), lambda conn: argv[3])
    elif mode == "udp-log":
        s = udp_socket(int(argv[2]))
        while True:
            data, _ = s.recvfrom(2048)
            with open(argv[3], "a") as f:
                f.write(data.decode(errors="replace") + "\n")
    elif mode == "udp-echo":
        s = udp_socket(int(argv[2]))
        while True:
            _, peer = s.recvfrom(2048)
            s.sendto(argv[3].encode(), peer)
    elif mode in ("udp-send", "udp-ask"):
        info = socket.getaddrinfo(argv[2], int(argv[3]), type=socket.SOCK_DGRAM)[0]
        s = socket.socket(info[0], socket.SOCK_DGRAM)
        s.settimeout(2)
        for _ in range(3 if mode == "udp-send" else 1):
            s.sendto(argv[4].encode(), info[4])
        if mode == "udp-ask":
            print(s.recvfrom(2048)[0].decode())
    elif mode == "tcp-connect":
        socket.create_connection((argv[2], int(argv[3])), timeout=2).close()
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(sys.argv)
