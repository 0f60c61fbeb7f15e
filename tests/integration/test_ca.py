"""The self-hosted CA: tlsprobe ca init | issue | check, and tlsprobe cert.

Everything tlsprobe makes is judged by other tools: openssl x509 -text,
openssl verify, certtool --verify, curl, openssl s_server / s_client and
Python's ssl module.  The broken setups that ca check must recognise are made
with the openssl CLI (harness.pki.Pki), never with tlsprobe's code.

    TLSPROBE=build/tlsprobe python3 tests/integration/tap.py test_ca
"""

import base64
import datetime
import os
import re
import subprocess
import sys
import unittest

import harness
from harness import (Pki, Serve, X509, cat, openssl, probe_json, read, run_tlsprobe, tempdir, tool,
                     write)
from harness.clients import client_context, curl, https_get_raw
from harness.pki import EXTENSIONS, leaf_ext, pem_blocks, sha256_of_pem
from harness.sandbox import (give_to_unprivileged, make_unreadable, mode, readonly_prefix,
                             snapshot, unprivileged_prefix)
from harness.schema import check_failure, check_file_schema, codes, parse_json_line, problem

UTC = datetime.timezone.utc
DAY = datetime.timedelta(days=1)


def setUpModule():
    harness.require_tools("openssl")


def now():
    return datetime.datetime.now(UTC).replace(microsecond=0)


# --------------------------------------------------------------------------
# running tlsprobe here: text -> (rc, out, err); JSON about files -> (rc, obj, out, err)
# --------------------------------------------------------------------------

def tp(*args, timeout=120, **kw):
    """Run tlsprobe ARGS (cwd, umask, prefix as run_tlsprobe takes them)."""
    return tuple(run_tlsprobe(*args, timeout=timeout, **kw)[:3])


def tp_ok(*args, **kw):
    """Run tlsprobe and require exit 0 -> (stdout, stderr)."""
    rc, out, err = tp(*args, **kw)
    if rc != 0:
        raise AssertionError("tlsprobe %s -> exit %d\nstdout: %s\nstderr: %s"
                             % (" ".join(map(str, args)), rc, out[-3000:], err[-3000:]))
    return out, err


def tp_json(*args, timeout=120, **kw):
    """tlsprobe ARGS --json on files (cert / ca check): one object checked
    against the tlsprobe/1 shape of a file report."""
    return tuple(probe_json(*args, timeout=timeout, schema_check=check_file_schema, **kw)[:4])


def openssl_pki(directory):
    """root -> intermediate -> localhost leaf made with openssl (P-256,
    SHA-256), lifetimes outside the default 30 warning days; the extension
    sections root, inter, server (localhost, 127.0.0.1), client, nosan."""
    pki = Pki(directory)
    for name, lines in (("root", EXTENSIONS["v3_root"]), ("inter", EXTENSIONS["v3_inter"]),
                        ("server", leaf_ext(san="DNS:localhost,IP:127.0.0.1")),
                        ("client", EXTENSIONS["v3_client"]), ("nosan", leaf_ext(san=None))):
        pki.extensions(name, lines)
    pki.root = pki.issue("root", "/CN=openssl Test Root", "root", days=3650)
    pki.inter = pki.issue("inter", "/CN=openssl Test Intermediate", "inter", pki.root, days=1825)
    pki.leaf = pki.issue("leaf", "/CN=localhost", "server", pki.inter, days=365)
    pki.chain = pki.leaf.chain
    return pki


class CaCase(unittest.TestCase):
    maxDiff = None

    # -- making a CA with tlsprobe ------------------------------------------
    @staticmethod
    def init(cwd, ca="myca", *opts):
        return tp_ok("ca", "init", ca, *opts, cwd=cwd)

    @staticmethod
    def issue(cwd, ca, *args):
        return tp_ok("ca", "issue", ca, *args, cwd=cwd)

    # -- assertions -----------------------------------------------------------
    def assertOneLineError(self, rc, out, err, *words):
        """exit 3, nothing on stdout, one line on stderr holding every word."""
        self.assertEqual(rc, 3, "exit code\nstdout: %s\nstderr: %s" % (out, err))
        self.assertEqual(out, "", "stdout should be empty on a usage/file error")
        lines = err.strip("\n").split("\n")
        self.assertEqual(len(lines), 1, "stderr should be one line: %r" % err)
        self.assertTrue(lines[0].startswith("tlsprobe: "), err)
        for w in words:
            self.assertIn(w, lines[0])

    def assertReport(self, r, rc, status, reason, problem_codes):
        got_rc, obj = r[0], r[1]
        ctx = "\n" + harness.dump(obj) + "\nstderr: " + r[3][:500]
        self.assertEqual((got_rc, obj["status"], obj["reason"]), (rc, status, reason),
                         "(exit, status, reason)" + ctx)
        self.assertEqual(sorted(codes(obj)), sorted(problem_codes), "problem codes" + ctx)

    def assertProblemAt(self, obj, code, severity, cert_index):
        p = problem(obj, code)
        self.assertIsNotNone(p, "no %s problem\n%s" % (code, harness.dump(obj)))
        self.assertEqual((p["severity"], p["cert_index"]), (severity, cert_index),
                         harness.dump(obj))
        return p

    def assertVerdictLine(self, text, status, label, code):
        first = text.split("\n", 1)[0]
        rx = r"^%s\s+%s: .*\(%s\)$" % (status, re.escape(label), re.escape(code))
        self.assertRegex(first, rx, "verdict line of:\n" + text[:2000])

    def assertAbout(self, dt, expected, slack=datetime.timedelta(minutes=5)):
        self.assertLessEqual(abs(dt - expected), slack, "%s is not about %s" % (dt, expected))

    def assertNoTempFiles(self, directory):
        for dirpath, dirnames, filenames in os.walk(directory):
            for n in filenames + dirnames:
                self.assertNotIn(".tmp", n, "temporary file left behind: %s"
                                 % os.path.relpath(os.path.join(dirpath, n), directory))

    def assertUnchanged(self, before, directory):
        after = snapshot(directory)
        self.assertEqual(sorted(after), sorted(before), "directory listing changed")
        for k in before:
            self.assertEqual(after[k], before[k], "%s changed (kind, mode or bytes)" % k)


# ==========================================================================
# the whole path: init -> issue -> serve -> probe, and other tools agree
# ==========================================================================

