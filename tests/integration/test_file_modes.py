"""File modes (issue 11, item 8): snapshots and work copies keep source modes (never
more than the source allows); trainform's own files are 0600, its directories 0700."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from engine.testing.harness import Workdir

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

CONFIG = """\
workspace "ws" {}
run "train" {
  workspace        = workspace.ws.id
  source_directory = "src"
  command          = ["sh", "run.sh"]
}
"""


def _mode(p) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


def _wd(tmp_path) -> Workdir:
    wd = Workdir(tmp_path / "w", env={"NO_COLOR": "1", "PYTHONPATH": os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))})
    wd.write("main.hcl", CONFIG)
    wd.write("src/run.sh", "cat secret.txt > /dev/null && echo ok > outputs/o.txt\n")
    wd.write("src/secret.txt", "private\n")
    wd.write("src/shared.txt", "group\n")
    wd.write("src/tool.sh", "#!/bin/sh\n")
    os.chmod(os.path.join(wd.path, "src/secret.txt"), 0o600)
    os.chmod(os.path.join(wd.path, "src/shared.txt"), 0o640)
    os.chmod(os.path.join(wd.path, "src/tool.sh"), 0o750)
    os.chmod(os.path.join(wd.path, "src/run.sh"), 0o644)
    return wd


def test_snapshots_and_work_copies_keep_source_modes(tmp_path):
    wd = _wd(tmp_path)
    wd.apply()
    root = Path(wd.path, ".trainform")
    snaps = [p for p in root.rglob("snapshots/*") if p.is_dir()]
    works = [p for p in root.rglob("runs/*/work") if p.is_dir()]
    assert snaps and works
    for copy in snaps + works:
        assert _mode(copy / "secret.txt") == 0o600
        assert _mode(copy / "shared.txt") == 0o640
        assert _mode(copy / "tool.sh") == 0o750
        assert _mode(copy / "run.sh") == 0o644


def test_trainform_own_files_are_private(tmp_path):
    wd = _wd(tmp_path)
    wd.run("init", "-no-color", check=True)
    assert wd.run("plan", "-no-color", "-out", "tf.plan").code == 0
    wd.run("apply", "-auto-approve", "-no-color", "tf.plan", check=True)
    wd.write("crash.hcl", 'crashy_plan "c" {\n  input = "x"\n}\n')
    r = wd.run("plan", "-no-color", env={"TRAINFORM_EXTRA_PROVIDERS": "crashy_plan=tests.helpers_crashy:CrashyPlanProvider"})
    assert "crashed" in r.err
    assert _mode(Path(wd.path, "tf.plan")) == 0o600
    assert _mode(Path(wd.path, "crash.log")) == 0o600
    assert _mode(Path(wd.path, "trainform.tfstate")) == 0o600
    root = Path(wd.path, ".trainform")
    assert _mode(root) == 0o700
    checked = 0
    for p in [root, *root.rglob("*")]:
        rel = p.relative_to(root).parts
        if "snapshots" in rel[:-1] or "work" in rel or "outputs" in rel:
            continue  # copies of the user's files (source modes) and what the run wrote
        if p.is_symlink():
            continue
        want = 0o700 if p.is_dir() else 0o600
        assert _mode(p) & ~want == 0, f"{p} is {oct(_mode(p))}, want at most {oct(want)}"
        checked += 1
    names = {p.name for p in root.rglob("*")}
    assert {"attempt-1.log", "record.json", "backend.json"} <= names, names
    # what the run's own process wrote keeps the user's umask (the test runner's)
    out = next(root.rglob("outputs/o.txt"))
    assert _mode(out) == 0o666 & ~_umask()


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m
