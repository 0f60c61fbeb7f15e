"""tlsprobe batch and the monitoring formats (--format nagios|prometheus|tsv on
batch and connect); the ready-made probes in probes/ are test_probes.py's.

Peers, all on loopback: `tlsprobe serve --scenario all` (every good and broken
setup on its own port, with the root it writes by --write-ca), openssl
s_server with harness.Fixtures' leaf + intermediate (365 days left),
harness's silent server (accepts, never answers), a plain HTTP server, a
closed port, and gnutls-serv with the hostile certificate where it exists.
Both roots are trusted with --ca-file and the system store is not.

Expectations come from the server (the scenario table says what a client
must report), from the fixtures (dates, fingerprints made by openssl) and
from the documents (tlsprobe-json(7) severities, the Nagios plugin
guidelines, the Prometheus text exposition format), never from tlsprobe's
own output alone: the monitoring formats are checked against the --json
record of the same target.
"""

import os
import re
import unittest


def terminal_safe(s):
    """What tlsprobe's render_safe makes of s: C0 and DEL as \\xNN, C1 and
    the bidirectional controls as \\u{NNNN}; the TSV fields use it."""
    out = []
    for ch in s:
        cp = ord(ch)
        if cp < 0x20 or cp == 0x7F:
            out.append("\\x%02x" % cp)
        elif 0x80 <= cp <= 0x9F or 0x202A <= cp <= 0x202E or 0x2066 <= cp <= 0x2069 or cp in (0x200E, 0x200F):
            out.append("\\u{%04x}" % cp)
        else:
            out.append(ch)
    return "".join(out)
from collections import Counter

import harness
from harness import run, run_tlsprobe, wait_binary
from harness import formats as fmt
from harness.env import epoch
from harness.formats import SEVERITY, EXIT_CODE, WORD
from harness.runner import popen
from harness.schema import check_failure, check_record, ndjson

F = None            # harness.Fixtures
REF = None          # tlsprobe serve --scenario all
GOOD = None         # s_server: leaf + intermediate, 365 days
SILENT = None       # accepts and never answers
HTTP = None         # plain HTTP
CLOSED = None       # a port nothing listens on
TMP = None

TIMEOUT = "2"       # --timeout for every batch here: the silent targets cost this


PEERS = None        # harness.MonitoringPeers: all of the above


def setUpModule():
    global F, PEERS, REF, GOOD, SILENT, HTTP, CLOSED, TMP
    F = harness.fixtures()
    TMP = os.path.join(harness.scratch_dir(), "batch")
    os.makedirs(TMP, exist_ok=True)
    PEERS = harness.MonitoringPeers(F, http=True)
    REF, GOOD, SILENT, HTTP, CLOSED = PEERS.ref, PEERS.good, PEERS.silent, PEERS.http, PEERS.closed


def tearDownModule():
    if PEERS is not None:
        PEERS.stop()


def trust():
    return PEERS.trust()


def ref(name):
    return REF.target_for(name)


def expect_ref(name):
    """(status, reason) a correct client reports for a reference scenario,
    from the server's own table and the documented severities."""
    reason = REF.scenarios[name].expect
    if reason == "ok":
        return "ok", None
    return SEVERITY[reason], reason


def batch(path_or_dash, *args, input=None, timeout=60):
    argv = ["batch"] + ([path_or_dash] if path_or_dash is not None else [])
    return run_tlsprobe(*argv, *trust(), "--timeout", TIMEOUT, *args, input=input,
                        timeout=timeout)


class Expect:
    """What one line of a list must give."""

    def __init__(self, line, input, status, reason=None, error=None, sni=Ellipsis,
                 version=None, name=None):
        self.line, self.input, self.status, self.reason = line, input, status, reason
        self.error, self.sni, self.version, self.name = error, sni, version, name
        self.lineno = None

    def key(self):
        return (self.input, self.status, self.reason)