class EndToEnd(CaCase):
    """ca init -> ca issue localhost 127.0.0.1 -> tlsprobe serve with the
    files ca issue names -> probes and independent clients."""

    @classmethod
    def setUpClass(cls):
        cls.work = tempdir(cls)
        cls.ca = os.path.join(cls.work, "myca")
        cls.init_out, _ = cls.init(cls.work)
        cls.issue_out, _ = cls.issue(cls.work, "myca", "localhost", "127.0.0.1")
        cls.root = os.path.join(cls.ca, "root.pem")
        cls.inter = os.path.join(cls.ca, "intermediate.pem")
        cls.leaf = os.path.join(cls.ca, "localhost.pem")
        cls.fullchain = os.path.join(cls.ca, "localhost.fullchain.pem")
        cls.key = os.path.join(cls.ca, "localhost.key")
        cls.srv = TlsprobeServeFor(cls, "--cert", "myca/localhost.fullchain.pem",
                                   "--key", "myca/localhost.key", cwd=cls.work)

    # -- what ca issue says, and what serve prints ----------------------------
    def test_issue_names_the_serve_command_with_these_files(self):
        self.assertIn("tlsprobe serve --cert myca/localhost.fullchain.pem "
                      "--key myca/localhost.key", self.issue_out)

    def test_serve_prints_listening_on_with_the_port(self):
        self.assertRegex(self.srv.read_log(), r"listening on 127\.0\.0\.1:%d\b" % self.srv.port)
        self.assertNotEqual(self.srv.port, 0)

    # -- tlsprobe against it ----------------------------------------------------
    def test_probe_without_ca_file_is_untrusted_root_and_the_fix_names_root_pem(self):
        r = probe_json("localhost:%d" % self.srv.port, "-4", "--no-system-ca")
        ctx = harness.dump(r.obj)
        self.assertEqual((r.rc, r.obj["status"], r.obj["reason"]),
                         (2, "critical", "untrusted-root"), ctx)
        self.assertEqual(codes(r.obj), ["untrusted-root"], ctx)
        p = self.assertProblemAt(r.obj, "untrusted-root", "critical", 1)
        self.assertIn("root.pem", p["fix"])
        self.assertIn("--ca-file", p["fix"])
        self.assertIn("tlsprobe Local Root CA", p["message"])
        # the server sends leaf + intermediate, never the root
        self.assertEqual([c["subject"] for c in r.obj["chain"]],
                         ["CN=localhost", "CN=tlsprobe Local Intermediate CA"], ctx)
        # and the text says the same
        rc, out, err, _ = run_tlsprobe("localhost:%d" % self.srv.port, "-4", "--no-system-ca",
                                               "--color", "never")
        self.assertEqual(rc, 2, out + err)
        self.assertVerdictLine(out, "CRITICAL", "localhost:%d" % self.srv.port, "untrusted-root")
        self.assertIn("root.pem", out)

    def test_probe_with_the_root_as_ca_file_verifies(self):
        for target in ("localhost:%d" % self.srv.port, "127.0.0.1:%d" % self.srv.port):
            with self.subTest(target=target):
                r = probe_json(target, "-4", "--no-system-ca", "--ca-file", self.root)
                ctx = harness.dump(r.obj)
                self.assertEqual((r.rc, r.obj["status"], r.obj["reason"]), (0, "ok", None), ctx)
                self.assertEqual(codes(r.obj), [], ctx)
                self.assertTrue(r.obj["verify"]["trusted"], ctx)
                self.assertTrue(r.obj["verify"]["hostname_ok"], ctx)
                self.assertEqual(r.obj["chain"][0]["sans"], ["localhost", "127.0.0.1"], ctx)

    def test_the_printed_ca_check_command_passes(self):
        m = re.search(r"^\s*tlsprobe (ca check .*)$", self.issue_out, re.M)
        self.assertIsNotNone(m, self.issue_out)
        args = m.group(1).split()
        self.assertEqual(args[:2], ["ca", "check"])
        self.assertIn("--key", args)
        rc, out, err = tp(*args, "--color", "never", cwd=self.work)
        self.assertEqual(rc, 0, out + err)
        self.assertTrue(out.startswith("OK "), out)

    # -- the same files, judged by other tools ------------------------------------
    def test_openssl_verify_accepts_the_chain(self):
        p = tool(["openssl", "verify", "-CAfile", self.root, "-untrusted", self.inter,
                   self.leaf])
        self.assertEqual(p.stdout.strip(), "%s: OK" % self.leaf)
        # and the purpose and name are right for a TLS server
        p = tool(["openssl", "verify", "-CAfile", self.root, "-untrusted", self.inter,
                   "-purpose", "sslserver", "-verify_hostname", "localhost",
                   "-verify_ip", "127.0.0.1", self.leaf])
        self.assertIn("OK", p.stdout)

    def test_certtool_verify_accepts_the_fullchain(self):
        harness.require_tools("certtool")
        p = tool(["certtool", "--verify", "--load-ca-certificate", self.root,
                   "--infile", self.fullchain])
        self.assertIn("Chain verification output: Verified", p.stdout + p.stderr)

    def test_curl_with_cacert_gets_200(self):
        for host in ("localhost", "127.0.0.1"):
            with self.subTest(host=host):
                p = curl(self.srv.port, self.root, host=host, status=True)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout.rstrip("\n").rsplit("\n", 1)[-1], "200", p.stdout)
                self.assertIn("tlsprobe reference server", p.stdout)

    def _unrelated_root(self):
        d = tempdir(self)
        self.init(d, "other")
        return os.path.join(d, "other", "root.pem")

    def test_curl_with_another_root_refuses(self):
        p = curl(self.srv.port, self._unrelated_root(), status=True)
        self.assertEqual(p.returncode, 60, p.stderr)     # peer certificate cannot be authenticated

    def test_python_ssl_trusting_root_pem_connects(self):
        for name in ("localhost", "127.0.0.1"):
            with self.subTest(server_hostname=name):
                status, data, peer = https_get_raw(self.srv.port, client_context(self.root), name)
                self.assertEqual(status, "HTTP/1.1 200 OK", data[:500])
                self.assertIn(("DNS", "localhost"), peer["subjectAltName"])
                self.assertIn(("IP Address", "127.0.0.1"), peer["subjectAltName"])

    def test_python_ssl_with_another_root_refuses(self):
        import ssl
        with self.assertRaises(ssl.SSLCertVerificationError):
            https_get_raw(self.srv.port, client_context(self._unrelated_root()), "localhost")

    def test_ssl_cert_file_advice_works_for_openssl_based_tools(self):
        # "OpenSSL tools: export SSL_CERT_FILE=myca/root.pem": Python's default
        # context (OpenSSL's default paths) picks it up
        code = ("import ssl,sys,urllib.request\n"
                "r = urllib.request.urlopen('https://localhost:%d/', timeout=10,"
                " context=ssl.create_default_context())\n"
                "print(r.status)\n" % self.srv.port)
        env = dict(os.environ, SSL_CERT_FILE="myca/root.pem")
        env.pop("SSL_CERT_DIR", None)
        env["NO_PROXY"] = env["no_proxy"] = "*"
        p = subprocess.run([sys.executable, "-c", code], cwd=self.work, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "200"), p.stderr[-2000:])

    # -- tlsprobe cert: the same facts as the probe -------------------------------
    FACTS = ("subject", "issuer", "serial", "not_before", "not_after", "sans", "key",
             "sig_alg", "sha256", "is_ca", "self_signed", "ca_issuers")

    def _facts(self, c):
        return {k: c[k] for k in self.FACTS}

    def test_cert_pem_bundle_shows_what_the_probe_shows(self):
        probe = probe_json("localhost:%d" % self.srv.port, "-4", "--no-system-ca",
                                   "--ca-file", self.root).obj
        rc, obj, out, err = tp_json("cert", self.fullchain)
        self.assertEqual(rc, 0, err)
        self.assertEqual(obj["target"]["input"], self.fullchain)
        self.assertEqual([self._facts(c) for c in obj["chain"]],
                         [self._facts(c) for c in probe["chain"]])
        for a, b in zip(obj["chain"], probe["chain"]):
            self.assertLessEqual(abs(a["days_remaining"] - b["days_remaining"]), 1)
        # sha256 as openssl computes it, for each PEM block of the file
        blocks = pem_blocks(self.fullchain)
        self.assertEqual(len(blocks), 2)
        self.assertEqual([c["sha256"] for c in obj["chain"]],
                         [sha256_of_pem(b) for b in blocks])
        self.assertEqual(obj["chain"][0]["sans"], ["localhost", "127.0.0.1"])
        self.assertEqual(obj["chain"][0]["subject"], "CN=localhost")
        self.assertEqual(obj["chain"][1]["subject"], "CN=tlsprobe Local Intermediate CA")

    def test_cert_der_file_shows_the_same_leaf(self):
        d = tempdir(self)
        der = os.path.join(d, "leaf.der")
        tool(["openssl", "x509", "-in", self.leaf, "-outform", "DER", "-out", der])
        rc, obj, out, err = tp_json("cert", der)
        self.assertEqual(rc, 0, err)
        _, pem, _, _ = tp_json("cert", self.leaf)
        self.assertEqual(len(obj["chain"]), 1)
        self.assertEqual(self._facts(obj["chain"][0]), self._facts(pem["chain"][0]))
        self.assertEqual(obj["chain"][0]["sha256"], X509(self.leaf).sha256())

    def test_cert_text_lists_subjects_names_and_fingerprints(self):
        rc, out, err = tp("cert", self.fullchain, "--color", "never")
        self.assertEqual(rc, 0, err)
        self.assertTrue(out.startswith("OK "), out)
        self.assertIn("not verified", out.split("\n", 1)[0])
        for path in (self.leaf, self.inter):
            self.assertIn(X509(path).sha256(), out)
        self.assertIn("CN=localhost", out)
        self.assertIn("CN=tlsprobe Local Intermediate CA", out)
        self.assertRegex(out, r"names\s+localhost, 127\.0\.0\.1")

    def test_cert_without_verify_is_ok_with_verify_null(self):
        rc, obj, _, err = tp_json("cert", self.fullchain, "--host", "wrong.example")
        self.assertEqual((rc, obj["status"], obj["reason"], obj["verify"]), (0, "ok", None, None))

    def test_cert_several_files_one_object_each(self):
        d = tempdir(self)
        der = os.path.join(d, "leaf.der")
        tool(["openssl", "x509", "-in", self.leaf, "-outform", "DER", "-out", der])
        rc, out, err = tp("cert", self.fullchain, der, "--json")
        self.assertEqual(rc, 0, err)
        objs = [harness.parse_json_line(l) for l in out.splitlines()]
        self.assertEqual([o["target"]["input"] for o in objs], [self.fullchain, der])
        for o in objs:
            check_file_schema(o)

    def test_cert_verify_with_the_root_is_ok(self):
        r = tp_json("cert", self.fullchain, "--verify", "--no-system-ca", "--ca-file",
                    self.root, "--host", "localhost")
        self.assertReport(r, 0, "ok", None, [])
        self.assertTrue(r[1]["verify"]["trusted"])
        self.assertEqual(r[1]["verify"]["name"], "localhost")
        rc, out, err = tp("cert", self.fullchain, "--verify", "--no-system-ca", "--ca-file",
                          self.root, "--host", "localhost", "--color", "never")
        self.assertEqual(rc, 0, err)
        self.assertTrue(out.startswith("OK "), out)

    def test_cert_verify_wrong_host_is_hostname_mismatch(self):
        r = tp_json("cert", self.fullchain, "--verify", "--no-system-ca", "--ca-file",
                    self.root, "--host", "wrong.example")
        self.assertReport(r, 2, "critical", "hostname-mismatch", ["hostname-mismatch"])
        p = self.assertProblemAt(r[1], "hostname-mismatch", "critical", 0)
        self.assertIn("localhost", p["message"])
        self.assertIn("127.0.0.1", p["message"])
        self.assertFalse(r[1]["verify"]["hostname_ok"])

    def test_cert_verify_without_the_root_is_untrusted_root(self):
        r = tp_json("cert", self.fullchain, "--verify", "--no-system-ca", "--host", "localhost")
        self.assertReport(r, 2, "critical", "untrusted-root", ["untrusted-root"])

    def test_cert_verify_at_after_expiry_is_expired(self):
        after = X509(self.leaf).not_after + DAY
        r = tp_json("cert", self.fullchain, "--verify", "--no-system-ca", "--ca-file",
                    self.root, "--host", "localhost", "--at", harness.iso(after))
        self.assertReport(r, 2, "critical", "expired", ["expired"])
        self.assertProblemAt(r[1], "expired", "critical", 0)

    def test_dash_reads_the_certificates_from_standard_input(self):
        rc, obj, _, err = tp_json("cert", self.fullchain)
        for data in (read(self.fullchain), openssl("x509", "-in", self.fullchain, "-outform", "DER")):
            rc2, obj2, _, err2 = tp_json("cert", "-", input=data)
            self.assertEqual((rc2, obj2["target"]["input"]), (rc, "-"), err2)
            self.assertEqual([c["sha256"] for c in obj2["chain"]],
                             [c["sha256"] for c in obj["chain"]][:len(obj2["chain"])], err2)
        self.assertEqual(len(obj["chain"]), 2)
        rc, out, err = tp("cert", "-", input=b"no certificate here\n")
        self.assertOneLineError(rc, out, err, "standard input holds no certificate")

    def assertBadCertFile(self, path, said):
        """tlsprobe cert PATH: a one-line error holding said; with --json, the
        same line and a bad-file object. Returns (object, stderr)."""
        rc, out, err = tp("cert", path)
        self.assertOneLineError(rc, out, err, said)
        rc, out, err = tp("cert", path, "--json")
        self.assertOneLineError(rc, "", err, said)
        obj = parse_json_line(out)
        check_failure(obj, path)
        self.assertEqual(obj["error"]["code"], "bad-file")
        return obj, err

    def test_cert_file_without_a_certificate_is_a_one_line_error(self):
        d = tempdir(self)
        cases = {
            "text": write(os.path.join(d, "notes.txt"), "no certificate here\n"),
            "empty": write(os.path.join(d, "empty.pem"), b""),
            "key only": self.key,
        }
        for what, path in cases.items():
            with self.subTest(what=what):
                obj, err = self.assertBadCertFile(path, path)
                self.assertEqual("tlsprobe: %s\n" % obj["error"]["message"], err)

    def test_certificate_that_does_not_parse_is_named_with_gnutls_reason(self):
        # openssl makes a certificate; one byte of its DER turns the
        # subjectKeyIdentifier's OID into the authorityKeyIdentifier's: two
        # AKIs, which GnuTLS refuses to import.
        d = tempdir(self)
        key, good = os.path.join(d, "k.pem"), os.path.join(d, "good.pem")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", key, "-subj", "/CN=broken.example", "-days", "30", "-out", good)
        der = bytearray(base64.b64decode("".join(read(good).decode().splitlines()[1:-1])))
        ski, aki = b"\x06\x03\x55\x1d\x0e", b"\x06\x03\x55\x1d\x23"
        self.assertIn(aki, der)
        der[der.index(ski) + 4] = 0x23
        body = base64.encodebytes(bytes(der)).decode()
        broken = "-----BEGIN CERTIFICATE-----\n%s-----END CERTIFICATE-----\n" % body
        lines = len(read(self.fullchain).decode().splitlines())
        path = write(os.path.join(d, "chain.pem"), read(self.fullchain).decode() + broken)
        said = "certificate 3 in %s (line %d) cannot be parsed: Duplicate extension" % (path, lines + 1)
        obj, _ = self.assertBadCertFile(path, said)
        self.assertIn(said, obj["error"]["message"])
        # the same for a CA file
        rc, out, err = tp("cert", self.fullchain, "--verify", "--ca-file", path)
        self.assertOneLineError(rc, out, err, "certificate 3 in CA file %s (line %d) cannot be parsed"
                                % (path, lines + 1))


