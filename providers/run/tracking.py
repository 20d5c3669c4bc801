"""MLflow tracking: each execution of a run is an MLflow run (``pip install 'trainform[mlflow]'``).

Why: MLflow is what ML users already look at.  An execution becomes an
MLflow run in the experiment named by the run's ``experiment`` with

* its status (RUNNING while it runs; FINISHED / FAILED / KILLED at the end),
* every metric point from ``TRAINFORM_METRICS_FILE`` with its step,
* the arguments as params (``--lr 0.1`` -> ``lr = 0.1``),
* tags: ``trainform.address``, ``trainform.run_id``, ``trainform.input_hash``,
  ``trainform.image_digest``, ``trainform.snapshot_hash``,
* the logs (``logs/``) and ``./outputs`` (``outputs/``) as artifacts.

Where: the workspace's ``tracking_uri``, else ``MLFLOW_TRACKING_URI``
(MLflow's own convention), else a local SQLite store under ``.trainform/``
(``mlflow ui`` command shown by ``trainform runs``).  When the store is
reachable from the run (a server URI; any URI in process mode) the run gets
``MLFLOW_TRACKING_URI`` and ``MLFLOW_RUN_ID`` so ``mlflow.log_metric`` in the
script lands in the same run.

Tracking never fails a run: problems are reported as progress lines.  With
no MLflow installed and nothing configured, there is no tracking at all.
mlflow is imported lazily (it is slow to import).
"""

from __future__ import annotations

import ipaddress
import json
import os
from urllib.parse import urlparse

__all__ = ["available", "finish_run", "params_from_arguments", "reachable_from_container", "redact_uri", "start_run", "tracking_uri",
           "ui_command"]

STATUS = {"succeeded": "FINISHED", "failed": "FAILED", "timed_out": "KILLED", "cancelled": "KILLED"}


def available() -> bool:
    import importlib.util

    return importlib.util.find_spec("mlflow") is not None


def local_store(data_dir: str) -> tuple[str, str]:
    """(tracking URI, artifact root) of the default store under ``.trainform/``."""
    data_dir = os.path.abspath(data_dir)
    return "sqlite:///" + os.path.join(data_dir, "mlflow.db"), "file://" + os.path.join(data_dir, "mlflow-artifacts")


def tracking_uri(ws: dict | None, data_dir: str) -> tuple[str | None, str]:
    """(URI, where it came from): workspace ``tracking_uri`` > $MLFLOW_TRACKING_URI > local store.
    The URI is None when nothing is configured and MLflow is not installed."""
    uri = (ws or {}).get("tracking_uri") if isinstance(ws, dict) else None
    if isinstance(uri, str) and uri:
        return uri, "workspace"
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env, "MLFLOW_TRACKING_URI"
    if os.environ.get("TRAINFORM_MLFLOW", "").lower() in ("0", "false", "off") or not available():
        return None, "none"
    return local_store(data_dir)[0], "default"


def redact_uri(uri: str) -> str:
    """``https://user:secret@host/`` -> ``https://user:***@host/``: the form of a tracking URI
    that trainform prints and keeps in run records (a password in the URI is a credential,
    whether or not it came from a sensitive variable or ``$MLFLOW_TRACKING_URI``)."""
    u = urlparse(uri)
    if not u.password:
        return uri
    return uri.replace(f"{u.username or ''}:{u.password}@", f"{u.username or ''}:***@", 1)


def _uri_password(uri: str) -> str | None:
    return urlparse(uri).password or None


def ui_command(uri: str, data_dir: str) -> str:
    if uri.startswith(("http://", "https://")):
        return f"open {uri}"
    if uri == local_store(data_dir)[0]:
        return f"mlflow ui --backend-store-uri {uri} --default-artifact-root {local_store(data_dir)[1]}"
    return f"mlflow ui --backend-store-uri {uri}"


def reachable_from_container(uri: str) -> bool:
    """A server URI whose host a container can reach (not this machine's loopback)."""
    u = urlparse(uri)
    if u.scheme not in ("http", "https") or not u.hostname:
        return False
    if u.hostname == "localhost":
        return False
    try:
        return not ipaddress.ip_address(u.hostname).is_loopback
    except ValueError:
        return True


