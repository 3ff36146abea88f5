"""Power-loss simulation for the crash test (see crash_test.py, `--mode power-loss`).

SIGKILL leaves the page cache alone, so it cannot tell a durable write from one that only
reached the kernel. This module simulates losing everything that was not fsynced, for one
directory tree (the "disk"; the crash test puts the server's data dir in it):

  - `powerloss_shim.c`, built here with gcc, is LD_PRELOADed into the server (and into fsck).
    For files under the disk it copies a regular file's content at each fsync/fdatasync into
    a shadow store keyed by inode, and records a directory's entries (name -> inode) at each
    fsync of that directory; what it cannot model it reports (details in the C file).
  - `PowerLoss.power_loss()`, called after the processes were SIGKILLed, rebuilds the disk
    from its durable state only: starting from its root, every directory gets the entries of
    its last fsync in this round, or those it had at the start of the round (an entry created
    or renamed since is gone, one removed since comes back), and every file gets the content
    of its inode's last fsync, or the content it had at the start of the round, or nothing
    (empty) when it was created in this round and never fsynced. Two durable names of one
    inode become hard links. What was rebuilt is the durable state of the next round.
  - `PowerLoss.settle()` takes the tree as it is as durable (a `sync`).

The model is the strict POSIX one: only fsync makes anything durable, and a new name (a
created file or directory, a rename) only through an fsync of the directory holding it. It
does not model torn writes of never-fsynced data (such bytes are simply lost) nor
filesystems that persist more than asked (ext4's journal usually commits a mkdir or rename
with the next fsync of any file). `self_check()` shows that the simulator keeps exactly what
was made durable and loses the rest. Only the standard library is used; gcc builds the
shim."""

import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap

SHIM_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "powerloss_shim.c")


class SimulatorError(Exception):
    """The simulator met something it cannot model, or failed itself."""


def build_shim(out_dir):
    """Compiles the shim into out_dir; returns the path of the shared object."""
    out = os.path.join(out_dir, "powerloss_shim.so")
    try:
        built = subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-Wall", "-o", out, SHIM_SOURCE,
                                "-ldl", "-lpthread"], capture_output=True, text=True)
    except FileNotFoundError:
        raise SimulatorError("the power-loss mode needs gcc to build its shim") from None
    if built.returncode != 0:
        raise SimulatorError(f"building the power-loss shim failed:\n{built.stderr}")
    return out


