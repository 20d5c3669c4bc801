"""Crash safety and locking of the engine, through the real CLI (issue 3's reliability tests)."""

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from engine.testing.harness import Workdir

SLEEPY = {"TRAINFORM_EXTRA_PROVIDERS": "sleepy=engine.testing.sleepy:SleepyProvider", "PYTHONUNBUFFERED": "1"}


def sleepy_config(n: int, delay: float, marker_dir: str) -> str:
    parts = []
    for i in range(n):
        dep = f"\n  input = sleepy.r{i - 1}.id" if i % 10 else ""
        parts.append(f'sleepy "r{i}" {{\n  delay = {delay}\n  marker_dir = "{marker_dir}"{dep}\n}}\n')
    return "\n".join(parts)


def start_apply(wd: Workdir, out_path: str, *extra: str) -> subprocess.Popen:
    env = dict(wd.env, **SLEEPY)
    return subprocess.Popen(
        [sys.executable, "-m", "engine.cli.main", "apply", "-auto-approve", "-no-color", *extra],
        cwd=wd.path, stdout=open(out_path, "w"), stderr=subprocess.STDOUT, env=env,
    )


def markers(marker_dir: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    if os.path.isdir(marker_dir):
        for name in os.listdir(marker_dir):
            addr = name.rsplit(".", 1)[0]
            counts[addr] = counts.get(addr, 0) + 1
    return counts


@pytest.mark.slow
def test_kill_9_at_random_moments_loses_no_finished_change(tmp_path):
    rng = random.Random(int(os.environ.get("KILL_SEED", "1234")))
    trials = int(os.environ.get("KILL_TRIALS", "20"))
    for trial in range(trials):
        wd = Workdir(tmp_path / f"t{trial}", env=SLEEPY)
        marker_dir = str(tmp_path / f"m{trial}")
        wd.write("main.hcl", sleepy_config(200, 0.002, marker_dir))
        out = str(tmp_path / f"out{trial}.txt")
        p = start_apply(wd, out)
        time.sleep(rng.uniform(0.4, 2.5))
        p.send_signal(signal.SIGKILL)
        p.wait()
        finished = set()
        for line in open(out):
            if ": Creation complete" in line:
                finished.add(line.split(": Creation complete")[0])
        listing = wd.run("state", "list", env=SLEEPY)
        assert listing.code == 0, listing.text
        in_state = set(listing.out.split())
        assert finished <= in_state, f"trial {trial}: finished but lost: {sorted(finished - in_state)[:5]}"
        before = markers(marker_dir)
        r = wd.run("apply", "-auto-approve", "-no-color", env=SLEEPY)
        assert r.code == 0, r.text
        after = markers(marker_dir)
        assert len(wd.state()["resources"]) == 200
        # nothing that was recorded was created again
        for addr in in_state:
            assert after.get(addr) == before.get(addr) == 1, f"trial {trial}: {addr} created again"
        assert wd.run("plan", "-detailed-exitcode", env=SLEEPY).code == 0


def test_concurrent_applies_one_proceeds_other_names_holder(tmp_path):
    wd = Workdir(tmp_path / "w", env=SLEEPY)
    wd.write("main.hcl", 'sleepy "slow" {\n  delay = 4\n}\n')
    out = str(tmp_path / "first.txt")
    first = start_apply(wd, out)
    deadline = time.time() + 30
    while "Creating..." not in open(out).read() and time.time() < deadline:
        time.sleep(0.1)
    second = wd.run("apply", "-auto-approve", "-no-color", env=SLEEPY)
    assert second.code == 1
    assert "Error acquiring the state lock" in second.err
    assert f"PID:       {first.pid}" in second.err
    assert "OperationTypeApply" in second.err
    waited = wd.run("plan", "-no-color", "-lock-timeout=60s", env=SLEEPY)
    assert first.wait(60) == 0
    assert waited.code == 0, waited.text
    assert "No changes." in waited.out


def test_corrupted_state_is_reported_and_not_overwritten(tmp_path):
    wd = Workdir(tmp_path / "w")
    wd.write("main.hcl", 'value "a" {\n  input = 1\n}\n')
    wd.apply()
    wd.write("main.hcl", 'value "a" {\n  input = 2\n}\n')
    wd.apply()
    path = os.path.join(wd.path, "trainform.tfstate")
    good = open(path).read()
    with open(path, "w") as f:
        f.write(good[: len(good) // 2])
    broken = open(path).read()
    for cmd in (["plan", "-no-color"], ["apply", "-auto-approve", "-no-color"]):
        r = wd.run(*cmd)
        assert r.code == 1
        assert "Traceback" not in r.text
        assert "trainform.tfstate.backup" in r.err
        assert open(path).read() == broken
    # the offered recovery works
    os.replace(path + ".backup", path)
    r = wd.run("plan", "-no-color")
    assert r.code == 0


def test_first_interrupt_finishes_in_flight_and_saves(tmp_path):
    wd = Workdir(tmp_path / "w", env=SLEEPY)
    marker_dir = str(tmp_path / "m")
    wd.write("main.hcl", "\n".join(f'sleepy "s{i}" {{\n  delay = 1.5\n  marker_dir = "{marker_dir}"\n}}\n' for i in range(6)))
    out = str(tmp_path / "o.txt")
    p = start_apply(wd, out, "-parallelism=2")
    deadline = time.time() + 30
    while "Creating..." not in open(out).read() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)
    assert p.wait(60) == 1
    text = open(out).read()
    assert "Interrupt received" in text
    created = markers(marker_dir)
    st = wd.state()
    assert len(st["resources"]) == len(created) == 2  # the two in flight finished, nothing new started
    r = wd.apply()
    assert "Resources: 4 added" in r.out


def test_create_before_destroy_keeps_the_old_object_as_deposed_until_deleted(tmp_path):
    wd = Workdir(tmp_path / "w", env=SLEEPY)
    flag = str(tmp_path / "refuse-delete")
    wd.write("main.hcl", f'''
        sleepy "x" {{
          input                 = "a"
          fail_delete_if_exists = "{flag}"
          lifecycle {{
            create_before_destroy = true
          }}
        }}
    ''')
    wd.apply()
    old_id = wd.resource("sleepy.x")["attributes"]["id"]
    open(flag, "w").close()
    r = wd.run("apply", "-auto-approve", "-no-color", "-replace=sleepy.x")
    assert r.code == 1 and "refused to be deleted" in r.err
    new_id = wd.resource("sleepy.x")["attributes"]["id"]
    assert new_id != old_id
    deposed = wd.resource("sleepy.x (deposed)")
    assert deposed is not None and deposed["status"] == "deposed" and deposed["attributes"]["id"] == old_id
    r = wd.plan()
    assert "sleepy.x (deposed) will be destroyed" in r.out and "deposed" in r.out
    os.remove(flag)
    r = wd.apply()
    assert "1 destroyed" in r.out
    assert wd.resource("sleepy.x (deposed)") is None
    assert wd.resource("sleepy.x")["attributes"]["id"] == new_id
    assert wd.plan("-detailed-exitcode").code == 0
