"""Build inputs and content hashes of environments (no Docker needed)."""

from __future__ import annotations

import os
import tarfile

import pytest

from providers.docker.buildspec import (
    GENERATED_DOCKERFILE, WHEEL_DIR, BuildSpecError, dockerignore_rules, from_images, input_hash, is_ignored, make_spec,
)


def _write(root, rel, text="x"):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(text)
    return p


@pytest.mark.parametrize("pattern,path,ignored", [
    ("*.log", "a.log", True),
    ("*.log", "sub/a.log", False),          # Docker anchors patterns at the context root
    ("**/*.log", "sub/deep/a.log", True),
    ("data", "data/x/y.bin", True),          # a directory pattern excludes what is below it
    ("data/", "data/y.bin", True),
    ("/secret.txt", "secret.txt", True),
    ("sub/?.txt", "sub/a.txt", True),
    ("sub/?.txt", "sub/ab.txt", False),
])
def test_dockerignore_patterns(pattern, path, ignored):
    assert is_ignored(path, dockerignore_rules(pattern)) is ignored


def test_dockerignore_negation_last_match_wins():
    rules = dockerignore_rules("*.md\n!README.md\n# comment\n\n")
    assert is_ignored("NOTES.md", rules)
    assert not is_ignored("README.md", rules)


def test_from_images_skips_stages_scratch_and_args():
    df = "ARG V=1\nFROM base/a:1 AS build\nRUN x\nFROM build\nFROM scratch\nFROM --platform=linux/amd64 reg:5000/b:2\nFROM img:$V\n"
    assert from_images(df) == ["base/a:1", "reg:5000/b:2"]


def test_generated_dockerfile_base_env_and_wheels(tmp_path):
    whl = _write(str(tmp_path), "wheels/pkg-1.0-py3-none-any.whl", "wheel-bytes")
    spec = make_spec({"base_image": "py:1"}, {"pip_packages": ["wheels/pkg-1.0-py3-none-any.whl"]}, {"B": "2", "A": "x y"},
                     str(tmp_path), base_ref="py:1")
    lines = spec.dockerfile.splitlines()
    assert lines[0] == "FROM py:1"
    assert lines[1] == 'ENV A="x y" B="2"'
    assert any("--no-index" in l and "pip install" in l for l in lines)
    assert spec.files[f"{WHEEL_DIR}/pkg-1.0-py3-none-any.whl"] == whl
    assert spec.base_images == ["py:1"]
    with tarfile.open(fileobj=spec.tar()) as tf:
        names = tf.getnames()
    assert GENERATED_DOCKERFILE in names and f"{WHEEL_DIR}/pkg-1.0-py3-none-any.whl" in names


def test_user_managed_installs_nothing(tmp_path):
    spec = make_spec({"base_image": "py:1"}, {"user_managed_dependencies": True, "pip_packages": ["numpy"]}, None, str(tmp_path), "py:1")
    assert spec.dockerfile == "FROM py:1\n"


def test_hash_ignores_dockerignored_files_but_not_sent_ones(tmp_path):
    root = str(tmp_path)
    _write(root, "ctx/Dockerfile", "FROM a\nCOPY . /x\n")
    _write(root, "ctx/keep.txt", "1")
    _write(root, "ctx/tmp/big.bin", "1")
    _write(root, "ctx/.dockerignore", "tmp\n")
    docker = {"dockerfile_path": "ctx/Dockerfile"}
    h1 = make_spec(docker, None, None, root).content_hash()
    _write(root, "ctx/tmp/big.bin", "2")
    assert make_spec(docker, None, None, root).content_hash() == h1
    _write(root, "ctx/keep.txt", "2")
    spec = make_spec(docker, None, None, root)
    assert spec.content_hash() != h1
    assert "tmp/big.bin" not in spec.files and "keep.txt" in spec.files


def test_each_input_has_its_own_hash(tmp_path):
    root = str(tmp_path)
    base = make_spec({"dockerfile": "FROM a\n"}, None, None, root).parts
    assert make_spec({"dockerfile": "FROM b\n"}, None, None, root).parts["dockerfile"] != base["dockerfile"]
    other = make_spec({"dockerfile": "FROM a\n", "build_args": {"X": "1"}}, None, {"E": "1"}, root).parts
    assert other["dockerfile"] == base["dockerfile"]
    assert other["build_args"] != base["build_args"] and other["env_vars"] != base["env_vars"]


def test_user_mistakes_raise_buildspec_error(tmp_path):
    with pytest.raises(BuildSpecError, match="does not exist"):
        make_spec({"base_image": "a"}, {"pip_packages": ["missing.whl"]}, None, str(tmp_path), "a")
    with pytest.raises(BuildSpecError, match="cannot be read"):
        make_spec({"dockerfile_path": "nope/Dockerfile"}, None, None, str(tmp_path))
    with pytest.raises(BuildSpecError, match="not a directory"):
        make_spec({"dockerfile": "FROM a", "build_context": "nowhere"}, None, None, str(tmp_path))


def test_input_hash_is_order_independent():
    assert input_hash({"a": 1, "b": [1, 2]}) == input_hash({"b": [1, 2], "a": 1})
