"""The ready-made probes in probes/ — check_tlsprobe (the Nagios/Icinga
plugin), tlsprobe-textfile (Prometheus textfile collector),
tlsprobe-expiry-report — and the systemd units, against live servers.

Peers, all on loopback: `tlsprobe serve --scenario all` (every good and broken
setup on its own port, with the root it writes by --write-ca), openssl
s_server with harness.Fixtures' leaf + intermediate (365 days left),
harness's silent server (accepts, never answers) and a closed port. Both
roots are trusted with --ca-file and the system store is not.

Expectations come from the servers, the fixtures, tlsprobe's --json record of
the same target and the Nagios plugin guidelines (harness.formats parses the
status line, perfdata and ranges strictly), never from a script's own output
alone.
"""

import os
import shlex
import shutil
import signal
import stat
import subprocess
import threading
import time
import unittest
import urllib.request

import harness
from harness import run, run_tlsprobe, wait_binary
from harness import formats as fmt
from harness.env import REPO_ROOT
from harness.sandbox import NOBODY, unprivileged_prefix
from harness.runner import popen
from harness.schema import ndjson

F = None            # harness.Fixtures
REF = None          # tlsprobe serve --scenario all
GOOD = None         # s_server: leaf + intermediate, 365 days
SILENT = None       # accepts and never answers
CLOSED = None       # a port nothing listens on
TMP = None

TIMEOUT = "2"       # --timeout for every list here: the silent targets cost this


PEERS = None        # harness.MonitoringPeers: all of the above


def setUpModule():
    global F, PEERS, REF, GOOD, SILENT, CLOSED, TMP
    F = harness.fixtures()
    TMP = os.path.join(harness.scratch_dir(), "probes")
    os.makedirs(TMP, exist_ok=True)
    PEERS = harness.MonitoringPeers(F)
    REF, GOOD, SILENT, CLOSED = PEERS.ref, PEERS.good, PEERS.silent, PEERS.closed


def tearDownModule():
    if PEERS is not None:
        PEERS.stop()


def trust():
    return PEERS.trust()


def ref(name):
    return REF.target_for(name)


def batch_json(path):
    """tlsprobe's own records for a list, to check a script against."""
    return ndjson(run_tlsprobe("batch", path, *trust(), "--timeout", TIMEOUT, "--json").out)


def probe_env():
    return dict(os.environ, TLSPROBE=wait_binary())


def script(name):
    return os.path.join(REPO_ROOT, "probes", name)


class ProbeScriptsLint(unittest.TestCase):

    def test_shellcheck_passes(self):
        harness.require_tools("shellcheck")
        for path in [script(name) for name in ("check_tlsprobe", "tlsprobe-textfile", "tlsprobe-expiry-report")] + \
                [os.path.join(REPO_ROOT, "tools", "deb")]:
            with self.subTest(script=path):
                r = run(["shellcheck", path])
                self.assertEqual(r.rc, 0, r.out + r.err)