def TlsprobeServeFor(cls, *args, cwd=None):
    srv = Serve(*args, "--listen", "127.0.0.1:0", cwd=cwd)
    cls.addClassCleanup(srv.stop)
    return srv


# ==========================================================================
# what the certificates hold (openssl x509 -text)
# ==========================================================================

class Contents(CaCase):

    @classmethod
    def setUpClass(cls):
        cls.work = tempdir(cls)
        cls.t0 = now()
        cls.init(cls.work)
        cls.issue(cls.work, "myca", "localhost", "127.0.0.1")
        cls.t1 = now()
        cls.ca = os.path.join(cls.work, "myca")
        cls.root = X509(os.path.join(cls.ca, "root.pem"))
        cls.inter = X509(os.path.join(cls.ca, "intermediate.pem"))
        cls.leaf = X509(os.path.join(cls.ca, "localhost.pem"))

    def p(self, name):
        return os.path.join(self.ca, name)

    def assertCaExtensions(self, c, pathlen):
        self.assertEqual(c.basic_constraints, "CA:TRUE, pathlen:%d" % pathlen, c.text)
        self.assertTrue(c.critical("X509v3 Basic Constraints"))
        self.assertIn("Certificate Sign", c.key_usage, c.text)
        self.assertIn("CRL Sign", c.key_usage, c.text)
        self.assertTrue(c.critical("X509v3 Key Usage"))
        self.assertIsNone(c.eku, "a CA certificate without an EKU restriction")
        self.assertRegex(c.ski or "", r"^[0-9A-F]{2}(:[0-9A-F]{2}){7,}$", c.text)

    def assertLeafBasics(self, c):
        self.assertEqual(c.basic_constraints, "CA:FALSE", c.text)
        self.assertTrue(c.critical("X509v3 Basic Constraints"))
        self.assertNotIn("Certificate Sign", c.key_usage or [])
        self.assertIn("Digital Signature", c.key_usage or [], c.text)
        self.assertIsNotNone(c.ski, c.text)

    def assertSerial(self, c):
        self.assertEqual(len(c.serial), 16, "serial should be 16 random bytes: %s"
                         % c.serial.hex())
        self.assertLess(c.serial[0], 0x80, "serial must be positive")
        self.assertNotEqual(c.serial[0], 0, "a 16-byte serial has no leading zero byte")

    def test_root(self):
        c = self.root
        self.assertEqual(c.subject, "CN = tlsprobe Local Root CA")
        self.assertEqual(c.issuer, c.subject)
        self.assertCaExtensions(c, 1)
        # a self-signed root may omit the AKI (RFC 5280 4.2.1.1); if present it is its own SKI
        self.assertIn(c.aki, (None, c.ski))
        self.assertEqual((c.key_alg, c.key_bits, c.curve), ("id-ecPublicKey", 256, "P-256"))
        self.assertEqual(c.sig_alg, "ecdsa-with-SHA256")
        self.assertAbout(c.not_after, self.t0 + 3650 * DAY, slack=datetime.timedelta(days=1))
        self.assertLessEqual(c.not_before, self.t0)

    def test_intermediate(self):
        c = self.inter
        self.assertEqual(c.subject, "CN = tlsprobe Local Intermediate CA")
        self.assertEqual(c.issuer, self.root.subject)
        self.assertCaExtensions(c, 0)
        self.assertEqual(c.aki, self.root.ski, "intermediate AKI must be the root's SKI")
        self.assertNotEqual(c.ski, self.root.ski)
        self.assertEqual((c.key_alg, c.key_bits, c.curve), ("id-ecPublicKey", 256, "P-256"))
        self.assertLessEqual(c.not_after, self.root.not_after)
        self.assertGreater(c.not_after, self.t0 + 365 * DAY)

    def test_leaf(self):
        c = self.leaf
        self.assertEqual(c.subject, "CN = localhost")
        self.assertEqual(c.issuer, self.inter.subject)
        self.assertEqual(c.sans, ["DNS:localhost", "IP Address:127.0.0.1"], c.text)
        self.assertLeafBasics(c)
        self.assertEqual(c.eku, ["TLS Web Server Authentication"])
        self.assertEqual(c.aki, self.inter.ski, "leaf AKI must be the intermediate's SKI")
        self.assertEqual((c.key_alg, c.key_bits, c.curve), ("id-ecPublicKey", 256, "P-256"))
        self.assertEqual(c.sig_alg, "ecdsa-with-SHA256")

    def test_leaf_lives_397_days_by_default(self):
        self.assertGreaterEqual(self.leaf.not_after, self.t0 + 397 * DAY - datetime.timedelta(minutes=1))
        self.assertLessEqual(self.leaf.not_after, self.t1 + 397 * DAY + datetime.timedelta(minutes=1))
        self.assertLessEqual(self.leaf.not_before, self.t0)

    def test_serials_are_random_16_bytes_and_differ(self):
        d = tempdir(self)
        self.init(d, "other")
        self.issue(d, "other", "localhost")
        self.issue(self.work, "myca", "localhost", "--out", os.path.join(d, "again"))
        certs = [self.root, self.inter, self.leaf, X509(os.path.join(d, "other", "root.pem")),
                 X509(os.path.join(d, "other", "intermediate.pem")),
                 X509(os.path.join(d, "other", "localhost.pem")), X509(os.path.join(d, "again.pem"))]
        for c in certs:
            self.assertSerial(c)
        serials = [c.serial for c in certs]
        self.assertEqual(len(set(serials)), len(serials), [s.hex() for s in serials])

    def test_fullchain_is_leaf_then_intermediate_without_the_root(self):
        blocks = pem_blocks(self.p("localhost.fullchain.pem"))
        self.assertEqual(blocks, [self.leaf.pem, self.inter.pem])
        self.assertEqual(pem_blocks(self.p("localhost.pem")), [self.leaf.pem])

    def test_ip_addresses_become_ip_sans(self):
        d = tempdir(self)
        self.init(d, "ca")
        self.issue(d, "ca", "::1", "127.0.0.1", "www.example.test", "10.1.2.3")
        c = X509(os.path.join(d, "ca", "__1.pem"))
        self.assertEqual(c.sans, ["IP Address:0:0:0:0:0:0:0:1", "IP Address:127.0.0.1",
                                  "DNS:www.example.test", "IP Address:10.1.2.3"], c.text)

    def test_client_certificate_has_client_auth(self):
        d = tempdir(self)
        self.init(d, "ca")
        out, _ = self.issue(d, "ca", "--client", "alice")
        c = X509(os.path.join(d, "ca", "alice.pem"))
        self.assertEqual(c.eku, ["TLS Web Client Authentication"])
        self.assertLeafBasics(c)
        self.assertEqual(c.subject, "CN = alice")
        self.assertIn("--client-cert", out)
        rc, out, err = tp("ca", "check", "--ca", "root.pem", "--cert", "alice.fullchain.pem",
                          "--key", "alice.key", "--client", cwd=os.path.join(d, "ca"))
        self.assertEqual(rc, 0, out + err)

    def test_days(self):
        d = tempdir(self)
        self.init(d, "ca")
        t0 = now()
        self.issue(d, "ca", "short.example", "--days", "30")
        c = X509(os.path.join(d, "ca", "short.example.pem"))
        self.assertAbout(c.not_after, t0 + 30 * DAY)

    def test_days_beyond_the_issuer_are_cut_with_a_note(self):
        d = tempdir(self)
        self.init(d, "ca")
        out, err = self.issue(d, "ca", "long.example", "--days", "5000")
        c = X509(os.path.join(d, "ca", "long.example.pem"))
        inter = X509(os.path.join(d, "ca", "intermediate.pem"))
        self.assertEqual(c.not_after, inter.not_after)
        self.assertIn("note", err)
        self.assertIn("5000", err)

    def test_init_days_sets_the_root_lifetime(self):
        d = tempdir(self)
        t0 = now()
        self.init(d, "ca", "--days", "1000")
        root = X509(os.path.join(d, "ca", "root.pem"))
        inter = X509(os.path.join(d, "ca", "intermediate.pem"))
        self.assertAbout(root.not_after, t0 + 1000 * DAY)
        self.assertLessEqual(inter.not_after, root.not_after)

    def test_key_type_rsa_is_3072(self):
        d = tempdir(self)
        self.init(d, "ca", "--key-type", "rsa")
        self.issue(d, "ca", "localhost", "--key-type", "rsa")
        for name in ("root.pem", "intermediate.pem", "localhost.pem"):
            c = X509(os.path.join(d, "ca", name))
            with self.subTest(cert=name):
                self.assertEqual((c.key_alg, c.key_bits), ("rsaEncryption", 3072), c.text)
                self.assertEqual(c.sig_alg, "sha256WithRSAEncryption")
        leaf = X509(os.path.join(d, "ca", "localhost.pem"))
        self.assertIn("Key Encipherment", leaf.key_usage)
        tool(["openssl", "verify", "-CAfile", os.path.join(d, "ca", "root.pem"), "-untrusted",
               os.path.join(d, "ca", "intermediate.pem"), os.path.join(d, "ca", "localhost.pem")])
        key = tool(["openssl", "pkey", "-in", os.path.join(d, "ca", "localhost.key"),
                     "-noout", "-text"]).stdout
        self.assertIn("3072 bit", key)

    def test_key_type_ed25519_leaf(self):
        d = tempdir(self)
        self.init(d, "ca")
        self.issue(d, "ca", "localhost", "--key-type", "ed25519")
        c = X509(os.path.join(d, "ca", "localhost.pem"))
        self.assertEqual(c.key_alg, "ED25519", c.text)
        self.assertLeafBasics(c)
        tool(["openssl", "verify", "-CAfile", os.path.join(d, "ca", "root.pem"), "-untrusted",
               os.path.join(d, "ca", "intermediate.pem"), os.path.join(d, "ca", "localhost.pem")])
        # and it serves: a probe verifies it
        with Serve("--cert", "ca/localhost.fullchain.pem", "--key", "ca/localhost.key",
                   "--listen", "127.0.0.1:0", cwd=d) as srv:
            r = probe_json("localhost:%d" % srv.port, "-4", "--no-system-ca", "--ca-file",
                             os.path.join(d, "ca", "root.pem"))
            self.assertEqual((r.rc, r.obj["status"]), (0, "ok"), harness.dump(r.obj))
            self.assertIn("ED25519", r.obj["chain"][0]["key"]["type"].upper(), harness.dump(r.obj))

    def test_key_type_ed25519_ca(self):
        d = tempdir(self)
        rc, out, err = tp("ca", "init", "ca", "--key-type", "ed25519", cwd=d)
        self.assertEqual(rc, 0, "ca init --key-type ed25519 failed\nstdout: %s\nstderr: %s"
                         % (out, err))
        self.issue(d, "ca", "localhost", "--key-type", "ed25519")
        for name in ("root.pem", "intermediate.pem", "localhost.pem"):
            c = X509(os.path.join(d, "ca", name))
            self.assertEqual((c.key_alg, c.sig_alg), ("ED25519", "ED25519"), c.text)
        tool(["openssl", "verify", "-CAfile", os.path.join(d, "ca", "root.pem"), "-untrusted",
               os.path.join(d, "ca", "intermediate.pem"), os.path.join(d, "ca", "localhost.pem")])

    def test_no_intermediate_makes_a_flat_ca_and_issue_signs_with_the_root(self):
        d = tempdir(self)
        out, _ = self.init(d, "flat", "--no-intermediate")
        self.assertEqual(sorted(os.listdir(os.path.join(d, "flat"))), ["root.key", "root.pem"])
        self.assertNotIn("intermediate", out)
        root = X509(os.path.join(d, "flat", "root.pem"))
        self.assertCaExtensions(root, 0)
        self.issue(d, "flat", "localhost", "127.0.0.1")
        leaf = X509(os.path.join(d, "flat", "localhost.pem"))
        self.assertEqual(leaf.issuer, root.subject)
        self.assertEqual(leaf.aki, root.ski)
        self.assertEqual(leaf.eku, ["TLS Web Server Authentication"])
        # the fullchain is the leaf alone: the root is never served
        self.assertEqual(pem_blocks(os.path.join(d, "flat", "localhost.fullchain.pem")),
                         [leaf.pem])
        tool(["openssl", "verify", "-CAfile", os.path.join(d, "flat", "root.pem"),
               os.path.join(d, "flat", "localhost.pem")])
        rc, out, err = tp("ca", "check", "--ca", "flat/root.pem", "--cert",
                          "flat/localhost.fullchain.pem", "--key", "flat/localhost.key",
                          "--host", "localhost", cwd=d)
        self.assertEqual(rc, 0, out + err)

    def test_flat_issue_output_does_not_promise_an_intermediate(self):
        d = tempdir(self)
        self.init(d, "flat", "--no-intermediate")
        out, _ = self.issue(d, "flat", "localhost")
        line = [l for l in out.splitlines() if "localhost.fullchain.pem" in l][0]
        self.assertNotIn("intermediate", line,
                         "a flat CA's fullchain holds the leaf only:\n" + out)

    def test_name(self):
        d = tempdir(self)
        self.init(d, "ca", "--name", "Example Corp")
        self.assertEqual(X509(os.path.join(d, "ca", "root.pem")).subject,
                         "CN = Example Corp Root CA")
        self.assertEqual(X509(os.path.join(d, "ca", "intermediate.pem")).subject,
                         "CN = Example Corp Intermediate CA")

    def test_out_prefix(self):
        d = tempdir(self)
        self.init(d, "ca")
        os.mkdir(os.path.join(d, "srv"))
        out, _ = self.issue(d, "ca", "localhost", "--out", "srv/web")
        self.assertEqual(sorted(os.listdir(os.path.join(d, "srv"))),
                         ["web.fullchain.pem", "web.key", "web.pem"])
        self.assertNotIn("localhost.pem", os.listdir(os.path.join(d, "ca")))
        self.assertIn("srv/web.fullchain.pem", out)


