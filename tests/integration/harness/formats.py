"""The monitoring formats, strictly: Nagios plugin output (with its
perfdata and threshold ranges), the Prometheus text exposition format, TSV;
the batch summary line, target lists, and the statuses as the documents
rank them."""

import math
import os
import re
import shutil
from collections import OrderedDict, namedtuple

# Severity of each reason code, as tlsprobe-json(7) documents it.
SEVERITY = {
    "missing-intermediate": "critical", "untrusted-root": "critical",
    "self-signed": "critical", "hostname-mismatch": "critical", "expired": "critical",
    "not-yet-valid": "critical", "insecure-algorithm": "critical",
    "purpose-mismatch": "critical", "issuer-not-ca": "critical",
    "client-cert-required": "critical", "connection-refused": "critical",
    "timeout": "critical", "not-tls": "critical",
    "weak-key": "critical", "chain-order": "warning", "expires-soon": "warning",
    "invalid-target": "unknown",
}
STATUS_RANK = {"ok": 0, "warning": 1, "unknown": 2, "critical": 3}   # as Icinga ranks them
EXIT_CODE = {"ok": 0, "warning": 1, "critical": 2, "unknown": 3}
WORD = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}


def worst(statuses):
    """The worst of these statuses as Icinga ranks them (ok for none)."""
    return max(statuses, key=STATUS_RANK.__getitem__, default="ok")


def write_list(directory, name, lines):
    """Write a target list (lines joined with LF; a line may carry its own CR)."""
    path = os.path.join(directory, name)
    with open(path, "w", newline="") as f:
        f.write("".join(l + "\n" for l in lines))
    return path


SUMMARY_RE = re.compile(
    r"^tlsprobe batch: (\d+) targets? from (.+): (\d+) ok, (\d+) warning, (\d+) critical, "
    r"(\d+) unknown; worst: (ok|warning|critical|unknown)$")


def parse_summary(stderr):
    """The summary line (the last line on standard error) ->
    dict(n, name, ok, warning, critical, unknown, worst)."""
    lines = stderr.rstrip("\n").split("\n")
    m = SUMMARY_RE.match(lines[-1]) if lines else None
    if not m:
        raise AssertionError("no summary line at the end of stderr: %r" % stderr[-1000:])
    return dict(n=int(m.group(1)), name=m.group(2), ok=int(m.group(3)),
                warning=int(m.group(4)), critical=int(m.group(5)),
                unknown=int(m.group(6)), worst=m.group(7))


def earliest(chain):
    """(not_after string, days_remaining) of the certificate that expires first."""
    c = min(chain, key=lambda c: c["not_after"])
    return c["not_after"], c["days_remaining"]


# --------------------------------------------------------------------------
# Nagios plugin output (Nagios Plugin Development Guidelines)
# --------------------------------------------------------------------------

NagiosLine = namedtuple("NagiosLine", "service status text perfdata")
PerfItem = namedtuple("PerfItem", "label value uom warn crit min max")
Range = namedtuple("Range", "start end inside text")

_UOMS = ("", "s", "ms", "us", "%", "B", "KB", "MB", "TB", "c")
_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_RANGE_RE = re.compile(r"^(@?)(?:(~|%s)?:)?(%s)?$" % (_NUM, _NUM))


def parse_range(s):
    """A threshold range: [@]start:end, start:, ~:end, end (0:end).  Returns
    Range(start, end, inside) with -inf/+inf for open ends, or None if empty."""
    if s == "":
        return None
    m = _RANGE_RE.match(s)
    if not m or s in ("@", ":", "@:"):
        raise ValueError("not a threshold range: %r" % s)
    inside = m.group(1) == "@"
    body = s[1:] if inside else s
    if ":" in body:
        start_s, end_s = body.split(":", 1)
        start = -math.inf if start_s == "~" else (float(start_s) if start_s else 0.0)
        end = float(end_s) if end_s else math.inf
    else:
        start, end = 0.0, float(body)
    if start > end:
        raise ValueError("range start above its end: %r" % s)
    return Range(start, end, inside, s)


def range_alerts(r, value):
    """Whether value raises the alert of range r (None: never)."""
    if r is None:
        return False
    within = r.start <= value <= r.end
    return within if r.inside else not within


def _split_perfdata(s):
    """Split perfdata on spaces, honouring 'quoted labels' ('' is a quote)."""
    items, cur, i, quoted = [], "", 0, False
    while i < len(s):
        c = s[i]
        if c == "'":
            if quoted and s[i + 1:i + 2] == "'":
                cur += "''"
                i += 2
                continue
            quoted = not quoted
            cur += c
        elif c == " " and not quoted:
            if cur:
                items.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    if quoted:
        raise ValueError("unbalanced quote in perfdata: %r" % s)
    if cur:
        items.append(cur)
    return items


