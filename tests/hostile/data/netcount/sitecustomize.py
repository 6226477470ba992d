"""Loaded at start-up of every Python process of a test run: records each socket attempt.

An audit hook (PEP 578) sees every ``socket.connect``, ``socket.connect_ex``,
``socket.sendto``/``sendmsg`` and ``socket.getaddrinfo`` before it happens, whoever makes
it (the standard library, urllib3, httpx, gRPC's Python side), and appends one JSON line
per attempt to the file named by ``SANDBOX_NETCOUNT_FILE``. It observes only; the
network namespace is what denies.
"""

import json
import os
import sys

_OUT = os.environ.get("SANDBOX_NETCOUNT_FILE")
_EVENTS = {
    "socket.connect",
    "socket.connect_ex",
    "socket.sendto",
    "socket.sendmsg",
    "socket.getaddrinfo",
}


def _target(event, args):
    if event == "socket.getaddrinfo":
        return args[0]
    address = args[1] if len(args) > 1 else None
    if isinstance(address, tuple) and address:
        return address[0]
    return address  # a path (AF_UNIX) or bytes


def _hook(event, args):
    if event not in _EVENTS or not _OUT:
        return
    try:
        target = _target(event, args)
        family = getattr(args[0], "family", None) if event != "socket.getaddrinfo" else None
        row = {
            "event": event,
            "target": target if isinstance(target, str | int | None) else repr(target),
            "unix": family is not None and int(family) == 1,  # AF_UNIX
            "pid": os.getpid(),
        }
        with open(_OUT, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
    except Exception:  # an observer must never change what it observes
        pass


if _OUT:
    sys.addaudithook(_hook)