# ==========================================================================
# ca init output: how to trust the root
# ==========================================================================

class InitOutput(CaCase):

    def test_init_says_how_to_trust_the_root(self):
        d = tempdir(self)
        out, err = self.init(d, "myca")
        for want in ("--ca-file myca/root.pem",
                     "curl --cacert myca/root.pem",
                     'verify="myca/root.pem"',
                     "SSL_CERT_FILE=myca/root.pem",
                     "update-ca-certificates",
                     "/usr/local/share/ca-certificates/"):
            self.assertIn(want, out)
        self.assertIn("requests", out)
        # the files it made, keys marked as private
        for f in ("root.pem", "root.key", "intermediate.pem", "intermediate.key"):
            self.assertIn("myca/" + f, out)
        self.assertRegex(out, r"myca/root\.key.*0600")
        self.assertIn("tlsprobe ca issue myca localhost", out)


# ==========================================================================
# mutual TLS with a client certificate from ca issue --client
# ==========================================================================

class MutualTls(CaCase):

    @classmethod
    def setUpClass(cls):
        cls.work = tempdir(cls)
        cls.init(cls.work, "myca")
        cls.issue(cls.work, "myca", "localhost", "127.0.0.1")
        cls.issue(cls.work, "myca", "--client", "client1")
        cls.init(cls.work, "other", "--name", "Other")
        cls.issue(cls.work, "other", "--client", "rogue")
        j = lambda *p: os.path.join(cls.work, *p)
        cls.root, cls.inter = j("myca", "root.pem"), j("myca", "intermediate.pem")
        cls.client = j("myca", "client1.pem")
        cls.client_chain, cls.client_key = j("myca", "client1.fullchain.pem"), j("myca", "client1.key")
        cls.rogue_chain, cls.rogue_key = j("other", "rogue.fullchain.pem"), j("other", "rogue.key")

    # -- openssl s_server -Verify 1 -verify_return_error -CAfile root.pem ------
    def _s_server(self):
        j = lambda *p: os.path.join(self.work, *p)
        srv = harness.s_server(j("myca", "localhost.pem"), j("myca", "localhost.key"),
                               chain=self.inter,
                               extra=("-Verify", "1", "-verify_return_error",
                                      "-CAfile", self.root))
        self.addCleanup(srv.stop)
        return srv

    def test_openssl_s_server_accepts_the_client_cert_via_curl(self):
        srv = self._s_server()
        p = curl(srv.port, self.root, "--cert", self.client_chain, "--key", self.client_key,
                 status=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.rstrip("\n").rsplit("\n", 1)[-1], "200")
        # s_server -www shows the certificate the client sent
        self.assertRegex(p.stdout, r"Client certificate\n(.|\n)*Subject: ?CN ?= ?client1\n")
        # and without one it refuses
        p = curl(srv.port, self.root, status=True)
        self.assertNotEqual(p.returncode, 0)

    def test_openssl_s_server_accepts_the_client_cert_via_s_client(self):
        srv = self._s_server()
        base = ["openssl", "s_client", "-connect", srv.target, "-servername", "localhost",
                "-CAfile", self.root, "-verify_return_error", "-quiet"]
        p = tool(base + ["-cert", self.client, "-key", self.client_key,
                          "-cert_chain", self.inter],
                  input="GET / HTTP/1.0\r\n\r\n", check=False)
        self.assertIn("HTTP/1.0 200 ok", p.stdout, p.stderr[-2000:])
        p = tool(base, input="GET / HTTP/1.0\r\n\r\n", check=False)
        self.assertNotIn("HTTP/1.0 200 ok", p.stdout)

    def test_tlsprobe_probe_with_the_client_cert_against_s_server(self):
        srv = self._s_server()
        r = probe_json(srv.target, "--no-system-ca", "--ca-file", self.root,
                               "--client-cert", self.client_chain, "--client-key", self.client_key)
        self.assertEqual((r.rc, r.obj["status"]), (0, "ok"), harness.dump(r.obj))
        self.assertTrue(r.obj["tls"]["client_cert_requested"])
        r = probe_json(srv.target, "--no-system-ca", "--ca-file", self.root)
        self.assertEqual((r.rc, r.obj["reason"]), (2, "client-cert-required"), harness.dump(r.obj))

    # -- tlsprobe serve --client-ca root.pem --require-client-cert ---------------
    def _serve(self):
        d = tempdir(self)
        srv = Serve("--scenario", "good", "--client-ca", self.root, "--require-client-cert",
                    "--write-ca", "server-ca.pem", "--listen", "127.0.0.1:0", cwd=d)
        self.addCleanup(srv.stop)
        return srv, os.path.join(d, "server-ca.pem")

    def test_tlsprobe_serve_accepts_the_client_cert(self):
        srv, srv_ca = self._serve()
        r = probe_json(srv.target, "--sni", "localhost", "--no-system-ca", "--ca-file",
                               srv_ca, "--client-cert", self.client_chain,
                               "--client-key", self.client_key)
        ctx = harness.dump(r.obj)
        self.assertEqual((r.rc, r.obj["status"], r.obj["reason"], r.obj["error"]),
                         (0, "ok", None, None), ctx)
        self.assertTrue(r.obj["tls"]["client_cert_requested"], ctx)
        # an HTTP client gets 200 with the same certificate
        p = curl(srv.port, srv_ca, "--cert", self.client_chain, "--key", self.client_key,
                 status=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.rstrip("\n").rsplit("\n", 1)[-1], "200")
        self.assertIn("CN=client1", p.stdout)
        self.assertIn("client=CN=client1", srv.read_log())

    def test_tlsprobe_serve_python_ssl_client_cert(self):
        srv, srv_ca = self._serve()
        status, data, _ = https_get_raw(
            srv.port, client_context(srv_ca, self.client_chain, self.client_key), "localhost")
        self.assertEqual(status, "HTTP/1.1 200 OK", data[:500])

    def test_tlsprobe_serve_without_client_cert_is_client_cert_required(self):
        srv, srv_ca = self._serve()
        r = probe_json(srv.target, "--sni", "localhost", "--no-system-ca", "--ca-file",
                               srv_ca)
        self.assertEqual((r.rc, r.obj["status"], r.obj["reason"]),
                         (2, "critical", "client-cert-required"), harness.dump(r.obj))
        self.assertEqual(r.obj["error"]["code"], "client-cert-required")

    def test_tlsprobe_serve_refuses_a_client_cert_from_another_ca(self):
        srv, srv_ca = self._serve()
        r = probe_json(srv.target, "--sni", "localhost", "--no-system-ca", "--ca-file",
                               srv_ca, "--client-cert", self.rogue_chain,
                               "--client-key", self.rogue_key)
        self.assertEqual((r.rc, r.obj["reason"]), (2, "client-cert-rejected"),
                         harness.dump(r.obj))

    def test_ca_check_purpose_of_the_client_cert(self):
        r = tp_json("ca", "check", "--ca", self.root, "--cert", self.client_chain,
                    "--key", self.client_key, "--client")
        self.assertReport(r, 0, "ok", None, [])
        r = tp_json("ca", "check", "--ca", self.root, "--cert", self.client_chain,
                    "--key", self.client_key)
        self.assertReport(r, 2, "critical", "purpose-mismatch", ["purpose-mismatch"])


