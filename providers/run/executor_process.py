"""Process mode: run the attempt as a host process (environment without ``docker``).

The process must outlive trainform (``kill -9``, a closed terminal, OOM), so
it never writes to a pipe trainform holds.  It runs under a small ``sh``
wrapper, in its own session, in a private copy of the snapshot
(``<run dir>/work``, whose ``outputs`` links to the run's outputs folder):

1. the wrapper writes its pid to ``trainform/pid-N`` *before* the command
   starts, so any later trainform can find the execution;
2. the command's output goes to ``logs/attempt-N.log``; trainform follows
   that file (:class:`TailHandle`) instead of a pipe;
3. the wrapper writes the exit code to ``trainform/exit-N`` when the command
   ends, whether or not a trainform is still there to see it.

A pid is trusted only if ``/proc/PID/environ`` carries the run's
``TRAINFORM_RUN_ID`` (pids are reused).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

from engine.providers import pid_alive
from providers.run.execution import AttemptSpec, Execution, split_lines

__all__ = ["ProcessExecutor", "TailHandle", "prepare_workdir"]

# The wrapper runs with trainform's umask (077: its pid, exit and log files are private); the
# command runs with the user's (TRAINFORM_USER_UMASK), without the wrapper's variables.
_PID = 'echo $$ >"$TRAINFORM_PID_FILE.tmp" && mv "$TRAINFORM_PID_FILE.tmp" "$TRAINFORM_PID_FILE" || exit 125; '
_RUN = ('( umask "$TRAINFORM_USER_UMASK"; unset TRAINFORM_USER_UMASK TRAINFORM_PID_FILE TRAINFORM_EXIT_FILE TRAINFORM_LOG_FILE '
        'TRAINFORM_MASK_SECRETS TRAINFORM_MASK_PYTHON TRAINFORM_MASK_FILTER; exec "$@" )')
_WRAPPER = (
    'trap "true" TERM INT; ' + _PID
    + _RUN + ' >>"$TRAINFORM_LOG_FILE" 2>&1 </dev/null; code=$?; '
    'echo $code >"$TRAINFORM_EXIT_FILE.tmp"; mv "$TRAINFORM_EXIT_FILE.tmp" "$TRAINFORM_EXIT_FILE"'
)
#: with sensitive values: the output goes through providers/run/masking.py run as a filter
_WRAPPER_MASKED = (
    'trap "true" TERM INT; ' + _PID
    + '( ' + _RUN + ' 2>&1 </dev/null; echo $? >"$TRAINFORM_EXIT_FILE.tmp" ) '
    '| "$TRAINFORM_MASK_PYTHON" -I "$TRAINFORM_MASK_FILTER" >>"$TRAINFORM_LOG_FILE"; '
    'mv "$TRAINFORM_EXIT_FILE.tmp" "$TRAINFORM_EXIT_FILE"'
)


def prepare_workdir(spec: AttemptSpec) -> str:
    work = spec.paths.work
    if os.path.isdir(work):
        shutil.rmtree(work)  # a retry starts from the pristine snapshot
    shutil.copytree(spec.snapshot_dir, work, symlinks=True, ignore=shutil.ignore_patterns("outputs"))
    os.chmod(work, 0o700)  # trainform's own directory; the files inside keep the snapshot's (source) modes
    link = os.path.join(work, "outputs")
    if not os.path.lexists(link):
        os.symlink(spec.paths.outputs, link)
    return work


def _user_umask() -> int:
    """The user's umask for the run's process (trainform itself runs with 077)."""
    from engine.providers import user_umask

    return user_umask()


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _ours(pid: int, run_id: str) -> bool:
    """Is ``pid`` still the wrapper of this run (and not a reused pid)?"""
    if not pid_alive(pid):
        return False
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f"TRAINFORM_RUN_ID={run_id}".encode() in f.read().split(b"\0")
    except OSError:
        return True  # no /proc: trust the liveness check


def _killpg(pid: int, grace: float = 2.0) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    t = time.time() + grace
    while time.time() < t:
        if not pid_alive(pid):
            return
        time.sleep(0.05)
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class TailHandle:
    """Follow a wrapped process through its files: log, pid, exit code."""

    def __init__(self, pid: int, run_id: str, paths, attempt: int, proc: subprocess.Popen | None = None) -> None:
        self.pid = pid
        self.ident = str(pid)
        self.run_id = run_id
        self.paths = paths
        self.attempt = attempt
        self.proc = proc  # set when this trainform started it (reaps the zombie)
        self.writes_log = False  # the process writes the attempt log itself

    def _reap(self) -> None:
        if self.proc is not None:
            self.proc.poll()

    def poll(self) -> int | None:
        self._reap()
        code = _read_int(self.paths.exit_file_n(self.attempt))
        if code is not None:
            return code
        if _ours(self.pid, self.run_id):
            return None
        code = _read_int(self.paths.exit_file_n(self.attempt))  # it may have just finished
        return code if code is not None else -1

    def lines(self):
        def chunks():
            path = self.paths.log(self.attempt)
            pos = 0
            while True:
                finished = self.poll() is not None
                try:
                    with open(path, "rb") as f:
                        f.seek(pos)
                        data = f.read(65536)
                except FileNotFoundError:
                    data = b""
                if data:
                    pos += len(data)
                    yield data
                    continue
                if finished:
                    return
                time.sleep(0.1)

        return split_lines(chunks())

    def wait(self, timeout):
        end = time.time() + timeout
        while time.time() < end:
            code = self.poll()
            if code is not None:
                return code
            time.sleep(0.05)
        return self.poll()

    def kill(self):
        _killpg(self.pid)
        self._reap()

    def cleanup(self):
        self._reap()


class ProcessExecutor:
    mode = "process"

    def planned_ident(self, spec: AttemptSpec) -> str | None:
        return None  # the pid is written by the wrapper itself, before the command starts

    def start(self, spec: AttemptSpec) -> TailHandle:
        work = prepare_workdir(spec)
        for p in (spec.paths.exit_file_n(spec.attempt), spec.paths.pid_file(spec.attempt)):
            try:
                os.remove(p)
            except FileNotFoundError:
                pass
        os.makedirs(spec.paths.logs, exist_ok=True)
        env = dict(spec.env, TRAINFORM_LOG_FILE=spec.paths.log(spec.attempt), TRAINFORM_EXIT_FILE=spec.paths.exit_file_n(spec.attempt),
                   TRAINFORM_PID_FILE=spec.paths.pid_file(spec.attempt), TRAINFORM_USER_UMASK=f"{_user_umask():03o}")
        script = _WRAPPER
        secrets = getattr(spec.mask, "secrets", None)
        if secrets:
            # trainform may be gone when the run ends: its output goes through the masking filter, which
            # gets the values in its environment (the run itself does not inherit them)
            from providers.run import masking

            env.update({masking.ENV_SECRETS: json.dumps(secrets), "TRAINFORM_MASK_PYTHON": sys.executable,
                        "TRAINFORM_MASK_FILTER": os.path.abspath(masking.__file__)})
            script = _WRAPPER_MASKED
        proc = subprocess.Popen(["sh", "-c", script, "sh", *spec.argv], cwd=work, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, umask=0o077)
        return TailHandle(proc.pid, spec.run_id, spec.paths, spec.attempt, proc)

    def attach(self, ident: str | None, run_id: str, paths, attempt: int) -> TailHandle | None:
        pid = _pid(ident) or _read_int(paths.pid_file(attempt))
        if pid is None:
            return None
        return TailHandle(pid, run_id, paths, attempt)

    def inspect(self, ident: str | None, run_id: str, paths, attempt: int) -> Execution:
        code = _read_int(paths.exit_file_n(attempt))
        if code is None and attempt == 1:
            code = _read_int(paths.exit_file)  # written by trainform before per-attempt files
        pid = _pid(ident) or _read_int(paths.pid_file(attempt))
        if code is None:
            if pid is not None and _ours(pid, run_id):
                return Execution("running", ident=str(pid))
            code = _read_int(paths.exit_file_n(attempt))
        if code is not None:
            ended = _mtime(paths.exit_file_n(attempt)) or _mtime(paths.exit_file)
            return Execution("exited", code, started=_mtime(paths.pid_file(attempt)), ended=ended, ident=str(pid) if pid else None)
        if pid is None:
            return Execution("not_started")
        return Execution("lost", ident=str(pid))

    def kill_detached(self, ident: str) -> None:
        pid = _pid(ident)
        if pid is not None:
            _killpg(pid)

    def remove(self, ident: str) -> None:
        pass


def _pid(ident) -> int | None:
    try:
        return int(ident) if ident else None
    except (TypeError, ValueError):
        return None


def _mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None
