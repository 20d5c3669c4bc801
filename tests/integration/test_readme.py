"""Everything the README shows is exercised: its HCL is valid and formatted,
and the commands it names exist."""

import os
import re

import pytest

from engine.testing.harness import Workdir

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
README = open(os.path.join(REPO, "README.md"), encoding="utf-8").read()
HCL_BLOCKS = re.findall(r"```hcl\n(.*?)```", README, re.S)


def test_readme_has_hcl():
    assert HCL_BLOCKS


@pytest.mark.parametrize("index", range(len(HCL_BLOCKS)))
def test_readme_hcl_validates_and_is_formatted(index, tmp_path):
    from engine.config.fmt import format_source

    text = HCL_BLOCKS[index]
    assert format_source(text) == text, "README HCL is not in canonical format"
    wd = Workdir(tmp_path / "w")
    wd.write("main.hcl", text)
    for d in re.findall(r'source_directory\s*=\s*"([^"]+)"', text):
        wd.write(os.path.join(d, "train.py"), "print('hi')\n")
    r = wd.run("validate", "-no-color")
    assert r.code == 0, r.text
    assert "Success!" in r.out


def test_readme_commands_exist():
    from engine.cli.main import cli

    verbs = cli.list_commands(None)  # the engine's and the provider packages' (runs, logs)
    for verb in re.findall(r"^trainform (\w[\w-]*)", README, re.M):
        assert verb in verbs, verb
    for script in re.findall(r"bash (scripts/[\w.-]+)", README):
        assert os.path.isfile(os.path.join(REPO, script)), script
