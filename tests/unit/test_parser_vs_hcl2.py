"""Cross-check of trainform's HCL parser against python-hcl2's typed tree.

trainform parses with its own scanner/parser (engine.config.parser): it is
an order of magnitude faster than python-hcl2 8.x and keeps template
structure and exact ranges.  python-hcl2 stays the independent reference:
every configuration in examples/, the diagnostics golden cases that parse,
the fmt golden files and the README must have the same structure -- block
types, labels and attribute names, recursively -- in both parsers.
"""

import glob
import os
import re

import pytest

hcl2 = pytest.importorskip("hcl2")

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _sources():
    files = glob.glob(os.path.join(REPO, "examples", "**", "*.hcl"), recursive=True)
    files += glob.glob(os.path.join(REPO, "tests", "cases", "fmt", "*.golden"))
    for f in glob.glob(os.path.join(REPO, "tests", "cases", "diagnostics", "*", "*.hcl")):
        files.append(f)
    out = [(os.path.relpath(f, REPO), open(f, encoding="utf-8", errors="replace").read()) for f in sorted(files)]
    readme = open(os.path.join(REPO, "README.md"), encoding="utf-8").read()
    out += [(f"README.md#{i}", t) for i, t in enumerate(re.findall(r"```hcl\n(.*?)```", readme, re.S))]
    return out


def ours(body) -> list:
    items = [("attr", name) for name in body.attributes]
    for b in body.blocks:
        items.append(("block", b.type, tuple(b.labels), ours(b.body)))
    return sorted(items, key=repr)


def theirs(body) -> list:
    from hcl2.rules.base import AttributeRule, BlockRule

    items = []
    for c in body.children:
        if isinstance(c, AttributeRule):
            items.append(("attr", c.identifier.serialize()))
        elif isinstance(c, BlockRule):
            labels = [l.serialize() for l in c.labels]
            labels = tuple(l[1:-1] if l.startswith('"') else l for l in labels[1:])
            items.append(("block", c.labels[0].serialize(), labels, theirs(c.body)))
    return sorted(items, key=repr)


@pytest.mark.parametrize("name,text", _sources(), ids=[n for n, _ in _sources()])
def test_same_structure_as_python_hcl2(name, text):
    from engine.config.parser import parse_file

    body, diags = parse_file(name, text)
    try:
        tree = hcl2.parses(text)
    except Exception:
        tree = None
    if body is None or diags.has_errors:
        return  # a syntax-error case: both may (and ours must) reject it; covered by the golden tests
    if tree is None:
        pytest.skip(f"python-hcl2 cannot parse {name} (a construct it does not support)")
    assert ours(body) == theirs(tree.body)