class PowerLoss:
    """The durable state of one data dir across simulated power losses."""

    def __init__(self, work, shim, verify_every=32):
        self.work, self.shim, self.verify_every = work, shim, verify_every
        self.store = os.path.join(work, "store")  # immutable copies of durable file contents
        os.makedirs(self.store, exist_ok=True)
        self.dirs = {}   # inode -> {name: (kind "d"|"f", inode)}, the durable entries
        self.files = {}  # inode -> path in the store, or None (empty), the durable content
        self.shadow = None
        self.rounds = 0
        self.stored = 0

    def _store_path(self):
        self.stored += 1
        return os.path.join(self.store, str(self.stored))

    def settle(self, root):
        """Takes root as it is now as durable (a `sync`), ending the current round: for the
        initial state, or a sync point while no process of the round runs."""
        if self.shadow:
            problems = self.problems()
            if problems:
                raise SimulatorError("the power-loss shim reported:\n  " + "\n  ".join(problems[:20]))
            shutil.rmtree(self.shadow)
            self.shadow = None
        def walk(path):
            entries = {}
            with os.scandir(path) as it:
                for entry in it:
                    st = entry.stat(follow_symlinks=False)
                    if stat.S_ISDIR(st.st_mode):
                        entries[entry.name] = ("d", st.st_ino)
                        walk(entry.path)
                    elif stat.S_ISREG(st.st_mode):
                        entries[entry.name] = ("f", st.st_ino)
                        if st.st_ino not in self.files:
                            copy = None
                            if st.st_size:
                                copy = self._store_path()
                                shutil.copyfile(entry.path, copy)
                            self.files[st.st_ino] = copy
                    else:
                        raise SimulatorError(f"{entry.path}: only files and directories are modelled")
            self.dirs[os.stat(path).st_ino] = entries
        self.dirs, self.files = {}, {}
        walk(root)

    def env(self, root):
        """Environment for processes of the current round (a new round starts with the first
        call after `settle` or `power_loss`): their fsyncs under root are recorded."""
        if self.shadow is None:
            self.rounds += 1
            self.shadow = os.path.join(self.work, f"shadow-{self.rounds}")
            for sub in ("files", "dirs", "graveyard"):
                os.makedirs(os.path.join(self.shadow, sub))
        env = dict(os.environ)
        env.update(LD_PRELOAD=self.shim, PL_ROOT=root, PL_SHADOW=self.shadow,
                   PL_VERIFY_EVERY=str(self.verify_every))
        return env

    def problems(self):
        """What the shim reported (UNSUPPORTED, ERROR, MISMATCH lines) in this round."""
        log = os.path.join(self.shadow, "log") if self.shadow else None
        if not log or not os.path.exists(log):
            return []
        with open(log) as f:
            return [line.rstrip("\n") for line in f]

    def _listing(self, ino):
        path = os.path.join(self.shadow, "dirs", str(ino))
        if not os.path.exists(path):
            return self.dirs.get(ino, {})
        entries = {}
        with open(path) as f:
            for line in f:
                kind, child, name = line.split()
                if kind not in "df":
                    raise SimulatorError(f"entry {bytes.fromhex(name)!r}: only files and directories are modelled")
                entries[os.fsdecode(bytes.fromhex(name))] = (kind, int(child))
        return entries

    def power_loss(self, root):
        """After every process of the round was killed: replaces root by its durable state.
        Returns (directories, files, bytes) rebuilt and a summary of what was lost: the
        directories (outermost ones) that existed but were not durable, with the number of
        files in them, and the number of other entries that were not."""
        live = dict(_paths(root))
        problems = self.problems()
        if problems:
            raise SimulatorError("the power-loss shim reported:\n  " + "\n  ".join(problems[:20]))
        if not any(os.listdir(os.path.join(self.shadow, sub)) for sub in ("files", "dirs")):
            raise SimulatorError("the shim recorded no fsync in this round: was it loaded (LD_PRELOAD)?")
        new_dirs, new_files, made, moved = {}, {}, {}, {}
        counts = [0, 0, 0]
        building = root + ".rebuilding"

        def content(ino):
            shadowed = os.path.join(self.shadow, "files", str(ino))
            if os.path.exists(shadowed):
                if ino not in moved:  # into the store: it is durable content from now on
                    moved[ino] = self._store_path()
                    os.rename(shadowed, moved[ino])
                return moved[ino]
            return self.files.get(ino)

        def keep_mode(target):
            # Permissions are not modelled: a path keeps the mode it had when the power went.
            rel = os.path.relpath(target, building) + ("/" if os.path.isdir(target) else "")
            if rel in live:
                os.chmod(target, live[rel])

        def build(path, ino, ancestors):
            counts[0] += 1
            entries = {}
            for name, (kind, child) in sorted(self._listing(ino).items()):
                target = os.path.join(path, name)
                if kind == "d":
                    if child in ancestors or child in made:
                        raise SimulatorError(f"directory inode {child} is reachable twice ({target})")
                    os.mkdir(target)
                    made[child] = target
                    build(target, child, ancestors | {child})
                    keep_mode(target)
                elif child in made:
                    os.link(made[child], target)
                else:
                    source = content(child)
                    if source is None:
                        open(target, "wb").close()
                    else:
                        shutil.copyfile(source, target)
                        counts[2] += os.path.getsize(target)
                    made[child] = target
                    keep_mode(target)
                    new_files[os.stat(target).st_ino] = source
                    counts[1] += 1
                entries[name] = (kind, os.stat(made[child]).st_ino)
            new_dirs[os.stat(path).st_ino] = entries

        if os.path.exists(building):
            shutil.rmtree(building)
        os.mkdir(building)
        build(building, os.stat(root).st_ino, frozenset())
        # Swap in the rebuilt dir; its root's inode is taken from where it ends up.
        shutil.rmtree(root)
        os.rename(building, root)
        shutil.rmtree(self.shadow)
        self.shadow = None
        self.dirs, self.files = new_dirs, new_files
        for stored in set(os.listdir(self.store)) - {os.path.basename(p) for p in new_files.values() if p}:
            os.remove(os.path.join(self.store, stored))  # content no durable file has any more
        lost = set(live) - {p for p, _ in _paths(root)}
        lost_dirs = sorted(p for p in lost if p.endswith("/") and os.path.dirname(p[:-1]) + "/" not in lost)
        lost_dirs = [d for d in lost_dirs if not any(d != o and d.startswith(o) for o in lost_dirs)]
        inside = {d: sum(1 for p in lost if p.startswith(d) and not p.endswith("/")) for d in lost_dirs}
        others = sum(1 for p in lost if not any(p.startswith(d) for d in lost_dirs))
        summary = ", ".join(f"{d} ({n} files)" for d, n in inside.items())
        if others:
            summary += (", " if summary else "") + f"{others} other entries"
        return tuple(counts), summary


