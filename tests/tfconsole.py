"""Run expressions through the real ``terraform console`` (an oracle for tests).

``terraform_console(exprs, files)`` evaluates each expression and returns
``(succeeded, text)`` pairs: the printed value, or the error's summary and
detail.  Piped (non-interactive) console only prints its last result and
stops at the first error, so we drive one interactive console through a
pseudo-terminal, following every expression with a marker expression to
check that outputs line up; if they don't (e.g. an unbalanced bracket made
the console wait for more input), each expression of that batch is re-run in
its own piped process.  Results are cached on disk by expression text and
files, so repeated test runs cost nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time

__all__ = ["available", "terraform_console", "TERRAFORM", "untype_nulls"]

TERRAFORM = os.environ.get("TRAINFORM_TERRAFORM", "/usr/local/bin/terraform")
MARK = '"@@@MARK@@@"'
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "trainform-tfconsole")
_BATCH = 60


def available() -> bool:
    return os.path.exists(TERRAFORM) and os.access(TERRAFORM, os.X_OK)


_TYPED_NULL = re.compile(r"(?:to(?:string|number|bool|list|set|map)\(null\)|null)(?: /\* [^*]* \*/)?")


def untype_nulls(text: str) -> str:
    """Print typed nulls (``tostring(null)``, ``tolist(null) /* of string */``) as ``null``:
    trainform's values do not carry the type of a null."""
    return _TYPED_NULL.sub("null", text)


def _env() -> dict:
    env = dict(os.environ)
    env["TF_CLI_CONFIG_FILE"] = "/dev/null"
    env["TF_IN_AUTOMATION"] = "1"
    env["CHECKPOINT_DISABLE"] = "1"
    env.setdefault("TERM", "dumb")
    return env


def _cache_key(expr: str, files: dict | None) -> str:
    blob = json.dumps([expr, sorted((files or {}).items())])
    return hashlib.sha256(blob.encode()).hexdigest()


def _cache_get(key: str):
    try:
        with open(os.path.join(_CACHE_DIR, key[:2], key + ".json")) as f:
            ok, text = json.load(f)
        return bool(ok), text
    except (OSError, ValueError):
        return None


def _cache_put(key: str, value) -> None:
    d = os.path.join(_CACHE_DIR, key[:2])
    try:
        os.makedirs(d, exist_ok=True)
        tmp = os.path.join(d, f".{key}.{os.getpid()}")
        with open(tmp, "w") as f:
            json.dump(list(value), f)
        os.replace(tmp, os.path.join(d, key + ".json"))
    except OSError:
        pass


def _clean_error(text: str) -> str:
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        s = line.strip()
        s = s.lstrip("╷╵│").strip()
        if s in ("", "(source code not available)") or s.startswith("on <console-input>"):
            continue
        lines.append(s)
    return "\n".join(lines)


def _clean_result(seg: str) -> tuple[bool, str]:
    seg = _ANSI.sub("", seg).replace("\r\n", "\n").replace("\r", "")
    seg = seg.rstrip("\n")
    if "Error:" in seg and ("╷" in seg or "│" in seg):
        return False, _clean_error(seg)
    return True, seg


def _run_pty(exprs: list[str], cwd: str, timeout: float = 120) -> list[tuple[bool, str]] | None:
    import pty
    import termios

    master, slave = pty.openpty()
    attrs = termios.tcgetattr(slave)
    attrs[3] &= ~termios.ECHO
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    proc = subprocess.Popen([TERRAFORM, "console"], stdin=slave, stdout=slave, stderr=slave,
                            cwd=cwd, env=_env(), close_fds=True, start_new_session=True)
    os.close(slave)
    lines = []
    for e in exprs:
        lines += [e, MARK]
    pending = ("\n".join(lines) + "\nexit\n").encode()
    buf = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            wl = [master] if pending else []
            r, w, _ = select.select([master], wl, [], 1.0)
            if w and pending:
                n = os.write(master, pending[:512])
                pending = pending[n:]
            if r:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                buf += chunk
            elif proc.poll() is not None:
                break
    finally:
        try:
            proc.kill()
        except OSError:
            pass
        proc.wait()
        os.close(master)
    text = buf.decode("utf-8", "replace")
    segs = text.split("\r\n \x08")[1:]
    results = []
    for seg in segs:
        end = seg.find("\r\x08\r\x08")
        results.append(_clean_result(seg if end < 0 else seg[:end]))
    if len(results) < 2 * len(exprs):
        return None
    out = []
    for i in range(len(exprs)):
        res, mark = results[2 * i], results[2 * i + 1]
        if mark != (True, MARK):
            return None
        out.append(res)
    return out


def _run_single(expr: str, cwd: str) -> tuple[bool, str]:
    p = subprocess.run([TERRAFORM, "console"], input=expr + "\n", capture_output=True, text=True,
                       cwd=cwd, env=_env(), timeout=60)
    if p.returncode != 0:
        return False, _clean_error(_ANSI.sub("", p.stderr + p.stdout))
    return True, p.stdout.rstrip("\n")


def terraform_console(exprs: list[str], files: dict[str, str] | None = None,
                      use_cache: bool = True) -> list[tuple[bool, str]]:
    """Evaluate each expression with ``terraform console``; see the module docstring."""
    if not available():
        raise RuntimeError(f"terraform not found at {TERRAFORM}")
    results: list = [None] * len(exprs)
    todo = []
    for i, e in enumerate(exprs):
        if "\n" in e:
            raise ValueError("expressions must be single lines")
        hit = _cache_get(_cache_key(e, files)) if use_cache else None
        if hit is not None:
            results[i] = hit
        else:
            todo.append(i)
    if todo:
        tmp = tempfile.mkdtemp(prefix="tfconsole-")
        try:
            for name, content in (files or {}).items():
                path = os.path.join(tmp, name)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as f:
                    f.write(content)
            for start in range(0, len(todo), _BATCH):
                idx = todo[start:start + _BATCH]
                batch = [exprs[i] for i in idx]
                got = _run_pty(batch, tmp)
                if got is None:
                    got = [_run_single(e, tmp) for e in batch]
                for i, r in zip(idx, got):
                    results[i] = r
                    if use_cache:
                        _cache_put(_cache_key(exprs[i], files), r)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return results


if __name__ == "__main__":  # handy for exploring: python tests/tfconsole.py 'expr' ...
    import sys
    for ok, text in terraform_console(sys.argv[1:], use_cache=False):
        print("OK " if ok else "ERR", text)
