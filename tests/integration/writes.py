"""Which paths a real server writes, read from ``strace``.

A server run under :func:`traced` (``strace -f``: every thread and child process) records each
file-system call, process creation and socket ``bind``. :func:`written_paths` reads the log back
and returns every path a call that *succeeded* created or changed: ``open``/``openat``/``creat``
with ``O_WRONLY``, ``O_RDWR``, ``O_CREAT`` or ``O_TRUNC``, ``mkdir``, ``mknod``, ``rename`` (both
names), ``link``/``symlink`` (the new name), ``unlink``/``rmdir``, ``truncate``, ``chmod``,
``chown``, ``utimensat``, ``*setxattr``/``*removexattr`` and the ``bind`` of a Unix socket to a
file (abstract sockets have no file). Those are the calls that fail with ``EROFS`` on a read-only
root file system (open(2), mkdir(2), rename(2), unlink(2), bind(2) on AF_UNIX: "EROFS"). A call
that failed here is left out: it fails in the pod too, and the server already lives with that.

Relative paths are resolved the way the kernel does: against the directory fd (``-y`` prints each
fd's path, ``AT_FDCWD</cwd>`` included), else against the process' working directory, which each
process inherits at ``clone``/``fork``/``vfork`` and changes with ``chdir``/``fchdir``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

STRACE = "strace"
# The calls that create, change or remove a path (and open, which also reads), what keeps track
# of working directories (chdir, fchdir; clone, fork, vfork: a child inherits its parent's) and
# bind (Unix sockets are files). Stat-like calls are left out: they change nothing, and leaving
# them out keeps the trace of a server that imports thousands of modules fast. --seccomp-bpf has
# the kernel stop only at these calls.
TRACED_CALLS = (
    "open,openat,openat2,creat,mkdir,mkdirat,mknod,mknodat,rename,renameat,renameat2,link,linkat,"
    "symlink,symlinkat,unlink,unlinkat,rmdir,truncate,chmod,fchmodat,chown,lchown,fchownat,utime,"
    "utimes,utimensat,futimesat,setxattr,lsetxattr,removexattr,lremovexattr,chdir,fchdir,bind,"
    "clone,clone3,fork,vfork,execve"
)

_LINE = re.compile(r"^(?P<pid>\d+)\s+(?P<call>\w+)\((?P<args>.*)\)\s+=\s+(?P<ret>-?\d+|\?)")
_UNFINISHED = re.compile(r"^(?P<pid>\d+)\s+(?P<head>.*) <unfinished \.\.\.>$")
_RESUMED = re.compile(r"^(?P<pid>\d+)\s+<\.\.\. \w+ resumed>(?P<tail>.*)$")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_FD = re.compile(r"^(?:AT_FDCWD|-?\d+)<(?P<path>[^>]*)>$")
_SUN_PATH = re.compile(r'sun_path="((?:[^"\\]|\\.)*)"')
_WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC")

# (call, indexes of the path arguments written, index of each one's dirfd or None)
_PATH_CALLS: dict[str, tuple[tuple[int, int | None], ...]] = {
    "mkdir": ((0, None),),
    "mkdirat": ((1, 0),),
    "mknod": ((0, None),),
    "mknodat": ((1, 0),),
    "rename": ((0, None), (1, None)),
    "renameat": ((1, 0), (3, 2)),
    "renameat2": ((1, 0), (3, 2)),
    "link": ((1, None),),
    "linkat": ((3, 2),),
    "symlink": ((1, None),),
    "symlinkat": ((2, 1),),
    "unlink": ((0, None),),
    "unlinkat": ((1, 0),),
    "rmdir": ((0, None),),
    "truncate": ((0, None),),
    "chmod": ((0, None),),
    "fchmodat": ((1, 0),),
    "chown": ((0, None),),
    "lchown": ((0, None),),
    "fchownat": ((1, 0),),
    "utime": ((0, None),),
    "utimes": ((0, None),),
    "utimensat": ((1, 0),),
    "futimesat": ((1, 0),),
    "setxattr": ((0, None),),
    "lsetxattr": ((0, None),),
    "removexattr": ((0, None),),
    "lremovexattr": ((0, None),),
}
_OPEN_CALLS = {"open": (0, None, 1), "openat": (1, 0, 2), "openat2": (1, 0, 2), "creat": (0, None, None)}
_FORKS = ("clone", "clone3", "fork", "vfork")


def available() -> bool:
    return shutil.which(STRACE) is not None


def traced(cmd: list[str], log: Path, *, append: bool = False) -> list[str]:
    """``cmd`` under strace: children followed, fds decoded to paths, strings in full, into ``log``
    (appended to, with ``append``: several runs, each its own processes)."""
    flags = ["-f", "--seccomp-bpf", "-qq", "-y", "-s", "4096", "-e", f"trace={TRACED_CALLS}", "-e", "signal=none"]
    if append:
        flags.append("-A")
    return [STRACE, *flags, "-o", str(log), *cmd]


def _split_args(text: str) -> list[str]:
    """Top-level comma-separated arguments of a call (quotes, braces and brackets respected)."""
    out, depth, cur, quoted, escaped = [], 0, [], False, False
    for ch in text:
        if quoted:
            cur.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
            continue
        if ch == '"':
            quoted = True
        elif ch in "{[(":
            depth += 1
        elif ch in "}])":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    if cur:
        out.append("".join(cur).strip())
    return out


def _unquote(arg: str) -> str | None:
    m = _STRING.fullmatch(arg.strip())
    if not m:
        return None
    return m.group(1).encode("latin-1", "backslashreplace").decode("unicode_escape")


@dataclass(frozen=True)
class Call:
    pid: int
    name: str
    args: list[str]
    ret: int | None


def calls(log: Path) -> Iterable[Call]:
    """The calls of a ``strace -f -o`` log, an interrupted call joined with its resumption."""
    pending: dict[str, str] = {}
    for raw in log.read_text(errors="replace").splitlines():
        line = raw
        if m := _UNFINISHED.match(line):
            pending[m["pid"]] = m["head"]
            continue
        if m := _RESUMED.match(line):
            head = pending.pop(m["pid"], None)
            if head is None:
                continue
            line = f"{m['pid']} {head}{m['tail']}"
        m = _LINE.match(line)
        if not m:
            continue
        ret = None if m["ret"] == "?" else int(m["ret"])
        yield Call(int(m["pid"]), m["call"], _split_args(m["args"]), ret)


def _resolve(path: str, dirfd: str | None, cwd: str) -> str:
    if path.startswith("/"):
        return os.path.normpath(path)
    base = m["path"] if dirfd is not None and (m := _FD.match(dirfd)) else cwd
    return os.path.normpath(os.path.join(base, path))


def written_paths(log: Path, start_cwd: Path) -> set[str]:
    """Every absolute path a successful call in ``log`` created, changed or removed, every run in
    it having started in ``start_cwd``."""
    cwd: dict[int, str] = {}
    out: set[str] = set()
    for c in calls(log):
        # A process first seen without a parent here started the run (or, in a log several runs
        # append to, started its own): in the working directory it was started in.
        here = cwd.setdefault(c.pid, str(start_cwd))
        # -y prints the working directory on every AT_FDCWD: the most direct evidence of it.
        for arg in c.args:
            if arg.startswith("AT_FDCWD<") and (m := _FD.match(arg)):
                here = cwd[c.pid] = m["path"]
        if c.ret is None or c.ret < 0:
            continue
        if c.name in _FORKS:
            # The child may have run (and changed directory) before its parent's call returned.
            cwd.setdefault(c.ret, here)
            continue
        if c.name == "chdir":
            target = _unquote(c.args[0])
            if target is not None:
                cwd[c.pid] = _resolve(target, None, here)
            continue
        if c.name == "fchdir":
            if m := _FD.match(c.args[0]):
                cwd[c.pid] = m["path"]
            continue
        targets: list[tuple[str | None, str | None]] = []
        if c.name in _OPEN_CALLS:
            path_i, fd_i, flags_i = _OPEN_CALLS[c.name]
            flags = c.args[flags_i] if flags_i is not None and flags_i < len(c.args) else "O_CREAT"
            if any(f in flags for f in _WRITE_FLAGS):
                targets.append((_unquote(c.args[path_i]), c.args[fd_i] if fd_i is not None else None))
        elif c.name in _PATH_CALLS:
            for path_i, fd_i in _PATH_CALLS[c.name]:
                if path_i < len(c.args):
                    targets.append((_unquote(c.args[path_i]), c.args[fd_i] if fd_i is not None else None))
        elif c.name == "bind":
            m = _SUN_PATH.search(c.args[1]) if len(c.args) > 1 else None
            if m and m.group(1) and not m.group(1).startswith("@"):
                targets.append((m.group(1), None))
        for path, dirfd in targets:
            if path is None:
                continue
            out.add(_resolve(path, dirfd, here))
    return out


def under(path: str, roots: Iterable[str]) -> bool:
    """``path`` is one of ``roots`` or inside one."""
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


# The rendered container's file system, on this machine ----------------------------------------

# What the container runtime mounts over the image in every container, so a write there never
# reaches the image's root: a proc file system at /proc and a tmpfs at /dev (containerd
# pkg/oci/mounts.go defaultMounts; /dev/null and /proc/self/* are what servers write).
RUNTIME_MOUNTS = ("/dev", "/proc")
# Where a process looks for the Kubernetes token when the pod has one.
TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def writable_mounts(volumes: list[dict], container: dict) -> tuple[str, ...]:
    """Mount paths of the container's emptyDir volumes (disk or memory) not mounted read-only."""
    empty = {v["name"] for v in volumes if "emptyDir" in v}
    return tuple(
        sorted(
            m["mountPath"] for m in container.get("volumeMounts", []) if m["name"] in empty and not m.get("readOnly")
        )
    )


