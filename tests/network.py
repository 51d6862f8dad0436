"""A network monitor for the privacy tests: run a command under strace and list every contact it tried.

strace records each ``connect``, ``sendto`` and ``sendmsg`` of the process and all its children; a contact is
any IPv4/IPv6 address outside the loopback range, or a name lookup through the system's name service cache.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

STRACE = shutil.which("strace")
_ADDRESS = re.compile(r'sin_addr=inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)"')
_LOOPBACK = re.compile(r"^(127\.|::1$|::ffff:127\.)")


def traced(command: list[str], log: Path, **popen) -> subprocess.Popen:
    """``command`` started under strace (its own process session, so ``os.killpg`` ends it all), logging to ``log``."""
    assert STRACE, "strace is not installed (scripts/test installs it)"
    trace = [STRACE, "-f", "-qq", "--seccomp-bpf", "-e", "trace=connect,sendto,sendmsg", "-o", str(log)]
    return subprocess.Popen([*trace, *command], start_new_session=True, **popen)


def local_addresses() -> set[str]:
    """This machine's own interface addresses (WebRTC between a local browser and server may use them)."""
    found: set[str] = set()
    trie = Path("/proc/net/fib_trie")
    if trie.exists():
        lines = trie.read_text().splitlines()
        found |= {lines[i - 1].split()[-1] for i, line in enumerate(lines) if "/32 host LOCAL" in line}
    inet6 = Path("/proc/net/if_inet6")
    if inet6.exists():
        for line in inet6.read_text().splitlines():
            raw = line.split()[0]
            found.add(":".join(raw[i:i + 4] for i in range(0, 32, 4)))
    return found


def _expanded(address: str) -> str:
    import ipaddress

    try:
        return ipaddress.ip_address(address).exploded
    except ValueError:
        return address


def outside_contacts(log: Path) -> list[str]:
    """The logged calls that reached for anything but this machine (loopback or its own interfaces)."""
    own = {_expanded(a) for a in local_addresses()}
    contacts = []
    for line in log.read_text(errors="replace").splitlines():
        match = _ADDRESS.search(line)
        address = match and (match[1] or match[2])
        outside = address and not _LOOPBACK.match(address) and _expanded(address) not in own
        if outside or "nscd/socket" in line:
            contacts.append(line.strip()[:200])
    return contacts
