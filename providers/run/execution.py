"""What every executor shares: the attempt specification and the attempt loop.

An executor (``executor_docker``, ``executor_process``) only knows how to
start one attempt and hand back a :class:`Handle`; :func:`run_attempt` owns
the policy: stream and save the output line by line, enforce the timeout,
honour cancellation, and report the final status.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Protocol

from providers.run.records import RunPaths

__all__ = ["AttemptResult", "AttemptSpec", "Execution", "Handle", "run_attempt", "save_log", "split_lines"]


def save_log(path: str, text: str, mask: Callable[[str], str] | None = None) -> None:
    """Write a whole log collected after the fact (a container's output), through the
    run's masker when the sensitive values are at hand."""
    import os

    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for line in text.splitlines():
            f.write((mask(line) if mask is not None else line) + "\n")
    os.replace(tmp, path)


@dataclass
class AttemptSpec:
    run_id: str
    address: str
    argv: list[str]
    env: dict[str, str]
    snapshot_dir: str
    paths: RunPaths
    attempt: int = 1
    gpus: list[int] = field(default_factory=list)
    image: str | None = None
    registry_auth: dict | None = None
    labels: dict[str, str] = field(default_factory=dict)
    #: ``str -> str`` applied to every output line before it is shown or saved
    #: (providers.run.masking.Masker: sensitive values become ***); None: as is
    mask: Callable[[str], str] | None = None
    #: which variables / command-line words are sensitive (names and indexes, no values;
    #: see providers.run.provider._mask_targets): lets an execution mask its own output
    mask_targets: dict | None = None
    #: ``wait = false``: the attempt must outlive this trainform (Ray: a Job, not a task of
    #: trainform's driver subprocess, which ends with the CLI)
    detached: bool = False


@dataclass
class AttemptResult:
    status: str  # succeeded | failed | timed_out | cancelled
    exit_code: int | None
    started: float
    ended: float
    ident: str | None  # container id or pid


@dataclass
class Execution:
    """What an executor sees of an execution it may not have started itself."""

    kind: str  # running | exited | not_started (created, never ran) | lost (gone without a result)
    exit_code: int | None = None
    started: float | None = None
    ended: float | None = None
    ident: str | None = None
    logs: str | None = None  # the full output when the executor keeps it (docker)


class Handle(Protocol):
    ident: str

    def lines(self) -> Iterator[str]: ...  # output lines until the attempt's output ends
    def poll(self) -> int | None: ...  # exit code once finished
    def kill(self) -> None: ...
    def wait(self, timeout: float) -> int | None: ...
    def cleanup(self) -> None: ...


def split_lines(chunks: Iterator[bytes]) -> Iterator[str]:
    """Bytes chunks -> text lines (a partial last line is still yielded)."""
    buf = b""
    for chunk in chunks:
        if not chunk:
            continue
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield line.decode("utf-8", "replace").rstrip("\r")
    if buf:
        yield buf.decode("utf-8", "replace").rstrip("\r")


def run_attempt(handle: Handle, spec: AttemptSpec, on_line: Callable[[str], None], timeout_s: float | None,
                abort: Callable[[], bool], started: float, poll: float = 0.1) -> AttemptResult:
    """Follow a started attempt to its end; the log is written to ``spec.paths.log(attempt)``."""
    log_path = spec.paths.log(spec.attempt)
    mask = spec.mask
    done = threading.Event()
    writes = getattr(handle, "writes_log", True)  # False: the process writes the log file itself

    def pump():
        try:
            with open(log_path if writes else os.devnull, "w" if getattr(handle, "adopted", False) else "a", encoding="utf-8") as log:
                for line in handle.lines():
                    if mask is not None:
                        line = mask(line)
                    log.write(line + "\n")
                    log.flush()
                    try:
                        on_line(line)
                    except Exception:  # noqa: BLE001 - a display problem must not kill the run
                        pass
        except Exception as e:  # noqa: BLE001 - the stream broke; the exit code still decides
            try:
                on_line(f"[trainform] log stream interrupted: {e}")
            except Exception:  # noqa: BLE001
                pass
        finally:
            done.set()

    t = threading.Thread(target=pump, name=f"logs-{spec.run_id}", daemon=True)
    t.start()
    deadline = started + timeout_s if timeout_s else None
    status = None
    code = None
    while True:
        code = handle.poll()
        if code is not None:
            if code != 0 and abort():  # killed by a cancel() from another thread
                status = "cancelled"
            break
        if abort():
            status = "cancelled"
        elif deadline is not None and time.time() > deadline:
            status = "timed_out"
        if status is not None:
            handle.kill()
            code = handle.wait(30)
            break
        time.sleep(poll)
    done.wait(10)  # let the last lines arrive
    ended = time.time()
    if status is None:
        status = "succeeded" if code == 0 else "failed"
    return AttemptResult(status, code, started, ended, handle.ident)
