"""A throwaway PostgreSQL cluster for tests: initdb + pg_ctl on a free loopback port."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile

import pytest

def _pg_binary(name: str) -> str:
    """initdb/pg_ctl: on PATH, or where Debian's postgresql package puts them (not on PATH)."""
    import glob

    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True) + [f"/usr/local/bin/{name}"]:
        if os.path.exists(candidate):
            return candidate
    return f"/usr/local/bin/{name}"


INITDB = _pg_binary("initdb")
PG_CTL = _pg_binary("pg_ctl")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _service_user() -> str | None:
    """The user the server runs as: ourselves when not root, else postgres (created if missing)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "trainform"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "trainform"], check=True, capture_output=True)
    return "trainform"


class Cluster:
    def __init__(self):
        if not (os.path.exists(INITDB) and os.path.exists(PG_CTL)):
            pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.user = _service_user()
        self.dir = tempfile.mkdtemp(prefix="trainform-pg-")
        self.data = os.path.join(self.dir, "data")
        self.password = "pw-" + secrets.token_hex(8)
        self.port = _free_port()
        pwfile = os.path.join(self.dir, "pwfile")
        with open(pwfile, "w") as f:
            f.write(self.password + "\n")
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        self._run([INITDB, "-D", self.data, "-U", "trainform", "--pwfile", pwfile, "--auth=scram-sha-256",
                   "-E", "UTF8", "--no-sync"])
        self.start()

    def _run(self, argv, check=True):
        r = subprocess.run(argv, user=self.user, capture_output=True, text=True, cwd=self.dir, timeout=120)
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {r.stdout}\n{r.stderr}")
        return r

    def start(self):
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run([PG_CTL, "-D", self.data, "-o", opts, "-l", os.path.join(self.dir, "log"), "-w", "start"])

    def stop(self):
        self._run([PG_CTL, "-D", self.data, "-m", "fast", "-w", "stop"], check=False)

    def conn_str(self, password: str | None = None) -> str:
        return (f"host=127.0.0.1 port={self.port} user=trainform dbname=postgres "
                f"password={password or self.password}")

    def destroy(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


