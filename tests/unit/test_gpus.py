"""GPU detection with a fake nvidia-smi, GPU selection, and the in-process pool."""

import os
import stat
import threading

import pytest

from providers.compute import gpus as G
from providers.compute.pool import Pool, PoolError

TWO = "0, NVIDIA A100-SXM4-80GB, 81920 MiB, GPU-aaaa\n1, NVIDIA A100-SXM4-80GB, 81920 MiB, GPU-bbbb\n"


def fake_smi(tmp_path, out: str, code: int = 0, err: str = "") -> str:
    d = tmp_path / "bin"
    d.mkdir(exist_ok=True)
    p = d / "nvidia-smi"
    p.write_text(f"#!/bin/sh\ncat <<'EOF'\n{out}EOF\necho '{err}' >&2\nexit {code}\n")
    p.chmod(p.stat().st_mode | stat.S_IXUSR)
    return str(d)


def test_parse_nvidia_smi():
    gpus = G.parse_nvidia_smi(TWO)
    assert [g.index for g in gpus] == [0, 1]
    assert gpus[0].name == "NVIDIA A100-SXM4-80GB" and gpus[0].memory_mb == 81920 and gpus[1].uuid == "GPU-bbbb"


def test_parse_name_with_comma_and_na_memory():
    gpus = G.parse_nvidia_smi("3, Weird, Name, [N/A], GPU-x\n")
    assert gpus[0].index == 3 and gpus[0].name == "Weird, Name" and gpus[0].memory_mb == 0


def test_parse_garbage_is_an_error():
    with pytest.raises(G.GpuError, match="unexpected nvidia-smi output"):
        G.parse_nvidia_smi("No devices here\n")


def test_detect_with_fake_nvidia_smi(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", fake_smi(tmp_path, TWO) + os.pathsep + os.environ["PATH"])
    assert [g.uuid for g in G.detect_gpus()] == ["GPU-aaaa", "GPU-bbbb"]


def test_detect_without_nvidia_smi_is_cpu_only(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert G.detect_gpus() == []


def test_detect_without_driver_is_cpu_only(tmp_path, monkeypatch):
    d = fake_smi(tmp_path, "", 9, "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.")
    monkeypatch.setenv("PATH", d + os.pathsep + os.environ["PATH"])
    assert G.detect_gpus() == []


def test_detect_other_failure_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", fake_smi(tmp_path, "", 3, "Unknown Error") + os.pathsep + os.environ["PATH"])
    with pytest.raises(G.GpuError, match="exited with status 3"):
        G.detect_gpus()


@pytest.mark.parametrize("spec,expected", [(None, [0, 1, 2, 3]), ("all", [0, 1, 2, 3]), (2, [0, 1]), (0, []), ([3, 1], [3, 1]), ([1, 1], [1])])
def test_select(spec, expected):
    detected = G.parse_nvidia_smi("".join(f"{i}, G, 1 MiB, U{i}\n" for i in range(4)))
    assert G.select_gpus(spec, detected) == expected


@pytest.mark.parametrize("spec,msg", [(5, "has 4 GPU"), ([7], "index 7 does not exist"), ("many", "use \"all\""), (1.5, "whole number")])
def test_select_errors(spec, msg):
    detected = G.parse_nvidia_smi("".join(f"{i}, G, 1 MiB, U{i}\n" for i in range(4)))
    with pytest.raises(G.GpuError, match=msg):
        G.select_gpus(spec, detected)


def test_pool_assigns_distinct_gpus_and_queues():
    pool = Pool(max_concurrent=4, gpus=[0, 1, 2])
    a = pool.acquire(2)
    b = pool.acquire(1)
    assert sorted(a.gpus + b.gpus) == [0, 1, 2]
    got = []
    t = threading.Thread(target=lambda: got.append(pool.acquire(2)))
    t.start()
    t.join(0.3)
    assert t.is_alive() and not got  # waits: only 0 GPUs free
    a.release()
    t.join(5)
    assert sorted(got[0].gpus) == sorted(a.gpus)
    got[0].release()
    b.release()
    assert pool.free == [0, 1, 2] and pool.running == 0


def test_pool_limits_concurrency_and_aborts():
    pool = Pool(max_concurrent=1, gpus=[])
    lease = pool.acquire(0)
    stop = threading.Event()
    res = []
    t = threading.Thread(target=lambda: res.append(pool.acquire(0, abort=stop.is_set)))
    t.start()
    t.join(0.3)
    assert t.is_alive()
    stop.set()
    t.join(5)
    assert res == [None]
    lease.release()
    assert pool.acquire(0) is not None


def test_pool_rejects_more_gpus_than_it_has():
    with pytest.raises(PoolError, match="needs 3 GPU"):
        Pool(2, [0, 1]).acquire(3)


def test_pool_is_fifo():
    pool = Pool(max_concurrent=1, gpus=[0, 1])
    first = pool.acquire(0)
    order = []
    big_waiting = threading.Event()

    def big():
        big_waiting.set()
        lease = pool.acquire(2)
        order.append("big")
        lease.release()

    tb = threading.Thread(target=big)
    tb.start()
    big_waiting.wait()
    import time

    while len(pool.queue) < 1:
        time.sleep(0.01)
    ts = threading.Thread(target=lambda: (pool.acquire(1).release(), order.append("small")))
    ts.start()
    while len(pool.queue) < 2:
        time.sleep(0.01)
    first.release()
    tb.join(5)
    ts.join(5)
    assert order == ["big", "small"]
