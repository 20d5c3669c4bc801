"""What an environment's image is built from, and its content hash.

Pure functions (no Docker): the Dockerfile trainform writes for a
``base_image``, the build-context files after ``.dockerignore``, local wheel
files of ``pip_packages``, and the per-input hashes whose combination names
the image tag.  The same :class:`BuildSpec` produces the tar handed to the
daemon, so what is hashed is exactly what is built.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
from dataclasses import dataclass, field

__all__ = [
    "BuildSpec", "BuildSpecError", "make_spec", "dockerignore_rules", "is_ignored", "from_images",
    "input_hash", "GENERATED_DOCKERFILE", "WHEEL_DIR",
]

#: names inside the build context that trainform owns
GENERATED_DOCKERFILE = ".trainform.Dockerfile"
WHEEL_DIR = ".trainform-wheels"
_PIP = "PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --no-cache-dir --disable-pip-version-check"


class BuildSpecError(Exception):
    """A user mistake in the docker/python blocks (missing file, bad path)."""


def input_hash(value) -> str:
    """sha256 of canonical JSON: stable across runs and machines."""
    data = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(data).hexdigest()


def _file_hash(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------- .dockerignore

def _glob_regex(pat: str) -> str:
    from engine.providers import glob_to_regex

    return glob_to_regex(pat)


def dockerignore_rules(text: str) -> list[tuple[re.Pattern, bool]]:
    """(regex, negated) per line, as Docker reads .dockerignore: patterns are
    relative to the context root, ``**`` spans directories, ``!`` re-includes,
    and a pattern matching a directory excludes everything below it."""
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        neg = line.startswith("!")
        if neg:
            line = line[1:].strip()
        line = os.path.normpath(line).lstrip("/")
        if line in (".", ""):
            continue
        rules.append((re.compile(_glob_regex(line) + "(?:/.*)?$"), neg))
    return rules


def is_ignored(rel: str, rules) -> bool:
    ignored = False
    for rx, neg in rules:
        if rx.match(rel):
            ignored = not neg
    return ignored


# ---------------------------------------------------------------- Dockerfile

def from_images(dockerfile: str) -> list[str]:
    """The image references FROM lines name (not stage names, scratch or ARG-built ones)."""
    stages: set[str] = set()
    images: list[str] = []
    for line in _logical_lines(dockerfile):
        parts = line.split()
        if len(parts) < 2 or parts[0].upper() != "FROM":
            continue
        args = [p for p in parts[1:] if not p.startswith("--")]
        if not args:
            continue
        image = args[0]
        if len(args) >= 3 and args[1].upper() == "AS":
            stages.add(args[2].lower())
        if image.lower() in stages or image.lower() == "scratch" or "$" in image:
            continue
        if image not in images:
            images.append(image)
    return images


def _logical_lines(text: str) -> list[str]:
    out, cur = [], ""
    for raw in text.splitlines():
        s = raw.strip()
        if s.startswith("#") and not cur:
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        out.append(cur + s)
        cur = ""
    if cur:
        out.append(cur)
    return out


def _env_line(env_vars: dict) -> str:
    return "ENV " + " ".join(f"{k}={json.dumps(str(v))}" for k, v in sorted(env_vars.items()))


# ---------------------------------------------------------------- the spec

@dataclass
class BuildSpec:
    """Everything that goes into one build, with the hash of each input."""

    dockerfile: str  # the full text handed to the daemon
    files: dict[str, str] = field(default_factory=dict)  # name in context -> absolute source path
    base_images: list[str] = field(default_factory=list)
    parts: dict[str, object] = field(default_factory=dict)  # input name -> hash (base digests filled later)
    build_args: dict[str, str] = field(default_factory=dict)

    def content_hash(self) -> str:
        return input_hash(self.parts)

    def tar(self) -> io.BytesIO:
        """The build context as an uncompressed tar (deterministic order, no owners)."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            for name in sorted(self.files):
                info = tf.gettarinfo(self.files[name], arcname=name)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                if info.isreg():
                    with open(self.files[name], "rb") as f:
                        tf.addfile(info, f)
                else:
                    tf.addfile(info)
            data = self.dockerfile.encode()
            info = tarfile.TarInfo(GENERATED_DOCKERFILE)
            info.size, info.mode = len(data), 0o644
            tf.addfile(info, io.BytesIO(data))
        buf.seek(0)
        return buf


