"""The provider conformance suite (DESIGN convention 8).

Each provider's tests subclass :class:`ProviderConformance`, say how to write
the configuration in a few variants and how to change the real object behind
trainform's back; the suite then checks the engine contract end to end
through the real CLI: create, a second plan is empty (idempotence), update in
place, replace, drift is detected and repaired, delete.
"""

from __future__ import annotations

import pytest

from engine.testing.harness import Workdir


class ProviderConformance:
    #: address of the resource under test
    address: str = ""
    #: does the resource support an in-place update variant?
    supports_update: bool = True
    supports_drift: bool = True

    # --- to implement -------------------------------------------------
    def config(self, variant: str, wd: Workdir) -> str:
        """HCL text for variant "initial", "updated" (in place) or "replaced"."""
        raise NotImplementedError

    def drift(self, wd: Workdir, attributes: dict) -> str:
        """Change the real object outside trainform; return "update" or "delete"."""
        raise NotImplementedError

    def env(self) -> dict:
        return {}

    # --- fixtures -------------------------------------------------------
    @pytest.fixture
    def wd(self, tmp_path):
        return Workdir(tmp_path / "work", env=self.env())

    def _write(self, wd: Workdir, variant: str) -> None:
        wd.write("main.hcl", self.config(variant, wd))

    def _actions(self, wd: Workdir) -> dict:
        plan = wd.plan_json()
        return {c["address"]: c["change"]["actions"] for c in plan["resource_changes"]}

    # --- the suite ------------------------------------------------------
    def test_create_and_second_plan_is_empty(self, wd):
        self._write(wd, "initial")
        assert self._actions(wd).get(self.address) == ["create"]
        wd.apply()
        assert wd.resource(self.address) is not None
        r = wd.plan("-detailed-exitcode")
        assert r.code == 0, r.text
        assert "No changes." in r.out

    def test_update_in_place(self, wd):
        if not self.supports_update:
            pytest.skip("this resource type has no in-place updatable attribute")
        self._write(wd, "initial")
        wd.apply()
        before = wd.resource(self.address)
        self._write(wd, "updated")
        assert self._actions(wd).get(self.address) == ["update"]
        wd.apply()
        after = wd.resource(self.address)
        assert after["attributes"].get("id") == before["attributes"].get("id")
        assert after["attributes"] != before["attributes"]
        assert wd.plan("-detailed-exitcode").code == 0

    def test_replace(self, wd):
        self._write(wd, "initial")
        wd.apply()
        before = wd.resource(self.address)
        self._write(wd, "replaced")
        actions = self._actions(wd).get(self.address)
        assert actions in (["delete", "create"], ["create", "delete"])
        r = wd.plan()
        assert "must be replaced" in r.out
        wd.apply()
        after = wd.resource(self.address)
        assert after["attributes"].get("id") != before["attributes"].get("id")
        assert wd.plan("-detailed-exitcode").code == 0

    def test_drift_is_detected_and_repaired(self, wd):
        if not self.supports_drift:
            pytest.skip("this resource type cannot change outside trainform")
        self._write(wd, "initial")
        wd.apply()
        self.drift(wd, wd.resource(self.address)["attributes"])
        r = wd.plan("-detailed-exitcode")
        assert r.code == 2, r.text
        assert "changed outside of trainform" in r.out
        wd.apply()
        assert wd.plan("-detailed-exitcode").code == 0

    def test_delete(self, wd):
        self._write(wd, "initial")
        wd.apply()
        wd.write("main.hcl", self.config("empty", wd) if hasattr(self, "empty_config") else "")
        r = wd.run("destroy", "-auto-approve", "-no-color", check=True)
        assert "Destroy complete!" in r.out
        assert wd.resource(self.address) is None
