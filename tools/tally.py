#!/usr/bin/env python3
"""Count test cases in a meson test log: each TAP line is a case; a test
program that produced no TAP lines counts as one case by its own result."""
import json
import re
import sys

passed = failed = skipped = 0
with open(sys.argv[1], encoding="utf-8", errors="replace") as log:
    for line in log:
        test = json.loads(line)
        out = test.get("stdout") or ""
        oks = re.findall(r"^(not ok|ok)\b[^\n]*", out, re.M)
        if not oks:
            if test.get("result") in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif test.get("result") == "SKIP":
                skipped += 1
            else:
                failed += 1
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
print(f"{passed} passed, {failed} failed, {skipped} skipped")