def _paths(root):
    """(relative path, permission bits) under root, directories with a trailing slash."""
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        prefix = "" if rel == "." else rel + "/"
        for name, suffix in [(d, "/") for d in dirnames] + [(f, "") for f in filenames]:
            mode = os.lstat(os.path.join(dirpath, name)).st_mode
            yield prefix + name + suffix, stat.S_IMODE(mode)


def read_tree(path):
    """{name: bytes | {...}} of a directory tree."""
    tree = {}
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if os.path.isdir(full):
            tree[name] = read_tree(full)
        else:
            with open(full, "rb") as f:
                tree[name] = f.read()
    return tree


# The self-check's two rounds, run by a child Python under the shim. Each ends with SIGKILL.
_ROUND_1 = r"""
import os, signal, sys
R = sys.argv[1]
def put(p, data, sync=False, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC):
    fd = os.open(p, flags, 0o644)
    os.write(fd, data)
    if sync:
        os.fsync(fd)
    return fd
def fsync_dir(p):
    fd = os.open(p, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
os.close(put(R + "/base", b"B1"))                     # rewritten, never fsynced: B0 stays
os.close(put(R + "/kept", b"K", sync=True))           # fsynced, entry made durable below
os.close(put(R + "/nosync", b"N"))                    # entry durable below, content never: empty
os.close(put(R + "/tmpfile", b"T", sync=True))
os.rename(R + "/tmpfile", R + "/final")               # renamed, directory fsynced below
os.mkdir(R + "/sub2")
os.close(put(R + "/sub2/f", b"F2", sync=True))
fsync_dir(R + "/sub2")
wal = os.open(R + "/wal", os.O_RDWR | os.O_CREAT, 0o644)
os.pwrite(wal, b"a" * 10, 0); os.pwrite(wal, b"b" * 10, 8192); os.fsync(wal)  # whole copy
os.pwrite(wal, b"c" * 10, 4096); os.pwrite(wal, b"d" * 5, 8195); os.fsync(wal)  # blocks
os.ftruncate(wal, 8197); os.pwrite(wal, b"e" * 3, 100); os.fsync(wal)            # shrink
wo = os.open(R + "/writeonly", os.O_WRONLY | os.O_CREAT, 0o600)
os.write(wo, b"W" * 5000); os.fsync(wo)               # write-only descriptor, file position
fsync_dir(R)
# Nothing below is made durable.
os.write(wo, b"lost")
os.pwrite(wal, b"f" * 4, 0)
os.close(put(R + "/late", b"L", sync=True))           # its directory is not fsynced again
os.unlink(R + "/gone")                                # the removal is not durable
os.rename(R + "/bd/x", R + "/moved")                  # neither is the rename
os.mkdir(R + "/sub")                                  # nor sub's entry in R
os.close(put(R + "/sub/f", b"S", sync=True))
fsync_dir(R + "/sub")
os.write(os.open(R + "/kept", os.O_WRONLY | os.O_APPEND), b"more")
os.kill(os.getpid(), signal.SIGKILL)
"""

