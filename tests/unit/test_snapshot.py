"""Snapshots: gitignore matching, content hashing, the stat cache, materialising."""

import os

import pytest

from providers.run import snapshot as S
from providers.run.ignore import IgnoreRules, compile_pattern


def rules(*lines):
    return IgnoreRules(list(lines))


@pytest.mark.parametrize("lines,path,is_dir,expected", [
    (["*.pyc"], "a/b/c.pyc", False, True),
    (["*.pyc"], "a/b/c.py", False, False),
    (["data/"], "data", True, True),
    (["data/"], "data", False, False),  # directory-only pattern does not match a file
    (["data/"], "x/data", True, True),  # no inner slash: matches at any depth
    (["/data"], "x/data", True, False),  # anchored
    (["/data"], "data", True, True),
    (["doc/frotz"], "doc/frotz", False, True),
    (["doc/frotz"], "a/doc/frotz", False, False),  # an inner slash anchors
    (["**/foo"], "a/b/foo", False, True),
    (["**/foo"], "foo", False, True),
    (["abc/**"], "abc/x/y", False, True),
    (["abc/**"], "abc", True, False),
    (["a/**/b"], "a/b", False, True),
    (["a/**/b"], "a/x/y/b", False, True),
    (["a/**/b"], "a/x/c", False, False),
    (["*.log", "!keep.log"], "keep.log", False, False),
    (["*.log", "!keep.log"], "other.log", False, True),
    (["!keep.log", "*.log"], "keep.log", False, True),  # last match wins
    (["file?.txt"], "file1.txt", False, True),
    (["file?.txt"], "file10.txt", False, False),
    (["[abc].txt"], "b.txt", False, True),
    (["[!abc].txt"], "b.txt", False, False),
    (["[!abc].txt"], "d.txt", False, True),
    (["\\#notacomment"], "#notacomment", False, True),
    (["# comment"], "# comment", False, False),
    (["\\!bang"], "!bang", False, True),
    (["trailing   "], "trailing", False, True),
    (["*"], "a/b", False, True),
    (["a*b"], "a/b", False, False),  # * does not cross /
])
def test_gitignore_rules(lines, path, is_dir, expected):
    assert rules(*lines).ignored(path, is_dir) is expected


def test_blank_and_comment_lines_compile_to_nothing():
    assert compile_pattern("") is None
    assert compile_pattern("   ") is None
    assert compile_pattern("# x") is None


def _tree(root, files):
    for rel, content in files.items():
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(content if isinstance(content, bytes) else content.encode())


def test_scan_honours_trainformignore_and_prunes_directories(tmp_path):
    src = tmp_path / "src"
    _tree(src, {
        "train.py": "print(1)", "data/big.bin": b"x" * 100, "data/keep.txt": "k", "logs/a.log": "l",
        "model.ckpt": "c", "notes.md": "n", "outputs/old.txt": "o", ".git/HEAD": "ref",
        ".trainformignore": "data/\n!data/keep.txt\n*.ckpt\nlogs/*\n", ".gitignore": "notes.md\n",
    })
    snap = S.scan(str(src))
    # .trainformignore wins over .gitignore; a file under an excluded dir cannot be re-included
    assert sorted(snap.files) == [".gitignore", ".trainformignore", "notes.md", "train.py"]
    assert snap.ignore_origin == ".trainformignore"


def test_gitignore_used_when_no_trainformignore(tmp_path):
    src = tmp_path / "src"
    _tree(src, {"train.py": "x", "notes.md": "n", ".gitignore": "notes.md\n"})
    assert sorted(S.scan(str(src)).files) == [".gitignore", "train.py"]


def test_hash_depends_on_content_paths_and_exec_bit(tmp_path):
    src = tmp_path / "src"
    _tree(src, {"a.py": "1", "b/c.py": "2"})
    h1 = S.scan(str(src)).hash
    assert S.scan(str(src)).hash == h1
    (src / "a.py").write_text("changed")
    h2 = S.scan(str(src)).hash
    assert h2 != h1
    os.chmod(src / "a.py", 0o755)
    assert S.scan(str(src)).hash != h2
    os.rename(src / "b" / "c.py", src / "b" / "d.py")
    assert S.scan(str(src)).hash not in (h1, h2)


