"""Base classes of the test cases: ProbeCase (peers kept for a test or a
class, assertions on a JSON record with the record in the message) and
ServeCase (`tlsprobe serve` that must stop cleanly)."""

import unittest

from .schema import dump, problem, problem_codes
from .servers import STOP_GRACE, Serve


class ProbeCase(unittest.TestCase):
    """Base class: server helpers and assertions with the JSON in the message."""

    maxDiff = None

    @classmethod
    def class_server(cls, server):
        """Keep a server for the whole class; stopped after the class."""
        cls.addClassCleanup(server.stop)
        return server

    def server(self, server):
        """Keep a server for this test only."""
        self.addCleanup(server.stop)
        return server

    def assertOutcome(self, r, rc, status, reason):
        """Exit code, status and reason of a JsonProbe, all at once."""
        got = (r.rc, r.obj.get("status"), r.obj.get("reason"))
        self.assertEqual(got, (rc, status, reason),
                         "(exit, status, reason) mismatch\nstderr: %s\n%s" % (
                             r.stderr[:1000], dump(r.obj)))

    def assertProblems(self, r, codes):
        """verify.problems holds exactly these codes (any order)."""
        self.assertIsNotNone(r.obj["verify"], "verify is null\n" + dump(r.obj))
        self.assertEqual(sorted(problem_codes(r.obj)), sorted(codes),
                         "problem codes\n" + dump(r.obj))

    def assertProblem(self, r, code, severity=None, cert_index=Ellipsis):
        """A problem with this code exists (with this severity / cert_index)."""
        p = problem(r.obj, code)
        self.assertIsNotNone(p, "no %r problem\n%s" % (code, dump(r.obj)))
        if severity is not None:
            self.assertEqual(p["severity"], severity, dump(r.obj))
        if cert_index is not Ellipsis:
            self.assertEqual(p["cert_index"], cert_index, dump(r.obj))
        return p

    def assertError(self, r, code, rc=2):
        """Connection/handshake-level failure: exit, status, reason and error.code."""
        self.assertOutcome(r, rc, "critical", code)
        self.assertIsNotNone(r.obj["error"], "error is null\n" + dump(r.obj))
        self.assertEqual(r.obj["error"]["code"], code, dump(r.obj))

    def leaf(self, r):
        """chain[0] of a JsonProbe (asserting that the chain is not empty)."""
        self.assertTrue(r.obj["chain"], "chain is empty\n" + dump(r.obj))
        return r.obj["chain"][0]


class ServeCase(unittest.TestCase):
    """Base class: servers stopped with SIGTERM at cleanup, which must exit 0
    promptly (a failure there is reported against the test or class)."""

    maxDiff = None

    @staticmethod
    def _stop_and_check(srv):
        rc, took = srv.stop()
        if rc != 0 or took > STOP_GRACE:
            raise AssertionError("tlsprobe serve %s: after SIGTERM exit %r in %.2fs (want 0 "
                                 "within %.1fs)\nstderr tail: %s" % (
                                     " ".join(srv.args), rc, took, STOP_GRACE,
                                     srv.stderr()[-1500:]))

    def serve(self, *args, **kw):
        srv = Serve(*args, **kw)
        self.addCleanup(self._stop_and_check, srv)
        return srv

    @classmethod
    def class_serve(cls, *args, **kw):
        srv = Serve(*args, **kw)
        cls.addClassCleanup(cls._stop_and_check, srv)
        return srv