_ROUND_2 = r"""
import os, signal, sys
R = sys.argv[1]
def fsync_dir(p):
    fd = os.open(p, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
fd = os.open(R + "/final", os.O_WRONLY | os.O_TRUNC)  # same inode, new content, fsynced
os.write(fd, b"T2"); os.fsync(fd)
wal = os.open(R + "/wal", os.O_RDWR)                  # first fsync of this process: whole copy
os.pwrite(wal, b"g", 5000); os.fsync(wal)
os.unlink(R + "/nosync")
os.rename(R + "/bd/x", R + "/moved2")                 # R fsynced below, bd not: two names
fsync_dir(R)
# Nothing below is made durable.
fd = os.open(R + "/new", os.O_WRONLY | os.O_CREAT); os.write(fd, b"NEW"); os.fsync(fd)
os.rename(R + "/new", R + "/kept")                    # kept's old inode must come back
os.unlink(R + "/sub2/f"); os.rmdir(R + "/sub2")       # comes back with f
os.kill(os.getpid(), signal.SIGKILL)
"""


def self_check(work, shim):
    """Runs two simulated power losses on a small tree and compares the result with what the
    strict model keeps. Raises SimulatorError when the simulator is wrong."""
    root = os.path.realpath(os.path.join(work, "root"))
    os.makedirs(os.path.join(root, "bd"))
    for name, data in (("base", b"B0"), ("gone", b"G0"), ("bd/x", b"X0")):
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
    sim = PowerLoss(os.path.join(work, "sim"), shim, verify_every=1)
    sim.settle(root)

    wal = bytearray(8197)
    wal[0:10], wal[100:103], wal[4096:4106], wal[8192:8197] = b"a" * 10, b"e" * 3, b"c" * 10, b"bbbdd"
    expected_1 = {"base": b"B0", "bd": {"x": b"X0"}, "final": b"T", "gone": b"G0", "kept": b"K",
                  "nosync": b"", "sub2": {"f": b"F2"}, "wal": bytes(wal), "writeonly": b"W" * 5000}
    wal[5000] = ord("g")
    expected_2 = dict(expected_1, final=b"T2", wal=bytes(wal), moved2=b"X0")
    del expected_2["nosync"]

    for number, (script, expected) in enumerate(((_ROUND_1, expected_1), (_ROUND_2, expected_2)), 1):
        child = subprocess.run([sys.executable, "-c", textwrap.dedent(script), root],
                               env=sim.env(root), capture_output=True, text=True)
        if child.returncode != -signal.SIGKILL:
            raise SimulatorError(f"self-check round {number}: the child failed:\n{child.stderr}")
        sim.power_loss(root)
        got = read_tree(root)
        if got != expected:
            raise SimulatorError(f"self-check round {number}: after the power loss the tree is\n"
                                 f"  {got!r}\nbut the durable state is\n  {expected!r}")
    if stat.S_IMODE(os.stat(os.path.join(root, "writeonly")).st_mode) != 0o600:
        raise SimulatorError("self-check: a rebuilt file must keep its permissions")
    if os.stat(os.path.join(root, "bd", "x")).st_ino != os.stat(os.path.join(root, "moved2")).st_ino:
        raise SimulatorError("self-check: a rename durable in one directory only must leave two names")
    shutil.rmtree(work)
