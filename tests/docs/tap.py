#!/usr/bin/env python3
"""Run the docs test modules with the integration tests' TAP runner.

    python3 tests/docs/tap.py MODULE [MODULE...] [-k SUBSTRING]

MODULE is a file name in this directory without ".py" (e.g. test_docs).
tests/integration/tap.py looks for modules in its own directory; this puts
this directory first on the path and hands over to it.
"""

import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(HERE, "..", "integration", "tap.py")


def main(argv):
    spec = importlib.util.spec_from_file_location("integration_tap", RUNNER)
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    sys.path.insert(0, HERE)
    return runner.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
