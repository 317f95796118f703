#!/usr/bin/env python3
"""The attacker of the race tests (test/integration/race-*.test.ts).

Runs as an unprivileged user (the tests start it as `nobody`) that owns the managed directories,
exactly like the app user of the threat model. It atomically exchanges names it owns with symlinks
to files and directories outside the managed roots (renameat2 with RENAME_EXCHANGE, so at every
instant each name is either the bait or the link): over and over in a tight loop, or when inotify
reports that the worker opened the bait. It re-creates its bait whenever the worker changed it, so
every attempt of the worker has something to act on, and it keeps swapping while it does so.
Every 20 ms it also reads whatever it can below the managed roots (gunzipping .gz) and reports any
file holding the victims' secret marker: a leak of something it may not read.

Usage: race-attacker.py <spec.json>. Prints READY once set up, LEAK <path> per leak found, and
STATS <exchanges> when stopped with SIGTERM (after a last scan).

spec: {"slots": [slot...], "scan": [dir...], "marker": "SECRET-..."}
slot: {"path": P, "victim": V, "bait": bait, "mode": M} -- P is exchanged with P + ".swap", a
      symlink to V. M "toggle" (default): swapped on every tick (half the time each); "pulse":
      every 100th tick swapped and at once swapped back (the link is there only for an instant,
      so most attempts get past their first check); "open": left as bait until inotify reports
      that someone opened it, then the link is swapped in and held for a few milliseconds (the
      worker's next use of the name, after its checks, meets the link)
bait: {"kind": "file", "content": str, "mode": int, "age": seconds}
      {"kind": "dir", "files": {name: file bait}, "dirs": {name: dir bait}, "prune": [rel...]}
      ("prune": directories the worker creates that are removed again, deepest first)
"""
import ctypes
import gzip
import json
import os
import signal
import stat
import struct
import sys
import time

AT_FDCWD = -100
RENAME_EXCHANGE = 2
IN_NONBLOCK = 0o4000
IN_OPEN = 0x20
HOLD_SECONDS = 0.005
SCAN_SECONDS = 0.02
libc = ctypes.CDLL(None, use_errno=True)
libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def lstat(name, dir_fd=None):
    try:
        return os.lstat(name, dir_fd=dir_fd)
    except OSError:
        return None


def is_link(st):
    return st is not None and stat.S_ISLNK(st.st_mode)


