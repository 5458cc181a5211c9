#!/usr/bin/env python3
"""A lenient WebSocket peer that echoes a Close frame's payload verbatim, whatever its code.

Browsers and some libraries answer a Close that carries an invalid code (0, 999, 1004, ...)
by repeating that code in their own Close. The fuzzers must record such a reply the same way
(tests/oracle_parity.rs runs the real one and ours against this peer). Standard library only;
no extension is negotiated; nothing is validated: data messages are echoed as received
(fragments reassembled), pings answered, pongs ignored.

    close_echo_peer.py server PORT          a server on 127.0.0.1:PORT
    close_echo_peer.py client URL AGENT     a client of a fuzzing server's URL protocol
"""
import base64
import hashlib
import os
import socket
import struct
import sys
import threading
from urllib.parse import urlparse

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Conn:
    """A socket with the octets read past what was asked for (a handshake's head can arrive
    in one segment with the first frame)."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def fill(self):
        try:
            chunk = self.sock.recv(65536)
        except OSError:
            chunk = b""
        self.buf += chunk
        return bool(chunk)

    def take(self, n):
        while len(self.buf) < n:
            if not self.fill():
                return None
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def head(self):
        while b"\r\n\r\n" not in self.buf:
            if not self.fill():
                return None
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        return head

    def sendall(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()


def recv_exact(s, n):
    return s.take(n)


def read_head(s):
    return s.head()


def read_frame(s):
    head = recv_exact(s, 2)
    if head is None:
        return None
    fin, opcode = head[0] >> 7, head[0] & 0x0F
    masked, n = head[1] >> 7, head[1] & 0x7F
    if n == 126:
        n = struct.unpack("!H", recv_exact(s, 2) or b"\0\0")[0]
    elif n == 127:
        n = struct.unpack("!Q", recv_exact(s, 8) or b"\0" * 8)[0]
    key = recv_exact(s, 4) if masked else None
    payload = recv_exact(s, n) if n else b""
    if payload is None:
        return None
    if key:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return fin, opcode, payload


def send_frame(s, opcode, payload, mask):
    n = len(payload)
    head = bytes([0x80 | opcode])
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if mask:
        key = os.urandom(4)
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        head += key
    s.sendall(head + payload)


def session(s, is_client):
    """Echo until a Close arrives; answer it with the same payload."""
    parts, first_op = [], None
    try:
        while True:
            f = read_frame(s)
            if f is None:
                return
            fin, op, payload = f
            if op in (1, 2) or (op == 0 and first_op is not None):
                if op != 0:
                    parts, first_op = [], op
                parts.append(payload)
                if fin:
                    send_frame(s, first_op, b"".join(parts), is_client)
                    parts, first_op = [], None
            elif op == 9:
                send_frame(s, 10, payload, is_client)
            elif op == 8:
                send_frame(s, 8, payload, is_client)
                if is_client:
                    # The server closes TCP first; wait for that (bounded).
                    s.sock.settimeout(5)
                    while s.fill():
                        pass
                return
    except OSError:
        return
    finally:
        s.close()


def serve(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(64)
    while True:
        s, _ = ls.accept()
        threading.Thread(target=accept_one, args=(Conn(s),), daemon=True).start()


def accept_one(s):
    head = read_head(s)
    if head is None:
        s.close()
        return
    key = b""
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"sec-websocket-key":
            key = value.strip()
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    s.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
    session(s, False)


def connect(url, path):
    u = urlparse(url)
    s = Conn(socket.create_connection((u.hostname, u.port or 80)))
    key = base64.b64encode(os.urandom(16))
    s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + u.netloc.encode() +
              b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
              b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    head = read_head(s)
    if head is None or b" 101 " not in head.split(b"\r\n")[0]:
        raise SystemExit(f"close_echo_peer: {url}{path}: no upgrade")
    return s


def first_text(url, path):
    s = connect(url, path)
    f = read_frame(s)
    s.close()
    return f[2].decode() if f else ""


def client(url, agent):
    count = int(first_text(url, "/getCaseCount"))
    for case in range(1, count + 1):
        session(connect(url, f"/runCase?case={case}&agent={agent}"), True)
    s = connect(url, f"/updateReports?agent={agent}")
    s.sock.settimeout(30)
    while s.fill():
        pass
    s.close()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "server":
        serve(int(sys.argv[2]))
    elif len(sys.argv) == 4 and sys.argv[1] == "client":
        client(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(__doc__)
