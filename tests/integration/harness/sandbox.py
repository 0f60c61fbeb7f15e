"""Files and privileges for the tests of tlsprobe's own file writing (the
CA): a snapshot of a directory tree, running as another user, a read-only
directory even for root."""

import os
import stat
import subprocess
import unittest

from .env import have, wait_binary


def snapshot(root):
    """{relative path: (kind, mode, bytes|None)} for everything under root
    (for a file this user cannot read: its size, mtime and inode instead)."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            if stat.S_ISDIR(st.st_mode):
                snap[rel] = ("dir", stat.S_IMODE(st.st_mode), None)
            else:
                try:
                    with open(p, "rb") as f:
                        data = f.read()
                except PermissionError:     # made unreadable on purpose: compare stat only
                    data = ("unreadable", st.st_size, st.st_mtime_ns, st.st_ino)
                snap[rel] = ("file", stat.S_IMODE(st.st_mode), data)
    return snap


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


NOBODY = 65534


def unprivileged_prefix():
    """argv prefix that runs a command as uid/gid 65534 (root only, with
    setpriv), or () when the tests do not run as root.  Raises SkipTest when
    neither works."""
    if os.geteuid() != 0:
        return ()
    if not have("setpriv"):
        raise unittest.SkipTest("running as root without setpriv: cannot drop privileges")
    prefix = ("setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups")
    p = subprocess.run(list(prefix) + [wait_binary(), "--version"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    if p.returncode != 0:
        raise unittest.SkipTest("the binary cannot be run as uid %d (directory permissions)"
                                % NOBODY)
    return prefix


def give_to_unprivileged(root):
    """chown -R root to 65534 when running as root (so that only what a test
    takes away again is unreadable)."""
    if os.geteuid() != 0:
        return
    for dirpath, dirnames, filenames in os.walk(root):
        os.chown(dirpath, NOBODY, NOBODY)
        for n in filenames:
            os.chown(os.path.join(dirpath, n), NOBODY, NOBODY)


def make_unreadable(path):
    """Make path unreadable for the user unprivileged_prefix() runs as."""
    if os.geteuid() == 0:
        os.chown(path, 0, 0)
        os.chmod(path, 0o600)
    else:
        os.chmod(path, 0)


def readonly_prefix(directory):
    """argv prefix under which `directory` is read-only even for root: a
    private mount namespace with a read-only bind mount (root), or nothing
    after chmod 0555 (other users).  Raises SkipTest when neither works."""
    if os.geteuid() != 0:
        os.chmod(directory, 0o555)
        return ()
    if not have("unshare"):
        raise unittest.SkipTest("running as root without unshare: no read-only directory")
    prefix = ("unshare", "-m", "--propagation", "private", "sh", "-c",
              'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" && shift && exec "$@"',
              "sh", directory)
    probe = os.path.join(directory, ".probe")
    p = subprocess.run(list(prefix) + ["touch", probe], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    if os.path.exists(probe) or p.returncode == 0:
        try:
            os.unlink(probe)
        except OSError:
            pass
        raise unittest.SkipTest("cannot make a read-only bind mount here")
    ok = subprocess.run(list(prefix) + ["true"], stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL)
    if ok.returncode != 0:
        raise unittest.SkipTest("cannot make a read-only bind mount here (no mount namespace)")
    return prefix
