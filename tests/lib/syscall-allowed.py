#!/usr/bin/env python3
"""Prints the system calls in ARGS (strace -f output on stdin) that a
systemd SystemCallFilter= allow list (the words given as arguments, groups
like @system-service expanded with `systemd-analyze syscall-filter`) does
not allow, one per line."""
import re
import subprocess
import sys

groups, cur = {}, None
for line in subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True,
                           text=True, check=True).stdout.splitlines():
    if line.startswith("@"):
        cur = line.strip()
        groups[cur] = []
    elif cur and line.strip() and not line.strip().startswith("#"):
        groups[cur].append(line.strip())


def expand(word, seen):
    if not word.startswith("@"):
        return {word}
    out = set()
    for w in groups.get(word, []):
        if w not in seen:
            seen.add(w)
            out |= expand(w, seen)
    return out


allowed = set()
for w in sys.argv[1:]:
    allowed |= expand(w, set())
used = set()
for line in sys.stdin:
    m = re.match(r"^\d+\s+([a-z0-9_]+)\(", line)
    if m:
        used.add(m.group(1))
for sc in sorted(used - allowed):
    print(sc)
