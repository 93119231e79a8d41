#!/usr/bin/env python3
"""A test origin server and a QUIC datagram sender for the transparent-mode system test.

  origin.py web CERT KEY LOGFILE     HTTP on port 80 and HTTPS on port 443, IPv4 and IPv6. Every
                                     GET is answered with one line:
                                       origin scheme=http|https host=HOST sni=SNI peer=ADDR path=PATH
                                     (peer is the address the connection came from: the gateway's
                                     when Lychgate proxied it, the client's when it was forwarded
                                     untouched) and the same line is appended to LOGFILE, so a test
                                     can prove what did *not* reach the origin.
  origin.py quic-send HOST PORT      sends three QUIC version 1 Initial-shaped datagrams (long
                                     header, version 1, 8-byte connection ids, padded to 1200
                                     bytes as RFC 9000 requires of a client's first packet)

Standard library only, so a bare Debian image runs it.
"""
import http.server
import os
import socket
import socketserver
import ssl
import sys
import threading

LOCK = threading.Lock()


def make_handler(scheme, logfile):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            if scheme == "https":
                # The handshake runs here, in the connection's thread, not in the accept loop.
                self.request.do_handshake()
            super().setup()

        def do_GET(self):
            sni = getattr(self.request, "lychgate_test_sni", None) if scheme == "https" else None
            peer = self.client_address[0]
            if peer.startswith("::ffff:"):
                peer = peer[7:]
            line = (
                f"origin scheme={scheme} host={self.headers.get('Host', '-')} "
                f"sni={sni or '-'} peer={peer} path={self.path}"
            )
            with LOCK, open(logfile, "a") as f:
                f.write(line + "\n")
            body = (line + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Handler


class Server4(socketserver.ThreadingMixIn, http.server.HTTPServer):
    address_family = socket.AF_INET
    allow_reuse_address = True
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A refused or reset TLS handshake is expected in these tests; keep stderr readable.
        print(f"origin: connection from {client_address[0]} failed: {sys.exc_info()[1]}",
              file=sys.stderr)


class Server6(Server4):
    address_family = socket.AF_INET6

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()


def serve_web(cert, key, logfile):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def remember_sni(sock, name, _ctx):
        sock.lychgate_test_sni = name

    context.sni_callback = remember_sni
    servers = []
    for cls in (Server4, Server6):
        host = "0.0.0.0" if cls is Server4 else "::"
        servers.append(cls((host, 80), make_handler("http", logfile)))
        tls = cls((host, 443), make_handler("https", logfile))
        tls.socket = context.wrap_socket(tls.socket, server_side=True,
                                         do_handshake_on_connect=False)
        servers.append(tls)
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    servers[0].serve_forever()


def quic_initial():
    # First byte: long header (0x80), fixed bit (0x40), type Initial (0), packet number length 4.
    dcid = os.urandom(8)
    scid = os.urandom(8)
    head = bytes([0xC3]) + (1).to_bytes(4, "big") + bytes([8]) + dcid + bytes([8]) + scid
    head += bytes([0])  # token length 0
    rest = 1200 - len(head) - 2
    head += (0x4000 | rest).to_bytes(2, "big")  # 2-byte variable-length integer
    return head + os.urandom(rest)


def main(argv):
    if argv[1] == "web":
        serve_web(argv[2], argv[3], argv[4])
    elif argv[1] == "quic-send":
        info = socket.getaddrinfo(argv[2], int(argv[3]), type=socket.SOCK_DGRAM)[0]
        with socket.socket(info[0], socket.SOCK_DGRAM) as s:
            for _ in range(3):
                s.sendto(quic_initial(), info[4])
    else:
        sys.exit(f"unknown mode {argv[1]}")


if __name__ == "__main__":
    main(sys.argv)