def parse_perf_item(item):
    if "=" not in item:
        raise ValueError("perfdata item without '=': %r" % item)
    if item.startswith("'"):
        end = item.rfind("'=")
        if end <= 0:
            raise ValueError("bad quoted label: %r" % item)
        label, rest = item[1:end].replace("''", "'"), item[end + 2:]
    else:
        label, rest = item.split("=", 1)
        if not label or any(c in label for c in " '="):
            raise ValueError("bad perfdata label: %r" % item)
    fields = rest.split(";")
    if len(fields) > 5:
        raise ValueError("more than 5 fields in perfdata item: %r" % item)
    fields += [""] * (5 - len(fields))
    m = re.match(r"^(%s)([a-zA-Z%%]*)$" % _NUM, fields[0])
    if not m:
        raise ValueError("perfdata value is not a number[UOM]: %r" % item)
    if m.group(2) not in _UOMS:
        raise ValueError("unknown unit of measurement %r in %r" % (m.group(2), item))
    for f in fields[3:5]:
        if f and not re.match(r"^%s$" % _NUM, f):
            raise ValueError("min/max is not a number: %r" % item)
    return PerfItem(label, float(m.group(1)), m.group(2), parse_range(fields[1]),
                    parse_range(fields[2]), float(fields[3]) if fields[3] else None,
                    float(fields[4]) if fields[4] else None)


_STATUS_LINE_RE = re.compile(r"^([A-Z][A-Z0-9_]*) (OK|WARNING|CRITICAL|UNKNOWN) - (.*)$")


def parse_nagios_line(line):
    """'SERVICE STATUS - text[ | perfdata]' -> NagiosLine.  Raises ValueError
    when the line breaks the guidelines (a '|' in the text, bad perfdata,
    duplicate labels, control characters)."""
    if any(ord(c) < 0x20 or ord(c) == 0x7f for c in line):
        raise ValueError("control character in the plugin output: %r" % line)
    if line.count("|") > 1:
        raise ValueError("more than one '|' (only perfdata may follow it): %r" % line)
    text, sep, perf = line.partition("|")
    if sep:
        if not text.endswith(" ") or not perf.startswith(" "):
            raise ValueError("' | ' should separate text and perfdata: %r" % line)
        text = text[:-1]
    m = _STATUS_LINE_RE.match(text)
    if not m:
        raise ValueError("not 'SERVICE STATUS - text': %r" % line)
    items = OrderedDict()
    for it in _split_perfdata(perf.strip()):
        p = parse_perf_item(it)
        if p.label in items:
            raise ValueError("duplicate perfdata label %r: %r" % (p.label, line))
        items[p.label] = p
    return NagiosLine(m.group(1), m.group(2), m.group(3), items)


# --------------------------------------------------------------------------
# Prometheus text exposition format (version 0.0.4), strictly
# --------------------------------------------------------------------------

Sample = namedtuple("Sample", "name labels value timestamp")


class Family:
    def __init__(self, name):
        self.name = name
        self.help = None
        self.type = None
        self.samples = []

    def series(self, **match):
        """Samples whose labels include all of match."""
        return [s for s in self.samples
                if all(s.labels.get(k) == v for k, v in match.items())]

    def __repr__(self):
        return "Family(%s, %s, %d samples)" % (self.name, self.type, len(self.samples))


_METRIC_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def _family_of(name, families):
    """The family a sample name belongs to (suffixes of summaries/histograms)."""
    for suffix in ("_bucket", "_count", "_sum"):
        base = name[:-len(suffix)]
        if name.endswith(suffix) and base in families and \
                families[base].type in ("histogram", "summary"):
            return base
    return name