@dataclass(frozen=True)
class PodFiles:
    """The container's file system as a run here lays it out: pod path ``/a/b`` is ``root/a/b``.

    What a test maps this way (the paths in the rendered env, args and config, the image's working
    directory and home) is read back as the pod path. A path a server writes that is not under
    ``root`` is a path written literally (``/tmp/...``, ``/dev/shm/...``): the same path in the pod.
    Only the test's own files (``instrumentation``, under ``test_dir``) are left out; anything else
    under ``test_dir`` that is not under ``root`` is reported as unmapped.
    """

    root: Path
    writable: tuple[str, ...]
    test_dir: Path
    instrumentation: frozenset[str] = frozenset()

    def local(self, pod_path: str) -> Path:
        return self.root / pod_path.lstrip("/")

    def localize(self, text: str, pod_paths: Iterable[str]) -> str:
        """``text`` with each of ``pod_paths`` (absolute directories) replaced, wherever one starts
        a path in it, by its local path; in one pass, so a replacement is never replaced again."""
        alternatives = "|".join(re.escape(p.rstrip("/")) for p in sorted(pod_paths, key=len, reverse=True))
        pattern = re.compile(rf"(?<![\w./-])({alternatives})(?=$|[/\s,;:='\"])")
        return pattern.sub(lambda m: str(self.local(m.group(1))), text)

    def make(self, *pod_dirs: str) -> None:
        """Create the writable mounts and ``pod_dirs`` (the image's own directories)."""
        for p in (*self.writable, *pod_dirs):
            self.local(p).mkdir(parents=True, exist_ok=True)

    def pod_path(self, written: str) -> str | None:
        """The pod path a written local path stands for; None for the test's own files."""
        root, test_dir = str(self.root), str(self.test_dir)
        if written == root or written.startswith(root + "/"):
            return "/" + os.path.relpath(written, root).removeprefix(".")
        if written in self.instrumentation:
            return None
        if written == test_dir or written.startswith(test_dir + "/"):
            return f"unmapped:{written}"
        return written

    def outside_writable(self, written: Iterable[str]) -> list[str]:
        """Pod paths written outside the container's writable mounts (and the runtime's)."""
        out = set()
        for w in written:
            p = self.pod_path(w)
            if p is not None and not under(p, (*self.writable, *RUNTIME_MOUNTS)):
                out.add(p)
        return sorted(out)


def opened(log: Path, prefix: str) -> list[str]:
    """Every path under ``prefix`` a traced call in ``log`` named (an open, whether it succeeded
    or not, or any other traced call)."""
    out = set()
    for c in calls(log):
        for arg in c.args:
            path = _unquote(arg)
            if path is not None and under(path, (prefix,)):
                out.add(path)
    return sorted(out)