def mixed_list(silent=2):
    """The list of the batch tests: comments, blank lines, good, broken,
    closed, silent and not-TLS targets, per-line --sni, a CRLF line and lines
    that are no target.  Returns (lines, [Expect])."""
    good_port = REF.scenarios["good"].port
    g = ref("good")
    items = [
        "# tlsprobe batch test list",
        "",
        "   \t ",
        Expect(g, g, "ok", sni=None, version="TLSv1.3"),
        Expect(GOOD.target + "   # the openssl peer, 365 days left", GOOD.target, "ok"),
        "  # an indented comment",
    ]
    for name in ("missing-intermediate", "untrusted-root", "self-signed", "expired",
                 "weak-key", "chain-order", "not-yet-valid"):
        st, reason = expect_ref(name)
        items.append(Expect(ref(name), ref(name), st, reason))
    st, reason = expect_ref("client-cert-required")
    items += [
        Expect(ref("client-cert-required"), ref("client-cert-required"), st, reason,
               error="client-cert-required"),
        Expect(ref("tls12-only"), ref("tls12-only"), "ok", version="TLSv1.2"),
        Expect(ref("untrusted-root") + "\r", ref("untrusted-root"), "critical",
               "untrusted-root"),
        # per-line --sni: the name sent and the one verified
        Expect("localhost:%d" % good_port, "localhost:%d" % good_port, "ok", sni="localhost",
               name="localhost"),
        Expect(g + " --sni localhost", g, "ok", sni="localhost", name="localhost"),
        Expect(g + "\t--sni=wrong.example", g, "critical", "hostname-mismatch",
               sni="wrong.example", name="wrong.example"),
        Expect(ref("wrong-host") + " --sni wrong-host.invalid", ref("wrong-host"), "ok",
               sni="wrong-host.invalid"),
        Expect(ref("wrong-host"), ref("wrong-host"), "critical", "hostname-mismatch"),
        Expect("127.0.0.1:%d" % CLOSED, "127.0.0.1:%d" % CLOSED, "critical",
               "connection-refused", error="connection-refused"),
        Expect(HTTP.target, HTTP.target, "critical", "not-tls", error="not-tls"),
        # no targets: each still gets its record
        Expect("bad_host!:443", "bad_host!:443", "unknown", "invalid-target",
               error="invalid-target"),
        Expect("127.0.0.1:99999", "127.0.0.1:99999", "unknown", "invalid-target",
               error="invalid-target"),
        Expect(g + " --bogus", g, "unknown", "invalid-target", error="invalid-target"),
        "",
    ]
    for _ in range(silent):
        items.append(Expect(SILENT.target, SILENT.target, "critical", "timeout",
                            error="timeout"))
    items.append("# the end")
    lines, expects = [], []
    for it in items:
        if isinstance(it, Expect):
            it.lineno = len(lines) + 1
            lines.append(it.line)
            expects.append(it)
        else:
            lines.append(it)
    return lines, expects


class BatchCase(unittest.TestCase):
    maxDiff = None

    def assertRecord(self, obj, e):
        ctx = "line %d %r\n%s" % (e.lineno, e.line, harness.dump(obj))
        check_record(obj)
        self.assertEqual(obj["target"]["input"], e.input, ctx)
        self.assertEqual((obj["status"], obj["reason"]), (e.status, e.reason), ctx)
        self.assertEqual((obj["error"] or {}).get("code"), e.error, ctx)
        if e.sni is not Ellipsis:
            self.assertEqual(obj["target"]["sni"], e.sni, ctx)
        if e.version:
            self.assertEqual(obj["tls"]["version"], e.version, ctx)
        if e.name:
            self.assertEqual(obj["verify"]["name"], e.name, ctx)
        self.assertEqual(obj.get("line"), e.lineno, ctx)
        if e.reason and e.error is None:
            self.assertIn(e.reason, harness.problem_codes(obj), ctx)

    def assertSummary(self, r, statuses, name):
        s = fmt.parse_summary(r.err)
        c = Counter(statuses)
        self.assertEqual(s, dict(n=len(statuses), name=name, ok=c["ok"], warning=c["warning"],
                                 critical=c["critical"], unknown=c["unknown"],
                                 worst=fmt.worst(statuses)), r.err)
        self.assertEqual(r.rc, EXIT_CODE[fmt.worst(statuses)], r.err)


# --------------------------------------------------------------------------
# JSON: one record per target, codes, order, input, exit code, stderr
# --------------------------------------------------------------------------

class MixedListJson(BatchCase):
    """One mixed list, run once ordered and once as the results come."""

    @classmethod
    def setUpClass(cls):
        cls.lines, cls.expects = mixed_list(silent=2)
        cls.path = fmt.write_list(TMP, "mixed.txt", cls.lines)
        cls.ordered = batch(cls.path, "--json", "--ordered", "--parallel", "32")
        cls.unordered = batch(cls.path, "--json", "--parallel", "32")

    def test_ordered_gives_one_record_per_target_in_input_order(self):
        r = self.ordered
        objs = ndjson(r.out)
        self.assertEqual([o["target"]["input"] for o in objs],
                         [e.input for e in self.expects], r.err)

    def test_each_record_has_the_right_status_reason_and_error_code(self):
        objs = ndjson(self.ordered.out)
        self.assertEqual(len(objs), len(self.expects))
        for o, e in zip(objs, self.expects):
            with self.subTest(line=e.lineno, text=e.line):
                self.assertRecord(o, e)

    def test_exit_code_and_summary_count_every_status(self):
        self.assertSummary(self.ordered, [e.status for e in self.expects], self.path)

    def test_stderr_is_only_the_summary_when_not_a_terminal(self):
        for r in (self.ordered, self.unordered):
            self.assertNotIn("\r", r.err)
            self.assertEqual(r.err.count("\n"), 1, r.err)
            self.assertTrue(r.err.startswith("tlsprobe batch: %d targets from "
                                              % len(self.expects)), r.err)

    def test_unordered_gives_the_same_records(self):
        objs = ndjson(self.unordered.out)
        for o in objs:
            check_record(o)
        got = Counter((o["target"]["input"], o["status"], o["reason"]) for o in objs)
        self.assertEqual(got, Counter(e.key() for e in self.expects))
        self.assertSummary(self.unordered, [e.status for e in self.expects], self.path)

    def test_unordered_silent_targets_do_not_hold_back_the_others(self):
        objs = ndjson(self.unordered.out)
        kinds = ["timeout" if (o["error"] or {}).get("code") == "timeout" else "other"
                 for o in objs]
        n = kinds.count("timeout")
        self.assertEqual(n, 2)
        self.assertEqual(kinds[-n:], ["timeout"] * n,
                         "records written as they finish: the silent ones come last\n%s"
                         % [o["target"]["input"] for o in objs])
        self.assertLess(self.unordered.elapsed, float(TIMEOUT) + 2.0)