class CheckTlsprobe(unittest.TestCase):
    """probes/check_tlsprobe, the Nagios/Icinga plugin, against live servers."""

    def check(self, *args):
        r = run([script("check_tlsprobe")] + list(args), env=probe_env())
        lines = r.out.split("\n")
        self.assertEqual(lines[-1], "", repr(r.out))
        self.assertEqual(len(lines), 2, "one line of plugin output: %r" % r.out)
        return r, lines[0]

    def trust(self):
        return ["--ca-file", REF.ca, "--ca-file", F.root.cert, "--no-system-ca"]

    def test_ok_exit_0(self):
        r, line = self.check("-H", "127.0.0.1", "-p", str(GOOD.port), *self.trust())
        p = fmt.parse_nagios_line(line)
        self.assertEqual((r.rc, p.status), (0, "OK"), line)
        self.assertEqual(p.perfdata["days_remaining"].warn.text, "30:")
        self.assertEqual(p.perfdata["days_remaining"].crit.text, "14:")
        self.assertIn("handshake", p.perfdata)
        self.assertIn("total", p.perfdata)

    def test_missing_intermediate_exit_2(self):
        r, line = self.check("-H", "127.0.0.1", "-p", str(REF.scenarios[
            "missing-intermediate"].port), *self.trust())
        p = fmt.parse_nagios_line(line)
        self.assertEqual((r.rc, p.status), (2, "CRITICAL"), line)
        self.assertIn("missing-intermediate", p.text)

    def test_warning_and_critical_thresholds(self):
        port = str(REF.scenarios["good"].port)
        r, line = self.check("-H", "localhost", "-p", port, "-w", "100", *self.trust())
        p = fmt.parse_nagios_line(line)
        self.assertEqual((r.rc, p.status), (1, "WARNING"), line)
        self.assertIn("expires-soon", p.text)
        self.assertEqual((p.perfdata["days_remaining"].warn.text,
                          p.perfdata["days_remaining"].crit.text), ("100:", "14:"))
        r, line = self.check("-H", "localhost", "-p", port, "-w", "100", "-c", "95",
                             *self.trust())
        p = fmt.parse_nagios_line(line)
        self.assertEqual((r.rc, p.status), (2, "CRITICAL"), line)
        self.assertEqual(p.perfdata["days_remaining"].crit.text, "95:")
        r, line = self.check("-H", "localhost", "-p", port, "-w", "10", "-c", "5",
                             *self.trust())
        self.assertEqual((r.rc, fmt.parse_nagios_line(line).status), (0, "OK"), line)

    def test_timeout_option(self):
        t0 = time.monotonic()
        r, line = self.check("-H", "127.0.0.1", "-p", str(SILENT.port), "-t", "1",
                             *self.trust())
        self.assertLess(time.monotonic() - t0, 3.0)
        p = fmt.parse_nagios_line(line)
        self.assertEqual((r.rc, p.status), (2, "CRITICAL"), line)
        self.assertIn("timeout", p.text)

    def test_ipv6_host(self):
        harness.require_ipv6()
        srv = harness.s_server(F.leaf.cert, F.leaf.key, chain=F.inter.cert, host="::1")
        self.addCleanup(srv.stop)
        r, line = self.check("-H", "::1", "-p", str(srv.port), *self.trust())
        p = fmt.parse_nagios_line(line)
        self.assertEqual((r.rc, p.status), (0, "OK"), line)
        self.assertTrue(p.text.startswith("[::1]:%d:" % srv.port), line)

    BAD_USAGE = [
        (),
        ("-p", "443"),
        ("-H", "127.0.0.1", "-p", "https"),
        ("-H", "127.0.0.1", "-w", "ten"),
        ("-H", "127.0.0.1", "--frobnicate"),
        ("-H",),
    ]

    def test_bad_usage_exit_3_unknown(self):
        for args in self.BAD_USAGE:
            with self.subTest(args=args):
                r, line = self.check(*args)
                self.assertEqual(r.rc, 3, line)
                self.assertTrue(line.startswith("TLSPROBE UNKNOWN - "), line)

    def test_bad_usage_line_follows_the_plugin_guidelines(self):
        # what follows '|' is perfdata: a usage text there is not valid perfdata
        for args in self.BAD_USAGE:
            with self.subTest(args=args):
                r, line = self.check(*args)
                try:
                    p = fmt.parse_nagios_line(line)
                except ValueError as e:
                    self.fail("%s" % e)
                self.assertEqual(p.status, "UNKNOWN")

    def test_unreadable_ca_file_is_unknown_with_a_status_line(self):
        r = run([script("check_tlsprobe"), "-H", "127.0.0.1", "-p", str(GOOD.port),
                    "--ca-file", os.path.join(TMP, "no-such-ca.pem")], env=probe_env())
        self.assertEqual(r.rc, 3, r.out + r.err)
        self.assertTrue(r.out.startswith("TLSPROBE UNKNOWN - "),
                        "stdout %r, stderr %r" % (r.out, r.err))


