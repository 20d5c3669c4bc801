"""An execution's life after it was planned: start, follow, adopt, collect, stop.

Why a run can be trusted when trainform itself is not there to the end:

* **Known before it exists.**  Each attempt's record (``record.json``) and
  the run's state (journaled through ``ctx.checkpoint``) name the execution
  *before* it starts: the container name ``trainform-<run>-<attempt>``, or the
  run directory where the process wrapper writes its pid before the command.
* **Independent of trainform.**  Containers and wrapped processes write their
  output and exit code where trainform can read them later; nothing depends on
  a pipe to the trainform process.
* **Adopted, never doubled.**  The next ``refresh``/``plan``/``apply`` reads the
  execution from the state: a finished one is *collected* (exit code, metrics,
  its real start and end times, logs) and recorded once; a running one is left
  running (``wait = false``) or *adopted* by ``apply`` (``wait = true``: follow it
  to the end).  An execution that never started is removed and planned again;
  executions of an address that no state refers to are stopped (``_sweep``).
* **Plan changes nothing.**  ``read`` only looks unless ``ctx.persisting``
  (apply/refresh/destroy): then it keeps the result in the record, saves the
  log and removes the finished container.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import threading
import time

from engine.providers import ApplyResponse, Diagnostics, ReadRequest, ReadResponse
from providers.run.records import (
    ACTIVE,
    TERMINAL,
    RunPaths,
    now_iso,
    parse_iso,
    read_record,
    write_record,
)

__all__ = ["Lifecycle"]


class Lifecycle:
    """Mixin of RunProvider: everything that touches a started execution."""

    # ------------------------------------------------------------ start + follow
    def _run_attempts(self, executor, spec, state, record, private, paths, timeout_s, max_retries, d, *,
                      detached: bool = False, lease=None, adopt=None) -> ApplyResponse:
        """Run attempts until one succeeds (or retries run out).  ``adopt``: (handle,
        started, attempt) of an execution that an interrupted trainform left running."""
        from providers.run.execution import run_attempt

        addr = spec.address
        warned = [False]

        def abort():
            if self.ctx.stopping.is_set() and not warned[0]:
                warned[0] = True
                self.ctx.log(addr, "[trainform] interrupt received: the run continues; press Ctrl-C again to cancel it")
            return self.ctx.cancelled.is_set() or self._cancel.is_set()

        first_start = parse_iso(state.get("started_at")) if adopt else None
        result = None
        first = adopt[2] if adopt else 1
        for attempt in range(first, max_retries + 2):
            if abort() or (attempt > first and self.ctx.stopping.is_set()):
                break  # no new attempt once interrupted
            spec.attempt = attempt
            spec.detached = detached
            state["log_path"] = paths.log(attempt)
            if adopt and attempt == first:
                handle, started = adopt[0], adopt[1] or time.time()
            else:
                started = time.time()
                handle = self._start_one(executor, spec, state, record, private, paths, attempt, started, first_start, d)
                if handle is None:
                    return ApplyResponse(new_state=state, private=private, diagnostics=d)
                if attempt > first:
                    self.ctx.progress(addr, f"Retrying: attempt {attempt} of {max_retries + 1}...")
            first_start = first_start or started
            if detached:
                label = "container " + handle.ident[:12] if executor.mode == "docker" else ("pid " + handle.ident if executor.mode == "process" else handle.ident)
                self.ctx.progress(addr, f"Started detached ({label}); `trainform refresh`/`plan` collects the result")
                if lease is not None:
                    threading.Thread(target=self._release_when_done, args=(executor, handle.ident, spec.run_id, paths, attempt, lease, spec.mask_targets),
                                     daemon=True).start()
                return ApplyResponse(new_state=state, private=private, diagnostics=d)
            with self._active_lock:
                self._active[spec.run_id] = (executor, handle)
            try:
                result = run_attempt(handle, spec, lambda line: self.ctx.log(addr, line), timeout_s, abort, started)
            finally:
                with self._active_lock:
                    self._active.pop(spec.run_id, None)
                handle.cleanup()
            record["attempts"][-1].update(ended_at=now_iso(result.ended), exit_code=result.exit_code, status=result.status)
            if result.status != "failed":
                break
        ended = result.ended if result else time.time()
        status = result.status if result else "cancelled"
        return self._finish(state, record, private, paths, status, result.exit_code if result else None, first_start or ended, ended, timeout_s, d)

    def _start_one(self, executor, spec, state, record, private, paths, attempt, started, first_start, d):
        """Name the attempt in the record and the state, then start it.  None: it failed to start."""
        addr = spec.address
        planned = executor.planned_ident(spec) if hasattr(executor, "planned_ident") else None
        record.update(status="starting", ident=planned, attempt=attempt, log_path=paths.log(attempt))
        record["attempts"].append({"attempt": attempt, "ident": planned, "started_at": now_iso(started)})
        write_record(paths.record, record)
        state.update(status="running", attempts=attempt, started_at=now_iso(first_start or started),
                     container_id=None, log_path=paths.log(attempt))
        private.update(ident=planned, attempt=attempt)
        self.ctx.checkpoint(addr, dict(state), dict(private))
        try:
            handle = executor.start(spec)
        except Exception as e:  # noqa: BLE001 - image missing, daemon error...
            # the engine's or the cluster's message may quote the command or the runtime env
            why = spec.mask(str(e)) if spec.mask is not None else str(e)
            d.error("Run failed to start", f"Attempt {attempt} of {addr} could not start: {why}")
            if planned:
                executor.remove(planned)
            state.update(status="failed", attempts=attempt, started_at=now_iso(first_start or started), ended_at=now_iso(),
                         duration_seconds=round(time.time() - (first_start or started), 3))
            record.update(status="failed", error=why, ended_at=state["ended_at"])
            record["attempts"][-1].update(status="failed", ended_at=state["ended_at"])
            write_record(paths.record, record)
            return None
        state["container_id"] = handle.ident if executor.mode in ("docker", "ray") else None
        private["ident"] = handle.ident
        record.update(status="running", ident=handle.ident, started_at=state["started_at"])
        record["attempts"][-1]["ident"] = handle.ident
        write_record(paths.record, record)
        self.ctx.checkpoint(addr, dict(state), dict(private))
        return handle

    def _finish(self, state, record, private, paths, status, exit_code, started, ended, timeout_s, d) -> ApplyResponse:
        from providers.run.metrics import read_last_values

        state.update(status=status, exit_code=exit_code, ended_at=now_iso(ended), duration_seconds=round(max(0.0, ended - started), 3),
                     metrics=read_last_values(paths.metrics), started_at=now_iso(started))
        record.update(status=status, exit_code=exit_code, started_at=state["started_at"], ended_at=state["ended_at"],
                      duration_seconds=state["duration_seconds"], metrics=state["metrics"])
        write_record(paths.record, record)
        self._on_finished(state, record, paths)
        if status != "succeeded":
            from providers.run.provider import _failure_detail

            d.error(f"Run {status.replace('_', ' ')}", _failure_detail(record.get("address") or "run", status, state, timeout_s))
        return ApplyResponse(new_state=state, private=private, diagnostics=d)

    def _on_finished(self, state, record, paths) -> None:
        """Hook: an execution's result was recorded (tracking integrations)."""

    def _release_when_done(self, executor, ident, run_id, paths, attempt, lease, targets=None) -> None:
        try:
            while not self._cancel.is_set():
                if self._inspect(executor, ident, run_id, paths, attempt, targets).kind in ("running",):
                    time.sleep(0.5)
                    continue
                return
        except Exception:  # noqa: BLE001
            return
        finally:
            lease.release()

    # ------------------------------------------------------------ adopt
    def _adopt(self, req) -> ApplyResponse:
        """apply of a wait = true run an interrupted trainform left running: follow it to its end."""
        from providers.run.execution import AttemptSpec
        from engine.providers import parse_duration

        d = Diagnostics()
        st, private = dict(req.prior_state), dict(req.private or {})
        st.update({k: v for k, v in (req.planned_state or {}).items() if k in ("timeout", "max_retries", "wait", "experiment", "compute")})
        paths, record = self._paths_record(st, private)
        if record is None:
            d.error("Run record missing", f"The record of {req.address}'s execution is gone; it will be planned again.")
            return ApplyResponse(None, diagnostics=d)
        mode = private.get("mode") or record.get("mode")
        executor = self._executor("ray" if mode == "ray" else mode == "docker")
        attempt = int(private.get("attempt") or record.get("attempt") or 1)
        ident = private.get("ident") or record.get("ident") or st.get("container_id")
        ex = self._inspect(executor, ident, st.get("id"), paths, attempt, private.get("mask"))
        timeout_s = parse_duration(st["timeout"]) if st.get("timeout") else None
        from providers.run.provider import _masker

        mask = _masker(req.config or {}, req.sensitive_paths, self.ctx.sensitive_values())
        if ex.kind != "running":
            new = self._collect(executor, mode, st, record, paths, ex, attempt, mask, private.get("mask"))
            if new["status"] != "succeeded":
                from providers.run.provider import _failure_detail

                d.error(f"Run {new['status'].replace('_', ' ')}", _failure_detail(req.address, new["status"], new, timeout_s))
            return ApplyResponse(new_state=new, private=private, diagnostics=d)
        handle = executor.attach(ex.ident or ident, st.get("id"), paths, attempt) if hasattr(executor, "attach") else None
        if handle is None:
            d.error("Cannot follow the run", f"{req.address}'s execution {ident} is running but cannot be followed; run trainform refresh later to collect it.")
            return ApplyResponse(new_state=st, private=private, diagnostics=d)
        self.ctx.progress(req.address, f"Adopting execution {st.get('id')} left running by an interrupted apply ({executor.mode} {str(ex.ident or ident)[:12]})")
        spec = AttemptSpec(run_id=st["id"], address=req.address, argv=[], env={}, snapshot_dir="", paths=paths, attempt=attempt, mask=mask)
        # follow the adopted attempt, whichever it is (attempts run first..max_retries+1: a bound of
        # 0 retries skipped an adopted attempt 2 altogether and recorded it cancelled while it ran on);
        # no attempt after it: the spec to start one is not rebuilt here
        return self._run_attempts(executor, spec, st, record, private, paths, timeout_s, attempt - 1, d,
                                  adopt=(handle, ex.started or parse_iso(st.get("started_at")), attempt))

    # ------------------------------------------------------------ read (refresh)
    def read(self, req: ReadRequest) -> ReadResponse:
        st = req.state
        private = req.private or {}
        paths, record = self._paths_record(st, private)
        if paths is None:
            return ReadResponse(new_state=st, private=req.private)
        if record is None:
            return ReadResponse(new_state=None)  # the run's record was removed: gone
        if st.get("status") not in ACTIVE:
            return ReadResponse(new_state=st, private=req.private)
        if record.get("status") in TERMINAL and record.get("ended_at"):
            # collected already (by a refresh whose state was not saved, or by the apply that was killed)
            return ReadResponse(new_state=_from_record(st, record), private=req.private)
        mode = private.get("mode") or record.get("mode")
        attempt = int(private.get("attempt") or record.get("attempt") or len(record.get("attempts") or []) or 1)
        ident = private.get("ident") or record.get("ident") or st.get("container_id")
        d = Diagnostics()
        try:
            executor = self._executor("ray" if mode == "ray" else mode == "docker")
        except Exception as e:  # noqa: BLE001
            d.warning("Cannot check the run", f"{req.address} runs in {mode}, but {e}.")
            return ReadResponse(new_state=st, private=req.private, diagnostics=d)
        targets = private.get("mask")
        ex = self._inspect(executor, ident, st.get("id"), paths, attempt, targets)
        if ex.kind == "running":
            from engine.providers import parse_duration

            timeout = st.get("timeout")
            started = ex.started or parse_iso(st.get("started_at"))
            if not (timeout and started and time.time() - started > parse_duration(timeout) and self.ctx.persisting):
                new = dict(st)
                if mode == "docker" and ex.ident:
                    new["container_id"] = ex.ident
                return ReadResponse(new_state=new, private=req.private)
            executor.kill_detached(ex.ident or ident)
            ex = self._inspect(executor, ident, st.get("id"), paths, attempt, targets)
            ex.kind, ex.ended = "timed_out", time.time()
        return ReadResponse(new_state=self._collect(executor, mode, st, record, paths, ex, attempt, targets=targets), private=req.private)

    def _collect(self, executor, mode, st, record, paths, ex, attempt, mask=None, targets=None) -> dict:
        """The result of an execution trainform did not follow to its end.  Only when
        ``ctx.persisting``: keep it in the record, save the log, remove the container.

        The log is masked with ``mask`` (apply: built from the configuration) or, in a
        refresh, which has no configuration values, with a masker built from the
        execution's own settings: ``targets`` (the run's private state) names the
        sensitive variables and command-line words, and the container, still there
        until this removes it, holds their values.  Nothing new is stored for it."""
        from providers.run.execution import save_log
        from providers.run.metrics import read_last_values

        if ex.kind == "exited":
            status = "succeeded" if ex.exit_code == 0 else "failed"
        elif ex.kind == "not_started":
            status = "cancelled"  # created but never ran (trainform was killed in between): run again
        elif ex.kind == "lost":
            status = "cancelled" if record.get("status") == "starting" else "failed"
        else:
            status = ex.kind  # timed_out
        started = ex.started or parse_iso(record.get("started_at")) or parse_iso(st.get("started_at"))
        ended = ex.ended or time.time()
        new = dict(st)
        new.update(status=status, exit_code=ex.exit_code, started_at=now_iso(started) if started else None, ended_at=now_iso(ended),
                   duration_seconds=round(max(0.0, ended - started), 3) if started else None,
                   metrics=read_last_values(paths.metrics), log_path=paths.log(attempt))
        if self.ctx.persisting:
            if ex.logs is not None:  # (process mode: the log was written, masked, by the run's own filter)
                if mask is None and targets and hasattr(executor, "masker"):
                    mask = executor.masker(ex.ident or record.get("ident"), targets)
                mask = self._with_seen(mask)
                save_log(paths.log(attempt), ex.logs, mask)
            if mode == "docker" and (ex.ident or record.get("ident")):
                executor.remove(ex.ident or record.get("ident"))
            record.update(status=status, exit_code=ex.exit_code, started_at=new["started_at"], ended_at=new["ended_at"],
                          duration_seconds=new["duration_seconds"], metrics=new["metrics"], collected_at=now_iso())
            if record.get("attempts"):
                record["attempts"][-1].update(status=status, exit_code=ex.exit_code, ended_at=new["ended_at"])
            write_record(paths.record, record)
            self._on_finished(new, record, paths)
        return new

    def _inspect(self, executor, ident, run_id, paths, attempt, targets=None):
        """What became of an execution.  A Ray job's log is saved here, masked from
        the job's own runtime env and entrypoint (``targets``: see ``_collect``)."""
        from providers.run.execution import Execution

        if executor.mode == "ray":
            kind, code, logs = executor.inspect(ident, paths, targets)
            if logs is not None and self.ctx.persisting:
                from providers.run.execution import save_log

                save_log(paths.log(attempt), logs)
            return Execution(kind, code, ident=ident)
        if executor.mode == "docker" and not ident:
            return Execution("not_started")
        return executor.inspect(ident, run_id, paths, attempt)

    def _paths_record(self, st, private):
        run_dir = private.get("run_dir") or (os.path.dirname(st["outputs_path"]) if st.get("outputs_path") else None)
        if not run_dir:
            return None, None
        paths = RunPaths.from_dir(run_dir)
        return paths, read_record(paths.record)

    # ------------------------------------------------------------ orphans
    def _sweep(self, executor, address: str, runs_root: str, keep: str) -> None:
        """Stop executions of ``address`` that no state refers to any more (the state that
        named them was lost, or their run was replaced): a new execution supersedes them."""
        for rec_path in glob.glob(os.path.join(runs_root, "*", "record.json")):
            rec = read_record(rec_path) or {}
            if rec.get("address") != address or rec.get("run_id") == keep or rec.get("status") not in ACTIVE:
                continue
            if rec.get("mode") not in (executor.mode,):
                continue
            paths = RunPaths.from_dir(os.path.dirname(rec_path))
            attempt = int(rec.get("attempt") or 1)
            ident = rec.get("ident")
            with contextlib.suppress(Exception):  # best effort: it is gone already
                ex = self._inspect(executor, ident, rec.get("run_id"), paths, attempt, rec.get("mask"))
                if ex.kind == "running":
                    executor.kill_detached(ex.ident or ident)
                    self.ctx.progress(address, f"Stopped orphaned execution {rec.get('run_id')} (no state refers to it)")
                if executor.mode == "docker" and (ex.ident or ident):
                    self._keep_log(executor, ex.ident or ident, rec.get("run_id"), paths, attempt, rec.get("mask"))
                    executor.remove(ex.ident or ident)
            _mark_cancelled(rec, note="orphaned: stopped when a new execution of the run started")
            write_record(rec_path, rec)

    def _with_seen(self, mask):
        """``mask`` (from the configuration or the execution's settings) plus every value
        marked sensitive in this command: a refresh has the variables too."""
        from providers.run.masking import Masker

        seen = list(self.ctx.sensitive_values())
        if not seen:
            return mask
        merged = Masker.for_values(list(getattr(mask, "secrets", None) or []) + seen)
        return merged if merged else mask

    def _keep_log(self, executor, ident, run_id, paths, attempt, targets) -> None:
        """A container's output lives in the container: save it, masked from the
        container's own settings, before the container is removed, so a stopped
        execution's history row keeps its log (`trainform logs RUN_ID`)."""
        from providers.run.execution import save_log

        ex = self._inspect(executor, ident, run_id, paths, attempt, targets)
        if ex.logs is not None and self.ctx.persisting:
            mask = executor.masker(ident, targets) if targets and hasattr(executor, "masker") else None
            save_log(paths.log(attempt), ex.logs, self._with_seen(mask))

    # ------------------------------------------------------------ destroy / cancel
    def _destroy(self, req) -> ApplyResponse:
        st = req.prior_state or {}
        paths, record = self._paths_record(st, req.private or {})
        if paths is None:
            return ApplyResponse(new_state=None)
        record = record or {}
        private = req.private or {}
        mode = private.get("mode") or record.get("mode")
        ident = private.get("ident") or record.get("ident") or st.get("container_id")
        attempt = int(private.get("attempt") or record.get("attempt") or 1)
        if st.get("status") in ACTIVE or record.get("status") in ACTIVE:
            with contextlib.suppress(Exception):  # nothing left to stop
                ex = self._executor("ray" if mode == "ray" else mode == "docker")
                ins = self._inspect(ex, ident, st.get("id"), paths, attempt, private.get("mask") or record.get("mask"))
                if ins.kind == "running":
                    ex.kill_detached(ins.ident or ident)
                if mode == "docker" and (ins.ident or ident):
                    self._keep_log(ex, ins.ident or ident, st.get("id"), paths, attempt, private.get("mask") or record.get("mask"))
                    ex.remove(ins.ident or ident)
            if record:
                _mark_cancelled(record)
        if st.get("delete_artifacts_on_destroy"):
            shutil.rmtree(paths.root, ignore_errors=True)
        elif record:
            # the execution stays in the history (`trainform runs`), marked as no longer current
            record.update(destroyed_at=now_iso())
            write_record(paths.record, record)
        return ApplyResponse(new_state=None)

    def cancel(self) -> None:
        """Second Ctrl-C: kill every attempt in flight (they are recorded as cancelled)."""
        self._cancel.set()
        with self._active_lock:
            active = list(self._active.values())
        for _, handle in active:
            with contextlib.suppress(Exception):
                handle.kill()


def _from_record(st: dict, record: dict) -> dict:
    new = dict(st)
    for k in ("status", "exit_code", "started_at", "ended_at", "duration_seconds", "metrics"):
        if k in record:
            new[k] = record[k]
    return new


def _mark_cancelled(record: dict, note: str | None = None) -> None:
    """An execution stopped by trainform (destroyed, replaced, orphaned): its history
    row says so, when it ended and how long it had run."""
    ended = parse_iso(record.get("ended_at")) or time.time()
    started = parse_iso(record.get("started_at"))
    record.update(status="cancelled", ended_at=now_iso(ended))
    if started is not None and record.get("duration_seconds") is None:
        record["duration_seconds"] = round(max(0.0, ended - started), 3)
    if note:
        record["note"] = note
