"""Loaded by Python at start-up in tests: any non-loopback connection or lookup aborts."""

import socket
import sys

_real_connect = socket.socket.connect
_real_gai = socket.getaddrinfo


def _local(host):
    h = str(host)
    return h.startswith("127.") or h in ("localhost", "::1", "") or h.startswith("/")


def _connect(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if self.family == socket.AF_UNIX or _local(host):
        return _real_connect(self, address)
    sys.stderr.write(f"NETWORK-ATTEMPT connect {address!r}\n")
    raise OSError("network disabled by test guard")


def _gai(host, *a, **k):
    if host is not None and not _local(host):
        sys.stderr.write(f"NETWORK-ATTEMPT getaddrinfo {host!r}\n")
        raise OSError("network disabled by test guard")
    return _real_gai(host, *a, **k)


socket.socket.connect = _connect
socket.getaddrinfo = _gai
