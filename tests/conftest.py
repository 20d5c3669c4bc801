"""Suite-wide settings.

With TRAINFORM_REQUIRE_COMPONENTS=1 (set by scripts/test.sh, so in CI) a test
skipped because a real component is missing fails instead: CI installs every
component, so such a skip would hide a broken set-up.  Skips for other
reasons (e.g. "no GPU on this machine") stay skips and are listed by -rs.
"""

import os
import re

import pytest

COMPONENT_WORDS = ("docker", "registry", "postgres", "initdb", "terraform", "ray", "debootstrap", "base image")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if os.environ.get("TRAINFORM_REQUIRE_COMPONENTS") != "1" or not rep.skipped or hasattr(rep, "wasxfail"):
        return
    reason = str(rep.longrepr[2] if isinstance(rep.longrepr, tuple) else rep.longrepr).lower()
    if "gpu" in reason or "optional" in reason:
        return
    if any(re.search(r"\b" + re.escape(w) + r"\b", reason) for w in COMPONENT_WORDS):
        rep.outcome = "failed"
        rep.longrepr = f"component missing in a run that requires all components: {reason}"
