"""engine.config.locate: provider attribute paths -> source ranges."""

from engine.config.locate import attribute_range, place
from engine.config.parser import parse_file
from engine.diagnostics import Diagnostics

SRC = '''compute "c" {
  type = "kubernetess"
  ray {
    address = ""
  }
  python {
    pip_packages = ["a"]
  }
  python {
    pip_packages = ["b"]
  }
}
'''


def body():
    b, d = parse_file("main.hcl", SRC)
    assert not d.has_errors
    return b.blocks[0].body


def where(path):
    r = attribute_range(body(), path)
    return None if r is None else (r.start.line, r.start.column)


def test_paths_to_attributes_blocks_and_list_items():
    assert where(("type",)) == (2, 10)
    assert where(("ray", "address")) == (4, 15)
    assert where(("python", 1, "pip_packages")) == (10, 20)
    assert where(("python", 0, "pip_packages", 0)) == (7, 20)  # inside a value: the attribute
    assert where(("ray", "missing")) == (3, 3)  # not written: the enclosing block
    assert where(("python", 5, "pip_packages")) is None
    assert where(("nothing",)) is None


def test_place_keeps_given_ranges_and_falls_back():
    b = body()
    d = Diagnostics()
    a = d.error("bad type", attribute_path=("type",))
    c = d.error("no path")
    fallback = attribute_range(b, ("ray",))
    place(d, b, fallback, "compute.c")
    assert a.range.start.line == 2 and a.address == "compute.c"
    assert c.range is fallback
    assert a.to_json()["attribute_path"] == ["type"]