# ==========================================================================
# ca issue --csr
# ==========================================================================

class Csr(CaCase):

    @classmethod
    def setUpClass(cls):
        cls.work = tempdir(cls)
        cls.init(cls.work, "myca")
        cls.ca = os.path.join(cls.work, "myca")
        cls.csr_key = os.path.join(cls.work, "req.key")
        tool(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
               "-out", cls.csr_key])
        cls.csr = os.path.join(cls.work, "req.csr")
        tool(["openssl", "req", "-new", "-key", cls.csr_key, "-subj", "/CN=csr.example",
               "-config", write(os.path.join(cls.work, "req.cnf"),
                                  "[req]\ndistinguished_name=dn\n[dn]\n"),
               "-addext", "basicConstraints=critical,CA:TRUE",
               "-addext", "keyUsage=critical,keyCertSign,cRLSign",
               "-addext", "extendedKeyUsage=codeSigning",
               "-addext", "subjectAltName=DNS:csr.example,DNS:www.csr.example,IP:127.0.0.1",
               "-out", cls.csr])
        text = tool(["openssl", "req", "-in", cls.csr, "-noout", "-text"]).stdout
        assert "CA:TRUE" in text and "Certificate Sign" in text, text

    def cn_only_csr(self, subj):
        path = os.path.join(self.work, "cn-only-%d.csr" % abs(hash(subj)))
        tool(["openssl", "req", "-new", "-key", self.csr_key, "-subj", subj, "-config",
              write(os.path.join(self.work, "plain.cnf"), "[req]\ndistinguished_name=dn\n[dn]\n"),
              "-out", path])
        return path

    def test_cn_only_request_gets_its_cn_as_a_subject_alt_name(self):
        for cn, san in (("cn-only.example", "DNS:cn-only.example"), ("127.0.0.2", "IP Address:127.0.0.2")):
            with self.subTest(cn=cn):
                rc, out, err = tp("ca", "issue", "myca", "--csr", self.cn_only_csr("/CN=" + cn), cwd=self.work)
                self.assertEqual(rc, 0, out + err)
                self.assertIn("its CN '%s' is copied into one" % cn, err)
                c = X509(os.path.join(self.ca, cn + ".pem"))
                self.assertEqual(c.sans, [san], c.text)

    def test_request_without_any_name_is_refused(self):
        rc, out, err = tp("ca", "issue", "myca", "--csr", self.cn_only_csr("/O=No Name Inc"), cwd=self.work)
        self.assertOneLineError(rc, out, err, "names no host", "give the names on the command line")

    def test_issued_cert_keeps_only_the_names(self):
        before = set(os.listdir(self.ca))
        out, _ = self.issue(self.work, "myca", "--csr", self.csr)
        made = set(os.listdir(self.ca)) - before
        # no key: the requester has it
        self.assertEqual(made, {"csr.example.pem", "csr.example.fullchain.pem"})
        c = X509(os.path.join(self.ca, "csr.example.pem"))
        self.assertEqual(c.sans, ["DNS:csr.example", "DNS:www.csr.example",
                                  "IP Address:127.0.0.1"], c.text)
        self.assertEqual(c.basic_constraints, "CA:FALSE", c.text)
        self.assertNotIn("Certificate Sign", c.key_usage)
        self.assertNotIn("CRL Sign", c.key_usage)
        self.assertEqual(c.eku, ["TLS Web Server Authentication"], c.text)
        self.assertEqual(c.subject, "CN = csr.example")
        # the requester's key
        a = tool(["openssl", "req", "-in", self.csr, "-noout", "-pubkey"]).stdout
        b = tool(["openssl", "x509", "-in", c.path, "-noout", "-pubkey"]).stdout
        self.assertEqual(a, b)
        tool(["openssl", "verify", "-CAfile", os.path.join(self.ca, "root.pem"), "-untrusted",
               os.path.join(self.ca, "intermediate.pem"), c.path])
        rc, out, err = tp("ca", "check", "--ca", "myca/root.pem", "--cert",
                          "myca/csr.example.fullchain.pem", "--key", self.csr_key,
                          "--host", "www.csr.example", cwd=self.work)
        self.assertEqual(rc, 0, out + err)

    def test_der_csr_and_client(self):
        der = os.path.join(tempdir(self), "req.der")
        tool(["openssl", "req", "-in", self.csr, "-outform", "DER", "-out", der])
        self.issue(self.work, "myca", "--csr", der, "--client", "--out", "myca/der-client")
        c = X509(os.path.join(self.ca, "der-client.pem"))
        self.assertEqual(c.eku, ["TLS Web Client Authentication"])
        self.assertEqual(c.basic_constraints, "CA:FALSE")

    def test_csr_with_a_bad_signature_is_refused(self):
        d = tempdir(self)
        der = bytearray(harness.pki.pem_to_der(read(self.csr)))
        # the signature BIT STRING is last: flip a bit inside r or s
        der[-5] ^= 0x01
        import base64
        b64 = base64.b64encode(bytes(der)).decode()
        bad = write(os.path.join(d, "bad.csr"),
                      "-----BEGIN CERTIFICATE REQUEST-----\n" +
                      "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64)) +
                      "\n-----END CERTIFICATE REQUEST-----\n")
        p = tool(["openssl", "req", "-in", bad, "-noout", "-verify"], check=False)
        self.assertNotIn("verify OK", p.stdout + p.stderr, "the forged CSR must not verify")
        before = snapshot(self.ca)
        rc, out, err = tp("ca", "issue", "myca", "--csr", bad, cwd=self.work)
        self.assertOneLineError(rc, out, err, bad)
        self.assertUnchanged(before, self.ca)