class Textfile(unittest.TestCase):
    """probes/tlsprobe-textfile writes the metrics file atomically."""

    def setUp(self):
        self.dir = os.path.join(TMP, "textfile-%s" % self._testMethodName)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.out = os.path.join(self.dir, "tlsprobe.prom")
        self.old = "# HELP old_metric from before\n# TYPE old_metric gauge\nold_metric 1\n"
        with open(self.out, "w") as f:
            f.write(self.old)
        self.targets = fmt.write_list(TMP, "textfile-targets.txt", [
            "# targets", ref("good"), ref("missing-intermediate"), GOOD.target,
            "127.0.0.1:%d" % CLOSED, SILENT.target])

    def read(self):
        with open(self.out) as f:
            return f.read()

    def test_writes_the_whole_file_at_once_and_leaves_no_temp_file(self):
        seen, names, stop = set(), set(), threading.Event()

        def watch():
            while not stop.is_set():
                try:
                    with open(self.out, "rb") as f:
                        seen.add(f.read())
                except OSError:
                    seen.add(None)          # the file was missing for a moment
                names.update(os.listdir(self.dir))
                time.sleep(0.005)

        t = threading.Thread(target=watch)
        t.start()
        try:
            r = run([script("tlsprobe-textfile"), self.targets, self.out, *trust(),
                        "--timeout", TIMEOUT], env=probe_env())
        finally:
            stop.set()
            t.join()
        self.assertEqual(r.rc, 0, r.out + r.err)
        new = self.read()
        self.assertEqual(seen - {self.old.encode(), new.encode()}, set(),
                         "the file was only ever the old or the new one")
        self.assertEqual(os.listdir(self.dir), ["tlsprobe.prom"], "no temp file left")
        self.assertTrue(any(n.startswith("tlsprobe.prom.") for n in names),
                        "written under a temporary name in the same directory: %s" % names)
        self.assertEqual(stat.S_IMODE(os.stat(self.out).st_mode), 0o644)
        fams = fmt.parse_exposition(new)
        got = {s.labels["target"]: s.value for s in fams["tlsprobe_status"].samples}
        self.assertEqual(got, {ref("good"): 0, ref("missing-intermediate"): 2,
                               GOOD.target: 0, "127.0.0.1:%d" % CLOSED: 2,
                               SILENT.target: 2})
        tool = fmt.promtool()
        if tool:
            p = run([tool, "check", "metrics"], input=new)
            self.assertEqual(p.rc, 0, p.out + p.err)

    def test_keeps_the_old_file_when_tlsprobe_cannot_run(self):
        env = dict(os.environ, TLSPROBE="/bin/false")
        r = run([script("tlsprobe-textfile"), self.targets, self.out], env=env)
        self.assertEqual(r.rc, 1, r.out + r.err)
        self.assertEqual(self.read(), self.old)
        self.assertEqual(os.listdir(self.dir), ["tlsprobe.prom"])
        self.assertIn("keeping", r.err)

    def test_unreadable_targets(self):
        r = run([script("tlsprobe-textfile"), os.path.join(TMP, "none.txt"), self.out],
                   env=probe_env())
        self.assertNotEqual(r.rc, 0)
        self.assertEqual(self.read(), self.old)
        self.assertEqual(os.listdir(self.dir), ["tlsprobe.prom"])


class ExpiryReport(unittest.TestCase):
    """probes/tlsprobe-expiry-report: unreachable first, then by days left."""

    def test_table_sorted_by_days_unreachable_first(self):
        harness.require_tools("sort", "awk")
        lines = ["# report", GOOD.target, ref("expired"), "127.0.0.1:%d" % CLOSED,
                 ref("good"), "bad_host!", ref("not-yet-valid"), ref("missing-intermediate")]
        path = fmt.write_list(TMP, "report.txt", lines)
        r = run([script("tlsprobe-expiry-report"), path, *trust(), "--timeout", TIMEOUT],
                   env=probe_env())
        objs = {o["target"]["input"]: o for o in batch_json(path)}
        out = r.out.rstrip("\n").split("\n")
        self.assertEqual(out[0].split(), ["DAYS", "EXPIRES", "STATUS", "TARGET", "PROBLEM"])
        rows = []
        for line in out[1:]:
            f = line.split()
            self.assertIn(len(f), (4, 5), line)
            rows.append(f + [""] * (5 - len(f)))
        self.assertEqual(sorted(r[3] for r in rows), sorted(lines[1:]), r.out)
        unreachable = [r for r in rows if r[0] == "-"]
        self.assertEqual({r[3] for r in unreachable}, {"127.0.0.1:%d" % CLOSED, "bad_host!"})
        self.assertEqual(rows[:len(unreachable)], unreachable, "unreachable first\n" + r.out)
        days = [int(r[0]) for r in rows[len(unreachable):]]
        self.assertEqual(days, sorted(days), r.out)
        for row in rows:
            o = objs[row[3]]
            with self.subTest(target=row[3]):
                self.assertEqual(row[2], o["status"].upper())
                self.assertEqual(row[4], o["reason"] or "")
                if o["chain"]:
                    na, d = fmt.earliest(o["chain"])
                    self.assertEqual((row[0], row[1]), (str(d), na[:10]))
        self.assertEqual(r.rc, 2, r.err)


