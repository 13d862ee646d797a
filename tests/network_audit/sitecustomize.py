"""Put on PYTHONPATH with NETWORK_AUDIT_LOG set: every Python process (runner, kernels) logs and blocks
each connection or name lookup that leaves the machine, through an audit hook (PEP 578)."""

import os
import socket
import sys

_LOG = os.environ.get("NETWORK_AUDIT_LOG")
_LOCAL_NAMES = {None, "", "localhost", "::1", "ip6-localhost"}


def _local(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    return host in _LOCAL_NAMES or (isinstance(host, str) and host.startswith("127."))


def _record(line: str) -> None:
    with open(_LOG, "a", encoding="utf-8") as log:
        log.write(line + "\n")


def _hook(event, args):
    if event == "socket.connect":
        sock, address = args
        if sock.family == getattr(socket, "AF_UNIX", None) or _local(address[0] if isinstance(address, tuple) else address):
            return
        _record(f"connect {address!r} pid={os.getpid()}")
        raise OSError(f"network audit blocked a connection to {address!r}")
    if event == "socket.getaddrinfo" and not _local(args[0]):
        _record(f"getaddrinfo {args[0]!r} pid={os.getpid()}")
        raise socket.gaierror(f"network audit blocked a lookup of {args[0]!r}")


if _LOG:
    _record(f"started pid={os.getpid()} {' '.join(sys.orig_argv[1:3])}")
    sys.addaudithook(_hook)
