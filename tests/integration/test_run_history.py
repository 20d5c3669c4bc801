"""Every execution is history (issue 12, item 6).

Real executions (host processes and containers on the real Docker Engine):
re-running a run keeps the earlier executions as rows of ``trainform runs``
(newest first, ``-json``, filters), each with its full metric series and
log; ``trainform output`` never presents a replaced execution's value as
current after a failure; ``.amlignore`` shapes snapshots like
``.trainformignore``.
"""

from __future__ import annotations

import json
import os

from tests.integration import test_runs as _tr
from tests.integration.test_runs import attrs, config, make_wd, run_block

busybox, mode = _tr.busybox, _tr.mode  # fixtures

def _read(path) -> str:
    with open(path) as f:
        return f.read()


def _touch(path) -> None:
    with open(path, "w"):
        pass


SERIES = """\
echo "run $1"
for s in 1 2 3 4 5; do
  echo "{\\"name\\": \\"acc\\", \\"value\\": 0.$s$1, \\"step\\": $s}" >> "$TRAINFORM_METRICS_FILE"
done
"""
OUTPUT = 'output "acc" {\n  value = run.train.metrics.acc\n}\n'


def test_every_execution_is_a_row_with_its_metric_series(tmp_path, mode):
    wd = make_wd(tmp_path, {"main.hcl": config(mode, run_block(args='["1"]') + OUTPUT), "src/run.sh": SERIES})
    wd.apply()
    first = attrs(wd)["id"]
    wd.write("main.hcl", config(mode, run_block(args='["2"]') + OUTPUT))
    wd.apply()
    second = attrs(wd)["id"]
    assert wd.run("output", "-raw", "acc", check=True).out.strip() == "0.52"
    # a third execution fails: the state's run is now the failed one
    wd.write("src/run.sh", SERIES + 'echo "broken"\nexit 3\n')
    wd.write("main.hcl", config(mode, run_block(args='["3"]') + OUTPUT))
    assert wd.apply(check=False).code == 1
    third = attrs(wd)["id"]
    assert len({first, second, third}) == 3

    rows = json.loads(wd.run("runs", "-json", check=True).out)
    assert [r["id"] for r in rows] == [third, second, first]  # newest first
    assert [r["status"] for r in rows] == ["failed", "succeeded", "succeeded"]
    assert [r["current"] for r in rows] == [True, False, False]
    assert rows[0]["tainted"] and rows[0]["exit_code"] == 3
    assert rows[2]["arguments"] == ["1"] and rows[1]["arguments"] == ["2"]
    series = rows[1]["metric_series"]["acc"]
    assert [(p["step"], p["value"]) for p in series] == [(1, 0.12), (2, 0.22), (3, 0.32), (4, 0.42), (5, 0.52)]
    assert rows[1]["metrics"] == {"acc": 0.52}
    assert "run 1" in _read(rows[2]["log_path"])

    # filters
    assert [r["id"] for r in json.loads(wd.run("runs", "-json", "-status", "succeeded", check=True).out)] == [second, first]
    assert json.loads(wd.run("runs", "-json", "-experiment", "other", check=True).out) == []
    assert [r["id"] for r in json.loads(wd.run("runs", "-json", "-current", check=True).out)] == [third]
    table = wd.run("runs", "-no-color", check=True).out
    assert table.index(third) < table.index(second) < table.index(first)
    assert "acc=0.52" in table and "failed (tainted)" in table
    # any execution's log, by id
    assert wd.run("logs", first, check=True).out.splitlines()[0] == "run 1"

    # the failed execution replaced the one whose acc was 0.52: output must not show it as current
    r = wd.run("output", "-raw", "acc")
    assert "0.52" not in r.out
    r = wd.run("output", "-json")
    assert "0.52" not in r.out

    # history outlives the objects that made it: after destroying everything it is still listed
    wd.run("destroy", "-auto-approve", "-no-color", check=True)
    rows = json.loads(wd.run("runs", "-json", check=True).out)
    assert [r["id"] for r in rows] == [third, second, first]
    assert not any(r["current"] for r in rows)


def test_amlignore_is_honoured_like_trainformignore(tmp_path):
    wd = make_wd(tmp_path, {"main.hcl": config("process", run_block()), "src/run.sh": "ls -R . | sort > outputs/files.txt\n",
                            "src/data/big.bin": "data", "src/keep.txt": "k", "src/.amlignore": "data/\n"})
    wd.apply()
    listed = _read(os.path.join(attrs(wd)["outputs_path"], "files.txt"))
    assert "keep.txt" in listed and "big.bin" not in listed
    wd.write("src/data/big.bin", "changed data")
    assert wd.plan("-detailed-exitcode").code == 0  # an ignored file changes nothing
    wd.write("src/keep.txt", "changed")
    assert wd.plan("-detailed-exitcode").code == 2