class TlsprobeErrors(unittest.TestCase):
    """When tlsprobe refuses the options a script passes on (an unreadable
    --ca-file, an unknown option, thresholds it will not take), the script
    says tlsprobe's own one-line error, not a vaguer one of its own."""

    def setUp(self):
        self.targets = fmt.write_list(TMP, "errors-targets.txt", [GOOD.target])
        self.missing = os.path.join(TMP, "no-such-ca.pem")

    def tlsprobe_error(self, *args):
        """tlsprobe's own words for these options, without its 'tlsprobe: '."""
        r = run_tlsprobe("batch", self.targets, *args)
        self.assertEqual(r.rc, 3, r.err)
        lines = [l for l in r.err.split("\n") if l.startswith("tlsprobe: ")]
        self.assertEqual(len(lines), 1, r.err)
        return lines[0][len("tlsprobe: "):]

    CASES = [("--ca-file", "MISSING"), ("--frobnicate",), ("--timeout", "soon")]

    def cases(self):
        for case in self.CASES:
            args = [self.missing if a == "MISSING" else a for a in case]
            yield args, self.tlsprobe_error(*args)

    def test_textfile_says_why_and_keeps_the_old_file(self):
        out = os.path.join(TMP, "errors.prom")
        for args, message in self.cases():
            with self.subTest(args=args):
                harness.write(out, "old_metric 1\n")
                r = run([script("tlsprobe-textfile"), self.targets, out, *args], env=probe_env())
                self.assertEqual(r.rc, 2, r.err)
                self.assertEqual(r.err, "tlsprobe-textfile: %s; keeping %s as it was\n" % (message, out))
                self.assertEqual(harness.read(out), b"old_metric 1\n")

    def test_expiry_report_says_why_and_prints_no_table(self):
        for args, message in self.cases():
            with self.subTest(args=args):
                r = run([script("tlsprobe-expiry-report"), self.targets, *args], env=probe_env())
                self.assertEqual((r.rc, r.out), (3, ""), r.err)
                self.assertEqual(r.err, "tlsprobe-expiry-report: %s\n" % message)

    def test_check_tlsprobe_says_why_in_its_own_option_names(self):
        host = ["-H", "127.0.0.1", "-p", str(GOOD.port)]
        cases = [
            (host + ["--ca-file", self.missing], self.tlsprobe_error("--ca-file", self.missing)),
            # thresholds tlsprobe refuses, named as the plugin's user typed them
            (host + ["-w", "10", "-c", "20"],
             self.tlsprobe_error("--warn-days", "10", "--crit-days", "20")
             .replace("--warn-days/--crit-days", "-w/-c")),
            (host + ["-t", "0"], self.tlsprobe_error("--timeout", "0").replace("--timeout", "-t")),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                r = run([script("check_tlsprobe"), *args], env=probe_env())
                self.assertEqual(r.rc, 3, r.out + r.err)
                self.assertEqual(r.out, "TLSPROBE UNKNOWN - %s\n" % message)
                self.assertNotRegex(r.out, r"--(warn|crit)-days|--timeout")
                fmt.parse_nagios_line(r.out.rstrip("\n"))


def plugin(*args, env=None, timeout=60):
    """Run check_tlsprobe -> (Run, [NagiosLine of the first line], [other lines]).
    Whatever it prints, only the first line may hold a '|' (the one perfdata
    part the guidelines allow per output)."""
    r = run([script("check_tlsprobe"), *args], env=env or probe_env(), timeout=timeout)
    lines = r.out.split("\n")
    if lines[-1] != "" or len(lines) < 2:
        raise AssertionError("output does not end with a newline: %r" % r.out)
    for l in lines[1:]:
        if "|" in l:
            raise AssertionError("a '|' after the first line: %r" % r.out)
    return r, fmt.parse_nagios_line(lines[0]), lines[1:-1]


def days_left(target):
    """days_remaining of the earliest certificate, as tlsprobe's JSON says."""
    obj = harness.probe_json(target, *trust()).obj
    return fmt.earliest(obj["chain"])[1]


class CheckTlsprobeGuidelines(unittest.TestCase):
    """check_tlsprobe against the monitoring plugins development guidelines:
    -V, -h, -v, -t SECONDS[:STATE], range thresholds, one perfdata part with
    several targets, exit codes 0-3."""

    maxDiff = None

    def host(self, server):
        return ["-H", "127.0.0.1", "-p", str(server.port)]

    def test_version_names_tlsprobe_s_and_exits_unknown(self):
        version = run_tlsprobe("--version").out.split("\n")[0]
        for flag in ("-V", "--version"):
            with self.subTest(flag=flag):
                r = run([script("check_tlsprobe"), flag], env=probe_env())
                self.assertEqual((r.rc, r.out), (3, "check_tlsprobe (%s)\n" % version))

    def test_help_on_stdout_exits_unknown_and_overrides_the_rest(self):
        for args in (("-h",), ("--help",), ("-H", "127.0.0.1", "-w", "bad", "--help")):
            with self.subTest(args=args):
                r = run([script("check_tlsprobe"), *args], env=probe_env())
                self.assertEqual(r.rc, 3, r.err)
                self.assertTrue(r.out.startswith("Usage: check_tlsprobe -H HOST"), r.out)
                for opt in ("--hostname", "--port", "--warning", "--critical", "--timeout",
                            "--verbose", "--version", "--help"):
                    self.assertIn(opt, r.out)

    # (-w, -c): a number alone N reads as N: (check_tlsprobe(1)), the rest as
    # the guidelines define ranges; harness.formats evaluates them.
    RANGES = [
        ("30", "14"), ("400", "14"), ("400:", "380:"), ("0:100", "14:"), ("~:1000", "@0:10"),
        ("@300:400", "14:"), ("@~:1000", "@0:400"), ("10:20", "-5:5000"), ("1.5:", "0.5:"),
        ("~:", "@380:"),
    ]

    def test_ranges_decide_the_status_and_stand_in_the_perfdata(self):
        days = days_left(GOOD.target)
        for warn, crit in self.RANGES:
            with self.subTest(w=warn, c=crit):
                r, line, _ = plugin(*self.host(GOOD), "-w", warn, "-c", crit, *trust())
                w = fmt.parse_range(warn if ":" in warn else warn + ":")
                c = fmt.parse_range(crit if ":" in crit else crit + ":")
                want = 2 if fmt.range_alerts(c, days) else 1 if fmt.range_alerts(w, days) else 0
                self.assertEqual((r.rc, line.status), (want, fmt.WORD[want]), r.out)
                p = line.perfdata["days_remaining"]
                self.assertEqual((p.value, p.warn, p.crit), (days, w, c), r.out)
                if want:
                    self.assertIn("%d days" % days, line.text)

    def test_long_options_take_their_value_after_an_equals_sign(self):
        r, line, _ = plugin("--hostname=127.0.0.1", "--port=%d" % GOOD.port, "--warning=@~:1000",
                            "--critical=5:", *trust())
        self.assertEqual((r.rc, line.status, line.perfdata["days_remaining"].warn.text), (1, "WARNING", "@~:1000"))

    def test_bad_ranges_are_unknown(self):
        for bad in ("ten", "20:10", ":", "@", "1:2:3", "~", "", "10:~"):
            with self.subTest(range=bad):
                r, line, rest = plugin(*self.host(GOOD), "-w", bad, *trust())
                self.assertEqual((r.rc, line.status, rest), (3, "UNKNOWN", []), r.out)
                self.assertIn("-w '%s'" % bad, line.text)

    def test_timeout_returns_the_state_given_with_it(self):
        for spec, want in (("1", 2), ("1:unknown", 3), ("1:WARNING", 1), ("1:ok", 0), ("1:3", 3)):
            with self.subTest(t=spec):
                t0 = time.monotonic()
                r, line, _ = plugin(*self.host(SILENT), "-t", spec, *trust())
                self.assertLess(time.monotonic() - t0, 3.0)
                self.assertEqual((r.rc, line.status), (want, fmt.WORD[want]), r.out)
                self.assertIn("timeout", line.text)
        r, line, _ = plugin(*self.host(SILENT), "-t", "1:maybe", *trust())
        self.assertEqual((r.rc, line.status), (3, "UNKNOWN"), r.out)

    def test_timeout_bounds_the_plugin_even_when_tlsprobe_hangs(self):
        harness.require_tools("timeout")
        hang = harness.write(os.path.join(TMP, "hanging-tlsprobe"), "#!/bin/sh\nexec sleep 60\n")
        os.chmod(hang, 0o755)
        t0 = time.monotonic()
        r, line, rest = plugin(*self.host(GOOD), "-t", "1:unknown",
                               env=dict(os.environ, TLSPROBE=hang))
        self.assertLess(time.monotonic() - t0, 5.0)
        self.assertEqual((r.rc, line.status, rest), (3, "UNKNOWN", []), r.out)
        self.assertIn("timed out after 1 s", line.text)

    def test_several_targets_one_status_line_one_perfdata_part(self):
        targets = [GOOD.target, ref("missing-intermediate"), ref("good"), "127.0.0.1:%d" % CLOSED]
        want = {}
        for t in targets:
            obj = harness.probe_json(t, *trust()).obj
            want[t] = obj["status"].upper()
        args = [a for t in targets for a in ("-H", t)]
        r, line, rest = plugin(*args, *trust())
        worst = fmt.worst([s.lower() for s in want.values()])
        self.assertEqual((r.rc, line.status), (fmt.EXIT_CODE[worst], worst.upper()), r.out)
        self.assertTrue(line.text.startswith("4 targets: "), line.text)
        self.assertIn("127.0.0.1:%d connection-refused" % CLOSED, line.text)
        # the partial results, one line each, in the order given
        self.assertEqual(len(rest), len(targets), r.out)
        for t, l in zip(targets, rest):
            self.assertTrue(l.startswith("[%s] %s: " % (want[t], t)), l)
        # every target's perfdata, under labels of its own
        for t in targets:
            self.assertIn("%s total" % t, line.perfdata)
        self.assertIn("%s days_remaining" % GOOD.target, line.perfdata)
        self.assertNotIn("127.0.0.1:%d days_remaining" % CLOSED, line.perfdata)

    def test_verbosity_levels(self):
        base = self.host(GOOD) + trust()
        r0, line0, rest0 = plugin(*base)
        self.assertEqual((r0.rc, rest0), (0, []))
        r1, line1, rest1 = plugin(*base, "-v")
        self.assertEqual((r1.rc, rest1), (0, []), "-v: still a single line")
        self.assertIn("-w 30: -c 14: -t 10:critical", line1.text)
        r2, _, rest2 = plugin(*base, "-vv")
        self.assertTrue(any(l.startswith("tlsprobe command: ") and " batch - " in l for l in rest2), r2.out)
        r3, _, rest3 = plugin(*base, "-v", "-v", "-v")
        self.assertGreater(len(rest3), len(rest2), r3.out)
        self.assertTrue(any("TLSPROBE OK - " in l for l in rest3), r3.out)


def unit(name, replace):
    """A unit of probes/ with the strings in replace ({old: new}: its
    @placeholders@, paths) replaced -> ({key: [values]} of its settings, text)."""
    with open(script(name)) as f:
        text = f.read()
    for old, new in replace.items():
        text = text.replace(old, new)
    settings = {}
    for line in text.split("\n"):
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings, text


class ServiceUnits(unittest.TestCase):
    """tlsprobe-textfile.service and .timer: valid for systemd, and the
    service probes as an unprivileged user and still feeds node_exporter."""

    def setUp(self):
        self.d = harness.tempdir(self, prefix="tlsprobe-units-")
        self.bin = os.path.join(self.d, "bin")
        self.etc = os.path.join(self.d, "etc")
        os.makedirs(self.bin)
        os.makedirs(os.path.join(self.etc, "tlsprobe"))
        for name in ("tlsprobe-textfile",):
            shutil.copy(script(name), os.path.join(self.bin, name))
        shutil.copy(wait_binary(), os.path.join(self.bin, "tlsprobe"))
        shutil.copy(script("targets"), os.path.join(self.etc, "tlsprobe", "targets"))

    def test_systemd_units_verify(self):
        harness.require_tools("systemd-analyze")
        _, text = unit("tlsprobe-textfile.service.in", {"@bindir@": self.bin, "@sysconfdir@": self.etc})
        self.assertNotIn("@", text.replace("/var/lib/", ""))
        harness.write(os.path.join(self.d, "tlsprobe-textfile.service"), text)
        shutil.copy(script("tlsprobe-textfile.timer"), self.d)
        # --man=no: the man pages need not be installed on this machine
        r = run(["systemd-analyze", "verify", "--man=no",
                 os.path.join(self.d, "tlsprobe-textfile.service"),
                 os.path.join(self.d, "tlsprobe-textfile.timer")])
        self.assertEqual(r.rc, 0, r.out + r.err)
        self.assertNotRegex(r.out + r.err, r"(?i)unknown|ignoring|invalid|fail", r.out + r.err)

    def test_service_runs_as_a_dynamic_user_and_moves_the_metrics_into_place(self):
        prefix = unprivileged_prefix()
        if not prefix:
            self.skipTest("needs root, to run the service's command as another user")
        state = os.path.join(self.d, "state")           # /var/lib/tlsprobe, the user's
        textfile = os.path.join(self.d, "node-exporter")  # root's, 0755, as Debian makes it
        os.makedirs(state)
        os.chown(state, NOBODY, NOBODY)
        os.makedirs(textfile, mode=0o755)
        harness.write(os.path.join(self.etc, "tlsprobe", "targets"),
                      "# loopback only\n%s\n%s\n" % (GOOD.target, ref("good")))
        settings, _ = unit("tlsprobe-textfile.service.in", {
            "@bindir@": self.bin, "@sysconfdir@": self.etc, "/var/lib/tlsprobe": state,
            "/var/lib/prometheus/node-exporter": textfile})
        self.assertEqual(settings["DynamicUser"], ["yes"])
        self.assertEqual(settings["StateDirectory"], ["tlsprobe"])
        self.assertEqual(settings["ConditionPathExists"], [os.path.join(self.etc, "tlsprobe", "targets")])
        env = dict(os.environ, **dict(e.split("=", 1) for e in settings["Environment"]))
        [start] = settings["ExecStart"]
        [post] = settings["ExecStartPost"]
        self.assertTrue(post.startswith("+"), "the move needs privileges: %s" % post)
        out = os.path.join(textfile, "tlsprobe.prom")
        # The user of the service may not write in node_exporter's directory ...
        r = run([*prefix, os.path.join(self.bin, "tlsprobe-textfile"),
                 os.path.join(self.etc, "tlsprobe", "targets"), out], env=env)
        self.assertEqual(r.rc, 2, r.out + r.err)
        # ... so it writes in its state directory, and the privileged step moves the file.
        r = run([*prefix, *shlex.split(start)], env=env)
        self.assertEqual(r.rc, 0, r.out + r.err)
        r = run(shlex.split(post[1:]), env=env)
        self.assertEqual(r.rc, 0, r.out + r.err)
        self.assertEqual(os.listdir(state), [])
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o644)
        with open(out) as f:
            fams = fmt.parse_exposition(f.read())
        self.assertEqual({s.labels["target"] for s in fams["tlsprobe_status"].samples},
                         {GOOD.target, ref("good")})

    def test_exporter_unit_verifies(self):
        harness.require_tools("systemd-analyze")
        _, text = unit("tlsprobe-exporter.service.in", {"@bindir@": self.bin, "@sysconfdir@": self.etc})
        self.assertNotIn("@", text)
        path = harness.write(os.path.join(self.d, "tlsprobe-exporter.service"), text)
        r = run(["systemd-analyze", "verify", "--man=no", path])
        self.assertEqual(r.rc, 0, r.out + r.err)
        self.assertNotRegex(r.out + r.err, r"(?i)unknown|ignoring|invalid|fail", r.out + r.err)

    def test_exporter_service_runs_unprivileged_with_the_example_modules(self):
        # as the unit's user would: no privileges, the installed example
        # configuration (every module a comment) and the default port
        prefix = unprivileged_prefix()
        shutil.copy(script("exporter.yml"), os.path.join(self.etc, "tlsprobe", "exporter.yml"))
        settings, _ = unit("tlsprobe-exporter.service.in", {"@bindir@": self.bin, "@sysconfdir@": self.etc})
        self.assertEqual(settings["DynamicUser"], ["yes"])
        [start] = settings["ExecStart"]
        if harness.port_open("127.0.0.1", 9856):
            self.skipTest("port 9856 is in use here")
        p = popen([*prefix, *shlex.split(start)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            self.assertTrue(harness.wait_for(lambda: harness.port_open("127.0.0.1", 9856) or None, 20))
            with urllib.request.urlopen("http://127.0.0.1:9856/probe?target=%s" % GOOD.target,
                                        timeout=30) as resp:
                body = resp.read().decode()
            # the default module, without the tests' root: untrusted, but probed
            self.assertIn("probe_ssl_earliest_cert_expiry ", body)
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=20), 0, p.stderr.read())
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stderr.close()

    def test_example_targets_are_comments_only(self):
        # installed as the service's targets: nothing is probed until an
        # administrator writes a target in it
        r = run_tlsprobe("batch", script("targets"), "--json")
        self.assertEqual((r.rc, r.out), (0, ""), r.err)
        self.assertIn("0 targets", r.err)


