#!/usr/bin/env python3
"""The core in layers, read from the built libraries' symbol tables.

Every arrow points down: a module of the core uses only modules of its own
level or below (LEVELS, the same order as src/README.md), the modules form
no circle, the target parser links without the resolver, the handshake or
the diagnosis, and the front-end library uses nothing it does not define
itself or find in the core (main.c is the program's, not the library's).
Prints TAP.
"""

import os
import re
import subprocess
import sys

# Bottom first. A module may use any module of its own level or below.
LEVELS = [
    ["util", "clock", "utf8", "reason"],
    ["result", "clients", "file", "cache"],
    ["chain"],
    ["trust"],
    ["config"],
    ["target", "net", "starttls", "session", "revoke", "diagnose", "pki", "scenario", "hello"],
    ["probe", "fetch", "batch", "ca", "serve", "scan"],
]
LEVEL = {m: i for i, row in enumerate(LEVELS) for m in row}
OURS = re.compile(r"^(tp_|cli_|out_|render_|term_)")


def symbols(archive):
    """{module: (defined, undefined)} from nm over a static library."""
    out = subprocess.run(["nm", "-A", archive], check=True, capture_output=True, text=True).stdout
    mods = {}
    for line in out.splitlines():
        m = re.match(r"^[^:]+:[^:]*src_(?:cli_)?(\w+)\.c\.o:\s*(?:[0-9a-f]+)?\s+(\w)\s+(\S+)$", line)
        if not m:
            continue
        mod, kind, name = m.groups()
        defined, undefined = mods.setdefault(mod, (set(), set()))
        if kind == "U":
            undefined.add(name)
        elif kind.isupper():
            defined.add(name)
    return mods


def uses(mods):
    where = {s: m for m, (d, _) in mods.items() for s in d}
    return {m: {where[s] for s in u if s in where and where[s] != m} for m, (_, u) in mods.items()}, where


def closure(graph, start):
    seen, todo = set(), [start]
    while todo:
        for n in graph.get(todo.pop(), ()):
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return seen


def main():
    build = os.environ.get("TLSPROBE_BUILD_DIR") or sys.argv[1]
    core = symbols(os.path.join(build, "libtlsprobe-core.a"))
    front = symbols(os.path.join(build, "libtlsprobe-front.a"))
    graph, where = uses(core)
    results = []

    unknown = sorted(m for m in core if m not in LEVEL)
    results.append((not unknown, "every core module has a level", "not in LEVELS: %s" % unknown))
    upward = sorted("%s -> %s" % (m, u) for m in graph for u in graph[m]
                    if m in LEVEL and u in LEVEL and LEVEL[u] > LEVEL[m])
    results.append((not upward, "no core module uses one above it", "; ".join(upward)))
    circles = sorted(m for m in graph if m in closure(graph, m))
    results.append((not circles, "the core's modules form no circle", "in a circle: %s" % circles))
    heavy = {"net", "session", "diagnose", "probe"}
    pulled = closure(graph, "target") & heavy
    results.append((not pulled, "the target parser links without the resolver, handshake or diagnosis",
                    "target pulls in %s" % sorted(pulled)))

    front_defined = {s for d, _ in front.values() for s in d}
    missing = sorted("%s uses %s" % (m, s) for m, (_, u) in front.items() for s in u
                     if OURS.match(s) and s not in front_defined and s not in where)
    results.append((not missing, "the front-end library uses only what it or the core defines", "; ".join(missing)))

    print("1..%d" % len(results))
    for i, (ok, name, why) in enumerate(results, 1):
        print("%s %d - %s" % ("ok" if ok else "not ok", i, name))
        if not ok:
            print("# " + why)
    return 0 if all(r[0] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