def params_from_arguments(args: list) -> dict[str, str]:
    """``["--lr", 0.1, "--epochs=3", "--fast", "data.csv"]`` -> lr=0.1, epochs=3, fast=true, arg_4=data.csv."""
    out: dict[str, str] = {}
    args = [str(a) for a in args or []]
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("-") and len(a) > 1 and not _number(a):
            name = a.lstrip("-")
            if "=" in name:
                name, value = name.split("=", 1)
            elif i + 1 < len(args) and (not args[i + 1].startswith("-") or _number(args[i + 1])):
                value = args[i + 1]
                i += 1
            else:
                value = "true"
            if name:
                out[name[:250]] = value[:6000]
        else:
            out[f"arg_{i}"] = a[:6000]
        i += 1
    return out


def _number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _client(uri: str):
    import logging

    for name in ("mlflow", "alembic"):  # "Creating initial MLflow database tables..." is not the user's business
        logging.getLogger(name).setLevel(logging.WARNING)
    # MLflow writes "View run ... at: <URI>" straight to stdout when a run ends: it would land in the
    # middle of trainform's output, and it quotes the URI with any password it holds
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _experiment_id(client, name: str, uri: str, data_dir: str) -> str:
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    location = None
    if uri == local_store(data_dir)[0]:
        location = local_store(data_dir)[1] + "/" + name.replace("/", "_")
    try:
        return client.create_experiment(name, artifact_location=location)
    except Exception:
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


def start_run(uri: str, data_dir: str, experiment: str, run_name: str, tags: dict, params: dict, started: float) -> tuple[str, str]:
    """Create the MLflow run (RUNNING): (mlflow run id, experiment id)."""
    from mlflow.entities import Param

    if uri.startswith("sqlite:///"):
        os.makedirs(os.path.dirname(uri[len("sqlite:///"):]) or ".", exist_ok=True)
    client = _client(uri)
    exp_id = _experiment_id(client, experiment or "Default", uri, data_dir)
    run = client.create_run(exp_id, start_time=int(started * 1000), tags={k: str(v) for k, v in tags.items() if v is not None},
                            run_name=run_name)
    if params:
        client.log_batch(run.info.run_id, params=[Param(k, v) for k, v in params.items()])
    return run.info.run_id, exp_id


def finish_run(uri: str, run_id: str, status: str, ended: float, metrics_path: str, logs_dir: str, outputs_dir: str) -> None:
    """Every metric point with its step, the logs and outputs as artifacts, the final status."""
    from mlflow.entities import Metric

    client = _client(uri)
    points = []
    try:
        with open(metrics_path, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f):
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if not (isinstance(rec, dict) and isinstance(rec.get("name"), str)):
                    continue
                v = rec.get("value")
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    continue  # MLflow metrics are numbers
                step = rec.get("step") if isinstance(rec.get("step"), int) else 0
                t = rec.get("time")
                ts = int((t if isinstance(t, (int, float)) else ended) * 1000)
                points.append(Metric(rec["name"][:250], float(v), ts, step))
    except OSError:
        pass
    for i in range(0, len(points), 1000):
        client.log_batch(run_id, metrics=points[i:i + 1000])
    for local, dest in ((logs_dir, "logs"), (outputs_dir, "outputs")):
        if os.path.isdir(local) and any(os.scandir(local)):
            client.log_artifacts(run_id, local, dest)
    client.set_terminated(run_id, status=STATUS.get(status, "FAILED"), end_time=int(ended * 1000))