def _parse_float(s):
    if s in ("NaN", "+Inf", "-Inf", "Inf", "+inf", "-inf"):
        return float(s)
    if not re.match(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$", s):
        raise ValueError("not a float: %r" % s)
    return float(s)


def _parse_labels(line, i):
    """Parse '{a="x",b="y"}' from line[i] == '{' -> (dict, index after '}')."""
    labels = OrderedDict()
    i += 1
    while True:
        if line[i:i + 1] == "}":
            return labels, i + 1
        m = _LABEL_RE.match(line, i)
        if not m:
            raise ValueError("bad label name at %d: %r" % (i, line))
        name = m.group(0)
        if name.startswith("__"):
            raise ValueError("reserved label name %r: %r" % (name, line))
        i = m.end()
        if line[i:i + 2] != '="':
            raise ValueError("expected '=\"' after label %r: %r" % (name, line))
        i += 2
        val = []
        while True:
            if i >= len(line):
                raise ValueError("unterminated label value: %r" % line)
            c = line[i]
            if c == "\\":
                nxt = line[i + 1:i + 2]
                if nxt == "\\":
                    val.append("\\")
                elif nxt == '"':
                    val.append('"')
                elif nxt == "n":
                    val.append("\n")
                else:
                    raise ValueError("bad escape \\%s in label value: %r" % (nxt, line))
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise ValueError("raw newline in label value: %r" % line)
            else:
                val.append(c)
                i += 1
        if name in labels:
            raise ValueError("duplicate label %r: %r" % (name, line))
        labels[name] = "".join(val)
        if line[i:i + 1] == ",":
            i += 1
        elif line[i:i + 1] != "}":
            raise ValueError("expected ',' or '}' at %d: %r" % (i, line))


def parse_exposition(data):
    """Strictly parse Prometheus text exposition (bytes or str).

    Checks: UTF-8, ends with a newline; HELP and TYPE at most once per family
    and before its samples; each family's samples contiguous (no family
    comes back after another one started); metric and label names valid;
    label values use only the escapes \\\\ \\" \\n; no duplicate label in a
    sample; no duplicate series (name plus label set); values are floats,
    timestamps integers.  Returns an OrderedDict name -> Family."""
    if isinstance(data, bytes):
        data = data.decode("utf-8")      # raises on invalid UTF-8
    if data and not data.endswith("\n"):
        raise ValueError("exposition does not end with a newline: %r" % data[-200:])
    families = OrderedDict()
    current = None
    seen_series = set()

    def enter(name):
        # a family's lines (HELP, TYPE, samples) come in one block
        nonlocal current
        if current != name:
            if name in families:
                raise ValueError("family %s is not contiguous" % name)
            current = name
        return families.setdefault(name, Family(name))

    for n, line in enumerate(data.split("\n")[:-1] if data else [], 1):
        if line == "":
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not _METRIC_RE.fullmatch(name):
                    raise ValueError("line %d: bad metric name %r" % (n, name))
                fam = enter(name)
                if fam.samples:
                    raise ValueError("line %d: %s after samples of %s" % (n, parts[1], name))
                if parts[1] == "HELP":
                    if fam.help is not None:
                        raise ValueError("line %d: second HELP for %s" % (n, name))
                    fam.help = parts[3] if len(parts) > 3 else ""
                    if re.search(r"\\[^\\n]", fam.help.replace("\\\\", "")):
                        raise ValueError("line %d: bad escape in HELP" % n)
                else:
                    if fam.type is not None:
                        raise ValueError("line %d: second TYPE for %s" % (n, name))
                    if len(parts) != 4 or parts[3] not in _TYPES:
                        raise ValueError("line %d: bad TYPE line %r" % (n, line))
                    fam.type = parts[3]
            continue
        m = _METRIC_RE.match(line)
        if not m:
            raise ValueError("line %d: bad metric name: %r" % (n, line))
        name, i = m.group(0), m.end()
        labels = OrderedDict()
        if line[i:i + 1] == "{":
            labels, i = _parse_labels(line, i)
        rest = line[i:]
        if not rest.startswith(" "):
            raise ValueError("line %d: expected a space before the value: %r" % (n, line))
        fields = rest.split(" ")[1:]
        if len(fields) not in (1, 2) or "" in fields:
            raise ValueError("line %d: expected 'value [timestamp]': %r" % (n, line))
        value = _parse_float(fields[0])
        ts = None
        if len(fields) == 2:
            if not re.fullmatch(r"-?\d+", fields[1]):
                raise ValueError("line %d: bad timestamp: %r" % (n, line))
            ts = int(fields[1])
        fam = enter(_family_of(name, families))
        if fam.type in ("gauge", "counter", "untyped", None) and name != fam.name:
            raise ValueError("line %d: sample %s in family %s" % (n, name, fam.name))
        key = (name, frozenset(labels.items()))
        if key in seen_series:
            raise ValueError("line %d: duplicate series %s%s" % (n, name, dict(labels)))
        seen_series.add(key)
        fam.samples.append(Sample(name, dict(labels), value, ts))
    return families


def promtool():
    """Path of promtool, or None."""
    return shutil.which("promtool")


# --------------------------------------------------------------------------
# TSV
# --------------------------------------------------------------------------

TSV_COLUMNS = ["target", "status", "reason", "days_remaining", "not_after", "subject",
               "address", "version"]


def parse_tsv(text):
    """-> (header list, [row dicts]); every line must have the header's width."""
    if not text.endswith("\n"):
        raise AssertionError("TSV does not end with a newline: %r" % text[-200:])
    lines = text[:-1].split("\n")
    header = lines[0].split("\t")
    rows = []
    for line in lines[1:]:
        fields = line.split("\t")
        if len(fields) != len(header):
            raise AssertionError("TSV line has %d fields, the header %d: %r"
                                 % (len(fields), len(header), line))
        rows.append(OrderedDict(zip(header, fields)))
    return header, rows
