"""Built-in functions called directly (no parser): results, errors, marks."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.config.format import format_value
from engine.config.functions import FUNCTIONS, CallContext, FunctionError, call_function as call
from engine.config.types import STRING
from engine.values import UNKNOWN, Sensitive, TList, TMap, TSet


def fails(name, *args, ctx=None):
    with pytest.raises(FunctionError) as e:
        call(name, list(args), ctx)
    return e.value


# --------------------------------------------------------------------------- machinery


def test_registry_has_the_documented_functions():
    for name in ("format", "formatlist", "join", "split", "replace", "substr", "regex", "regexall", "length",
                 "concat", "lookup", "merge", "zipmap", "setproduct", "transpose", "abs", "parseint", "tostring",
                 "tomap", "jsonencode", "yamldecode", "base64decode", "urlencode", "sha512", "cidrsubnet",
                 "file", "fileset", "templatefile", "abspath", "basename", "dirname"):
        assert name in FUNCTIONS, name
    assert "try" not in FUNCTIONS and "can" not in FUNCTIONS


def test_arity_errors_match_terraform_wording():
    assert FUNCTIONS["upper"].check_arity(2) == 'Function "upper" expects only 1 argument(s).'
    assert FUNCTIONS["upper"].check_arity(0) == 'Function "upper" expects 1 argument(s). Missing value for "str".'
    assert FUNCTIONS["join"].check_arity(5) is None


def test_argument_errors_name_the_parameter():
    e = fails("upper", [1])
    assert e.arg_index == 0
    assert e.summary_detail() == ("Invalid function argument", 'Invalid value for "str" parameter: string required.')
    e = fails("index", ["a"], "z")
    assert e.summary_detail() == ("Error in function call", 'Call to function "index" failed: item not found.')
    e = fails("upper", None)
    assert "must not be null" in str(e)


def test_unknown_arguments_make_unknown_results():
    assert call("upper", [UNKNOWN]) is UNKNOWN
    assert call("length", [UNKNOWN]) is UNKNOWN
    # as cty: a known collection has a known length and keys whatever its elements
    # (count = length(value.k) over a for_each resource plans in Terraform)
    assert call("length", [[1, UNKNOWN]]) == 2
    assert call("length", [{"a": UNKNOWN, "b": 1}]) == 2
    assert call("keys", [{"b": UNKNOWN, "a": 1}]) == ["a", "b"]
    assert call("keys", [UNKNOWN]) is UNKNOWN
    assert call("concat", [[1, UNKNOWN], [2]]) == [1, UNKNOWN, 2]
    assert call("merge", [{"a": UNKNOWN}, {"b": 1}]) == {"a": UNKNOWN, "b": 1}
    assert call("values", [{"b": UNKNOWN, "a": 1}]) == [1, UNKNOWN]
    assert call("merge", [UNKNOWN, {"b": 1}]) is UNKNOWN and call("concat", [UNKNOWN, [1]]) is UNKNOWN
    # sensitive() accepts unknowns and marks them
    assert isinstance(call("sensitive", [UNKNOWN]), Sensitive)


def test_sensitive_arguments_mark_results():
    r = call("upper", [Sensitive("abc")])
    assert isinstance(r, Sensitive) and r.value == "ABC"
    r = call("join", [",", ["a", Sensitive("b")]])
    assert isinstance(r, Sensitive) and r.value == "a,b"
    assert call("nonsensitive", [Sensitive("x")]) == "x"
    assert call("issensitive", [Sensitive(1)]) is True
    assert format_value(call("sensitive", ["x"])) == "(sensitive value)"


# --------------------------------------------------------------------------- strings


def test_string_functions():
    assert call("format", ["%s has %d items costing %.2f", "cart", 3, Decimal("9.5")]) == "cart has 3 items costing 9.50"
    assert call("format", ["%v", {"a": [1]}]) == '{"a":[1]}'
    assert call("formatlist", ["%s-%s", ["a", "b"], "x"]) == ["a-x", "b-x"]
    assert call("join", ["-", ["a"], ["b", "c"]]) == "a-b-c"
    assert call("split", [",", "a,,b"]) == ["a", "", "b"]
    assert call("replace", ["a-b-c", "/([a-z])/", "<$1>"]) == "<a>-<b>-<c>"
    assert call("replace", ["aaa", "a", "b"]) == "bbb"
    assert call("substr", ["hello", -3, 2]) == "ll"
    assert call("title", ["hello world"]) == "Hello World"
    assert call("trim", ["xxhixx", "x"]) == "hi"
    assert call("trimspace", ["\t hi \n"]) == "hi"
    assert call("chomp", ["x\r\n\n"]) == "x"
    assert call("indent", [2, "a\nb"]) == "a\n  b"
    assert call("strrev", ["abc"]) == "cba"
    assert call("regex", ["(?P<k>\\w+)=(?P<v>\\w+)", "a=b"]) == {"k": "a", "v": "b"}
    assert call("regexall", ["\\d+", "1 22 333"]) == ["1", "22", "333"]
    assert call("regex", ["^[[:digit:]]+\\z", "123"]) == "123"


def test_string_function_errors():
    assert "did not match" in str(fails("regex", "x", "abc"))
    assert "not enough arguments" in str(fails("format", "%s %s", "a"))
    assert "an integer is required" in str(fails("format", "%d", Decimal("1.5")))
    assert "inconsistent" in str(fails("formatlist", "%s%s", ["a", "b"], ["c"]))
    fails("regex", "(", "x")


# --------------------------------------------------------------------------- collections


def test_collection_functions():
    assert call("length", ["héllo"]) == 5
    assert call("concat", [[1], [2, 3]]) == [1, 2, 3]
    assert call("contains", [["a"], "a"]) is True
    assert call("contains", [["1"], 1]) is False
    assert call("distinct", [[1, 2, 1]]) == [1, 2]
    assert call("flatten", [[[1, [2]], 3]]) == [1, 2, 3]
    assert call("keys", [{"b": 1, "a": 2}]) == ["a", "b"]
    assert call("values", [{"b": 1, "a": 2}]) == [2, 1]
    assert call("lookup", [{"a": 1}, "b", 7]) == 7
    assert call("merge", [{"a": 1}, None, {"a": 2, "b": 3}]) == {"a": 2, "b": 3}
    assert call("zipmap", [["a", "b"], [1, 2]]) == {"a": 1, "b": 2}
    assert call("element", [["a", "b"], 3]) == "b"
    assert call("index", [["a", "b"], "b"]) == 1
    assert call("range", [1, 2, Decimal("0.5")]) == [1, Decimal("1.5")]
    assert call("slice", [[1, 2, 3], 1, 3]) == [2, 3]
    assert call("sort", [["b", "10", "9"]]) == ["10", "9", "b"]
    assert call("reverse", [[1, 2]]) == [2, 1]
    assert call("coalesce", [None, "", "x"]) == "x"
    assert call("coalescelist", [[], [1]]) == [1]
    assert call("compact", [["a", "", None]]) == ["a"]
    assert call("one", [[]]) is None
    assert call("alltrue", [[]]) is True and call("anytrue", [[]]) is False
    assert call("chunklist", [[1, 2, 3], 2]) == [[1, 2], [3]]
    assert call("setunion", [["b"], ["a", "b"]]) == ["a", "b"]
    assert call("setintersection", [["a", "b"], ["b"]]) == ["b"]
    assert call("setsubtract", [["a", "b"], ["b"]]) == ["a"]
    assert call("setproduct", [["a"], ["x", "y"]]) == [["a", "x"], ["a", "y"]]
    assert call("transpose", [{"a": ["1", "2"], "b": ["1"]}]) == {"1": ["a", "b"], "2": ["a"]}
    assert call("sum", [[1, Decimal("2.5")]]) == Decimal("3.5")
    assert call("min", [3, 1]) == 1 and call("max", [3, 1]) == 3


def test_collection_result_types():
    assert isinstance(call("split", [",", "a"]), TList)
    assert isinstance(call("toset", [["a"]]), TSet)
    assert isinstance(call("tomap", [{"a": 1}]), TMap)
    assert type(call("concat", [[1], [2]])) is list  # tuples concatenate to a tuple
    assert isinstance(call("concat", [TList(["a"], STRING), TList(["b"], STRING)]), TList)
    assert format_value(call("keys", [TMap({"a": 1})])) == 'tolist([\n  "a",\n])'


@pytest.mark.parametrize("name, args, text", [
    ("lookup", [{"a": 1}, "b"], 'lookup failed to find key "b"'),
    ("zipmap", [["a"], [1, 2]], "number of keys (1) does not match number of values (2)"),
    ("element", [[], 0], "empty list"),
    ("range", [1, 2, 0], "step must not be zero"),
    ("range", [1, 5, -1], "end must be less than start when step is negative"),
    ("slice", [[1], 0, 3], "greater than the length"),
    ("one", [[1, 2]], "either zero or one elements"),
    ("sum", [[]], "cannot sum an empty list"),
    ("coalesce", [None, ""], "no non-null, non-empty-string arguments"),
    ("coalesce", [1, [1]], "all arguments must have the same type"),
    ("merge", [{"a": 1}, [1]], "arguments must be maps or objects"),
    ("length", [5], "must be a string, a collection type, or a structural type"),
])
def test_collection_errors(name, args, text):
    assert text in str(fails(name, *args))


# --------------------------------------------------------------------------- numeric & conversions


def test_numeric_functions():
    assert call("abs", [Decimal("-1.5")]) == Decimal("1.5")
    assert call("ceil", [Decimal("1.1")]) == 2 and call("floor", [Decimal("-1.1")]) == -2
    assert call("pow", [2, 10]) == 1024
    assert call("log", [8, 2]) == 3
    assert call("signum", [-4]) == -1
    assert call("parseint", ["ff", 16]) == 255
    assert call("parseint", ["-101", 2]) == -5
    assert "cannot parse" in str(fails("parseint", "9", 8))
    assert "between 2 and 62" in str(fails("parseint", "1", 1))


def test_type_conversion_functions():
    assert call("tostring", [Decimal("1.50")]) == "1.5"
    assert call("tonumber", ["0x1"]) if False else call("tonumber", ["12"]) == 12
    assert call("tobool", ["false"]) is False
    assert call("tolist", [["a", 1]]) == ["a", "1"]
    assert call("toset", [[3, 1, 3]]) == [1, 3]
    assert call("tostring", [None]) is None
    assert "given string must be a decimal" in str(fails("tonumber", "abc"))
    assert 'only the strings "true" or "false"' in str(fails("tobool", "yes"))
    assert "cannot convert tuple to string" in str(fails("tostring", [1]))


# --------------------------------------------------------------------------- encoding, hashes, network


def test_encoding_functions():
    assert call("jsonencode", [{"b": "<", "a": [1, Decimal("1.5"), True, None]}]) == '{"a":[1,1.5,true,null],"b":"\\u003c"}'
    assert call("jsondecode", ['{"a": 0.1, "b": [1]}']) == {"a": Decimal("0.1"), "b": [1]}
    assert "EOF" in str(fails("jsondecode", "[1,"))
    assert call("yamlencode", [{"a": [1, "x"]}]) == '"a":\n- 1\n- "x"\n'
    assert call("yamldecode", ["a: [1, b]\nc: 1e3"]) == {"a": [1, "b"], "c": 1000}
    assert call("base64encode", ["hi"]) == "aGk="
    assert call("base64decode", ["aGk="]) == "hi"
    assert "not valid UTF-8" in str(fails("base64decode", "/w=="))
    assert call("urlencode", ["a b/c"]) == "a+b%2Fc"
    assert call("csvdecode", ["a,b\n1,2"]) == [{"a": "1", "b": "2"}]


def test_hash_functions():
    assert call("md5", ["hello"]) == "5d41402abc4b2a76b9719d911017c592"
    assert call("sha1", ["hello"]) == "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"
    assert call("sha256", [""]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert len(call("sha512", ["x"])) == 128


def test_network_functions():
    assert call("cidrhost", ["10.0.0.0/24", 5]) == "10.0.0.5"
    assert call("cidrhost", ["10.0.0.0/24", -1]) == "10.0.0.255"
    assert call("cidrsubnet", ["10.0.0.0/16", 8, 2]) == "10.0.2.0/24"
    assert call("cidrnetmask", ["10.0.0.0/12"]) == "255.240.0.0"
    assert call("cidrsubnets", ["10.0.0.0/8", 8, 8]) == ["10.0.0.0/16", "10.1.0.0/16"]
    assert "does not accommodate" in str(fails("cidrhost", "10.0.0.0/30", 9))
    assert "invalid CIDR" in str(fails("cidrnetmask", "nope"))


# --------------------------------------------------------------------------- filesystem


@pytest.fixture
def fsctx(tmp_path):
    (tmp_path / "a.txt").write_text("hello\n")
    (tmp_path / "bin.dat").write_bytes(b"\xff\x00")
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "d" / "x.txt").write_text("x")
    (tmp_path / "d" / "e" / "y.txt").write_text("y")
    return CallContext(str(tmp_path))


def test_file_functions(fsctx):
    assert call("file", ["a.txt"], fsctx) == "hello\n"
    assert call("fileexists", ["a.txt"], fsctx) is True
    assert call("fileexists", ["zz"], fsctx) is False
    assert call("filebase64", ["bin.dat"], fsctx) == "/wA="
    assert call("filesha256", ["a.txt"], fsctx) == call("sha256", ["hello\n"])
    assert call("fileset", [".", "**/*.txt"], fsctx) == ["a.txt", "d/e/y.txt", "d/x.txt"]
    assert call("fileset", ["d", "*"], fsctx) == ["x.txt"]
    assert "no file exists" in str(fails("file", "missing", ctx=fsctx))
    assert "not valid UTF-8" in str(fails("file", "bin.dat", ctx=fsctx))


def test_path_functions():
    assert call("basename", ["/a/b.txt"]) == "b.txt"
    assert call("dirname", ["/a/b.txt"]) == "/a"
    assert call("dirname", ["b.txt"]) == "."
    assert call("abspath", ["/x/../y"]) == "/y"


def test_templatefile(fsctx, tmp_path):
    pytest.importorskip("engine.config.expr")
    (tmp_path / "t.tftpl").write_text("Hi ${name}!%{ for x in xs } ${x}%{ endfor }")
    assert call("templatefile", ["t.tftpl", {"name": "Ann", "xs": [1, 2]}], fsctx) == "Hi Ann! 1 2"
    assert "invalid template variable name" in str(fails("templatefile", "t.tftpl", {"1x": 1}, ctx=fsctx))
