"""On-disk layout of a run under the workspace's artifact root.

::

    <artifact_root>/runs/<run id>/
        record.json            status, attempts, container/pid -- what `read` trusts
        logs/attempt-N.log     the output of each attempt
        outputs/               the script's ./outputs (kept after the run)
        trainform/metrics.jsonl  the metrics file (mounted at /trainform in containers)
        trainform/pid-N, exit-N  process mode: the wrapper's pid and the exit code
        work/                  process mode only: the private copy of the snapshot

The record is written atomically at every status change, so a refresh in
another process (``wait = false``) or a crash leaves a readable answer.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from datetime import datetime, timezone

__all__ = ["RunPaths", "read_record", "write_record", "now_iso", "new_run_id", "TERMINAL", "ACTIVE"]

TERMINAL = ("succeeded", "failed", "timed_out", "cancelled")
#: an execution exists (or is about to) and its result is not yet known
ACTIVE = ("queued", "starting", "running")


class RunPaths:
    def __init__(self, artifact_root: str, run_id: str) -> None:
        self.root = os.path.join(artifact_root, "runs", run_id)
        self.record = os.path.join(self.root, "record.json")
        self.logs = os.path.join(self.root, "logs")
        self.outputs = os.path.join(self.root, "outputs")
        self.meta = os.path.join(self.root, "trainform")
        self.metrics = os.path.join(self.meta, "metrics.jsonl")
        self.work = os.path.join(self.root, "work")
        self.exit_file = os.path.join(self.meta, "exit_code")

    def log(self, attempt: int) -> str:
        return os.path.join(self.logs, f"attempt-{attempt}.log")

    def exit_file_n(self, attempt: int) -> str:
        """Process mode: the exit code, written by the wrapper when the command ends."""
        return os.path.join(self.meta, f"exit-{attempt}")

    def pid_file(self, attempt: int) -> str:
        """Process mode: the wrapper's pid, written before the command starts."""
        return os.path.join(self.meta, f"pid-{attempt}")

    def create(self) -> None:
        for d in (self.logs, self.outputs, self.meta):
            os.makedirs(d, exist_ok=True)

    @classmethod
    def from_dir(cls, run_dir: str) -> "RunPaths":
        p = cls.__new__(cls)
        cls.__init__(p, os.path.dirname(os.path.dirname(run_dir)), os.path.basename(run_dir))
        return p


def now_iso(t: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if t is None else t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(s: str | None) -> float | None:
    if not s:
        return None
    try:
        return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def new_run_id(experiment: str | None, name: str) -> str:
    """Azure-ML-like ids: ``<experiment>_<unix time>_<random>`` (filesystem- and docker-safe)."""
    import uuid

    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", (experiment or name or "run")).strip("-.") or "run"
    return f"{base[:40]}_{int(time.time())}_{uuid.uuid4().hex[:8]}"


def write_record(path: str, record: dict) -> None:
    d = os.path.dirname(path)
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".record-")
    with os.fdopen(fd, "w") as f:
        json.dump(record, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def read_record(path: str) -> dict | None:
    try:
        with open(path) as f:
            data = json.load(f)
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None