class InstallPaths(unittest.TestCase):
    """Where meson installs the probes, units, example targets and zsh
    completion, per prefix and option (meson introspect of a configured
    tree: nothing is built or installed)."""

    def setup(self, *options):
        harness.require_tools("meson")
        d = os.path.join(harness.tempdir(self, prefix="tlsprobe-meson-"), "build")
        r = run(["meson", "setup", d, "-Dtests=disabled", "-Dman-pages=disabled", *options],
                cwd=REPO_ROOT, timeout=120)
        self.assertEqual(r.rc, 0, r.out + r.err)
        r = run(["meson", "introspect", d, "--installed"], timeout=60)
        self.assertEqual(r.rc, 0, r.err)
        installed = {os.path.relpath(src, REPO_ROOT) if src.startswith(REPO_ROOT) else
                     os.path.relpath(src, d): dst for src, dst in harness.parse_json_line(r.out).items()}
        with open(os.path.join(d, "probes", "tlsprobe-textfile.service")) as f:
            return installed, f.read()

    def test_prefix_usr_local_keeps_everything_under_it(self):
        got, service = self.setup("--prefix=/usr/local")
        self.assertEqual(got["completions/_tlsprobe"], "/usr/local/share/zsh/site-functions/_tlsprobe")
        self.assertEqual(got["probes/tlsprobe-textfile.service"],
                         "/usr/local/lib/systemd/system/tlsprobe-textfile.service")
        self.assertEqual(got["probes/tlsprobe-textfile.timer"],
                         "/usr/local/lib/systemd/system/tlsprobe-textfile.timer")
        self.assertEqual(got["probes/targets"], "/usr/local/etc/tlsprobe/targets")
        self.assertEqual(got["probes/exporter.yml"], "/usr/local/etc/tlsprobe/exporter.yml")
        self.assertEqual(got["probes/tlsprobe-exporter.service"],
                         "/usr/local/lib/systemd/system/tlsprobe-exporter.service")
        self.assertIn("ExecStart=/usr/local/bin/tlsprobe-textfile /usr/local/etc/tlsprobe/targets ",
                      service)

    def test_prefix_usr_goes_where_the_system_looks(self):
        got, service = self.setup("--prefix=/usr")
        vendor = "/usr/share/zsh/vendor-completions"
        zsh = vendor if os.path.isdir(vendor) else "/usr/share/zsh/site-functions"
        self.assertEqual(got["completions/_tlsprobe"], zsh + "/_tlsprobe")
        r = run(["pkg-config", "--variable=systemdsystemunitdir", "systemd"]) \
            if harness.have("pkg-config") else None
        units = r.out.strip() if r and r.rc == 0 else "/usr/lib/systemd/system"
        self.assertEqual(got["probes/tlsprobe-textfile.service"], units + "/tlsprobe-textfile.service")
        self.assertEqual(got["probes/targets"], "/etc/tlsprobe/targets")
        self.assertIn("ExecStart=/usr/bin/tlsprobe-textfile /etc/tlsprobe/targets ", service)
        self.assertEqual(got["probes/check_tlsprobe"], "/usr/lib/nagios/plugins/check_tlsprobe")

    def test_options_choose_the_directories(self):
        got, _ = self.setup("--prefix=/usr", "-Dzsh-completions-dir=share/zsh/site-functions",
                            "-Dsystemd-unit-dir=/opt/units")
        self.assertEqual(got["completions/_tlsprobe"], "/usr/share/zsh/site-functions/_tlsprobe")
        self.assertEqual(got["probes/tlsprobe-textfile.service"], "/opt/units/tlsprobe-textfile.service")


