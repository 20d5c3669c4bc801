"""Run the real ``trainform`` command in a scratch directory (tests, benchmarks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


class Workdir:
    def __init__(self, path: str, env: dict | None = None) -> None:
        self.path = str(path)
        os.makedirs(self.path, exist_ok=True)
        self.env = dict(os.environ)
        self.env.pop("NO_COLOR", None)
        self.env.update(env or {})

    def write(self, name: str, text: str) -> str:
        p = os.path.join(self.path, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(textwrap.dedent(text))
        return p

    def remove(self, name: str) -> None:
        os.remove(os.path.join(self.path, name))

    def run(self, *args: str, check: bool | None = None, input: str | None = None, env: dict | None = None, timeout: float = 600) -> Result:
        cmd = [sys.executable, "-m", "engine.cli.main", *args]
        e = dict(self.env)
        if env:
            e.update(env)
        p = subprocess.run(cmd, cwd=self.path, capture_output=True, text=True, input=input, env=e, timeout=timeout)
        r = Result(p.returncode, p.stdout, p.stderr)
        if check is True and r.code != 0:
            raise AssertionError(f"trainform {' '.join(args)} exited {r.code}:\n{r.out}\n{r.err}")
        return r

    def apply(self, *args: str, **kw) -> Result:
        return self.run("apply", "-auto-approve", "-no-color", *args, check=kw.pop("check", True), **kw)

    def plan(self, *args: str, **kw) -> Result:
        return self.run("plan", "-no-color", *args, **kw)

    def state(self) -> dict:
        with open(os.path.join(self.path, "trainform.tfstate")) as f:
            return json.load(f)

    def resource(self, address: str) -> dict | None:
        for r in self.state().get("resources", []):
            if r["address"] == address:
                return r
        return None

    def plan_json(self, *args: str) -> dict:
        r = self.run("plan", "-json", "-no-color", *args, check=True)
        return json.loads(r.out)
