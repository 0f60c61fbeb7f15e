"""Where things are and small waits: the binary under test, tools on PATH,
loopback ports, scratch directories, dates and files.

Every wait in the harness is :func:`wait_for` (a port that opens, a binary
that a rebuild puts back, a line a server logs)."""

import atexit
import datetime
import os
import shutil
import socket
import tempfile
import time
import unittest

PACKAGE = os.path.dirname(os.path.abspath(__file__))
HERE = os.path.dirname(PACKAGE)                 # tests/integration
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))

UTC = datetime.timezone.utc
DAY = 86400


# --------------------------------------------------------------------------
# waiting
# --------------------------------------------------------------------------

def wait_for(pred, timeout=10.0, interval=0.02):
    """Call pred() until it returns something true (returned) or timeout
    seconds have passed (None)."""
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() > deadline:
            return None
        time.sleep(interval)


# --------------------------------------------------------------------------
# the binary and the tools
# --------------------------------------------------------------------------

def tlsprobe_path():
    """Path of the binary under test: $TLSPROBE or <repo>/build/tlsprobe."""
    return os.environ.get("TLSPROBE") or os.path.join(REPO_ROOT, "build", "tlsprobe")


def _executable(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def wait_binary(timeout=60.0):
    """The binary under test as an absolute path (tests run it from other
    directories), once it exists: a rebuild may have it missing for a while."""
    path = os.path.abspath(tlsprobe_path())
    if not wait_for(lambda: _executable(path), timeout, 0.25):
        raise AssertionError("tlsprobe binary not found or not executable: %s "
                             "(build it, or set TLSPROBE)" % path)
    return path


exe = wait_binary


def have(tool):
    return shutil.which(tool) is not None


def require_tools(*tools):
    """Raise unittest.SkipTest unless every tool is on PATH."""
    missing = [t for t in tools if not have(t)]
    if missing:
        raise unittest.SkipTest("missing tool(s): " + ", ".join(missing))


# --------------------------------------------------------------------------
# loopback
# --------------------------------------------------------------------------

def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def can_bind(host, port=0):
    try:
        with socket.socket(family(host), socket.SOCK_STREAM) as s:
            s.bind((host, port))
        return True
    except OSError:
        return False


def have_ipv6_loopback():
    return can_bind("::1")


def require_ipv6():
    if not have_ipv6_loopback():
        raise unittest.SkipTest("no IPv6 loopback (::1) on this host")


def free_port(host="127.0.0.1"):
    """An ephemeral port that was free a moment ago (bind to port 0, release)."""
    with socket.socket(family(host), socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


_held = []


def closed_port(host="127.0.0.1"):
    """A port on which nothing listens (connection refused), for as long as
    the tests run: a socket stays bound to it without listening, so that no
    server started meanwhile, in this process or another, can take it."""
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.bind((host, 0))
    _held.append(s)
    return s.getsockname()[1]


def port_open(host, port):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_port(host, port, timeout=10.0):
    """Wait until host:port accepts a TCP connection; raise TimeoutError otherwise."""
    if not wait_for(lambda: port_open(host, port), timeout):
        raise TimeoutError("nothing listening on %s:%d after %.1fs" % (host, port, timeout))


def hostport(host, port):
    """TARGET string for host/port: [v6]:port or host:port."""
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


# --------------------------------------------------------------------------
# scratch directories
# --------------------------------------------------------------------------

_scratch = None


def scratch_dir():
    """Per-process scratch directory (logs, server files), removed at exit."""
    global _scratch
    if _scratch is None:
        _scratch = tempfile.mkdtemp(prefix="tlsprobe-it-")
        atexit.register(shutil.rmtree, _scratch, True)
    return _scratch


def new_dir(prefix):
    """A fresh directory in the scratch directory."""
    return tempfile.mkdtemp(prefix=prefix, dir=scratch_dir())


def tempdir(test, mode=0o755, prefix="tlsprobe-ca-"):
    """A fresh temporary directory for one test (or, given the class, for the
    class), removed after it.  Mode 0755 so that another user can enter it."""
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, mode)
    if isinstance(test, type):
        test.addClassCleanup(shutil.rmtree, d, True)
    else:
        test.addCleanup(shutil.rmtree, d, True)
    return d


# --------------------------------------------------------------------------
# files and dates
# --------------------------------------------------------------------------

def read(path):
    with open(path, "rb") as f:
        return f.read()


def read_text(path):
    """A file's text (invalid UTF-8 replaced), or "" when it cannot be read."""
    try:
        return read(path).decode("utf-8", "replace")
    except OSError:
        return ""


def write(path, data):
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return path


def cat_files(out, *paths):
    """Write the concatenation of paths to out -> out."""
    return write(out, b"".join(read(p) for p in paths))


cat = cat_files


def iso(dt):
    """datetime -> 'YYYY-MM-DDTHH:MM:SSZ' (the JSON date format and an --at form)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def at_epoch(dt):
    """datetime -> '@EPOCH' (an --at form)."""
    return "@%d" % int(dt.timestamp())


def at_date(dt):
    """datetime -> 'YYYY-MM-DD' (an --at form, midnight UTC)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%d")


def epoch(date):
    """'YYYY-MM-DDTHH:MM:SSZ' -> unix time."""
    return int(datetime.datetime.strptime(date, "%Y-%m-%dT%H:%M:%SZ")
               .replace(tzinfo=UTC).timestamp())


# What online checks fetch is cached under $XDG_CACHE_HOME/tlsprobe: for
# the tests, in their own scratch directory, never the user's, and gone
# after the run. A test that wants no cache at all passes --cache-dir "".
os.environ["XDG_CACHE_HOME"] = os.path.join(scratch_dir(), "xdg-cache")
