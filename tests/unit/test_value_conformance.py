"""The provider conformance suite for the built-in ``value`` resource."""

import json

from engine.testing.conformance import ProviderConformance


class TestValueConformance(ProviderConformance):
    address = "value.x"

    def config(self, variant, wd):
        return {
            "initial": 'value "x" {\n  input = "a"\n  triggers_replace = 1\n}\n',
            "updated": 'value "x" {\n  input = "b"\n  triggers_replace = 1\n}\n',
            "replaced": 'value "x" {\n  input = "a"\n  triggers_replace = 2\n}\n',
        }[variant]

    def drift(self, wd, attributes):
        # value objects live only in state; "drift" = someone edited the state's copy
        path = wd.path + "/trainform.tfstate"
        with open(path) as f:
            st = json.load(f)
        for r in st["resources"]:
            if r["address"] == self.address:
                r["attributes"]["input"] = "edited"
        with open(path, "w") as f:
            json.dump(st, f)
        return "update"

    def test_drift_is_detected_and_repaired(self, wd):
        # value has no real object: an edited state is planned back to the configuration
        self._write(wd, "initial")
        wd.apply()
        self.drift(wd, {})
        r = wd.plan("-detailed-exitcode")
        assert r.code == 2, r.text
        assert '~ input' in r.out and '"edited" -> "a"' in r.out
        wd.apply()
        assert wd.plan("-detailed-exitcode").code == 0
