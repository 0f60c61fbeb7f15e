"""Running programs: one :func:`run` for the binary under test and for every
other tool (openssl, curl, the probe scripts), with the variants as
parameters; :func:`probe_json` for a run whose standard output is tlsprobe's
JSON."""

import errno
import os
import select
import subprocess
import time
from collections import namedtuple

from . import schema
from .env import wait_binary


class Run(namedtuple("Run", "rc out err elapsed")):
    """What a run gave: exit code, standard output and error (str, or bytes
    when run without decoding) and the seconds it took.  Also readable under
    subprocess.CompletedProcess's names."""

    __slots__ = ()

    returncode = property(lambda self: self.rc)
    stdout = property(lambda self: self.out)
    stderr = property(lambda self: self.err)


_REBUILDING = (errno.ETXTBSY, errno.ENOENT, errno.EACCES)


def popen(argv, **kw):
    """subprocess.Popen; when argv runs the binary under test and it is being
    rebuilt (missing, or busy being written), wait for it and try again."""
    argv = [a if isinstance(a, bytes) else str(a) for a in argv]
    for attempt in range(20):
        try:
            return subprocess.Popen(argv, **kw)
        except OSError as e:
            if (e.errno not in _REBUILDING or attempt == 19 or
                    os.path.abspath(argv[0]) != os.path.abspath(wait_binary())):
                raise
            time.sleep(0.5)


def _decode(data, errors):
    return data if errors is None else data.decode("utf-8", errors)


def run(argv, input=None, cwd=None, env=None, timeout=60, umask=None, preexec_fn=None, tty=None,
        errors="surrogateescape", newlines=False, merge=False, check=False, signals_ok=False):
    """Run argv -> Run(rc, out, err, elapsed).

    input: bytes or str for standard input (else /dev/null).  umask: set in
    the child, after preexec_fn (e.g. one that changes the user) ran.  tty: "stdout" or "stderr" puts that stream on a
    pseudo-terminal (read as the terminal got it, CRLF and all).  errors: how
    the output is decoded from UTF-8 (None keeps bytes); newlines: CRLF and CR
    read as LF, as in Python's text mode.  merge: stderr into stdout (err is
    empty).  check: exit 0 or
    AssertionError.  A timeout, or (unless signals_ok) death by a signal, is an
    AssertionError too."""
    if isinstance(input, str):
        input = input.encode()
    pre = preexec_fn
    if umask is not None:
        def pre():
            if preexec_fn:
                preexec_fn()
            os.umask(umask)
    t0 = time.monotonic()
    if tty:
        rc, out, err = _run_tty(argv, tty, cwd, env, timeout, pre)
    else:
        p = popen(argv, stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT if merge else subprocess.PIPE,
                  cwd=cwd, env=env,
                  preexec_fn=pre)
        try:
            out, err = p.communicate(input, timeout=timeout)
            err = err or b""
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            raise AssertionError("did not finish within %ss: %r\nstdout: %r\nstderr: %r"
                                 % (timeout, argv, out, err)) from None
        rc = p.returncode
    elapsed = time.monotonic() - t0
    if rc < 0 and not signals_ok:
        raise AssertionError("killed by signal %d: %r\nstderr: %s" % (
            -rc, argv, err.decode(errors="replace")))
    out, err = _decode(out, errors), _decode(err, errors)
    if newlines and errors is not None:
        out, err = (s.replace("\r\n", "\n").replace("\r", "\n") for s in (out, err))
    r = Run(rc, out, err, elapsed)
    if check and rc != 0:
        raise AssertionError("command failed (%d): %s\n%s%s" % (
            rc, " ".join(map(str, argv)), str(r.out)[-2000:], str(r.err)[-2000:]))
    return r


def _run_tty(argv, which, cwd, env, timeout, pre):
    """Run with `which` (stdout or stderr) on a pseudo-terminal, the other on a
    pipe -> (rc, stdout bytes, stderr bytes)."""
    import pty
    master, slave = pty.openpty()
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    pipes[which] = slave
    try:
        p = popen(argv, stdin=subprocess.DEVNULL, cwd=cwd, env=env, preexec_fn=pre, **pipes)
    finally:
        os.close(slave)
    other = p.stderr if which == "stdout" else p.stdout
    got = {"stdout": [], "stderr": []}
    fds = {master: got[which], other.fileno(): got["stderr" if which == "stdout" else "stdout"]}
    deadline = time.monotonic() + timeout
    try:
        while fds:
            left = deadline - time.monotonic()
            if left <= 0:
                p.kill()
                p.wait()
                raise AssertionError("did not finish within %ss: %r" % (timeout, argv))
            ready, _, _ = select.select(list(fds), [], [], min(left, 0.2))
            for fd in ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:         # EIO: the child closed the terminal
                    data = b""
                if data:
                    fds[fd].append(data)
                else:
                    del fds[fd]
        p.wait(timeout)
    finally:
        os.close(master)
        other.close()
    return p.returncode, b"".join(got["stdout"]), b"".join(got["stderr"])


