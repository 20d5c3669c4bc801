"""Content-addressed snapshots of a run's source directory.

A run's identity starts with *what code it ran*.  ``scan()`` walks the source
directory (honouring the ignore rules of :mod:`providers.run.ignore`), hashes
every file and returns a :class:`Snapshot` whose ``hash`` covers paths, file
modes and contents.  Plan only scans (cheap: a stat cache in the workspace
maps ``(path, size, mtime_ns, inode)`` to the file's sha256, so an unchanged
tree is never re-read); apply ``materialize()``-s the snapshot once under
``<artifact_root>/snapshots/<hash>/`` with a manifest next to it
(``<hash>.json``) that later plans use to say *which* file changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
import threading
import uuid
from dataclasses import dataclass, field

from providers.run.ignore import IgnoreRules, load_rules

__all__ = ["Snapshot", "SnapshotError", "scan", "materialize", "load_manifest", "diff_manifests", "StatCache"]

_CHUNK = 1 << 20


class SnapshotError(Exception):
    """A user-facing problem with the source directory (turned into a diagnostic)."""


@dataclass
class FileEntry:
    sha256: str
    size: int
    mode: int  # 0o755 or 0o644 (only the executable bit matters); 0o120000 for links
    link: str | None = None


@dataclass
class Snapshot:
    source_dir: str
    hash: str
    files: dict[str, FileEntry] = field(default_factory=dict)
    ignore_origin: str | None = None

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files.values())

    def largest(self, n: int = 5) -> list[tuple[str, int]]:
        return sorted(((p, f.size) for p, f in self.files.items()), key=lambda x: (-x[1], x[0]))[:n]

    def manifest(self) -> dict:
        return {p: {"sha256": f.sha256, "size": f.size, "mode": f.mode, **({"link": f.link} if f.link else {})} for p, f in sorted(self.files.items())}


class StatCache:
    """``relpath -> [size, mtime_ns, inode, sha256]`` for one source directory.

    Stored as JSON under ``<cache_dir>/stat/<sha1 of the absolute source dir>.json``;
    written atomically.  A lost or corrupt cache only costs a re-hash.
    """

    _locks: dict[str, threading.Lock] = {}
    _guard = threading.Lock()

    def __init__(self, cache_dir: str | None, source_dir: str) -> None:
        self.path = None
        self.entries: dict[str, list] = {}
        self.dirty = False
        if cache_dir:
            key = hashlib.sha1(os.path.abspath(source_dir).encode()).hexdigest()
            self.path = os.path.join(cache_dir, "stat", key + ".json")
            try:
                with open(self.path) as f:
                    data = json.load(f)
                if isinstance(data, dict) and data.get("version") == 1:
                    self.entries = data.get("files", {})
            except (OSError, ValueError):
                pass

    def get(self, rel: str, st: os.stat_result) -> str | None:
        e = self.entries.get(rel)
        if e and e[0] == st.st_size and e[1] == st.st_mtime_ns and e[2] == st.st_ino:
            return e[3]
        return None

    def put(self, rel: str, st: os.stat_result, sha: str) -> None:
        self.entries[rel] = [st.st_size, st.st_mtime_ns, st.st_ino, sha]
        self.dirty = True

    def save(self, keep: set[str]) -> None:
        if not self.path:
            return
        stale = set(self.entries) - keep
        if not self.dirty and not stale:
            return
        for k in stale:
            del self.entries[k]
        with self._guard:
            lock = self._locks.setdefault(self.path, threading.Lock())
        with lock:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(self.path), prefix=".stat-")
            with os.fdopen(fd, "w") as f:
                json.dump({"version": 1, "files": self.entries}, f)
            os.replace(tmp, self.path)
        self.dirty = False


def _hash_file(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _walk(root: str, rules: IgnoreRules):
    """Yield (relpath, DirEntry) for kept files and symlinks, sorted, pruning ignored dirs."""
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        full = os.path.join(root, rel_dir) if rel_dir else root
        try:
            entries = sorted(os.scandir(full), key=lambda e: e.name)
        except OSError as e:
            raise SnapshotError(f"cannot read directory {full}: {e.strerror}") from e
        subdirs = []
        for e in entries:
            rel = f"{rel_dir}/{e.name}" if rel_dir else e.name
            if e.is_symlink():
                if not rules.ignored(rel, False):
                    yield rel, e
            elif e.is_dir():
                if not rules.ignored(rel, True):
                    subdirs.append(rel)
            elif e.is_file():
                if not rules.ignored(rel, False):
                    yield rel, e
        stack.extend(reversed(subdirs))


def scan(source_dir: str, cache_dir: str | None = None) -> Snapshot:
    """Hash the source directory (no copy).  Raises SnapshotError for user problems."""
    source_dir = os.path.abspath(source_dir)
    if not os.path.isdir(source_dir):
        raise SnapshotError(f"source_directory {source_dir} does not exist or is not a directory")
    rules = load_rules(source_dir)
    cache = StatCache(cache_dir, source_dir)
    files: dict[str, FileEntry] = {}
    for rel, entry in _walk(source_dir, rules):
        if entry.is_symlink():
            target = os.readlink(entry.path)
            files[rel] = FileEntry(hashlib.sha256(target.encode()).hexdigest(), 0, 0o120000, target)
            continue
        st = entry.stat()
        sha = cache.get(rel, st)
        if sha is None:
            try:
                sha = _hash_file(entry.path)
            except OSError as e:
                raise SnapshotError(f"cannot read {entry.path}: {e.strerror}") from e
            cache.put(rel, st, sha)
        # 0644/0755 as git does, never more than the source allows (a 0600 file stays 0600)
        mode = (0o755 if st.st_mode & stat.S_IXUSR else 0o644) & st.st_mode
        files[rel] = FileEntry(sha, st.st_size, mode)
    try:
        cache.save(set(files))
    except OSError:
        pass  # the cache is an optimisation only
    return Snapshot(source_dir, tree_hash(files), files, rules.origin)


def tree_hash(files: dict[str, FileEntry]) -> str:
    h = hashlib.sha256()
    for rel in sorted(files):
        f = files[rel]
        h.update(f"{rel}\0{f.mode:o}\0{f.sha256}\n".encode())
    return h.hexdigest()


def materialize(snap: Snapshot, snapshots_dir: str) -> str:
    """Copy the snapshot to ``<snapshots_dir>/<hash>/`` once; return that path.

    Files are re-hashed while copying: a file edited between plan and apply
    raises SnapshotError rather than silently running other code than planned.
    """
    dest = os.path.join(snapshots_dir, snap.hash)
    with _guard:
        lock = _locks.setdefault(dest, threading.Lock())
    with lock:  # runs sharing a snapshot in one apply copy it once
        return _materialize(snap, snapshots_dir, dest)


_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def _materialize(snap: Snapshot, snapshots_dir: str, dest: str) -> str:
    if os.path.isdir(dest):
        return dest
    os.makedirs(snapshots_dir, exist_ok=True)
    tmp = os.path.join(snapshots_dir, f".tmp-{uuid.uuid4().hex[:12]}")
    os.makedirs(tmp)
    try:
        for rel, f in snap.files.items():
            src = os.path.join(snap.source_dir, rel)
            dst = os.path.join(tmp, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if f.link is not None:
                os.symlink(f.link, dst)
                continue
            h = hashlib.sha256()
            with open(src, "rb") as fi, open(dst, "wb") as fo:
                while True:
                    chunk = fi.read(_CHUNK)
                    if not chunk:
                        break
                    h.update(chunk)
                    fo.write(chunk)
            if h.hexdigest() != f.sha256:
                raise SnapshotError(f"{rel} changed while the snapshot was being taken; run the command again")
            os.chmod(dst, f.mode)
        os.makedirs(os.path.join(tmp, "outputs"), exist_ok=True)  # mount point for the outputs folder
        mtmp = tmp + ".json"
        with open(mtmp, "w") as mf:
            json.dump({"version": 1, "hash": snap.hash, "files": snap.manifest()}, mf)
        os.replace(mtmp, os.path.join(snapshots_dir, snap.hash + ".json"))
        try:
            os.rename(tmp, dest)
        except OSError:
            if not os.path.isdir(dest):  # lost a race with an identical snapshot: fine
                raise
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def load_manifest(snapshots_dir: str, snap_hash: str) -> dict | None:
    """``relpath -> {sha256, size, mode}`` of an earlier snapshot, or None."""
    try:
        with open(os.path.join(snapshots_dir, snap_hash + ".json")) as f:
            return json.load(f).get("files")
    except (OSError, ValueError, AttributeError):
        return None


def diff_manifests(old: dict, new: dict) -> list[str]:
    """Human phrases: "train.py changed", "data.py added", "old.py removed"."""
    out = []
    for rel in sorted(set(old) | set(new)):
        a, b = old.get(rel), new.get(rel)
        if a is None:
            out.append(f"{rel} added")
        elif b is None:
            out.append(f"{rel} removed")
        elif a.get("sha256") != b.get("sha256"):
            out.append(f"{rel} changed")
        elif a.get("mode") != b.get("mode"):
            out.append(f"{rel} mode changed")
    return out
