"""tlsprobe exporter: the Prometheus probe endpoint, against the reference
server's scenarios, s_server and silent servers on loopback; scraped by a
real Prometheus server (Debian's), two exporters sharding targets with
hashmod; its own metrics, its status page (in headless Chromium too), its
configuration and reloads, its stop, and a flood of slow requests."""
import concurrent.futures
import hashlib
import json
import os
import shutil
import signal
import socket
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import harness
from harness import formats as fmt
from harness.formats import SEVERITY
from harness import run, run_tlsprobe

F = None
PEERS = None
EXPORTER = None


def setUpModule():
    global F, PEERS, EXPORTER
    F = harness.fixtures()
    PEERS = harness.MonitoringPeers(F)
    EXPORTER = Exporter()


def tearDownModule():
    for s in (EXPORTER, PEERS):
        if s is not None:
            s.stop()


def ref(name):
    return PEERS.ref.target_for(name)


class Exporter(harness.ProcessServer):
    """tlsprobe exporter on a loopback port, trusting the peers' roots."""

    def __init__(self, *extra, ready="listening on"):
        super().__init__("exporter", lambda port: [
            harness.tlsprobe_path(), "exporter", "--listen", "127.0.0.1:%d" % port, *PEERS.trust(),
            "--timeout", "3", *extra], ready=ready, timeout=20)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def get(self, path, headers=None, method="GET", timeout=30):
        """(status, content type, body) of one request."""
        req = urllib.request.Request(self.url(path), headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.headers.get("Content-Type"), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type"), e.read().decode()

    def probe(self, target, module=None, **headers):
        q = {"target": target}
        if module:
            q["module"] = module
        return self.get("/probe?" + urllib.parse.urlencode(q), headers=headers)

    def metrics(self):
        status, _, body = self.get("/metrics")
        assert status == 200, body
        return fmt.parse_exposition(body)


def value(fams, name, **labels):
    """The one sample of name whose labels include these; None when absent."""
    fam = fams.get(name)
    got = [s for s in (fam.samples if fam else []) if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(got) <= 1, (name, labels, got)
    return got[0].value if got else None


def promtool_ok(test, body):
    tool = fmt.promtool()
    if not tool:
        return
    r = run([tool, "check", "metrics"], input=body)
    # promtool lints too (counters' _total, units): only errors fail it
    test.assertEqual(r.rc, 0, r.out + r.err)


class Probe(unittest.TestCase):
    """/probe answers in Prometheus's format with blackbox_exporter's names."""

    def probe(self, target, module=None, **headers):
        status, ctype, body = EXPORTER.probe(target, module, **headers)
        self.assertEqual(status, 200, body)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        promtool_ok(self, body)
        return fmt.parse_exposition(body)

    def test_a_good_server_succeeds_with_blackbox_series(self):
        fams = self.probe(PEERS.good.target)
        self.assertEqual(value(fams, "probe_success"), 1)
        self.assertEqual(value(fams, "tlsprobe_status"), 0)
        self.assertEqual(value(fams, "probe_timeout_seconds"), 3)
        self.assertEqual(value(fams, "probe_ip_protocol"), 4)
        self.assertEqual(value(fams, "probe_tls_version_info", version="TLS 1.3"), 1)
        leaf = F.leaf.not_after.timestamp()
        self.assertEqual(value(fams, "probe_ssl_earliest_cert_expiry"), leaf)
        # over the verified path, its root included: the leaf expires first
        self.assertEqual(value(fams, "probe_ssl_last_chain_expiry_timestamp_seconds"), leaf)
        [info] = fams["probe_ssl_last_chain_info"].samples
        self.assertEqual(info.labels["subjectalternative"].split(","), ["localhost"])
        self.assertRegex(info.labels["serialnumber"], r"^[0-9a-f]+$")
        self.assertFalse(info.labels["serialnumber"].startswith("00"))
        # no target labels: Prometheus adds instance
        for fam in fams.values():
            for s in fam.samples:
                self.assertNotIn("target", s.labels)
        self.assertEqual(len(fams["tlsprobe_cert_not_after"].samples), 2)

    def test_a_broken_chain_fails_and_says_why_with_its_expiry(self):
        fams = self.probe(ref("untrusted-root"))
        self.assertEqual(value(fams, "probe_success"), 0)
        self.assertEqual(value(fams, "tlsprobe_status"), 2)
        self.assertEqual(value(fams, "tlsprobe_problem", code="untrusted-root", severity="critical"), 1)
        # expiry even when verification fails; no verified path, no last-chain series
        self.assertIsNotNone(value(fams, "probe_ssl_earliest_cert_expiry"))
        self.assertIsNone(value(fams, "probe_ssl_last_chain_expiry_timestamp_seconds"))

    def test_an_unreachable_target_is_a_failed_probe_not_an_http_error(self):
        fams = self.probe("127.0.0.1:%d" % PEERS.closed)
        self.assertEqual(value(fams, "probe_success"), 0)
        self.assertEqual(value(fams, "tlsprobe_problem", code="connection-refused"), 1)

    def test_the_scrape_timeout_header_bounds_the_probe(self):
        fams = self.probe(PEERS.silent.target, **{"X-Prometheus-Scrape-Timeout-Seconds": "1.5"})
        self.assertEqual(value(fams, "probe_timeout_seconds"), 1)
        self.assertEqual(value(fams, "probe_success"), 0)
        # a silent target: the probe ran until its deadline, the header's
        # 1 s and not the module's 3 s (loose: the machine may be busy)
        self.assertLess(value(fams, "probe_duration_seconds"), 2.5)
        self.assertEqual(value(fams, "tlsprobe_problem", code="timeout"), 1)
        # a header longer than the module's timeout: the module's (3 s)
        fams = self.probe(PEERS.good.target, **{"X-Prometheus-Scrape-Timeout-Seconds": "60"})
        self.assertEqual(value(fams, "probe_timeout_seconds"), 3)

    def test_debug_answers_the_report_and_the_metrics(self):
        status, ctype, body = EXPORTER.get("/probe?target=%s&debug=true" % ref("missing-intermediate"))
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/plain; charset"), ctype)
        self.assertIn("CRITICAL", body)
        self.assertIn("missing", body)
        self.assertIn("probe_success 0", body)

    def test_bad_requests_are_400_with_the_reason(self):
        for path, words in (("/probe", "target parameter is missing"),
                            ("/probe?target=", "target parameter is missing"),
                            ("/probe?target=localhost:1&module=nope", "unknown module 'nope': the modules are default"),
                            ("/probe?target=localhost:99999", "port"),
                            ("/probe?target=%zz%00&&=&module", ""),
                            ("/probe?target=a%20b", "invalid host name")):
            with self.subTest(path=path):
                status, _, body = EXPORTER.get(path)
                self.assertEqual(status, 400, body)
                self.assertIn(words, body)
        status, _, body = EXPORTER.get("/probe?target=localhost:1", headers={
            "X-Prometheus-Scrape-Timeout-Seconds": "soon"})
        self.assertEqual(status, 400, body)
        self.assertIn("X-Prometheus-Scrape-Timeout-Seconds", body)
        self.assertEqual(EXPORTER.get("/nothing")[0], 404)
        self.assertEqual(EXPORTER.get("/probe?target=x", method="POST")[0], 405)
        self.assertEqual(EXPORTER.get("/-/healthy")[0], 200)

    def test_hostile_certificate_fields_keep_the_exposition_valid(self):
        harness.require_tools("gnutls-serv")
        with harness.gnutls_serv(F.hostile.chain, F.hostile.key) as srv:
            fams = self.probe("127.0.0.1:%d" % srv.port)
        [info] = fams["probe_ssl_last_chain_info"].samples
        # quotes, backslashes and newlines survive as escapes, control bytes as spaces
        self.assertTrue(any(c in info.labels["subject"] for c in '"\\'), info.labels)
        self.assertNotIn("\x1b", info.labels["subject"])


class OwnMetrics(unittest.TestCase):
    def test_metrics_count_probes_by_module_and_status(self):
        before = EXPORTER.metrics()
        EXPORTER.probe(PEERS.good.target)
        EXPORTER.probe(ref("expired"))
        after = EXPORTER.metrics()

        def n(fams, status):
            return value(fams, "tlsprobe_exporter_probes_total", module="default", status=status) or 0
        self.assertEqual(n(after, "ok") - n(before, "ok"), 1)
        self.assertEqual(n(after, "critical") - n(before, "critical"), 1)
        for name in ("process_resident_memory_bytes", "process_open_fds", "process_cpu_seconds_total",
                     "process_start_time_seconds", "tlsprobe_exporter_probes_in_flight",
                     "tlsprobe_exporter_config_last_reload_successful"):
            self.assertIn(name, after)
        self.assertEqual(after["tlsprobe_exporter_probe_duration_seconds"].type, "histogram")
        status, _, body = EXPORTER.get("/metrics")
        promtool_ok(self, body)


class StatusPage(unittest.TestCase):
    def test_the_page_lists_the_last_probes_with_their_reports(self):
        hostile = "<b>x</b>.invalid"
        EXPORTER.probe(ref("wrong-host"))
        EXPORTER.get("/probe?" + urllib.parse.urlencode({"target": hostile}))
        status, ctype, page = EXPORTER.get("/")
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/html"), ctype)
        self.assertIn(ref("wrong-host"), page)
        self.assertIn(">hostname-mismatch<", page)  # the reason code
        self.assertNotIn("<b>x</b>", page)
        ids = [int(x.split('"')[0]) for x in page.split('href="/report?id=')[1:]]
        status, _, report = EXPORTER.get("/report?id=%d" % max(ids))
        self.assertEqual(status, 200)
        self.assertIn("CRITICAL", report)
        self.assertEqual(EXPORTER.get("/report?id=999999")[0], 404)
        self.assertEqual(EXPORTER.get("/report?id=x")[0], 400)

    def test_chromium_loads_the_page_and_finds_the_probes(self):
        if not harness.have("chromium"):
            self.skipTest("chromium is not installed")
        if os.environ.get("TLSPROBE_SANITIZED", "none") not in ("", "none"):
            self.skipTest("Chromium runs in the plain build's suite only")
        EXPORTER.probe(ref("expired"))
        home = harness.tempdir(self, prefix="tlsprobe-chromium-")
        r = run(["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--user-data-dir=" + os.path.join(home, "profile"), "--dump-dom", EXPORTER.url("/")],
                env=dict(os.environ, HOME=home), timeout=90)
        self.assertIn('id="recent"', r.out, r.err[-2000:])
        self.assertIn(ref("expired"), r.out)
        self.assertIn(">expired<", r.out)


CONFIG = """\
modules:
  strict:
    prober: tls
    timeout: 2s
    ca-file: [%(root)s]
    no-system-ca: true
    warn-days: 400
  web:
    prober: https
    ca-file: %(root)s
    no-system-ca: true
    expect-status: 200
"""


class Configuration(unittest.TestCase):
    """Modules from YAML; errors with their line; reloads that keep the old
    modules when the new file is bad."""

    def write(self, text):
        self.path = harness.write(os.path.join(harness.tempdir(self, prefix="tlsprobe-exporter-"),
                                               "exporter.yml"), text)
        return self.path

    def test_modules_are_probe_options(self):
        path = self.write(CONFIG % {"root": F.root.cert})
        with Exporter("--config", path) as ex:
            status, _, body = ex.probe(PEERS.good.target, "strict")
            fams = fmt.parse_exposition(body)
            # warn-days 400: the 365-day leaf is a warning, still a success
            self.assertEqual(value(fams, "tlsprobe_status"), 1)
            self.assertEqual(value(fams, "probe_success"), 1)
            self.assertEqual(value(fams, "probe_timeout_seconds"), 2)
            status, _, body = ex.probe(ref("good"), "web")
            fams = fmt.parse_exposition(body)
            # the reference server's root is not the module's
            self.assertEqual(value(fams, "probe_success"), 0)
            status, _, body = ex.get("/")
            self.assertIn("--warn-days=400", body)

    def test_a_scan_module(self):
        """prober: scan, with scan's own --parallel: the scan's series, within the scrape's deadline"""
        path = self.write("modules:\n  scan:\n    prober: scan\n    parallel: 4\n    ca-file: %s\n"
                          "    no-system-ca: true\n" % F.root.cert)
        with Exporter("--config", path) as ex:
            status, _, body = ex.probe(PEERS.good.target, "scan")
            self.assertEqual(status, 200, body)
            fams = fmt.parse_exposition(body)
            self.assertIn("tlsprobe_scan_protocol_accepted", fams, body)
            self.assertIn("tlsprobe_scan_cipher_accepted", fams, body)
            self.assertEqual(value(fams, "probe_success"), 1, body)
            status, _, body = ex.get("/")
            self.assertIn("<td>scan</td>", body)

    def test_a_bad_file_is_refused_at_start_with_its_line(self):
        for text, words in (("modules:\n  x:\n    timeout: 2\n    ca-fil: a.pem\n", ":4: module 'x': unknown setting 'ca-fil'"),
                            ("modules:\n  x:\n    timeout: never\n", ":3: module 'x': invalid --timeout"),
                            ("modules:\n  x:\n    prober: icmp\n", ":3: module 'x': unknown prober"),
                            ("modules:\n  x:\n    no-sni: maybe\n", ":3: module 'x': no-sni is a flag"),
                            ("modules: [\n", ":2: not valid YAML"),
                            ("module:\n  x: {}\n", ":1: unknown key 'module'")):
            with self.subTest(text=text):
                path = self.write(text)
                r = run_tlsprobe("exporter", "--listen", "127.0.0.1:0", "--config", path, timeout=20)
                self.assertEqual(r.rc, 3, r.err)
                self.assertIn(path + words, r.err)
                self.assertEqual(len(r.err.strip().split("\n")), 1, r.err)

    def test_reload_keeps_the_old_modules_when_the_new_file_is_bad(self):
        path = self.write(CONFIG % {"root": F.root.cert})
        with Exporter("--config", path) as ex:
            harness.write(path, "modules:\n  strict:\n    bogus: 1\n")
            status, _, body = ex.get("/-/reload", method="POST")
            self.assertEqual(status, 500, body)
            self.assertIn("unknown setting 'bogus'", body)
            self.assertEqual(value(ex.metrics(), "tlsprobe_exporter_config_last_reload_successful"), 0)
            status, _, body = ex.probe(PEERS.good.target, "strict")
            self.assertEqual(status, 200, body)
            # SIGHUP with a good file: the new module is there
            harness.write(path, (CONFIG % {"root": F.root.cert}) + "  third:\n    timeout: 1\n")
            ex.proc.send_signal(signal.SIGHUP)
            harness.wait_for(lambda: ex.probe(PEERS.good.target, "third")[0] == 200 or None, 10)
            self.assertEqual(value(ex.metrics(), "tlsprobe_exporter_config_last_reload_successful"), 1)
            self.assertEqual(ex.get("/-/reload")[0], 405)


class Stopping(unittest.TestCase):
    def test_sigterm_finishes_the_probes_under_way(self):
        ex = Exporter()
        try:
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                pending = pool.submit(ex.probe, PEERS.silent.target)
                harness.wait_for(lambda: value(ex.metrics(), "tlsprobe_exporter_probes_in_flight") == 1 or None, 10)
                ex.proc.send_signal(signal.SIGTERM)
                status, _, body = pending.result(timeout=20)
            self.assertEqual(status, 200, body)
            self.assertIn("probe_success 0", body)
            self.assertEqual(ex.proc.wait(timeout=20), 0)
        finally:
            ex.stop()


class Flood(unittest.TestCase):
    """500 requests at once at slow and silent targets: each is answered
    within its scrape timeout or refused with 503, and the exporter's
    threads and descriptors stay bounded."""

    def test_500_concurrent_requests(self):
        with Exporter("--max-concurrent", "16") as ex:
            targets = [PEERS.silent.target, PEERS.good.target, "127.0.0.1:%d" % PEERS.closed]
            peak = {"fds": 0, "threads": 0}

            def one(i):
                t0 = time.monotonic()
                try:
                    status, _, _ = ex.probe(targets[i % 3], **{"X-Prometheus-Scrape-Timeout-Seconds": "2"})
                except (OSError, urllib.error.URLError) as e:
                    status = "refused: %s" % e
                return status, time.monotonic() - t0

            def watch():
                while not done:
                    peak["fds"] = max(peak["fds"], len(os.listdir("/proc/%d/fd" % ex.proc.pid)))
                    with open("/proc/%d/status" % ex.proc.pid) as f:
                        for line in f:
                            if line.startswith("Threads:"):
                                peak["threads"] = max(peak["threads"], int(line.split()[1]))
                    time.sleep(0.05)

            done = False
            with concurrent.futures.ThreadPoolExecutor(1) as w:
                watcher = w.submit(watch)
                with concurrent.futures.ThreadPoolExecutor(500) as pool:
                    results = list(pool.map(one, range(500)))
                done = True
                watcher.result()
            codes = {}
            for status, elapsed in results:
                codes[status] = codes.get(status, 0) + 1
                self.assertIn(status, (200, 503), results[:5])
                # within the scrape timeout, with room for a busy machine
                self.assertLess(elapsed, 2 + 2.5, "answered within the scrape timeout")
            self.assertGreater(codes.get(200, 0), 16, codes)
            # 16 workers, the HTTP thread, the main one: threads do not grow with requests
            self.assertLess(peak["threads"], 16 + 8, peak)
            # the connections (<= 500) and the probes' sockets (<= 16), no more
            self.assertLess(peak["fds"], 500 + 16 + 32, peak)
            fams = ex.metrics()
            self.assertEqual(value(fams, "tlsprobe_exporter_probes_in_flight"), 0)
            left = len(os.listdir("/proc/%d/fd" % ex.proc.pid))
            self.assertLess(left, 32, "descriptors were not released")
            if os.environ.get("TLSPROBE_SANITIZED", "none") in ("", "none"):
                # memory bounds mean nothing under AddressSanitizer's quarantine
                with open("/proc/%d/status" % ex.proc.pid) as f:
                    hwm = [int(line.split()[1]) for line in f if line.startswith("VmHWM:")][0]
                self.assertLess(hwm, 150 * 1024, "peak RSS %d KiB" % hwm)


PROMETHEUS_CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
%(shards)s
  - job_name: exporters
    static_configs:
      - targets: [%(exporters)s]
"""

SHARD = """\
  - job_name: tls-%(n)d
    metrics_path: /probe
    params:
      module: [default]
    static_configs:
      - targets: [%(targets)s]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - source_labels: [__param_target]
        modulus: 2
        target_label: __tmp_hash
        action: hashmod
      - source_labels: [__tmp_hash]
        regex: "%(n)d"
        action: keep
      - target_label: __address__
        replacement: 127.0.0.1:%(port)d
"""


def shard(target, modulus=2):
    """The shard Prometheus's hashmod relabelling gives a value: the last 8
    bytes of its MD5, big-endian, modulo the modulus."""
    return int.from_bytes(hashlib.md5(target.encode()).digest()[8:], "big") % modulus


class RealPrometheus(unittest.TestCase):
    """Debian's Prometheus scrapes two exporters, each given its share of
    the reference scenarios by hashmod relabelling, as the man page says to
    configure it."""

    @classmethod
    def setUpClass(cls):
        harness.require_tools("prometheus", "promtool")
        cls.exporters = [Exporter(), Exporter()]
        cls.addClassCleanup(lambda: [e.stop() for e in cls.exporters])
        # every scenario but the slow ones: both shards get some
        cls.scenarios = {ref(name): sc for name, sc in PEERS.ref.scenarios.items()
                         if sc.expect not in ("timeout", "handshake-timeout")}
        cls.targets = sorted(cls.scenarios)
        assert {shard(t) for t in cls.targets} == {0, 1}, cls.targets
        d = harness.new_dir("prometheus-")
        conf = harness.write(os.path.join(d, "prometheus.yml"), PROMETHEUS_CONFIG % {
            "shards": "".join(SHARD % {"n": n, "targets": ", ".join('"%s"' % t for t in cls.targets),
                                       "port": e.port} for n, e in enumerate(cls.exporters)),
            "exporters": ", ".join('"127.0.0.1:%d"' % e.port for e in cls.exporters)})
        r = run(["promtool", "check", "config", conf])
        assert r.rc == 0, r.out + r.err
        cls.prom = harness.ProcessServer("prometheus", lambda port: [
            "prometheus", "--config.file=" + conf, "--storage.tsdb.path=" + os.path.join(d, "data"),
            "--web.listen-address=127.0.0.1:%d" % port], ready="Server is ready to receive web requests",
            timeout=60)
        cls.addClassCleanup(cls.prom.stop)
        # every target scraped at least once, and both exporters' own metrics
        cls.success = harness.wait_for(lambda: cls.query_all("probe_success"), 60)
        assert cls.success, "Prometheus did not scrape every target: %s" % cls.query("probe_success")
        cls.counts = harness.wait_for(lambda: cls.query_n("sum by (instance) (tlsprobe_exporter_probes_total)", 2),
                                      30)

    @classmethod
    def query(cls, q):
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (cls.prom.port, urllib.parse.urlencode({"query": q}))
        with urllib.request.urlopen(url, timeout=10) as r:
            data = json.load(r)
        return {s["metric"].get("instance", ""): (s["metric"], float(s["value"][1])) for s in data["data"]["result"]}

    @classmethod
    def query_all(cls, q):
        got = cls.query(q)
        return got if set(cls.targets) <= set(got) else None

    @classmethod
    def query_n(cls, q, n):
        got = cls.query(q)
        return got if len(got) >= n else None

    def test_probe_success_per_target(self):
        for target in self.targets:
            sc = self.scenarios[target]
            with self.subTest(scenario=sc.name):
                ok = sc.expect == "ok" or SEVERITY.get(sc.expect) == "warning"
                self.assertEqual(self.success[target][1], 1.0 if ok else 0.0)
                # the job of the exporter hashmod gave it
                self.assertEqual(self.success[target][0]["job"], "tls-%d" % shard(target))

    def test_problems_by_code_per_target(self):
        for target in self.targets:
            sc = self.scenarios[target]
            if sc.expect == "ok":
                continue
            with self.subTest(scenario=sc.name):
                got = self.query('tlsprobe_problem{instance="%s",code="%s"}' % (target, sc.expect))
                self.assertIn(target, got, sc.expect)

    def test_each_exporter_probes_only_its_share(self):
        for n, e in enumerate(self.exporters):
            status, _, page = e.get("/")
            seen = {t for t in self.targets if ">%s<" % t in page}
            share = {t for t in self.targets if shard(t) == n}
            self.assertEqual(seen, share)
            # its own counter: the probes of its share only, each scraped at least once
            fams = e.metrics()
            total = sum(s.value for s in fams["tlsprobe_exporter_probes_total"].samples)
            self.assertGreaterEqual(total, len(share))
            self.assertEqual(sum(s.value for s in fams["tlsprobe_exporter_probes_total"].samples
                                 if s.labels["module"] != "default"), 0)
        # and Prometheus scraped both exporters' own metrics
        self.assertIsNotNone(self.counts, self.query("sum by (instance) (tlsprobe_exporter_probes_total)"))
