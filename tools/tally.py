#!/usr/bin/env python3
"""Count test cases in a meson test log: each TAP line is a case; a test
program that produced no TAP lines counts as one case by its own result.
Each failing case is printed first, with its "# " diagnostic lines, so the
lines just above the summary say what failed."""
import json
import re
import sys

passed = failed = skipped = 0
failures = []


def diagnostics(out, start):
    """The "# " lines that follow a "not ok" line."""
    lines = []
    for line in out[start:].splitlines()[1:]:
        if not line.startswith("#"):
            break
        lines.append("  " + line)
    return lines[-12:]


with open(sys.argv[1], encoding="utf-8", errors="replace") as log:
    for line in log:
        test = json.loads(line)
        out = test.get("stdout") or ""
        name = test.get("name", "?")
        oks = [m.group(0) for m in re.finditer(r"^(not ok|ok)\b[^\n]*", out, re.M)]
        for m in re.finditer(r"^not ok\b[^\n]*", out, re.M):
            failures.append("FAIL %s: %s" % (name, m.group(0)))
            failures.extend(diagnostics(out, m.start()))
        if not oks:
            if test.get("result") in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif test.get("result") == "SKIP":
                skipped += 1
            else:
                failed += 1
                failures.append("FAIL %s: %s" % (name, test.get("result")))
                failures.extend("  # " + l for l in (test.get("stderr") or "").splitlines()[-8:])
            continue
        for case in oks:
            if case.startswith("not ok"):
                failed += 1
            elif "# SKIP" in case.upper():
                skipped += 1
            else:
                passed += 1
        if test.get("result") not in ("OK", "SKIP", "EXPECTEDFAIL") and not any(c.startswith("not ok") for c in oks):
            failed += 1  # crashed or timed out after its last case
            failures.append("FAIL %s: %s after its last case" % (name, test.get("result")))
            failures.extend("  # " + l for l in (test.get("stderr") or "").splitlines()[-8:])
for line in failures[:60]:
    print(line)
print(f"{passed} passed, {failed} failed, {skipped} skipped")