@unittest.skipUnless(os.environ.get("TLSPROBE_TEST_DEB") == "1",
                     "slow: set TLSPROBE_TEST_DEB=1 to build the Debian package (tools/deb)")
class DebianPackage(unittest.TestCase):
    """tools/deb builds a lintian-clean package that declares what it loads
    and installs where Debian looks."""

    @classmethod
    def setUpClass(cls):
        cls.out = harness.tempdir(cls, prefix="tlsprobe-deb-")
        cls.build = run([os.path.join(REPO_ROOT, "tools", "deb"), cls.out], cwd=REPO_ROOT, timeout=900)
        debs = [f for f in os.listdir(cls.out) if f.startswith("tlsprobe_") and f.endswith(".deb")]
        cls.deb = os.path.join(cls.out, debs[0]) if len(debs) == 1 else None

    def setUp(self):
        self.assertEqual(self.build.rc, 0, self.build.out[-3000:] + self.build.err[-3000:])
        self.assertIsNotNone(self.deb, os.listdir(self.out))

    def dpkg_deb(self, *args):
        return run(["dpkg-deb", *args, self.deb], check=True).out

    def test_lintian_reports_no_error_and_no_warning(self):
        self.assertNotRegex(self.build.out, r"(?m)^[EW]: ", self.build.out)
        self.assertIn("lintian: no errors, no warnings", self.build.err)

    def test_depends_on_the_libcurl_that_fetch_loads(self):
        # fetch loads libcurl-gnutls.so.4 with dlopen: dpkg-shlibdeps cannot see it
        owner = run(["dpkg", "-S", "libcurl-gnutls.so.4"], check=True).out.split(":")[0]
        depends = [d.strip().split()[0] for d in
                   run(["dpkg-deb", "-f", self.deb, "Depends"], check=True).out.split(",")]
        self.assertIn(owner, depends)

    def test_installs_where_debian_looks(self):
        files = {l.split()[-1].lstrip(".") for l in self.dpkg_deb("-c").split("\n") if l.strip()}
        for path in ("/usr/bin/tlsprobe", "/usr/bin/tlsprobe-textfile", "/usr/bin/tlsprobe-expiry-report",
                     "/usr/lib/nagios/plugins/check_tlsprobe", "/etc/tlsprobe/targets",
                     "/usr/share/zsh/vendor-completions/_tlsprobe",
                     "/usr/share/bash-completion/completions/tlsprobe",
                     "/usr/share/man/man1/check_tlsprobe.1.gz", "/usr/share/man/man7/tlsprobe-json.7.gz"):
            self.assertIn(path, files)
        self.assertTrue(any(f.endswith("/systemd/system/tlsprobe-textfile.service") for f in files), files)
        ctrl = os.path.join(self.out, "control")
        run(["dpkg-deb", "-e", self.deb, ctrl], check=True)
        with open(os.path.join(ctrl, "conffiles")) as f:
            self.assertIn("/etc/tlsprobe/targets", f.read().split())

    def test_the_packaged_programs_run(self):
        root = os.path.join(self.out, "root")
        run(["dpkg-deb", "-x", self.deb, root], check=True)
        tlsprobe = os.path.join(root, "usr", "bin", "tlsprobe")
        version = run([tlsprobe, "--version"], check=True).out.split("\n")[0]
        r = run([os.path.join(root, "usr", "lib", "nagios", "plugins", "check_tlsprobe"), "-V"],
                env=dict(os.environ, TLSPROBE=tlsprobe))
        self.assertEqual((r.rc, r.out), (3, "check_tlsprobe (%s)\n" % version))
