"""The metrics protocol between a training script and trainform.

A run's process (container or host process) gets the environment variable
``TRAINFORM_METRICS_FILE``: a path to a JSON-lines file it may append to, one
object per line::

    {"name": "accuracy", "value": 0.93, "step": 3}

``name`` (string) and ``value`` (a number, or any JSON value) are required;
``step`` is optional.  The *last* value logged for each name becomes the
run's ``metrics`` attribute (``run.NAME.metrics.accuracy`` in expressions,
the ``trainform runs`` table).  Lines that are not valid JSON objects with a
name are skipped, so a half-written last line never breaks a run.

A script needs no library: ::

    import json, os
    def log_metric(name, value, step=None):
        with open(os.environ["TRAINFORM_METRICS_FILE"], "a") as f:
            f.write(json.dumps({"name": name, "value": value, "step": step}) + "\\n")

Other variables set for every run: ``TRAINFORM_RUN_ID``,
``TRAINFORM_EXPERIMENT``, ``TRAINFORM_OUTPUTS_DIR`` (files written to
``./outputs`` are kept under the run's ``outputs_path``).
"""

from __future__ import annotations

import json

__all__ = ["read_last_values", "log_metric"]


def read_last_values(path: str) -> dict:
    """name -> last value from a metrics file (empty when absent)."""
    out: dict = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if isinstance(rec, dict) and isinstance(rec.get("name"), str) and "value" in rec:
                    v = rec["value"]
                    if isinstance(v, float) and v != v:  # NaN is not JSON-portable
                        v = None
                    out[rec["name"]] = v
    except OSError:
        pass
    return out


def log_metric(name: str, value, step=None, path: str | None = None) -> None:
    """Append one metric (for Python scripts that can import trainform)."""
    import os

    path = path or os.environ["TRAINFORM_METRICS_FILE"]
    with open(path, "a") as f:
        f.write(json.dumps({"name": name, "value": value, "step": step}) + "\n")
