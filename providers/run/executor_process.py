"""Process mode: run the attempt as a host process (environment without ``docker``).

The process runs in a private copy of the snapshot (``<run dir>/work``) whose
``outputs`` is a link to the run's outputs folder, in its own process group
so a timeout or Ctrl-C kills the whole tree.  ``wait = false`` starts it
under ``sh`` which records the exit code in ``<run dir>/trainform/exit_code``
for a later refresh, because trainform itself may be gone by then.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

from providers.run.execution import AttemptSpec, split_lines

__all__ = ["ProcessExecutor", "prepare_workdir", "inspect_detached"]


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


class ProcessHandle:
    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.ident = str(proc.pid)

    def lines(self):
        return split_lines(iter(lambda: self.proc.stdout.read1(65536), b""))

    def poll(self):
        return self.proc.poll()

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        _killpg(self.proc.pid)

    def cleanup(self):
        if self.proc.stdout:
            self.proc.stdout.close()


def _killpg(pid: int, grace: float = 2.0) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    t = time.time() + grace
    while time.time() < t:
        if not _alive(pid):
            return
        time.sleep(0.05)
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False


class ProcessExecutor:
    mode = "process"

    def start(self, spec: AttemptSpec) -> ProcessHandle:
        work = prepare_workdir(spec)
        proc = subprocess.Popen(spec.argv, cwd=work, env=spec.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True, umask=_user_umask())
        return ProcessHandle(proc)

    def start_detached(self, spec: AttemptSpec) -> str:
        work = prepare_workdir(spec)
        try:
            os.remove(spec.paths.exit_file)
        except FileNotFoundError:
            pass
        env = dict(spec.env, TRAINFORM_LOG_FILE=spec.paths.log(spec.attempt), TRAINFORM_EXIT_FILE=spec.paths.exit_file)
        script = '"$@" >>"$TRAINFORM_LOG_FILE" 2>&1; echo $? >"$TRAINFORM_EXIT_FILE.tmp"; mv "$TRAINFORM_EXIT_FILE.tmp" "$TRAINFORM_EXIT_FILE"'
        secrets = getattr(spec.mask, "secrets", None)
        if secrets:
            # trainform is gone when the run ends: its output goes through the masking filter, which
            # gets the values in its environment (the run itself does not inherit them)
            from providers.run import masking

            env.update({masking.ENV_SECRETS: json.dumps(secrets), "TRAINFORM_MASK_PYTHON": sys.executable,
                        "TRAINFORM_MASK_FILTER": os.path.abspath(masking.__file__)})
            script = ('( unset TRAINFORM_MASK_SECRETS; "$@" 2>&1; echo $? >"$TRAINFORM_EXIT_FILE.tmp" ) '
                      '| "$TRAINFORM_MASK_PYTHON" -I "$TRAINFORM_MASK_FILTER" >>"$TRAINFORM_LOG_FILE"; '
                      'mv "$TRAINFORM_EXIT_FILE.tmp" "$TRAINFORM_EXIT_FILE"')
        proc = subprocess.Popen(["sh", "-c", script, "sh", *spec.argv], cwd=work, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, umask=_user_umask())
        return str(proc.pid)

    def kill_detached(self, ident: str) -> None:
        try:
            _killpg(int(ident))
        except ValueError:
            pass


def inspect_detached(pid: str, exit_file: str) -> tuple[str, int | None]:
    """("running", None) | ("exited", code) | ("lost", None) for a detached process."""
    try:
        with open(exit_file) as f:
            return "exited", int(f.read().strip())
    except (OSError, ValueError):
        pass
    try:
        if _alive(int(pid)):
            return "running", None
    except ValueError:
        pass
    # it may have finished between the two checks
    try:
        with open(exit_file) as f:
            return "exited", int(f.read().strip())
    except (OSError, ValueError):
        return "lost", None