class Attacker:
    def __init__(self, spec):
        self.slots = spec["slots"]
        self.scan_dirs = spec["scan"]
        self.marker = spec["marker"].encode()
        self.toggled = [s for s in self.slots if s.get("mode", "toggle") != "open"]
        self.triggered = [s for s in self.slots if s.get("mode") == "open"]
        self.inotify = libc.inotify_init1(IN_NONBLOCK)
        self.watched = {}  # wd -> directory path
        self.held = {}  # path -> monotonic time to swap the bait back
        self.ticks = 0
        self.exchanges = 0
        self.reported = set()
        self.stopping = False

    # --- swapping -------------------------------------------------------------------------------

    def exchange(self, p):
        if libc.renameat2(AT_FDCWD, p.encode(), AT_FDCWD, (p + ".swap").encode(), RENAME_EXCHANGE) == 0:
            self.exchanges += 1

    def tick(self):
        """One swap of every toggled slot; reacts to the worker's opens of triggered ones."""
        self.ticks += 1
        for s in self.toggled:
            if s.get("mode") != "pulse":
                self.exchange(s["path"])
            elif self.ticks % 100 == 0:
                self.exchange(s["path"])
                self.exchange(s["path"])
        if not self.triggered:
            return
        opened = self.opened()
        now = time.monotonic()
        for s in self.triggered:
            p = s["path"]
            if p in self.held:
                if now >= self.held[p]:
                    self.exchange(p)
                    del self.held[p]
            elif p in opened and not is_link(lstat(p)):
                self.exchange(p)
                self.held[p] = now + HOLD_SECONDS

    def rewatch(self):
        # Re-added every round: a directory the worker removed and the bait re-created is a new inode.
        for s in self.triggered:
            parent = os.path.dirname(s["path"])
            wd = libc.inotify_add_watch(self.inotify, parent.encode(), IN_OPEN)
            if wd >= 0:
                self.watched[wd] = parent

    def opened(self):
        """Paths opened since the last call (by anyone: call it right after our own opens)."""
        names = set()
        while True:
            try:
                buf = os.read(self.inotify, 65536)
            except BlockingIOError:
                return names
            i = 0
            while i + 16 <= len(buf):
                wd, _mask, _cookie, length = struct.unpack_from("iIII", buf, i)
                name = buf[i + 16 : i + 16 + length].split(b"\0", 1)[0].decode()
                i += 16 + length
                if wd in self.watched:
                    names.add(os.path.join(self.watched[wd], name))

    # --- bait (written through directory fds, so the swapping can go on meanwhile) ----------------

    def make_file(self, dir_fd, name, bait):
        """Writes the bait file again when it is missing or the worker changed its size, mode or age."""
        st = lstat(name, dir_fd)
        data = bait["content"].encode()
        mode = bait.get("mode", 0o644)
        age = bait.get("age", 0)
        if st is not None and not stat.S_ISREG(st.st_mode):
            return
        fresh_enough = st is not None and (age == 0 or st.st_mtime < time.time() - age + 60)
        if st is not None and st.st_size == len(data) and stat.S_IMODE(st.st_mode) == mode and fresh_enough:
            return
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode, dir_fd=dir_fd)
        except OSError:
            return
        try:
            os.write(fd, data)
            os.fchmod(fd, mode)
            if age:
                t = time.time() - age
                os.utime(fd, (t, t))
        finally:
            os.close(fd)
        self.opened()  # our own open is no trigger
        self.tick()

    def make_dir(self, parent_fd, name, bait):
        st = lstat(name, parent_fd)
        try:
            if st is None:
                os.mkdir(name, 0o755, dir_fd=parent_fd)
            elif not stat.S_ISDIR(st.st_mode):
                return
            fd = os.open(name, DIR_FLAGS, dir_fd=parent_fd)
        except OSError:
            return
        try:
            for rel in bait.get("prune", []):
                self.prune(fd, rel)
            for sub, sub_bait in bait.get("dirs", {}).items():
                self.make_dir(fd, sub, sub_bait)
            for f, f_bait in bait.get("files", {}).items():
                self.make_file(fd, f, f_bait)
        finally:
            os.close(fd)

    def prune(self, dir_fd, rel):
        head, _, last = rel.rpartition("/")
        try:
            fd = os.open(head, DIR_FLAGS, dir_fd=dir_fd) if head else os.dup(dir_fd)
        except OSError:
            return
        try:
            os.rmdir(last, dir_fd=fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def ensure(self, slot):
        """One name holds the bait, the other (P or P.swap) a symlink to the victim."""
        parent, name = os.path.split(slot["path"])
        try:
            pfd = os.open(parent, DIR_FLAGS)
        except OSError:
            return
        try:
            swap = name + ".swap"
            sa, sb = lstat(name, pfd), lstat(swap, pfd)
            if is_link(sa):
                bait_name = swap
            elif is_link(sb):
                bait_name = name
            else:
                link_name = swap if sb is None else name if sa is None else None
                if link_name is None:
                    return  # both taken by bait (a swap raced this look): next round
                try:
                    os.symlink(slot["victim"], link_name, dir_fd=pfd)
                except OSError:
                    return
                bait_name = name if link_name == swap else swap
            bait = slot["bait"]
            if bait["kind"] == "file":
                self.make_file(pfd, bait_name, bait)
            else:
                self.make_dir(pfd, bait_name, bait)
        finally:
            os.close(pfd)

    # --- reading what leaked --------------------------------------------------------------------

    def scan(self):
        for top in self.scan_dirs:
            for root, _dirs, files in os.walk(top):
                for name in files:
                    self.check(os.path.join(root, name))
                    self.opened()
                    self.tick()

    def check(self, p):
        try:
            fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return
            data = os.read(fd, 4 << 20)
        finally:
            os.close(fd)
        if p.endswith(".gz"):
            try:
                data = gzip.decompress(data)
            except Exception:
                pass
        key = (p, st.st_ino, st.st_mtime_ns)
        if self.marker in data and key not in self.reported:
            self.reported.add(key)
            print("LEAK " + p, flush=True)

    def run(self):
        for s in self.slots:
            self.ensure(s)
        print("READY", flush=True)
        last_scan = 0.0
        while not self.stopping:
            for s in self.slots:
                if s["path"] not in self.held:
                    self.ensure(s)
            self.rewatch()
            self.opened()
            for _ in range(100):
                self.tick()
            if not self.held and time.monotonic() - last_scan > SCAN_SECONDS:
                self.scan()
                last_scan = time.monotonic()
        self.scan()
        print("STATS %d" % self.exchanges, flush=True)


def main():
    attacker = Attacker(json.load(open(sys.argv[1])))

    def stop(_sig, _frame):
        attacker.stopping = True

    signal.signal(signal.SIGTERM, stop)
    attacker.run()


if __name__ == "__main__":
    main()