def _context_files(root: str) -> dict[str, str]:
    """Files of a build context after .dockerignore (relative name -> path)."""
    rules = []
    ign = os.path.join(root, ".dockerignore")
    if os.path.isfile(ign):
        with open(ign, encoding="utf-8", errors="replace") as f:
            rules = dockerignore_rules(f.read())
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        # trainform's own data (digest key, logs, plans) and state never go into an image
        dirnames[:] = sorted(d for d in dirnames if d != ".trainform")
        filenames = [f for f in filenames if not f.startswith("trainform.tfstate")]
        # prune ignored directories unless a negated rule could re-include something inside
        if not any(neg for _, neg in rules):
            dirnames[:] = [d for d in dirnames if not is_ignored(rel_dir + d, rules)]
        for name in sorted(filenames):
            rel = rel_dir + name
            if is_ignored(rel, rules) and name != ".dockerignore":
                continue
            path = os.path.join(dirpath, name)
            if os.path.isfile(path) or os.path.islink(path):
                out[rel] = path
    return out


def _resolve(path: str, base_dir: str) -> str:
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(base_dir, path))


def make_spec(docker: dict, python: dict | None, env_vars: dict | None, base_dir: str,
              base_ref: str | None = None) -> BuildSpec:
    """The build of one environment; raises BuildSpecError for user mistakes.

    ``base_ref`` is the base image as it must appear in FROM (the
    ``base_image`` joined with ``base_image_registry``'s address).
    """
    python = python or {}
    env_vars = {k: v for k, v in (env_vars or {}).items() if v is not None}
    parts: dict[str, object] = {}
    files: dict[str, str] = {}

    # the user's Dockerfile, or ours
    user_df = None
    if docker.get("dockerfile") is not None:
        user_df = docker["dockerfile"]
    elif docker.get("dockerfile_path"):
        p = _resolve(docker["dockerfile_path"], base_dir)
        try:
            with open(p, encoding="utf-8") as f:
                user_df = f.read()
        except OSError as e:
            raise BuildSpecError(f'dockerfile_path "{docker["dockerfile_path"]}" cannot be read: {e.strerror or e}') from None
    parts["dockerfile"] = input_hash(user_df) if user_df is not None else None

    ctx_dir = docker.get("build_context")
    if ctx_dir is None and docker.get("dockerfile_path"):
        ctx_dir = os.path.dirname(_resolve(docker["dockerfile_path"], base_dir))
    if ctx_dir is not None:
        root = _resolve(ctx_dir, base_dir)
        if not os.path.isdir(root):
            raise BuildSpecError(f'build_context "{ctx_dir}" is not a directory (looked for {root})')
        files.update(_context_files(root))
        parts["build_context"] = input_hash({rel: _file_hash(p) for rel, p in files.items()})
    else:
        parts["build_context"] = None

    # python: pip wheels / names, conda file
    user_managed = bool(python.get("user_managed_dependencies"))
    pip = [str(x) for x in (python.get("pip_packages") or [])]
    wheels, names = [], []
    for item in pip:
        if item.endswith(".whl"):
            src = _resolve(item, base_dir)
            if not os.path.isfile(src):
                raise BuildSpecError(f'pip_packages: the wheel file "{item}" does not exist (looked for {src})')
            wheels.append((os.path.basename(src), src))
        else:
            names.append(item)
    parts["pip_packages"] = input_hash([(n, _file_hash(s)) for n, s in wheels] + names) if pip else None
    conda = python.get("conda_file")
    conda_src = None
    if conda:
        conda_src = _resolve(conda, base_dir)
        if not os.path.isfile(conda_src):
            raise BuildSpecError(f'conda_file "{conda}" does not exist (looked for {conda_src})')
        parts["conda_file"] = _file_hash(conda_src)
    else:
        parts["conda_file"] = None
    parts["user_managed_dependencies"] = user_managed
    parts["env_vars"] = input_hash(env_vars) if env_vars else None
    build_args = {str(k): str(v) for k, v in (docker.get("build_args") or {}).items() if v is not None}
    parts["build_args"] = input_hash(build_args) if build_args else None

    # the Dockerfile the daemon gets
    lines = [user_df.rstrip("\n")] if user_df is not None else [f"FROM {base_ref}"]
    if env_vars:
        lines.append(_env_line(env_vars))
    if not user_managed:
        if wheels:
            for name, src in wheels:
                files[f"{WHEEL_DIR}/{name}"] = src
            lines.append(f"COPY {WHEEL_DIR}/ /tmp/{WHEEL_DIR}/")
            lines.append(f"RUN {_PIP} --no-index --find-links /tmp/{WHEEL_DIR} /tmp/{WHEEL_DIR}/*.whl && rm -rf /tmp/{WHEEL_DIR}")
        if names:
            lines.append(f"RUN {_PIP} " + " ".join(json.dumps(n) for n in names))
        if conda_src:
            files[".trainform-conda.yml"] = conda_src
            lines.append("COPY .trainform-conda.yml /tmp/trainform-conda.yml")
            lines.append("RUN conda env update -n base -f /tmp/trainform-conda.yml && rm /tmp/trainform-conda.yml")
    dockerfile = "\n".join(lines) + "\n"
    images = from_images(dockerfile)
    return BuildSpec(dockerfile=dockerfile, files=files, base_images=images, parts=parts, build_args=build_args)