# ==========================================================================
# ca check on setups made with openssl
# ==========================================================================

class Check(CaCase):

    @classmethod
    def setUpClass(cls):
        cls.work = tempdir(cls)
        pki = cls.pki = openssl_pki(cls.work)
        p = pki.p
        cls.root = pki.root.cert
        # a second key, unrelated
        cls.other_key = pki.key("other")
        # intermediate before the leaf
        cls.reversed = cat(p("reversed.pem"), pki.inter.cert, pki.leaf.cert)
        # leaf, root, intermediate
        cls.root_first = cat(p("leaf-root-inter.pem"), pki.leaf.cert, pki.root.cert,
                               pki.inter.cert)
        # issued by the leaf (CA:FALSE)
        cls.notca = pki.issue("notca", "/CN=issued by a leaf", "server", pki.leaf, days=100)
        cls.notca_chain = cat(p("notca-chain.pem"), cls.notca.cert, pki.leaf.cert,
                                pki.inter.cert)
        # no subjectAltName: CN=localhost, and CN=other.example
        cls.nosan = pki.issue("nosan", "/CN=localhost", "nosan", pki.inter, days=365)
        cls.nosan_chain = cat(p("nosan-chain.pem"), cls.nosan.cert, pki.inter.cert)
        cls.nosan2 = pki.issue("nosan2", "/CN=other.example", "nosan", pki.inter, days=365)
        cls.nosan2_chain = cat(p("nosan2-chain.pem"), cls.nosan2.cert, pki.inter.cert)
        # an intermediate that ends in 60 days, and a leaf of 365 days under it
        cls.short_inter = pki.issue("short-inter", "/CN=openssl Short Intermediate", "inter",
                                    pki.root, days=60)
        cls.outliving = pki.issue("outliving", "/CN=localhost", "server", cls.short_inter,
                                  days=365)
        cls.outliving_chain = cat(p("outliving-chain.pem"), cls.outliving.cert,
                                    cls.short_inter.cert)
        # a client certificate
        cls.client = pki.issue("client", "/CN=openssl client", "client", pki.inter, days=365)
        cls.client_chain = cat(p("client-chain.pem"), cls.client.cert, pki.inter.cert)

    def check(self, *args):
        r = tp_json("ca", "check", "--ca", self.root, *args)
        rc, out, err = tp("ca", "check", "--ca", self.root, *args, "--color", "never")
        self.assertEqual(rc, r[0], "text and JSON runs disagree on the exit code")
        return r, out

    def assertText(self, out, status, certfile, code):
        self.assertVerdictLine(out, status, certfile, code)
        self.assertIn("Problems", out)
        self.assertRegex(out, r"\n  %s %s" % (status, re.escape(code)))
        self.assertIn("Fix:", out)

    def test_good_setup_is_ok(self):
        r, out = self.check("--cert", self.pki.chain, "--key", self.pki.leaf.key,
                            "--host", "localhost")
        self.assertReport(r, 0, "ok", None, [])
        self.assertTrue(r[1]["verify"]["trusted"])
        self.assertTrue(out.startswith("OK  %s: " % self.pki.chain), out)
        self.assertNotIn("Problems", out)

    def test_key_mismatch(self):
        r, out = self.check("--cert", self.pki.chain, "--key", self.other_key,
                            "--host", "localhost")
        self.assertReport(r, 2, "critical", "key-mismatch", ["key-mismatch"])
        p = self.assertProblemAt(r[1], "key-mismatch", "critical", 0)
        self.assertIn(self.other_key, p["message"])
        self.assertIn("openssl", p["fix"])
        self.assertText(out, "CRITICAL", self.pki.chain, "key-mismatch")

    def test_key_that_cannot_be_read(self):
        rc, out, err = tp("ca", "check", "--ca", self.root, "--cert", self.pki.chain,
                          "--key", os.path.join(self.work, "no-such.key"))
        self.assertOneLineError(rc, out, err, "no-such.key")

    def test_missing_intermediate(self):
        r, out = self.check("--cert", self.pki.leaf.cert, "--key", self.pki.leaf.key,
                            "--host", "localhost")
        self.assertReport(r, 2, "critical", "missing-intermediate", ["missing-intermediate"])
        p = self.assertProblemAt(r[1], "missing-intermediate", "critical", 0)
        self.assertIn("openssl Test Intermediate", p["message"])
        self.assertText(out, "CRITICAL", self.pki.leaf.cert, "missing-intermediate")

    def test_wrong_order_intermediate_before_leaf(self):
        # the chain file starts with the intermediate: a server would present
        # the CA certificate as its own (nginx refuses the key).  The cause to
        # report is the order, naming the leaf that must come first.
        r, out = self.check("--cert", self.reversed, "--key", self.pki.leaf.key,
                            "--host", "localhost")
        obj = r[1]
        ctx = harness.dump(obj)
        self.assertIn("chain-order", codes(obj), ctx)
        p = problem(obj, "chain-order")
        self.assertIn("localhost", p["message"], ctx)
        self.assertEqual((r[0], obj["status"], obj["reason"]), (2, "critical", "chain-order"),
                         "the verdict should name the order as the cause\n" + ctx)
        self.assertVerdictLine(out, "CRITICAL", self.reversed, "chain-order")

    def test_wrong_order_root_before_intermediate(self):
        r, out = self.check("--cert", self.root_first, "--key", self.pki.leaf.key,
                            "--host", "localhost")
        self.assertReport(r, 1, "warning", "chain-order", ["chain-order"])
        p = self.assertProblemAt(r[1], "chain-order", "warning", 2)
        self.assertIn("out of order", p["message"])
        self.assertText(out, "WARNING", self.root_first, "chain-order")

    def test_issuer_not_ca(self):
        r, out = self.check("--cert", self.notca_chain, "--key", self.notca.key)
        self.assertReport(r, 2, "critical", "issuer-not-ca", ["issuer-not-ca"])
        p = self.assertProblemAt(r[1], "issuer-not-ca", "critical", 1)
        self.assertIn("CA:TRUE", p["message"])
        self.assertText(out, "CRITICAL", self.notca_chain, "issuer-not-ca")

    def test_leaf_without_san_matching_only_the_cn(self):
        # critical when only the CN matches: Chrome and Go ignore it
        r, out = self.check("--cert", self.nosan_chain, "--key", self.nosan.key,
                            "--host", "localhost")
        self.assertReport(r, 2, "critical", "hostname-mismatch", ["hostname-mismatch"])
        p = self.assertProblemAt(r[1], "hostname-mismatch", "critical", 0)
        self.assertIn("subjectAltName", p["message"])
        self.assertEqual(p["refused_by"], ["chrome", "go"])
        self.assertText(out, "CRITICAL", self.nosan_chain, "hostname-mismatch")
        # OpenSSL still matches the CN: judged as OpenSSL, all is well
        r, out = self.check("--cert", self.nosan_chain, "--key", self.nosan.key,
                            "--host", "localhost", "--as", "openssl")
        self.assertReport(r, 1, "warning", "hostname-mismatch", ["hostname-mismatch"])

    def test_leaf_without_san_other_name(self):
        r, out = self.check("--cert", self.nosan2_chain, "--key", self.nosan2.key,
                            "--host", "localhost")
        self.assertReport(r, 2, "critical", "hostname-mismatch", ["hostname-mismatch"])
        p = self.assertProblemAt(r[1], "hostname-mismatch", "critical", 0)
        self.assertIn("other.example", p["message"])
        self.assertText(out, "CRITICAL", self.nosan2_chain, "hostname-mismatch")

    def test_leaf_outliving_its_ca(self):
        r, out = self.check("--cert", self.outliving_chain, "--key", self.outliving.key,
                            "--host", "localhost")
        self.assertReport(r, 1, "warning", "outlives-issuer", ["outlives-issuer"])
        p = self.assertProblemAt(r[1], "outlives-issuer", "warning", 0)
        self.assertIn("openssl Short Intermediate", p["message"])
        self.assertIn(X509(self.short_inter.cert).not_after.strftime("%Y-%m-%d"), p["message"])
        self.assertText(out, "WARNING", self.outliving_chain, "outlives-issuer")

    def test_client_on_a_server_cert_is_purpose_mismatch(self):
        r, out = self.check("--cert", self.pki.chain, "--key", self.pki.leaf.key, "--client")
        self.assertReport(r, 2, "critical", "purpose-mismatch", ["purpose-mismatch"])
        p = self.assertProblemAt(r[1], "purpose-mismatch", "critical", 0)
        self.assertIn("clientAuth", p["message"])
        self.assertIn("--client", p["fix"])
        self.assertText(out, "CRITICAL", self.pki.chain, "purpose-mismatch")

    def test_client_on_a_client_cert_is_ok(self):
        r, out = self.check("--cert", self.client_chain, "--key", self.client.key, "--client")
        self.assertReport(r, 0, "ok", None, [])

    def test_quiet_is_the_verdict_line(self):
        rc, out, err = tp("ca", "check", "--ca", self.root, "--cert", self.pki.chain,
                          "--key", self.other_key, "-q", "--color", "never")
        self.assertEqual(rc, 2)
        self.assertEqual(out.count("\n"), 1, out)
        self.assertVerdictLine(out.rstrip("\n"), "CRITICAL", self.pki.chain, "key-mismatch")