# --------------------------------------------------------------------------
# the binary under test
# --------------------------------------------------------------------------

def run_tlsprobe(*args, timeout=30, prefix=(), **kw):
    """Run tlsprobe ARGS -> Run(rc, out, err, elapsed), output decoded as
    UTF-8 with surrogateescape (lossless).  prefix: argv to put in front
    (setpriv ..., unshare ...); the rest as for run()."""
    return run(list(prefix) + [wait_binary()] + list(args), timeout=timeout, **kw)


def run_tlsprobe_raw(*args, timeout=30, **kw):
    """run_tlsprobe with bytes for stdout and stderr."""
    return run_tlsprobe(*args, timeout=timeout, errors=None, **kw)


def run_tlsprobe_tty(*args, timeout=30):
    """Run tlsprobe with stdout on a pseudo-terminal -> (exit code, stdout
    bytes with the tty's CRLF turned back into LF, stderr bytes)."""
    r = run_tlsprobe(*args, timeout=timeout, errors=None, tty="stdout")
    return r.rc, r.out.replace(b"\r\n", b"\n"), r.err


def tool(argv, **kw):
    """run() for a helper tool that must succeed (check), its output read as
    Python's text mode reads it (strict UTF-8, universal newlines)."""
    for k, v in (("check", True), ("errors", "strict"), ("newlines", True)):
        kw.setdefault(k, v)
    return run(argv, **kw)


def openssl(*args, input=None, cwd=None):
    """Run the openssl command line tool; stdout bytes, or AssertionError."""
    return run(["openssl"] + list(args), input=input, cwd=cwd, errors=None, check=True).out


_scenarios = None


def scenarios():
    """[(name, expect)] from `tlsprobe serve --list-scenarios`, in its order."""
    global _scenarios
    if _scenarios is None:
        r = run_tlsprobe("serve", "--list-scenarios")
        lines = r.out.splitlines()
        if r.rc != 0 or not lines or not lines[0].startswith("SCENARIO"):
            raise AssertionError("serve --list-scenarios -> exit %d: %r %r" % (r.rc, r.out, r.err))
        _scenarios = [tuple(l.split()[:2]) for l in lines[1:] if l.strip()]
    return _scenarios


# --------------------------------------------------------------------------
# JSON output
# --------------------------------------------------------------------------

JsonProbe = namedtuple("JsonProbe", "rc obj stdout stderr elapsed")
JsonProbes = namedtuple("JsonProbes", "rc objs stdout stderr elapsed")


def probe_json_lines(*args, timeout=30, validate=True, schema_check=None, **kw):
    """Run tlsprobe ARGS --json; stdout must be valid UTF-8, one JSON object per
    line, each checked with schema_check (default: the tlsprobe/1 probe
    schema; validate=False: none).  Returns JsonProbes(rc, [objs], stdout,
    stderr, elapsed).  Other keywords go to run()."""
    args = tuple(args) + ("--json",)
    check = (schema_check or schema.check_schema) if validate else None
    rc, out, err, el = run_tlsprobe_raw(*args, timeout=timeout, **kw)
    ctx = "tlsprobe %s -> exit %d\nstdout: %r\nstderr: %r" % (
        " ".join(map(repr, args)), rc, out[:3000], err[:3000])
    try:
        text = out.decode("utf-8")
    except UnicodeDecodeError as e:
        raise AssertionError("stdout is not valid UTF-8 (%s)\n%s" % (e, ctx)) from None
    if not text.endswith("\n"):
        raise AssertionError("JSON output does not end with a newline\n" + ctx)
    objs = []
    for line in text.split("\n")[:-1]:
        try:
            obj = schema.parse_json_line(line)
        except ValueError as e:
            raise AssertionError("stdout line is not a JSON object (%s): %r\n%s"
                                 % (e, line[:500], ctx)) from None
        if not isinstance(obj, dict):
            raise AssertionError("JSON line is not an object\n" + ctx)
        if check:
            try:
                check(obj)
            except AssertionError as e:
                raise AssertionError("%s\n%s\n%s" % (e, ctx, schema.dump(obj))) from None
        objs.append(obj)
    return JsonProbes(rc, objs, text, err.decode("utf-8", "replace"), el)


def probe_json(*args, **kw):
    """Run tlsprobe ARGS --json for one target (or one report about files);
    exactly one JSON object line.  Returns JsonProbe(rc, obj, stdout, stderr,
    elapsed); keywords as for probe_json_lines."""
    r = probe_json_lines(*args, **kw)
    if len(r.objs) != 1:
        raise AssertionError("expected exactly one JSON line, got %d\nstdout: %r\nstderr: %r"
                             % (len(r.objs), r.stdout[:3000], r.stderr[:3000]))
    return JsonProbe(r.rc, r.objs[0], r.stdout, r.stderr, r.elapsed)


def fetch_json(*args, timeout=30):
    """Run `tlsprobe fetch ARGS --json` -> JsonProbe, checked against the fetch schema."""
    return probe_json("fetch", *args, timeout=timeout, schema_check=schema.check_fetch_schema)