class StandardInput(BatchCase):
    """The list on standard input: '-' and no argument at all."""

    @classmethod
    def setUpClass(cls):
        cls.lines, cls.expects = mixed_list(silent=0)
        cls.text = "".join(l + "\n" for l in cls.lines)

    def check(self, r):
        objs = ndjson(r.out)
        self.assertEqual(len(objs), len(self.expects), r.out)
        for o, e in zip(objs, self.expects):
            with self.subTest(line=e.lineno, text=e.line):
                self.assertRecord(o, e)
        self.assertSummary(r, [e.status for e in self.expects], "standard input")

    def test_dash_reads_standard_input(self):
        self.check(batch("-", "--json", "--ordered", input=self.text))

    def test_no_argument_reads_standard_input(self):
        self.check(batch(None, "--json", "--ordered", input=self.text))

    def test_empty_input_is_ok_with_no_records(self):
        r = batch("-", "--json", input="# nothing\n\n")
        self.assertEqual(r.out, "")
        self.assertSummary(r, [], "standard input")

    def test_records_come_out_as_probes_finish_not_when_the_input_ends(self):
        # the list is streamed: a producer that writes targets over time
        # (a pipe from another program) gets each record once its probe is done
        import select
        import subprocess
        p = popen([wait_binary(), "batch", "-", "--json", *trust(), "--timeout", TIMEOUT],
                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            p.stdin.write((GOOD.target + "\n").encode())
            p.stdin.flush()
            ready, _, _ = select.select([p.stdout], [], [], 5)
            first = p.stdout.readline() if ready else b""
        finally:
            p.stdin.close()
            rest = p.stdout.read()
            p.stderr.read()
            p.wait(30)
            p.stdout.close()
            p.stderr.close()
        self.assertTrue(first, "no record 5 s after the first target while the input stays "
                               "open (it came only at the end of input: %r)" % rest[:300])
        self.assertEqual(ndjson(first.decode())[0]["status"], "ok")

    def test_unreadable_list_is_unknown(self):
        path = os.path.join(TMP, "no-such-list.txt")
        r = batch(path, "--json")
        self.assertEqual(r.rc, 3, r.err)
        objs = ndjson(r.out)
        self.assertEqual(len(objs), 1, r.out)
        check_failure(objs[0], path)
        self.assertEqual(objs[0]["error"]["code"], "bad-file")
        self.assertIn("no-such-list.txt", r.err)
        self.assertEqual(batch(path).out, "", "nothing on stdout without --json")


class EveryLineARecord(BatchCase):
    """Each line that is neither blank nor a comment gives exactly one record,
    naming its line in every format, whatever bytes it holds."""

    LONG = "a" * 100000

    @classmethod
    def setUpClass(cls):
        cls.data = b"".join([
            b"\0" + GOOD.target.encode() + b"\n",              # 1: NUL first
            b"# a comment \0 with a NUL\n",                     # 2: a comment
            b"\n",                                              # 3
            GOOD.target.encode() + b"\0 --sni x\n",             # 4: NUL inside
            cls.LONG.encode() + b":443\n",                      # 5: 100 KB host name
            GOOD.target.encode() + b" --sni " + b"b" * 300 + b"\n",   # 6: SNI too long
            GOOD.target.encode() + b"\n",                        # 7: a target
        ])
        cls.want = {1: "a NUL byte at column 1", 4: "a NUL byte at column %d" % (len(GOOD.target) + 1),
                    5: "a DNS name has at most 253", 6: "a DNS name has at most 253", 7: None}

    def run_as(self, *fmt_args):
        return batch("-", "--ordered", *fmt_args, input=self.data)

    def test_json_one_record_per_line_with_its_number(self):
        r = self.run_as("--json")
        objs = ndjson(r.out)
        self.assertEqual([o["line"] for o in objs], sorted(self.want), r.out[:2000])
        for o in objs:
            check_record(o)
            with self.subTest(line=o["line"]):
                words = self.want[o["line"]]
                if words:
                    self.assertEqual((o["status"], o["reason"]), ("unknown", "invalid-target"))
                    self.assertIn(words, o["error"]["message"])
                else:
                    self.assertEqual(o["status"], "ok", harness.dump(o))
        self.assertEqual(objs[0]["target"]["input"], "\ufffd" + GOOD.target)
        self.assertEqual(objs[2]["target"]["input"], self.LONG + ":443")
        self.assertSummary(r, [o["status"] for o in objs], "standard input")

    def test_text_nagios_tsv_and_prometheus_name_the_lines(self):
        text = self.run_as().out.splitlines()
        self.assertEqual([int(TEXT_LINE_RE.match(l).group(3)) for l in text], sorted(self.want), text)
        nagios = [fmt.parse_nagios_line(l) for l in self.run_as("--format", "nagios").out.splitlines()]
        self.assertEqual([int(re.search(r" \(line (\d+)\): ", p.text).group(1)) for p in nagios],
                         sorted(self.want))
        _, rows = fmt.parse_tsv(self.run_as("--format", "tsv").out)
        self.assertEqual([int(row["line"]) for row in rows], sorted(self.want))
        fams = fmt.parse_exposition(self.run_as("--format", "prometheus").out)
        self.assertEqual(sorted(int(s.labels["line"]) for s in fams["tlsprobe_status"].samples),
                         sorted(self.want))


class Progress(BatchCase):
    """A progress line on standard error when it is a terminal, none otherwise."""

    def test_progress_line_counts_up_on_a_terminal(self):
        lines, expects = mixed_list(silent=0)
        path = fmt.write_list(TMP, "progress.txt", lines)
        r = run_tlsprobe("batch", path, "--json", *trust(), "--timeout", TIMEOUT,
                         tty="stderr", timeout=60)
        n = len(expects)
        objs = ndjson(r.out)
        self.assertEqual(len(objs), n, "stdout keeps one record per target")
        err = r.err.replace("\r\n", "\n")
        done = [int(m) for m in re.findall(r"\rtlsprobe batch: (\d+) done: ", err)]
        self.assertEqual(done, list(range(1, n + 1)), repr(err))
        last = err.rstrip("\n").split("\n")[-1]
        self.assertRegex(last, fmt.SUMMARY_RE)
        self.assertEqual(r.rc, EXIT_CODE[fmt.worst(e.status for e in expects)])

    def test_no_progress_when_stderr_is_a_pipe(self):
        r = batch("-", "--json", input=GOOD.target + "\n" + ref("good") + "\n")
        self.assertEqual(r.err.count("\n"), 1, repr(r.err))
        self.assertNotIn("done:", r.err)
        self.assertNotIn("\r", r.err)


class Timeouts(BatchCase):

    def test_silent_targets_finish_within_timeout_while_the_others_proceed(self):
        good = [ref("good"), GOOD.target, ref("tls13-only"), ref("tls12-only")]
        lines = [SILENT.target] * 10 + good
        path = fmt.write_list(TMP, "silent.txt", lines)
        r = batch(path, "--json", "--timeout", "2", "--parallel", "32")
        self.assertLess(r.elapsed, 4.0, "10 silent targets, --timeout 2, --parallel 32")
        objs = ndjson(r.out)
        self.assertEqual(len(objs), len(lines))
        silent = [o for o in objs if o["target"]["input"] == SILENT.target]
        others = [o for o in objs if o["target"]["input"] != SILENT.target]
        self.assertEqual(len(silent), 10)
        for o in silent:
            check_record(o)
            self.assertEqual((o["status"], o["error"]["code"]), ("critical", "timeout"),
                             harness.dump(o))
            self.assertGreaterEqual(o["timing_ms"]["total"], 1500, harness.dump(o))
            self.assertLessEqual(o["timing_ms"]["total"], 3000, harness.dump(o))
        for o in others:
            self.assertEqual(o["status"], "ok", harness.dump(o))
            # one that waited for the silent ones would take their timeout
            self.assertLess(o["timing_ms"]["total"], 2000,
                            "a good target waited for the silent ones\n" + harness.dump(o))
        self.assertEqual(objs[:len(others)], others, "the good ones come out first")
        self.assertSummary(r, [o["status"] for o in objs], path)

    def test_ordered_with_slow_targets_keeps_order_and_finishes(self):
        # in order, later results wait for an earlier slow one in a bounded
        # window; the window must neither lose nor reorder records
        lines = ([SILENT.target] + [GOOD.target, ref("good")] * 30 + [SILENT.target] +
                 ["127.0.0.1:%d" % CLOSED] * 30)
        path = fmt.write_list(TMP, "ordered-slow.txt", lines)
        r = batch(path, "--json", "--ordered", "--timeout", "1", "--parallel", "2",
                  timeout=30)
        objs = ndjson(r.out)
        self.assertEqual([o["target"]["input"] for o in objs], lines)
        self.assertLess(r.elapsed, 5.0)
        self.assertSummary(r, [o["status"] for o in objs], path)

    def test_parallel_bounds_the_probes_in_flight(self):
        path = fmt.write_list(TMP, "silent4.txt", [SILENT.target] * 4)
        r = batch(path, "--json", "--timeout", "1", "--parallel", "2")
        self.assertEqual(len(ndjson(r.out)), 4)
        self.assertGreaterEqual(r.elapsed, 1.9, "4 silent targets, 2 at a time, 1 s each")
        self.assertLess(r.elapsed, 3.5)


class ExitCodes(BatchCase):
    """The exit code is the worst status, as Icinga ranks them:
    CRITICAL > UNKNOWN > WARNING > OK; the summary agrees."""

    CASES = [
        ("ok", ["harness"], "ok"),
        ("ok+warning", ["harness", "ref-good"], "warning"),
        ("warning+unknown", ["ref-good", "invalid"], "unknown"),
        ("ok+unknown", ["harness", "invalid"], "unknown"),
        ("unknown+critical", ["invalid", "closed"], "critical"),
        ("warning+critical", ["ref-good", "closed"], "critical"),
        ("all", ["closed", "invalid", "ref-good", "harness"], "critical"),
    ]

    def test_worst_status_as_icinga_ranks_them(self):
        # --warn-days 100: the reference server's 90-day leaf warns, the
        # fixtures' 365-day leaf does not
        lines = {"harness": GOOD.target, "ref-good": ref("good"),
                 "invalid": "no_such_host!", "closed": "127.0.0.1:%d" % CLOSED}
        statuses = {"harness": "ok", "ref-good": "warning", "invalid": "unknown",
                    "closed": "critical"}
        for name, members, want in self.CASES:
            with self.subTest(case=name):
                r = batch("-", "--json", "--warn-days", "100", "--crit-days", "7",
                          input="".join(lines[m] + "\n" for m in members))
                got = [o["status"] for o in ndjson(r.out)]
                self.assertEqual(sorted(got), sorted(statuses[m] for m in members), r.out)
                self.assertEqual(r.rc, EXIT_CODE[want], r.err)
                self.assertSummary(r, got, "standard input")


# --------------------------------------------------------------------------
# text
# --------------------------------------------------------------------------

TEXT_LINE_RE = re.compile(r"^(OK|WARNING|CRITICAL|UNKNOWN)\s+(\S+) \(line (\d+)\): \S")


class TextMode(BatchCase):

    def test_one_line_per_target(self):
        lines, expects = mixed_list(silent=1)
        path = fmt.write_list(TMP, "text.txt", lines)
        r = batch(path, "--ordered")
        out = r.out.split("\n")
        self.assertEqual(out[-1], "", "ends with a newline")
        out = out[:-1]
        self.assertEqual(len(out), len(expects), r.out)
        for line, e in zip(out, expects):
            with self.subTest(line=line):
                m = TEXT_LINE_RE.match(line)
                self.assertIsNotNone(m, line)
                self.assertEqual((m.group(1), m.group(2), int(m.group(3))),
                                 (e.status.upper(), e.input, e.lineno))
                if e.error == "invalid-target":
                    # why the line is no target, not only that it is not
                    self.assertNotIn("not a valid target", line)
                    self.assertTrue(line.endswith(" (invalid-target)"), line)
                self.assertNotIn("\x1b", line, "no colour when stdout is not a terminal")
        self.assertSummary(r, [e.status for e in expects], path)

    def test_hostile_names_stay_on_their_line(self):
        harness.require_tools("gnutls-serv")
        srv = harness.gnutls_serv(F.hostile.chain, F.hostile.key)
        self.addCleanup(srv.stop)
        r = batch("-", "--ordered", input="%s\n%s\n" % (srv.target, GOOD.target))
        out = r.out.split("\n")[:-1]
        self.assertEqual(len(out), 2, repr(r.out))
        for line in out:
            self.assertRegex(line, TEXT_LINE_RE)
            self.assertFalse(any(ord(c) < 0x20 for c in line), repr(line))


# --------------------------------------------------------------------------
# Nagios
# --------------------------------------------------------------------------

class Nagios(BatchCase):
    """--format nagios: 'TLSPROBE STATUS - text | perfdata' per the plugin
    guidelines, checked against the --json record of the same target."""

    @classmethod
    def setUpClass(cls):
        cls.lines, cls.expects = mixed_list(silent=1)
        cls.path = fmt.write_list(TMP, "nagios.txt", cls.lines)
        cls.nagios = batch(cls.path, "--format", "nagios", "--ordered")
        cls.json = batch(cls.path, "--json", "--ordered")

    def check_line(self, line, obj, warn="30", crit="14"):
        ctx = "%s\n%s" % (line, harness.dump(obj))
        p = fmt.parse_nagios_line(line)
        self.assertEqual(p.service, "TLSPROBE", ctx)
        self.assertEqual(p.status, obj["status"].upper(), ctx)
        # a batch record names its line after the target
        where = " (line %d)" % obj["line"] if "line" in obj else ""
        self.assertTrue(p.text.startswith(obj["target"]["input"] + where + ":"), ctx)
        if obj["reason"]:
            self.assertIn(obj["reason"], p.text, ctx)
        perf = p.perfdata
        if obj["chain"]:
            _, days = fmt.earliest(obj["chain"])
            d = perf.get("days_remaining")
            self.assertIsNotNone(d, ctx)
            self.assertEqual((d.value, d.uom), (days, ""), ctx)
            self.assertEqual((d.warn.text, d.crit.text), (warn + ":", crit + ":"), ctx)
        else:
            self.assertNotIn("days_remaining", perf, ctx)
        tm = obj["timing_ms"]
        for label, ms in (("handshake", tm["handshake"]), ("total", tm["total"])):
            if ms is None:
                self.assertNotIn(label, perf, ctx)
                continue
            it = perf.get(label)
            self.assertIsNotNone(it, ctx)
            self.assertEqual((it.uom, it.min), ("s", 0.0), ctx)
            self.assertGreaterEqual(it.value, 0.0, ctx)
            self.assertLess(it.value, 5.0, ctx)
        if "handshake" in perf:
            self.assertLessEqual(perf["handshake"].value, perf["total"].value, ctx)
        return p

    def test_batch_prints_one_valid_plugin_line_per_target(self):
        out = self.nagios.out.split("\n")
        self.assertEqual(out[-1], "")
        out = out[:-1]
        objs = ndjson(self.json.out)
        self.assertEqual(len(out), len(self.expects), self.nagios.out)
        self.assertEqual(len(objs), len(self.expects))
        for line, obj, e in zip(out, objs, self.expects):
            with self.subTest(line=e.line):
                self.assertEqual(obj["target"]["input"], e.input)
                self.check_line(line, obj)
        self.assertEqual(self.nagios.rc, 2)
        self.assertSummary(self.nagios, [e.status for e in self.expects], self.path)

    def connect(self, target, *args):
        n = run_tlsprobe(target, *trust(), "--timeout", TIMEOUT, "--format", "nagios", *args)
        j = harness.probe_json(target, *trust(), "--timeout", TIMEOUT, *args)
        out = n.out.split("\n")
        self.assertEqual(len(out), 2, repr(n.out))
        self.assertEqual(out[1], "")
        return n, j, out[0]

    def test_connect_exit_code_matches_the_status_word(self):
        cases = [
            (GOOD.target, (), "OK"),
            (ref("good"), ("--warn-days", "100"), "WARNING"),
            (ref("good"), ("--warn-days", "100", "--crit-days", "95"), "CRITICAL"),
            (ref("missing-intermediate"), (), "CRITICAL"),
            ("127.0.0.1:%d" % CLOSED, (), "CRITICAL"),
        ]
        for target, args, word in cases:
            with self.subTest(target=target, args=args):
                n, j, line = self.connect(target, *args)
                warn = args[1] if args else "30"
                crit = args[3] if len(args) > 2 else "14"
                p = self.check_line(line, j.obj, warn=warn, crit=crit)
                self.assertEqual(p.status, word)
                self.assertEqual(n.rc, {v: k for k, v in WORD.items()}[word], line)

    def test_thresholds_agree_with_the_status_at_the_boundary(self):
        # a Nagios range "N:" alerts below N; tlsprobe warns within N days:
        # the word must be what the perfdata thresholds say
        _, j, _ = self.connect(ref("good"))
        _, days = fmt.earliest(j.obj["chain"])
        for w, c in ((days - 1, 1), (days, 1), (days + 1, 1), (days + 5, days),
                     (days + 5, days + 1)):
            with self.subTest(warn=w, crit=c):
                n, _, line = self.connect(ref("good"), "--warn-days", str(w),
                                          "--crit-days", str(c))
                p = fmt.parse_nagios_line(line)
                d = p.perfdata["days_remaining"]
                if fmt.range_alerts(d.crit, d.value):
                    want = "CRITICAL"
                elif fmt.range_alerts(d.warn, d.value):
                    want = "WARNING"
                else:
                    want = "OK"
                self.assertEqual(p.status, want, line)
                self.assertEqual(WORD[n.rc], want, line)

    def test_invalid_batch_line_is_an_unknown_plugin_line(self):
        r = batch("-", "--format", "nagios", input="bad_host!:1\n")
        p = fmt.parse_nagios_line(r.out.rstrip("\n"))
        self.assertEqual(p.status, "UNKNOWN")
        self.assertIn("invalid-target", p.text)
        self.assertEqual(list(p.perfdata), ["total"])
        self.assertEqual(r.rc, 3)

    def test_connect_bad_usage_still_prints_an_unknown_plugin_line(self):
        # the plugin guidelines: a plugin always prints one status line on
        # stdout; a usage error is UNKNOWN (exit 3)
        r = run_tlsprobe(GOOD.target, "--ca-file", os.path.join(TMP, "missing-ca.pem"),
                        "--format", "nagios")
        self.assertEqual(r.rc, 3, r.err)
        line = r.out.rstrip("\n")
        self.assertTrue(line, "no plugin output on stdout (stderr: %r)" % r.err)
        self.assertEqual(fmt.parse_nagios_line(line).status, "UNKNOWN")


# --------------------------------------------------------------------------
# Prometheus
# --------------------------------------------------------------------------

PROM_FAMILIES = ("probe_success", "probe_duration_seconds", "probe_ssl_earliest_cert_expiry",
                 "probe_tls_version_info", "tlsprobe_status", "tlsprobe_problem")
STATUS_VALUE = {"ok": 0, "warning": 1, "critical": 2, "unknown": 3}


def prom_label(s):
    """A certificate string as a label value: controls other than newline
    become spaces (the exposition format has escapes for \\ \" \\n only)."""
    return re.sub(r"[\x00-\x09\x0b-\x1f\x7f]", " ", s)


class Prometheus(BatchCase):
    """--format prometheus on a list without duplicate targets."""

    @classmethod
    def setUpClass(cls):
        names = ("good", "missing-intermediate", "untrusted-root", "self-signed", "expired",
                 "weak-key", "tls12-only", "client-cert-required", "not-yet-valid")
        cls.lines = [ref(n) for n in names] + [
            GOOD.target, "127.0.0.1:%d" % CLOSED, 'bad"host\\x:1', HTTP.target]
        cls.hostile = None
        if harness.have("gnutls-serv"):
            cls.hostile = harness.gnutls_serv(F.hostile.chain, F.hostile.key)
            cls.addClassCleanup(cls.hostile.stop)
            cls.lines.append(cls.hostile.target)
        cls.path = fmt.write_list(TMP, "prom.txt", cls.lines)
        cls.prom = batch(cls.path, "--format", "prometheus")
        cls.json = batch(cls.path, "--json", "--ordered")
        cls.objs = {o["target"]["input"]: o for o in ndjson(cls.json.out)}

    def families(self):
        try:
            return fmt.parse_exposition(self.prom.out.encode("utf-8", "surrogateescape"))
        except ValueError as e:
            self.fail("not valid exposition text: %s\n%s" % (e, self.prom.out))

    def one(self, fam, target, **labels):
        s = fam.series(target=target, **labels)
        self.assertEqual(len(s), 1, "%s{target=%r} %r" % (fam.name, target, fam.samples))
        return s[0]

    def test_promtool_check_metrics_accepts_it(self):
        tool = fmt.promtool()
        if not tool:
            self.skipTest("promtool not installed (Debian: prometheus)")
        r = run([tool, "check", "metrics"], input=self.prom.out)
        self.assertEqual(r.rc, 0, "promtool: %s%s\n%s" % (r.out, r.err, self.prom.out))

    def test_strict_exposition_every_family_gauge_with_help(self):
        fams = self.families()
        for name in PROM_FAMILIES:
            self.assertIn(name, fams)
        for fam in fams.values():
            self.assertEqual(fam.type, "gauge", fam.name)
            self.assertTrue(fam.help, fam.name)
            self.assertTrue(fam.samples, fam.name)
        self.assertEqual(self.prom.rc, 2)
        self.assertSummary(self.prom, [o["status"] for o in self.objs.values()], self.path)

    def test_every_target_once_in_success_and_status(self):
        fams = self.families()
        for name in ("probe_success", "tlsprobe_status", "probe_duration_seconds"):
            got = Counter(s.labels["target"] for s in fams[name].samples)
            self.assertEqual(got, Counter(self.lines), name)

    def test_every_sample_names_its_line(self):
        lines = {t: str(i) for i, t in enumerate(self.lines, 1)}
        for fam in self.families().values():
            for s in fam.samples:
                self.assertEqual(s.labels.get("line"), lines[s.labels["target"]], s)

    def test_one_target_on_two_lines_gives_two_series(self):
        # without the line label the same series twice: invalid exposition
        r = batch("-", "--format", "prometheus", input="bad_host!:1\n\nbad_host!:1\n")
        fams = fmt.parse_exposition(r.out)
        self.assertEqual(sorted(s.labels["line"] for s in fams["tlsprobe_status"].samples), ["1", "3"])

    def test_connect_has_no_line_label(self):
        r = run_tlsprobe("127.0.0.1:%d" % CLOSED, "--format", "prometheus")
        for fam in fmt.parse_exposition(r.out).values():
            for s in fam.samples:
                self.assertNotIn("line", s.labels)

    def test_probe_success_and_status_values(self):
        fams = self.families()
        for target, o in self.objs.items():
            with self.subTest(target=target):
                ok = 1.0 if o["status"] in ("ok", "warning") else 0.0
                self.assertEqual(self.one(fams["probe_success"], target).value, ok)
                self.assertEqual(self.one(fams["tlsprobe_status"], target).value,
                                 STATUS_VALUE[o["status"]])
        self.assertEqual(self.one(fams["probe_success"], ref("good")).value, 1.0)
        self.assertEqual(self.one(fams["probe_success"], ref("untrusted-root")).value, 0.0)

    def test_earliest_expiry_is_the_leaf_not_after_even_when_unverified(self):
        fams = self.families()
        exp = fams["probe_ssl_earliest_cert_expiry"]
        last = fams.get("probe_ssl_last_chain_expiry_timestamp_seconds")
        for target, o in self.objs.items():
            with self.subTest(target=target):
                if not o["chain"]:
                    self.assertEqual(exp.series(target=target), [])
                    continue
                leaf = o["chain"][0]
                self.assertEqual(fmt.earliest(o["chain"])[0], leaf["not_after"],
                                 "the leaf expires first in these chains")
                self.assertEqual(self.one(exp, target).value, epoch(leaf["not_after"]))
                # blackbox's meaning: over the verified path, its trust
                # anchor included; no series when nothing verified
                if o["verify"]["trusted"]:
                    self.assertEqual(self.one(last, target).value, epoch(leaf["not_after"]))
                else:
                    self.assertEqual(last.series(target=target), [], target)
        for name in ("untrusted-root", "missing-intermediate", "self-signed", "expired"):
            self.assertTrue(exp.series(target=ref(name)), name)
        # and the fixture's date, from openssl, for the openssl peer
        self.assertEqual(self.one(exp, GOOD.target).value, F.leaf.not_after.timestamp())

    def test_tls_version_info(self):
        fams = self.families()
        fam = fams["probe_tls_version_info"]
        self.assertEqual(self.one(fam, ref("good")).labels["version"], "TLS 1.3")
        self.assertEqual(self.one(fam, ref("untrusted-root")).labels["version"], "TLS 1.3")
        self.assertEqual(self.one(fam, ref("tls12-only")).labels["version"], "TLS 1.2")
        self.assertEqual(fam.series(target="127.0.0.1:%d" % CLOSED), [])
        for s in fam.samples:
            self.assertEqual(s.value, 1.0)

    def test_problems_by_code_match_the_json_record(self):
        fams = self.families()
        fam = fams["tlsprobe_problem"]
        for target, o in self.objs.items():
            with self.subTest(target=target):
                want = Counter((p["code"], p["severity"],
                                "" if p["cert_index"] is None else str(p["cert_index"]))
                               for p in o["verify"]["problems"]) if o["verify"] else Counter()
                if o["error"]:
                    want[(o["error"]["code"], o["status"], "")] += 1
                got = Counter((s.labels["code"], s.labels["severity"], s.labels["cert_index"])
                              for s in fam.series(target=target))
                self.assertEqual(got, want, harness.dump(o))
        codes = {s.labels["code"] for s in fam.series(target=ref("missing-intermediate"))}
        self.assertEqual(codes, {"missing-intermediate"})

    def test_chain_info_labels_are_the_leaf(self):
        fams = self.families()
        fam = fams["probe_ssl_last_chain_info"]
        for target, o in self.objs.items():
            with self.subTest(target=target):
                if not o["chain"]:
                    self.assertEqual(fam.series(target=target), [])
                    continue
                leaf = o["chain"][0]
                lb = self.one(fam, target).labels
                self.assertEqual(lb["fingerprint_sha256"], leaf["sha256"])
                self.assertEqual(lb["subject"], prom_label(leaf["subject"]))
                self.assertEqual(lb["issuer"], prom_label(leaf["issuer"]))
                self.assertEqual(lb["serialnumber"], leaf["serial"])
        self.assertEqual(self.one(fam, GOOD.target).labels["fingerprint_sha256"],
                         F.sha256(F.leaf.cert))

    def test_label_values_are_escaped(self):
        fams = self.families()
        s = self.one(fams["tlsprobe_status"], 'bad"host\\x:1')
        self.assertEqual(s.value, 3.0)
        self.assertIn('target="bad\\"host\\\\x:1"', self.prom.out)
        if self.hostile:
            lb = self.one(fams["probe_ssl_last_chain_info"], self.hostile.target).labels
            self.assertIn("\n", lb["subject"])
            self.assertIn('"', lb["subject"])
            self.assertNotIn("\x1b", lb["subject"])

    def test_connect_prometheus(self):
        r = run_tlsprobe(ref("untrusted-root"), *trust(), "--format", "prometheus")
        self.assertEqual(r.rc, 2)
        fams = fmt.parse_exposition(r.out)
        j = harness.probe_json(ref("untrusted-root"), *trust())
        self.assertEqual(self.one(fams["probe_ssl_earliest_cert_expiry"],
                                  ref("untrusted-root")).value,
                         epoch(j.obj["chain"][0]["not_after"]))
        self.assertEqual(self.one(fams["probe_success"], ref("untrusted-root")).value, 0.0)
        tool = fmt.promtool()
        if tool:
            p = run([tool, "check", "metrics"], input=r.out)
            self.assertEqual(p.rc, 0, p.out + p.err)

    def test_same_address_with_two_sni_names_gives_distinct_series(self):
        # one address, two virtual hosts: a textfile list may hold both
        # (--sni per line); duplicate series make the whole file invalid
        g = ref("good")
        r = batch("-", "--format", "prometheus",
                  input="%s --sni localhost\n%s --sni wrong.example\n" % (g, g))
        try:
            fmt.parse_exposition(r.out)
        except ValueError as e:
            self.fail("%s\n%s" % (e, r.out))


# --------------------------------------------------------------------------
# TSV
# --------------------------------------------------------------------------

class Tsv(BatchCase):

    def test_header_and_one_line_of_8_columns_per_target(self):
        lines, expects = mixed_list(silent=1)
        if harness.have("gnutls-serv"):
            srv = harness.gnutls_serv(F.hostile.chain, F.hostile.key)
            self.addCleanup(srv.stop)
            lines.append(srv.target)
            e = Expect(srv.target, srv.target, "critical", "hostname-mismatch")
            e.lineno = len(lines)
            expects.append(e)
        path = fmt.write_list(TMP, "tsv.txt", lines)
        r = batch(path, "--format", "tsv", "--ordered")
        objs = ndjson(batch(path, "--json", "--ordered").out)
        header, rows = fmt.parse_tsv(r.out)
        self.assertEqual(header, fmt.TSV_COLUMNS + ["line"])
        self.assertEqual(len(rows), len(expects), r.out)
        for row, o, e in zip(rows, objs, expects):
            with self.subTest(line=e.line):
                self.assertEqual(row["target"], e.input)
                self.assertEqual(row["line"], str(e.lineno))
                self.assertEqual(row["target"], o["target"]["input"])
                self.assertEqual(row["status"], o["status"])
                self.assertEqual(row["reason"], o["reason"] or "")
                if o["chain"]:
                    na, days = fmt.earliest(o["chain"])
                    # Two runs, a second apart, may straddle a whole day of validity.
                    self.assertEqual(row["not_after"], na)
                    self.assertLessEqual(abs(int(row["days_remaining"]) - days), 1, (row, days))
                    self.assertEqual(row["subject"], terminal_safe(o["chain"][0]["subject"]))
                else:
                    self.assertEqual((row["days_remaining"], row["not_after"], row["subject"]),
                                     ("", "", ""))
                self.assertEqual(row["address"], o["target"]["address"] or "")
                self.assertEqual(row["version"], (o["tls"] or {}).get("version") or "")
        self.assertSummary(r, [e.status for e in expects], path)