def test_ignored_file_does_not_change_hash(tmp_path):
    src = tmp_path / "src"
    _tree(src, {"a.py": "1", "scratch.txt": "s", ".trainformignore": "scratch.txt\n"})
    h1 = S.scan(str(src)).hash
    (src / "scratch.txt").write_text("edited")
    assert S.scan(str(src)).hash == h1


def test_stat_cache_avoids_rehashing(tmp_path, monkeypatch):
    src = tmp_path / "src"
    _tree(src, {"a.py": "1", "b.py": "2"})
    cache = tmp_path / "cache"
    first = S.scan(str(src), str(cache))
    calls = []
    real = S._hash_file
    monkeypatch.setattr(S, "_hash_file", lambda p: calls.append(p) or real(p))
    assert S.scan(str(src), str(cache)).hash == first.hash
    assert calls == []
    (src / "b.py").write_text("22")
    S.scan(str(src), str(cache))
    assert [os.path.basename(c) for c in calls] == ["b.py"]


def test_stat_cache_is_not_fooled_by_same_size_rewrite(tmp_path):
    src = tmp_path / "src"
    _tree(src, {"a.py": "1"})
    cache = str(tmp_path / "cache")
    h1 = S.scan(str(src), cache).hash
    st = os.stat(src / "a.py")
    (src / "a.py").write_text("2")
    os.utime(src / "a.py", ns=(st.st_atime_ns, st.st_mtime_ns + 1000))
    assert S.scan(str(src), cache).hash != h1


def test_corrupt_cache_is_ignored(tmp_path):
    src = tmp_path / "src"
    _tree(src, {"a.py": "1"})
    cache = tmp_path / "cache"
    h = S.scan(str(src), str(cache)).hash
    for f in (cache / "stat").iterdir():
        f.write_text("{not json")
    assert S.scan(str(src), str(cache)).hash == h


def test_materialize_copies_once_and_writes_manifest(tmp_path):
    src = tmp_path / "src"
    _tree(src, {"a.py": "1", "sub/b.txt": "2", "skip.bin": "x", ".trainformignore": "*.bin\n"})
    snap = S.scan(str(src))
    dest = S.materialize(snap, str(tmp_path / "snaps"))
    assert os.path.basename(dest) == snap.hash
    assert (tmp_path / "snaps" / snap.hash / "sub" / "b.txt").read_text() == "2"
    assert not (tmp_path / "snaps" / snap.hash / "skip.bin").exists()
    assert (tmp_path / "snaps" / snap.hash / "outputs").is_dir()
    m = S.load_manifest(str(tmp_path / "snaps"), snap.hash)
    assert set(m) == {"a.py", "sub/b.txt", ".trainformignore"}
    # second call: already there, nothing copied
    (src / "a.py").write_text("changed after")
    assert S.materialize(snap, str(tmp_path / "snaps")) == dest
    assert (tmp_path / "snaps" / snap.hash / "a.py").read_text() == "1"


def test_materialize_detects_edit_after_scan(tmp_path):
    src = tmp_path / "src"
    _tree(src, {"a.py": "1"})
    snap = S.scan(str(src))
    (src / "a.py").write_text("2")
    with pytest.raises(S.SnapshotError, match="changed while the snapshot"):
        S.materialize(snap, str(tmp_path / "snaps"))
    assert not (tmp_path / "snaps" / snap.hash).exists()


def test_diff_manifests_names_files():
    old = {"train.py": {"sha256": "1"}, "util.py": {"sha256": "2"}, "gone.py": {"sha256": "3"}}
    new = {"train.py": {"sha256": "9"}, "util.py": {"sha256": "2"}, "new.py": {"sha256": "4"}}
    assert S.diff_manifests(old, new) == ["gone.py removed", "new.py added", "train.py changed"]


def test_missing_source_directory(tmp_path):
    with pytest.raises(S.SnapshotError, match="does not exist"):
        S.scan(str(tmp_path / "nope"))


def test_largest_files(tmp_path):
    src = tmp_path / "src"
    _tree(src, {f"f{i}": b"x" * (i * 10) for i in range(1, 8)})
    snap = S.scan(str(src))
    assert [p for p, _ in snap.largest(5)] == ["f7", "f6", "f5", "f4", "f3"]
    assert snap.total_size == sum(i * 10 for i in range(1, 8))
