"""GPU detection (``nvidia-smi``) and selection for the local compute pool.

Detection runs ``nvidia-smi --query-gpu=index,name,memory.total,uuid
--format=csv,noheader``; no ``nvidia-smi`` on PATH (or one that fails because
no driver is loaded) means a CPU-only pool, while output we cannot parse is
reported, because silently ignoring GPUs would make runs wait forever.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

__all__ = ["Gpu", "GpuError", "detect_gpus", "parse_nvidia_smi", "select_gpus"]

QUERY = ["--query-gpu=index,name,memory.total,uuid", "--format=csv,noheader"]


class GpuError(Exception):
    """GPU detection or selection failed in a way the user must see."""


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    memory_mb: int
    uuid: str

    def as_dict(self) -> dict:
        return {"index": self.index, "name": self.name, "memory_mb": self.memory_mb, "uuid": self.uuid}


def parse_nvidia_smi(text: str) -> list[Gpu]:
    """Parse ``index, name, memory.total, uuid`` CSV lines ("81559 MiB" memory)."""
    gpus = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 4:
            raise GpuError(f"unexpected nvidia-smi output on line {n}: {line.strip()!r} (expected index, name, memory.total, uuid)")
        # a GPU name may itself contain commas: index first, memory and uuid last
        index, name, mem, uid = parts[0], ", ".join(parts[1:-2]), parts[-2], parts[-1]
        try:
            idx = int(index)
            mem_mb = int(float(mem.split()[0])) if mem and mem.split()[0] not in ("[N/A]", "N/A") else 0
        except (ValueError, IndexError):
            raise GpuError(f"unexpected nvidia-smi output on line {n}: {line.strip()!r}") from None
        gpus.append(Gpu(idx, name, mem_mb, uid))
    return sorted(gpus, key=lambda g: g.index)


def detect_gpus(executable: str = "nvidia-smi", timeout: float = 20.0) -> list[Gpu]:
    """The machine's GPUs; [] when nvidia-smi is absent or finds no driver."""
    path = shutil.which(executable)
    if path is None:
        return []
    try:
        p = subprocess.run([path, *QUERY], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise GpuError(f"running {path} failed: {e}") from e
    if p.returncode != 0:
        msg = (p.stderr or p.stdout).strip()
        # "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver": no usable GPU
        if "driver" in msg.lower() or "no devices were found" in msg.lower():
            return []
        raise GpuError(f"{path} exited with status {p.returncode}: {msg[:300]}")
    return parse_nvidia_smi(p.stdout)


def select_gpus(spec, detected: list[Gpu]) -> list[int]:
    """Indexes chosen by the compute's ``gpus`` setting.

    ``None``/"all" -> every detected GPU; a number N -> the first N; a list ->
    exactly those indexes (each must exist).
    """
    indexes = [g.index for g in detected]
    if spec is None or spec == "all":
        return indexes
    if isinstance(spec, bool):
        raise GpuError('gpus must be "all", a number of GPUs or a list of GPU indexes')
    if isinstance(spec, (int, float)) or (isinstance(spec, str) and spec.strip().isdigit()):
        n = int(float(spec))
        if n != float(spec) or n < 0:
            raise GpuError(f"gpus = {spec} is not a whole number of GPUs")
        if n > len(indexes):
            raise GpuError(f"gpus = {n} but this machine has {len(indexes)} GPU(s)" + (f" (indexes {', '.join(map(str, indexes))})" if indexes else " (nvidia-smi found none)"))
        return indexes[:n]
    if isinstance(spec, (list, tuple)):
        out = []
        for x in spec:
            try:
                i = int(x)
            except (TypeError, ValueError):
                raise GpuError(f"gpus list item {x!r} is not a GPU index") from None
            if i not in indexes:
                raise GpuError(f"GPU index {i} does not exist on this machine" + (f" (indexes {', '.join(map(str, indexes))})" if indexes else " (nvidia-smi found none)"))
            if i not in out:
                out.append(i)
        return out
    raise GpuError(f'gpus = {spec!r}: use "all", a number of GPUs or a list of GPU indexes')
