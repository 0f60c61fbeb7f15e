#!/usr/bin/env python3
"""Run integration test modules and print TAP.

    python3 tests/integration/tap.py MODULE [MODULE...] [-k SUBSTRING]

MODULE is a file name in this directory without ".py" (e.g. test_probe).
Results stream as they finish ("ok N - name", "not ok N - name" followed by the
failure as "# " lines, "ok N - name # SKIP reason"); the plan "1..N" is printed
last, which TAP allows.  Exit status 1 if anything failed.

The binary under test is $TLSPROBE, by default <repo root>/build/tlsprobe.
"""

import os
import signal
import sys
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


class TapResult(unittest.TestResult):
    def __init__(self, stream):
        super().__init__()
        self.stream = stream
        self.n = 0
        self.failed = 0
        self._current = None
        self._emitted = True
        self._sub_failures = []

    # -- output -----------------------------------------------------------
    def _emit(self, ok, name, directive="", detail=""):
        self.n += 1
        self._emitted = True
        if not ok:
            self.failed += 1
        line = "%s %d - %s" % ("ok" if ok else "not ok", self.n, name.replace("#", "\\#"))
        if directive:
            line += " # " + directive
        self.stream.write(line + "\n")
        for dl in detail.rstrip("\n").splitlines() if detail else ():
            self.stream.write("# " + dl + "\n")
        self.stream.flush()

    @staticmethod
    def _name(test):
        if isinstance(test, unittest.TestCase):
            return "%s.%s" % (type(test).__name__, test._testMethodName)
        return str(test)  # _ErrorHolder for setUpModule/setUpClass errors

    def _fmt(self, err, test=None):
        if test is not None and isinstance(test, unittest.TestCase):
            return self._exc_info_to_string(err, test)
        return "".join(traceback.format_exception(*err))

    # -- unittest hooks -----------------------------------------------------
    def startTest(self, test):
        super().startTest(test)
        self._current = test
        self._emitted = False
        self._sub_failures = []

    def stopTest(self, test):
        super().stopTest(test)
        # when only subtests failed, unittest reports neither success nor failure
        if not self._emitted:
            self._emit(not self._sub_failures, self._name(test),
                       detail="\n".join(self._sub_failures))
        self._current = None

    def addSuccess(self, test):
        super().addSuccess(test)
        if self._sub_failures:
            self._emit(False, self._name(test), detail="\n".join(self._sub_failures))
        else:
            self._emit(True, self._name(test))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._emit(False, self._name(test), detail="\n".join(
            self._sub_failures + [self._fmt(err, test)]))

    def addError(self, test, err):
        super().addError(test, err)
        self._emit(False, self._name(test), detail="\n".join(
            self._sub_failures + ["ERROR: " + self._fmt(err, test)]))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._emit(True, self._name(test), directive="SKIP " + " ".join(str(reason).split()))

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._emit(True, self._name(test), directive="TODO expected failure")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._emit(False, self._name(test), detail="unexpected success")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            if issubclass(err[0], unittest.SkipTest):
                return
            self._sub_failures.append("subtest %s:\n%s" % (
                subtest._subDescription(), self._fmt(err, test)))


def _filter(suite, words):
    out = unittest.TestSuite()
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            out.addTest(_filter(t, words))
        elif any(w in t.id() for w in words):
            out.addTest(t)
    return out


class _Terminated(KeyboardInterrupt):
    # a KeyboardInterrupt, because unittest records SystemExit as a test error
    # and goes on, while it lets KeyboardInterrupt through
    pass


def _exit_on_signal(signum, frame):
    # turn SIGTERM/SIGHUP into a clean stop so that the atexit hooks (which
    # stop the peers and remove the fixtures) still run
    raise _Terminated(signum)


def main(argv):
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit_on_signal)
    modules, words = [], []
    it = iter(argv)
    for a in it:
        if a == "-k":
            words.append(next(it, ""))
        elif a in ("-h", "--help"):
            print(__doc__.strip())
            return 0
        else:
            modules.append(a[:-3] if a.endswith(".py") else os.path.basename(a))
    if not modules:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    sys.path.insert(0, HERE)
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    result = TapResult(sys.stdout)
    for m in modules:
        try:
            mod = __import__(m)
        except Exception:
            result._emit(False, "import %s" % m, detail=traceback.format_exc())
            continue
        suite.addTest(loader.loadTestsFromModule(mod))
    if words:
        suite = _filter(suite, words)
    try:
        suite.run(result)
    except KeyboardInterrupt as e:
        sys.stdout.write("Bail out! interrupted\n")
        sys.stdout.flush()
        return 128 + (e.args[0] if isinstance(e, _Terminated) else signal.SIGINT)
    sys.stdout.write("1..%d\n" % result.n)
    sys.stdout.flush()
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
