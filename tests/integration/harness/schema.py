"""The tlsprobe/1 JSON contract (tlsprobe-json(7)): a strict JSON line
parser and the shape checks of a probe's record, a fetch's, a report about
files and a batch record; small readers of a record's problems."""

import datetime
import json

def _no_dupes(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate keys in JSON object: %r" % keys)
    return dict(pairs)


def _bad_constant(name):
    raise ValueError("non-standard JSON constant %s" % name)


def parse_json_line(line):
    """Strict JSON parse (no raw control chars in strings, no NaN, no dup keys)."""
    return json.loads(line, strict=True, object_pairs_hook=_no_dupes,
                      parse_constant=_bad_constant)


def ndjson(text):
    """Strictly parse NDJSON output (every line an object; ends with LF)."""
    if text == "":
        return []
    if not text.endswith("\n"):
        raise AssertionError("NDJSON does not end with a newline: %r" % text[-200:])
    objs = []
    for line in text[:-1].split("\n"):
        obj = parse_json_line(line)
        if not isinstance(obj, dict):
            raise AssertionError("NDJSON line is not an object: %r" % line[:300])
        objs.append(obj)
    return objs


STATUSES = ("ok", "warning", "critical", "unknown")
# Every code tlsprobe-json(7) documents; the unit tests pin the table itself.
PROBLEM_CODES = ("missing-intermediate", "untrusted-root", "self-signed", "hostname-mismatch",
                 "expired", "not-yet-valid", "expires-soon", "insecure-algorithm",
                 "issuer-not-ca", "signature-failure", "purpose-mismatch", "revoked",
                 "unknown-issuer", "verify-failed", "chain-order", "weak-key", "ocsp-missing",
                 "ocsp-invalid", "pathlen-exceeded", "name-constraints", "key-mismatch", "key-id-mismatch",
                 "outlives-issuer", "crl-invalid", "crl-stale", "revocation-unknown", "http-status",
                 "body-mismatch", "header-mismatch", "too-slow", "insecure-redirect", "no-close-notify",
                 "client-cert-unconfirmed", "unknown-critical-extension", "profile-violation",
                 "obsolete-protocol", "weak-cipher", "tls-compression", "insecure-renegotiation", "weak-dh",
                 "no-forward-secrecy", "no-fallback-scsv", "client-cipher-order", "no-tls13", "addresses-differ")
# The clients of the model, in the order tlsprobe lists them.
CLIENT_NAMES = ("openssl", "gnutls", "python", "nss", "chrome", "go", "java")
ERROR_CODES = ("dns-failure", "connection-refused", "connection-failed", "timeout", "not-tls",
               "handshake-failure", "protocol-version", "no-shared-cipher", "client-cert-required",
               "client-cert-rejected", "proxy-failed",
               "starttls-refused", "fetch-failed", "internal-error", "purpose-mismatch")


def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _hex(v):
    return isinstance(v, str) and v != "" and all(c in "0123456789abcdef" for c in v)


def _date(v):
    if not isinstance(v, str):
        return False
    try:
        datetime.datetime.strptime(v, "%Y-%m-%dT%H:%M:%SZ")
        return True
    except ValueError:
        return False


def _check(cond, path, value, what):
    if not cond:
        raise AssertionError("JSON schema: %s should be %s, got %r" % (path, what, value))


def _keys(obj, path, keys):
    _check(isinstance(obj, dict), path, obj, "an object")
    missing = [k for k in keys if k not in obj]
    _check(not missing, path, sorted(obj), "an object with keys %s (missing %s)"
           % (list(keys), missing))


def check_schema(o):
    """Assert that o follows the tlsprobe/1 JSON shape of the spec."""
    _keys(o, "$", ("schema", "target", "status", "reason", "timing_ms", "tls", "chain",
                   "client_cert", "verify", "clients", "addresses", "error"))
    adr = o["addresses"]
    _check(adr is None or (isinstance(adr, list) and len(adr) > 1 and all(
        isinstance(a, dict) and isinstance(a.get("address"), str) and a.get("status") in STATUSES
        for a in adr)), "$.addresses", adr, "null or a list of two or more {address, status, ...}")
    cc = o["client_cert"]
    _check(cc is None or (isinstance(cc, dict) and isinstance(cc.get("chain"), list) and cc["chain"]),
           "$.client_cert", cc, "null or {\"chain\": [certificate, ...]}")
    _check(isinstance(o["clients"], list), "$.clients", o["clients"], "a list")
    for i, c in enumerate(o["clients"]):
        p = "$.clients[%d]" % i
        _keys(c, p, ("name", "accepts", "says", "why"))
        _check(c["name"] in CLIENT_NAMES, p + ".name", c["name"], "one of %s" % (CLIENT_NAMES,))
        _check(c["accepts"] in (True, False, None), p + ".accepts", c["accepts"], "bool|null")
        _check(isinstance(c["says"], str) if c["accepts"] is False else c["says"] is None,
               p + ".says", c["says"], "a string exactly when it refuses")
        _check(c["why"] is None or isinstance(c["why"], str), p + ".why", c["why"], "string|null")
    _check([c["name"] for c in o["clients"]] == [n for n in CLIENT_NAMES
                                                 if n in [c["name"] for c in o["clients"]]],
           "$.clients", o["clients"], "in the documented order")
    _check(o["schema"] == "tlsprobe/1", "$.schema", o["schema"], '"tlsprobe/1"')
    t = o["target"]
    _keys(t, "$.target", ("input", "host", "port", "sni", "address"))
    _check(isinstance(t["input"], str), "$.target.input", t["input"], "a string")
    _check(isinstance(t["host"], str), "$.target.host", t["host"], "a string")
    _check(_int(t["port"]) and 0 < t["port"] < 65536, "$.target.port", t["port"], "a port")
    _check(t["sni"] is None or isinstance(t["sni"], str), "$.target.sni", t["sni"],
           "string|null")
    _check(t["address"] is None or isinstance(t["address"], str), "$.target.address",
           t["address"], "string|null")
    _check(o["status"] in STATUSES, "$.status", o["status"], "one of %s" % (STATUSES,))
    _check(o["reason"] is None or isinstance(o["reason"], str), "$.reason", o["reason"],
           "string|null")
    if o["status"] == "ok":
        _check(o["reason"] is None, "$.reason", o["reason"], "null when status is ok")
    tm = o["timing_ms"]
    _keys(tm, "$.timing_ms", ("dns", "connect", "handshake", "total"))
    for k in ("dns", "connect", "handshake"):
        _check(tm[k] is None or (_num(tm[k]) and tm[k] >= 0), "$.timing_ms." + k, tm[k],
               "a number >= 0 or null")
    _check(_num(tm["total"]) and tm["total"] >= 0, "$.timing_ms.total", tm["total"],
           "a number >= 0")
    tls = o["tls"]
    if tls is not None:
        _keys(tls, "$.tls", ("version", "cipher", "kx_group", "sig_alg", "alpn", "resumed",
                             "client_cert_requested", "client_cert_sent"))
        _check(tls["version"] in ("TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"),
               "$.tls.version", tls["version"], "TLSv1.x")
        _check(isinstance(tls["cipher"], str), "$.tls.cipher", tls["cipher"], "a string")
        for k in ("kx_group", "sig_alg", "alpn"):
            _check(tls[k] is None or isinstance(tls[k], str), "$.tls." + k, tls[k],
                   "string|null")
        for k in ("resumed", "client_cert_requested", "client_cert_sent"):
            _check(isinstance(tls[k], bool), "$.tls." + k, tls[k], "a boolean")
        _check(tls["client_cert_requested"] or not tls["client_cert_sent"], "$.tls.client_cert_sent",
               tls["client_cert_sent"], "false unless the server asked for one")
    _check(isinstance(o["chain"], list), "$.chain", o["chain"], "a list")
    for i, c in enumerate(o["chain"]):
        p = "$.chain[%d]" % i
        _keys(c, p, ("index", "subject", "issuer", "serial", "not_before", "not_after",
                     "days_remaining", "sans", "key", "sig_alg", "sha256", "is_ca",
                     "self_signed", "ca_issuers", "revocation"))
        _check(c["index"] == i, p + ".index", c["index"], str(i))
        for k in ("subject", "issuer", "sig_alg"):
            _check(isinstance(c[k], str), p + "." + k, c[k], "a string")
        _check(_hex(c["serial"]), p + ".serial", c["serial"], "lowercase hex")
        _check(_hex(c["sha256"]) and len(c["sha256"]) == 64, p + ".sha256", c["sha256"],
               "64 lowercase hex digits")
        for k in ("not_before", "not_after"):
            _check(_date(c[k]), p + "." + k, c[k], "YYYY-MM-DDTHH:MM:SSZ")
        _check(_int(c["days_remaining"]), p + ".days_remaining", c["days_remaining"],
               "an integer")
        _check(isinstance(c["sans"], list) and all(isinstance(s, str) for s in c["sans"]),
               p + ".sans", c["sans"], "a list of strings")
        _keys(c["key"], p + ".key", ("type", "bits", "curve"))
        _check(isinstance(c["key"]["type"], str), p + ".key.type", c["key"]["type"],
               "a string")
        _check(_int(c["key"]["bits"]), p + ".key.bits", c["key"]["bits"], "an integer")
        _check(c["key"]["curve"] is None or isinstance(c["key"]["curve"], str),
               p + ".key.curve", c["key"]["curve"], "string|null")
        for k in ("is_ca", "self_signed"):
            _check(isinstance(c[k], bool), p + "." + k, c[k], "a boolean")
        _check(isinstance(c["ca_issuers"], list) and
               all(isinstance(s, str) for s in c["ca_issuers"]),
               p + ".ca_issuers", c["ca_issuers"], "a list of strings")
        rv = c.get("revocation")
        _check(rv is None or (isinstance(rv, dict) and rv.get("method") in ("staple", "ocsp", "crl") and
                              rv.get("status") in ("good", "revoked", "unknown", None)),
               p + ".revocation", rv, "null or {method: staple|ocsp|crl, status: good|revoked|unknown|null, ...}")
    v = o["verify"]
    if v is not None:
        _keys(v, "$.verify", ("trusted", "hostname_ok", "name", "problems"))
        for k in ("trusted", "hostname_ok"):
            _check(isinstance(v[k], bool), "$.verify." + k, v[k], "a boolean")
        _check(isinstance(v["name"], str), "$.verify.name", v["name"], "a string")
        _check(isinstance(v["problems"], list), "$.verify.problems", v["problems"], "a list")
        sev_rank = {"critical": 0, "warning": 1}
        last = -1
        for i, pr in enumerate(v["problems"]):
            p = "$.verify.problems[%d]" % i
            _keys(pr, p, ("code", "severity", "cert_index", "subject", "message", "fix", "refused_by"))
            _check(isinstance(pr["refused_by"], list) and all(n in CLIENT_NAMES for n in pr["refused_by"]),
                   p + ".refused_by", pr["refused_by"], "a list of client names")
            _check(pr["severity"] == "critical" or not pr["refused_by"], p + ".severity", pr["severity"],
                   "critical when a client refuses for it")
            _check(pr["code"] in PROBLEM_CODES, p + ".code", pr["code"],
                   "one of the documented problem codes")
            _check(pr["severity"] in sev_rank, p + ".severity", pr["severity"],
                   "critical|warning")
            _check(pr["cert_index"] is None or _int(pr["cert_index"]), p + ".cert_index",
                   pr["cert_index"], "int|null")
            _check(pr["subject"] is None or isinstance(pr["subject"], str), p + ".subject",
                   pr["subject"], "string|null")
            for k in ("message", "fix"):
                _check(isinstance(pr[k], str) and pr[k] != "", p + "." + k, pr[k],
                       "a non-empty string")
            _check(sev_rank[pr["severity"]] >= last, "$.verify.problems", v["problems"],
                   "sorted most severe first")
            last = sev_rank[pr["severity"]]
    e = o["error"]
    if e is not None:
        _keys(e, "$.error", ("code", "message", "fix"))
        _check(e["code"] in ERROR_CODES, "$.error.code", e["code"],
               "one of the documented error codes")
        for k in ("message", "fix"):
            _check(isinstance(e[k], str) and e[k] != "", "$.error." + k, e[k],
                   "a non-empty string")


# --------------------------------------------------------------------------
# the variants: fetch, reports about files, batch records
# --------------------------------------------------------------------------

FETCH_TIMING_KEYS = ("dns", "connect", "tls", "ttfb", "total")
HTTP_KEYS = ("status", "reason", "http_version", "final_url", "content_type", "size", "hops",
             "curl_code", "curl_error")


def check_fetch_schema(o):
    """tlsprobe/1 as check_schema has it, with the fetch differences:
    timing_ms is {dns, connect, tls, ttfb, total} and there is an http object."""
    tm = o.get("timing_ms")
    _keys(tm, "$.timing_ms", FETCH_TIMING_KEYS)
    _check("handshake" not in tm, "$.timing_ms", sorted(tm), "fetch timings without 'handshake'")
    for k in FETCH_TIMING_KEYS[:-1]:
        _check(tm[k] is None or (_num(tm[k]) and tm[k] >= 0), "$.timing_ms." + k, tm[k],
               "a number >= 0 or null")
    # the rest of the contract, exactly as for a probe
    probe_shaped = dict(o)
    probe_shaped["timing_ms"] = {"dns": tm["dns"], "connect": tm["connect"],
                                 "handshake": tm["tls"], "total": tm["total"]}
    check_schema(probe_shaped)
    h = o.get("http")
    _keys(h, "$.http", HTTP_KEYS)
    _check(h["status"] is None or (_int(h["status"]) and 100 <= h["status"] <= 999),
           "$.http.status", h["status"], "an HTTP status or null")
    for k in ("reason", "http_version", "final_url", "content_type", "curl_error"):
        _check(h[k] is None or isinstance(h[k], str), "$.http." + k, h[k], "string|null")
    _check(h["http_version"] in (None, "HTTP/1.0", "HTTP/1.1", "HTTP/2", "HTTP/3"),
           "$.http.http_version", h["http_version"], "HTTP/x or null")
    _check(_int(h["size"]) and h["size"] >= 0, "$.http.size", h["size"], "an integer >= 0")
    _check(_int(h["curl_code"]) and h["curl_code"] >= 0, "$.http.curl_code", h["curl_code"],
           "an integer >= 0")
    _check((h["curl_code"] == 0) == (h["curl_error"] is None), "$.http.curl_error",
           h["curl_error"], "null exactly when curl_code is 0")
    _check(isinstance(h["hops"], list), "$.http.hops", h["hops"], "a list")
    for i, hop in enumerate(h["hops"]):
        p = "$.http.hops[%d]" % i
        _keys(hop, p, ("status", "url"))
        _check(_int(hop["status"]), p + ".status", hop["status"], "an integer")
        _check(hop["url"] is None or isinstance(hop["url"], str), p + ".url", hop["url"],
               "string|null")


def check_file_schema(obj):
    """tlsprobe/1 for a report about files (tlsprobe-json(7)): target names
    the file, host/port/sni/address null, tls null, only timing_ms.total."""
    t = obj.get("target") or {}
    for k in ("host", "port", "sni", "address"):
        _check(t.get(k, "missing") is None, "$.target." + k, t.get(k, "missing"),
               "null for a file")
    _check(obj.get("tls", "missing") is None, "$.tls", obj.get("tls", "missing"),
           "null for a file")
    for k in ("dns", "connect", "handshake"):
        v = (obj.get("timing_ms") or {}).get(k, "missing")
        _check(v is None, "$.timing_ms." + k, v, "null for a file")
    # the rest is the probe's shape: check a copy whose target looks like a
    # connection's
    copy = dict(obj)
    copy["target"] = dict(t, host="", port=1)
    v = obj.get("verify")
    if isinstance(v, dict) and "name" in v and v["name"] is None:
        # tlsprobe-json(7): for a file, --host, or null when none was given
        copy["verify"] = dict(v, name="")
    check_schema(copy)


FAILURE_CODES = ("bad-usage", "bad-file", "invalid-target", "internal-error")


def check_failure(obj, input=Ellipsis):
    """The object of a command that could not run (tlsprobe-json(7),
    FAILURES): status unknown, reason = error.code, nothing probed; target
    null or naming only its input (which must be input when given)."""
    _keys(obj, "$", ("schema", "target", "status", "reason", "timing_ms", "tls", "ocsp", "chain",
                     "client_cert", "verify", "clients", "error"))
    _check(obj["client_cert"] is None, "$.client_cert", obj["client_cert"], "null")
    _check(obj.get("addresses", None) is None, "$.addresses", obj.get("addresses"), "null")
    _check(obj["clients"] == [], "$.clients", obj["clients"], "[]")
    _check(obj["schema"] == "tlsprobe/1", "$.schema", obj["schema"], '"tlsprobe/1"')
    _check(obj["status"] == "unknown", "$.status", obj["status"], '"unknown"')
    for k in ("timing_ms", "tls", "ocsp", "verify"):
        _check(obj[k] is None, "$." + k, obj[k], "null")
    _check(obj["chain"] == [], "$.chain", obj["chain"], "[]")
    e = obj["error"]
    _keys(e, "$.error", ("code", "message", "fix"))
    _check(e["code"] in FAILURE_CODES, "$.error.code", e["code"], "one of %s" % (FAILURE_CODES,))
    _check(obj["reason"] == e["code"], "$.reason", obj["reason"], "error.code")
    for k in ("message", "fix"):
        _check(isinstance(e[k], str) and e[k] != "", "$.error." + k, e[k], "a non-empty string")
    t = obj["target"]
    if t is not None:
        _keys(t, "$.target", ("input", "host", "port", "sni", "address"))
        _check(isinstance(t["input"], str), "$.target.input", t["input"], "a string")
        for k in ("host", "port", "sni", "address"):
            _check(t[k] is None, "$.target." + k, t[k], "null")
    if input is not Ellipsis:
        _check((t or {}).get("input") == input, "$.target", t, "input %r" % (input,))


def check_record(obj):
    """Schema check of one batch record.  A line that is no target has no
    host or port (null, as tlsprobe-json(7) allows) and the error
    invalid-target, which check_schema does not know."""
    e = obj.get("error")
    if isinstance(e, dict) and e.get("code") == "invalid-target":
        t = obj.get("target")
        assert isinstance(t, dict) and isinstance(t.get("input"), str), obj
        assert t.get("host") is None or isinstance(t.get("host"), str), obj
        assert t.get("port") is None or isinstance(t.get("port"), int), obj
        probe = dict(obj, target=dict(t, host=t.get("host") or "x", port=t.get("port") or 1),
                     error=dict(e, code="internal-error"))
        check_schema(probe)
        assert obj["status"] == "unknown" and obj["reason"] == "invalid-target", obj
        assert obj["tls"] is None and obj["chain"] == [], obj
        return
    check_schema(obj)


# --------------------------------------------------------------------------
# reading a record
# --------------------------------------------------------------------------

def problem_codes(obj):
    v = obj.get("verify") or {}
    return [p["code"] for p in v.get("problems", [])]


def problem(obj, code):
    """The (first) problem with this code, or None."""
    for p in (obj.get("verify") or {}).get("problems", []):
        if p["code"] == code:
            return p
    return None


def dump(obj):
    return json.dumps(obj, indent=1, ensure_ascii=False)[:4000]


codes = problem_codes