# ==========================================================================
# file safety: modes, no overwrite, all or nothing
# ==========================================================================

class FileSafety(CaCase):

    def assertModes(self, directory):
        for n in os.listdir(directory):
            want = 0o600 if n.endswith(".key") else 0o644
            self.assertEqual(oct(mode(os.path.join(directory, n))), oct(want), n)

    def test_modes_under_umask_022_and_000(self):
        for umask in (0o022, 0o000):
            with self.subTest(umask=oct(umask)):
                d = tempdir(self)
                tp_ok("ca", "init", "ca", cwd=d, umask=umask)
                tp_ok("ca", "issue", "ca", "localhost", cwd=d, umask=umask)
                tp_ok("ca", "issue", "ca", "--client", "c1", cwd=d, umask=umask)
                ca = os.path.join(d, "ca")
                self.assertEqual(len(os.listdir(ca)), 10)
                self.assertModes(ca)

    def test_parallel_issue_force_of_one_name_leaves_one_consistent_set(self):
        d = tempdir(self)
        self.init(d, "ca")
        ca = os.path.join(d, "ca")
        argv = [harness.tlsprobe_path(), "ca", "issue", "ca", "localhost", "--force"]
        for _ in range(4):
            procs = [subprocess.Popen(argv, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                     for _ in range(16)]
            results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
            for p in procs:
                p.stderr.close()
            self.assertEqual([r for r in results if r[0] != 0 or r[1]], [])
            chain = pem_blocks(os.path.join(ca, "localhost.fullchain.pem"))
            self.assertEqual(chain[0], pem_blocks(os.path.join(ca, "localhost.pem"))[0])
            key_pub = harness.openssl("pkey", "-in", os.path.join(ca, "localhost.key"), "-pubout")
            crt_pub = harness.openssl("x509", "-in", os.path.join(ca, "localhost.pem"), "-noout", "-pubkey")
            self.assertEqual(key_pub, crt_pub, "the key does not belong to the certificate")
            self.assertEqual(sorted(n for n in os.listdir(ca) if ".tmp-" in n or ".old-" in n), [])

    def test_dangling_symlink_in_the_way_is_an_existing_file(self):
        d = tempdir(self)
        self.init(d, "ca")
        os.symlink(os.path.join(d, "nowhere.pem"), os.path.join(d, "ca", "web.pem"))
        rc, out, err = tp("ca", "issue", "ca", "web", cwd=d)
        self.assertOneLineError(rc, out, err, "ca/web.pem exists already", "--force")
        self.assertFalse(os.path.exists(os.path.join(d, "nowhere.pem")))

    def test_second_init_refuses_and_changes_nothing(self):
        d = tempdir(self)
        self.init(d, "ca")
        before = snapshot(d)
        rc, out, err = tp("ca", "init", "ca", cwd=d)
        self.assertOneLineError(rc, out, err, "exists", "--force")
        self.assertUnchanged(before, d)
        # also when only one of the files is there
        os.unlink(os.path.join(d, "ca", "intermediate.key"))
        before = snapshot(d)
        rc, out, err = tp("ca", "init", "ca", cwd=d)
        self.assertEqual(rc, 3, out + err)
        self.assertUnchanged(before, d)

    def test_init_force_replaces_everything(self):
        d = tempdir(self)
        self.init(d, "ca")
        before = snapshot(d)
        self.init(d, "ca", "--force")
        after = snapshot(d)
        self.assertEqual(sorted(after), sorted(before))
        for f in ("root.pem", "root.key", "intermediate.pem", "intermediate.key"):
            self.assertNotEqual(after["ca/" + f][2], before["ca/" + f][2], f)
        self.assertModes(os.path.join(d, "ca"))
        self.assertNoTempFiles(d)
        self.issue(d, "ca", "localhost")
        tool(["openssl", "verify", "-CAfile", "ca/root.pem", "-untrusted",
               "ca/intermediate.pem", "ca/localhost.pem"], cwd=d)

    def test_init_force_no_intermediate_over_a_two_level_ca(self):
        # the new flat root must be the one issue signs with: a leftover
        # intermediate of the old root must not be used
        d = tempdir(self)
        self.init(d, "ca")
        self.init(d, "ca", "--force", "--no-intermediate")
        self.issue(d, "ca", "localhost")
        rc, out, err = tp("ca", "check", "--ca", "ca/root.pem", "--cert",
                          "ca/localhost.fullchain.pem", "--key", "ca/localhost.key",
                          "--host", "localhost", "-q", cwd=d)
        self.assertEqual(rc, 0, "a leaf issued after 'ca init --force --no-intermediate' does "
                         "not chain to the new root:\n" + out + err)

    def test_second_issue_refuses_and_force_replaces(self):
        d = tempdir(self)
        self.init(d, "ca")
        self.issue(d, "ca", "localhost")
        before = snapshot(d)
        rc, out, err = tp("ca", "issue", "ca", "localhost", cwd=d)
        self.assertOneLineError(rc, out, err, "exists", "--force")
        self.assertUnchanged(before, d)
        self.issue(d, "ca", "localhost", "--force")
        after = snapshot(d)
        self.assertEqual(sorted(after), sorted(before))
        for f in ("localhost.pem", "localhost.key", "localhost.fullchain.pem"):
            self.assertNotEqual(after["ca/" + f][2], before["ca/" + f][2], f)
        self.assertModes(os.path.join(d, "ca"))
        self.assertNoTempFiles(d)
        rc, out, err = tp("ca", "check", "--ca", "ca/root.pem", "--cert",
                          "ca/localhost.fullchain.pem", "--key", "ca/localhost.key", cwd=d)
        self.assertEqual(rc, 0, out + err)

    def test_issue_with_a_corrupt_intermediate_key_leaves_nothing(self):
        d = tempdir(self)
        self.init(d, "ca")
        write(os.path.join(d, "ca", "intermediate.key"),
                "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
        before = snapshot(d)
        rc, out, err = tp("ca", "issue", "ca", "localhost", cwd=d)
        self.assertOneLineError(rc, out, err, "intermediate.key")
        self.assertUnchanged(before, d)

    def test_issue_with_a_corrupt_intermediate_cert_leaves_nothing(self):
        d = tempdir(self)
        self.init(d, "ca")
        write(os.path.join(d, "ca", "intermediate.pem"), "garbage\n")
        before = snapshot(d)
        rc, out, err = tp("ca", "issue", "ca", "localhost", cwd=d)
        self.assertOneLineError(rc, out, err, "intermediate.pem")
        self.assertUnchanged(before, d)

    def test_issue_with_an_unreadable_intermediate_key_leaves_nothing(self):
        d = tempdir(self)
        self.init(d, "ca")
        prefix = unprivileged_prefix()
        give_to_unprivileged(d)
        make_unreadable(os.path.join(d, "ca", "intermediate.key"))
        before = snapshot(d)
        rc, out, err = tp("ca", "issue", "ca", "localhost", cwd=d, prefix=prefix)
        self.assertOneLineError(rc, out, err, "intermediate.key")
        self.assertUnchanged(before, d)
        self.assertNotIn("no such file", err.lower(),
                         "the key exists; the error should say it cannot be read")

    def test_issue_out_under_a_missing_directory_leaves_nothing(self):
        d = tempdir(self)
        self.init(d, "ca")
        before = snapshot(d)
        for out_prefix in ("nodir/web", "ca/root.pem/web"):      # ENOENT, ENOTDIR
            with self.subTest(out=out_prefix):
                rc, out, err = tp("ca", "issue", "ca", "localhost", "--out", out_prefix, cwd=d)
                self.assertOneLineError(rc, out, err, out_prefix)
                self.assertUnchanged(before, d)

    def test_issue_out_into_a_read_only_directory_leaves_nothing(self):
        d = tempdir(self)
        self.init(d, "ca")
        ro = os.path.join(d, "ro")
        os.mkdir(ro)
        write(os.path.join(ro, "existing.txt"), "keep\n")
        prefix = readonly_prefix(ro)
        self.addCleanup(os.chmod, ro, 0o755)
        before = snapshot(d)
        rc, out, err = tp("ca", "issue", "ca", "localhost", "--out", "ro/web", cwd=d,
                          prefix=prefix)
        self.assertOneLineError(rc, out, err, "ro/web")
        self.assertUnchanged(before, d)

    def test_init_into_a_read_only_directory_leaves_nothing(self):
        d = tempdir(self)
        ro = os.path.join(d, "ro")
        os.mkdir(ro)
        prefix = readonly_prefix(ro)
        self.addCleanup(os.chmod, ro, 0o755)
        before = snapshot(d)
        for target in ("ro", "ro/newca"):
            with self.subTest(dir=target):
                rc, out, err = tp("ca", "init", target, cwd=d, prefix=prefix)
                self.assertOneLineError(rc, out, err, target)
                self.assertUnchanged(before, d)

    def test_failure_after_some_files_were_written_leaves_nothing(self):
        # a prefix whose .key and .pem temporary names fit in NAME_MAX (255)
        # but whose .fullchain.pem one does not: the key and the certificate
        # are written, then the third file fails -> everything is taken back
        d = tempdir(self)
        self.init(d, "ca")
        name = "w" * 235         # + ".key.tmp-XXXXXX" = 250, + ".fullchain.pem.tmp-XXXXXX" = 260
        before = snapshot(d)
        rc, out, err = tp("ca", "issue", "ca", "localhost", "--out", "ca/" + name, cwd=d)
        self.assertOneLineError(rc, out, err, "fullchain.pem")
        self.assertUnchanged(before, d)
        self.assertNoTempFiles(d)

    def test_failed_force_replacement_changes_nothing(self):
        # --force replaces all three files or none: here the third cannot be
        # replaced (a directory stands where localhost.pem was)
        d = tempdir(self)
        self.init(d, "ca")
        self.issue(d, "ca", "localhost")
        os.unlink(os.path.join(d, "ca", "localhost.pem"))
        os.mkdir(os.path.join(d, "ca", "localhost.pem"))
        write(os.path.join(d, "ca", "localhost.pem", "keep"), "x")
        before = snapshot(d)
        rc, out, err = tp("ca", "issue", "ca", "localhost", "--force", cwd=d)
        self.assertEqual(rc, 3, out + err)
        self.assertNoTempFiles(d)
        self.assertUnchanged(before, d)


if __name__ == "__main__":
    unittest.main()
