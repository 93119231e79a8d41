#!/usr/bin/env python3
"""CONNECT tunnel throughput: a bulk source behind a proxy and a client that times it.

  connect_bench.py serve HOST PORT
      Listens on HOST:PORT. For each connection: reads one complete TLS record (the client's
      ClientHello), reads the 8-byte big-endian byte count that follows it, then sends that
      many bytes and closes. Anything that is not a TLS handshake record is refused.
  connect_bench.py fetch PROXY TARGET BYTES
      Opens a connection to PROXY (host:port), sends `CONNECT TARGET`, expects a 200, then
      sends a real ClientHello (made by Python's ssl module, as any TLS client would send
      first: Lychgate reads it before it connects upstream), then the byte count, and reads
      BYTES bytes. With PROXY `-` it connects to TARGET directly (the baseline).
      Prints one line: `bytes=N seconds=S mib_per_s=R`; exits 1 on any failure.

The bytes after the ClientHello are not TLS: the point is to measure the proxy's splice, not
two Python TLS stacks (which would be the bottleneck on a 2-core box). Standard library only.
"""
import socket
import ssl
import struct
import sys
import threading
import time

CHUNK = 1 << 20


def client_hello():
    """A ClientHello exactly as Python's TLS client would send it to an IP-literal server."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_side=False)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    if len(hello) < 50 or hello[0] != 0x16 or hello[5] != 0x01:
        raise RuntimeError("ssl module produced no ClientHello")
    return hello


def read_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def handle(conn):
    try:
        conn.settimeout(30)
        head = read_exact(conn, 5)
        if head[0] != 0x16:
            return
        read_exact(conn, struct.unpack("!H", head[3:5])[0])
        (n,) = struct.unpack("!Q", read_exact(conn, 8))
        block = memoryview(bytes(CHUNK))
        while n > 0:
            k = min(n, CHUNK)
            conn.sendall(block[:k])
            n -= k
        conn.shutdown(socket.SHUT_WR)
        # wait for the client to close, so the last bytes are not reset away
        while conn.recv(65536):
            pass
    except OSError:
        pass
    except EOFError:
        pass
    finally:
        conn.close()


def serve(host, port):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, int(port)))
    srv.listen(64)
    print(f"listening {host}:{port}", flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def split_hostport(s):
    host, _, port = s.rpartition(":")
    return host, int(port)


def fetch(proxy, target, nbytes):
    hello = client_hello()
    addr = split_hostport(target if proxy == "-" else proxy)
    sock = socket.create_connection(addr, timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if proxy != "-":
        sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                raise EOFError(f"proxy closed during the CONNECT answer: {head!r}")
            head += chunk
            if len(head) > 65536:
                raise RuntimeError("CONNECT answer head too large")
        status = head.split(b"\r\n", 1)[0]
        if len(status.split()) < 2 or status.split()[1] != b"200":
            raise RuntimeError(f"CONNECT refused: {status.decode(errors='replace')}")
        extra = head.split(b"\r\n\r\n", 1)[1]
        if extra:
            raise RuntimeError("bytes before the ClientHello was sent")
    start = time.perf_counter()
    sock.sendall(hello + struct.pack("!Q", nbytes))
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    got = 0
    while got < nbytes:
        k = sock.recv_into(view)
        if k == 0:
            break
        got += k
    elapsed = time.perf_counter() - start
    sock.close()
    if got != nbytes:
        raise RuntimeError(f"received {got} of {nbytes} bytes")
    print(f"bytes={got} seconds={elapsed:.3f} mib_per_s={got / elapsed / (1 << 20):.1f}")


def main():
    a = sys.argv[1:]
    try:
        if len(a) == 3 and a[0] == "serve":
            serve(a[1], a[2])
        elif len(a) == 4 and a[0] == "fetch":
            fetch(a[1], a[2], int(a[3]))
        else:
            sys.exit(__doc__)
    except (OSError, EOFError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