class TrackingMixin:
    """RunProvider's side of tracking: start the MLflow run with the execution, finish it
    when the result is recorded (also for an execution collected after a kill -9)."""

    def _track_start(self, cfg: dict, ws, state: dict, record: dict, spec, docker: bool) -> None:
        import time

        uri, _source = tracking_uri(ws, self.ctx.data_dir)
        if uri is None:
            return
        if not available():
            self.ctx.progress(spec.address, f"MLflow tracking is configured ({redact_uri(uri)}) but mlflow is not installed: pip install 'trainform[mlflow]'")
            return
        tags = {"trainform.address": spec.address, "trainform.run_id": spec.run_id, "trainform.input_hash": state.get("input_hash"),
                "trainform.snapshot_hash": state.get("snapshot_hash"), "trainform.image_digest": record.get("image_digest"),
                "trainform.image": record.get("image"), "trainform.mode": record.get("mode")}
        try:
            run_id, exp_id = start_run(uri, self.ctx.data_dir, str(cfg.get("experiment") or "default"), spec.run_id, tags,
                                       params_from_arguments(cfg.get("arguments") or []), time.time())
        except Exception as e:  # noqa: BLE001 - tracking never fails a run
            self.ctx.progress(spec.address, f"MLflow tracking unavailable ({redact_uri(uri)}): {type(e).__name__}: {_scrub(str(e), uri)[:200]}")
            return
        shown = redact_uri(uri)
        record.update(mlflow_run_id=run_id, mlflow_experiment_id=exp_id, tracking_uri=shown)
        if shown != uri:
            # the record keeps the URI without its password; finishing the run needs the real one
            record["tracking_uri_source"] = _source
            _live_uris()[shown] = uri
        if not docker or reachable_from_container(uri):
            spec.env.update(MLFLOW_TRACKING_URI=uri, MLFLOW_RUN_ID=run_id, MLFLOW_EXPERIMENT_ID=exp_id)
            if shown != uri:
                self._mask_tracking_uri(spec, uri)
        self.ctx.progress(spec.address, f"MLflow run {run_id} in experiment {cfg.get('experiment') or 'default'} ({shown})")

    @staticmethod
    def _mask_tracking_uri(spec, uri: str) -> None:
        """The run gets the URI with its password: mask both in its output (a script that
        prints its environment), also when collected later (the variable's name as a target)."""
        from providers.run.masking import Masker

        spec.mask = Masker(list(getattr(spec.mask, "secrets", None) or []) + [uri, _uri_password(uri)])
        if spec.mask_targets is not None:
            spec.mask_targets.setdefault("env", []).append("MLFLOW_TRACKING_URI")
        else:
            spec.mask_targets = {"env": ["MLFLOW_TRACKING_URI"]}

    def _live_tracking_uri(self, record: dict) -> str | None:
        """The URI to finish a run with: the record's, or (when the record keeps it without its
        password) the live one: this process's, ``$MLFLOW_TRACKING_URI`` or the workspace's."""
        shown = record.get("tracking_uri")
        if not shown or record.get("tracking_uri_source") is None:
            return shown
        candidates = [_live_uris().get(shown), os.environ.get("MLFLOW_TRACKING_URI")]
        found = self.ctx.lookup(record["workspace"]) if record.get("workspace") else None
        if found and isinstance(found[1], dict):
            candidates.append(found[1].get("tracking_uri"))
        return next((u for u in candidates if isinstance(u, str) and redact_uri(u) == shown and u != shown), None)

    def _on_finished(self, state: dict, record: dict, paths) -> None:
        from providers.run.records import parse_iso, write_record

        if not record.get("mlflow_run_id") or record.get("mlflow_finished"):
            return
        import time

        uri = self._live_tracking_uri(record)
        if uri is None:
            self.ctx.progress(record.get("address") or "run", f"MLflow: could not finish run {record['mlflow_run_id']}: the password of "
                              f"{record.get('tracking_uri')} is not stored; set MLFLOW_TRACKING_URI and run trainform refresh")
            return
        try:
            finish_run(uri, record["mlflow_run_id"], state.get("status") or "failed",
                       parse_iso(state.get("ended_at")) or time.time(), paths.metrics, paths.logs, paths.outputs)
        except Exception as e:  # noqa: BLE001 - tracking never fails a run
            self.ctx.progress(record.get("address") or "run", f"MLflow: could not finish run {record['mlflow_run_id']}: {type(e).__name__}: {_scrub(str(e), uri)[:200]}")
            return
        record["mlflow_finished"] = True
        write_record(paths.record, record)


_LIVE: dict[str, str] = {}


def _live_uris() -> dict[str, str]:
    """Redacted URI -> the real one, for this process only (never written anywhere)."""
    return _LIVE


def _scrub(text: str, uri: str) -> str:
    """An error message without the URI's password (MLflow's messages may quote the URL)."""
    pw = _uri_password(uri)
    return text.replace(uri, redact_uri(uri)).replace(pw, "***") if pw else text
