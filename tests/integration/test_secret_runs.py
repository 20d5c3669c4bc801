"""Secrets given to runs: masked logs, keyed digests, warnings (issue 11, items 2 and 4).

Real CLI, real host processes and (docker mode) the real Docker Engine with
the busybox image of ``test_runs``; workspace/environment are its stand-ins.
"""

from __future__ import annotations

import base64
import json
import os
import textwrap
import urllib.parse
from pathlib import Path

import pytest

from tests.integration.test_runs import attrs, busybox, config, make_wd, mode  # noqa: F401 - fixtures

SECRET = 'Pa55:w/rd+"q"\\x-7f3e'
PLAIN = "plain-visible-value"

PRINT_SH = r"""
printf 'raw=%s\n' "$TOKEN"
printf 'arg=%s\n' "$1"
printf 'plain=%s\n' "$PLAIN"
printf '%s' "$TOKEN" | base64
printf 'user:%s' "$TOKEN" | base64
printf 'url=%s\n' "$TOKEN_URL"
printf 'json=%s\n' "$TOKEN_JSON"
"""


def _encodings(s: str) -> list[str]:
    raw = s.encode()
    return [s, base64.b64encode(raw).decode(), base64.b64encode(b"user:" + raw).decode()[8:-4],
            urllib.parse.quote(s, safe=""), json.dumps(s)[1:-1]]


def _run(args: str = "[]", extra: str = "") -> str:
    return textwrap.dedent(f"""
        variable "token" {{
          type      = string
          sensitive = true
        }}
        run "train" {{
          workspace        = workspace.ws.id
          experiment       = "exp"
          source_directory = "src"
          command          = ["sh", "run.sh"]
          arguments        = {args}
          environment      = environment.env.id
          compute          = compute.local.id
          env_vars = {{
            TOKEN      = var.token
            TOKEN_URL  = urlencode(var.token)
            TOKEN_JSON = jsonencode(var.token)
            PLAIN      = "{PLAIN}"
          }}
        {extra}}}
        """)


def _secret_env(value: str = SECRET) -> dict:
    return {"TRAINFORM_VAR_token": value}


def test_sensitive_values_are_masked_in_streamed_saved_and_logs_output(tmp_path, mode):  # noqa: F811
    wd = make_wd(tmp_path, {"main.hcl": config(mode, _run("[var.token]")), "src/run.sh": PRINT_SH}, _secret_env())
    r = wd.apply()
    log_path = attrs(wd)["log_path"]
    saved = Path(log_path).read_text()
    shown = wd.run("logs", "run.train", check=True).out
    for text in (r.text, saved, shown):
        assert "raw=***" in text and "arg=***" in text and "url=***" in text and "json=***" in text, text
        assert f"plain={PLAIN}" in text  # only sensitive values are masked
        for form in _encodings(SECRET):
            assert form not in text, (form, text)
    # the script really received the secret (masking is on output only)
    assert base64.b64encode(SECRET.encode()).decode() not in saved and saved.count("***") >= 6


def test_sensitive_argument_warns_and_points_to_env_vars(tmp_path):
    wd = make_wd(tmp_path, {"main.hcl": config("process", _run("[var.token]")), "src/run.sh": PRINT_SH}, _secret_env())
    r = wd.plan()
    assert r.code == 0, r.text
    assert "Sensitive value in the run's command line" in r.text and "env_vars" in r.text and "ps" in r.text
    wd2 = make_wd(tmp_path / "b", {"main.hcl": config("process", _run("[]")), "src/run.sh": PRINT_SH}, _secret_env())
    assert "command line" not in wd2.plan().text


def test_input_hash_is_keyed_and_a_new_key_is_a_clear_rerun_reason(tmp_path):
    import hashlib

    wd = make_wd(tmp_path, {"main.hcl": config("process", _run()), "src/run.sh": PRINT_SH}, _secret_env())
    wd.apply()
    key_file = os.path.join(wd.path, ".trainform", "secret.key")
    assert oct(os.stat(key_file).st_mode & 0o777) == "0o600"
    st = json.dumps(wd.state())
    a = attrs(wd)
    # the per-input digests in private state are no plain hashes of the env_vars that hold the secret
    inst = wd.resource("run.train")
    env_digest = inst["private"]["inputs"]["env_vars"]
    guess = {"PLAIN": PLAIN, "TOKEN": SECRET, "TOKEN_JSON": json.dumps(SECRET), "TOKEN_URL": urllib.parse.quote(SECRET, safe="")}
    assert env_digest != hashlib.sha256(json.dumps(guess, sort_keys=True).encode()).hexdigest()[:16]
    assert SECRET not in st and "secret.key" not in st
    assert wd.plan("-detailed-exitcode").code == 0  # same key, same inputs: nothing to do
    # a changed secret re-runs (keyed digests still tell changes apart)
    r = wd.plan(env=_secret_env("another-secret-value"))
    assert "env_vars changed" in r.text, r.text
    # a fresh clone: the key is gone -> re-run with a reason that says why, no crash
    os.remove(key_file)
    r = wd.plan()
    assert r.code == 0, r.text
    assert "digest key" in r.text and "fresh clone" in r.text and "replaced" in r.text, r.text
    assert os.path.exists(key_file)  # made again, 0600
    wd.apply()
    assert attrs(wd)["input_hash"] != a["input_hash"]
    assert wd.plan("-detailed-exitcode").code == 0


def test_detached_run_output_is_masked_when_collected_later(tmp_path, mode):  # noqa: F811
    """wait = false: the output is collected by a refresh, which has no configuration
    values (docker: masked from the container's own Config.Env/Cmd, named by the
    private state's targets; process: by the run's own filter); `logs -f` of the
    running container is masked too."""
    import subprocess
    import sys

    from tests.integration.test_runs import _env, _refresh_until_done

    script = ('d=$(dirname "$TRAINFORM_METRICS_FILE")\n' + PRINT_SH + 'printf "env-has-filter-var=%s\\n" "${TRAINFORM_MASK_SECRETS:-no}"\n'
              'while [ ! -f "$d/go" ]; do sleep 0.1; done\necho "late=$TOKEN"\n')
    wd = make_wd(tmp_path, {"main.hcl": config(mode, _run("[var.token]", extra="  wait = false\n")), "src/run.sh": script}, _secret_env())
    r = wd.apply()
    assert "Started detached" in r.out and "may not be masked" not in r.text, r.text
    a = attrs(wd)
    follow = subprocess.Popen([sys.executable, "-m", "engine.cli.main", "logs", "-f", "run.train"], cwd=wd.path, text=True,
                              env=dict(os.environ, **_env()), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    open(os.path.join(os.path.dirname(a["outputs_path"]), "trainform", "go"), "w").close()
    a = _refresh_until_done(wd)
    followed = follow.communicate(timeout=60)[0]
    assert a["status"] == "succeeded", a
    saved = Path(a["log_path"]).read_text()
    shown = wd.run("logs", "run.train", check=True).out
    for text in (saved, shown, followed):
        assert "raw=***" in text and "arg=***" in text and "url=***" in text and "late=***" in text, text
        assert f"plain={PLAIN}" in text
        for form in _encodings(SECRET):
            assert form not in text, (form, text)
    assert "env-has-filter-var=no" in saved  # the run does not see the filter's list of secrets
    private = json.dumps(wd.resource("run.train")["private"])
    assert "TOKEN" in private and SECRET not in private  # names, never values


def test_sensitive_experiment_or_source_directory_is_refused_at_plan(tmp_path):
    """experiment becomes the run id (printed, in state and outputs, directory and container
    names) and the MLflow experiment name: a secret there would be shown everywhere."""
    run = _run().replace('experiment       = "exp"', "experiment       = var.token")
    wd = make_wd(tmp_path, {"main.hcl": config("process", run), "src/run.sh": PRINT_SH}, _secret_env())
    r = wd.plan("-no-color")
    assert r.code == 1 and "Sensitive value in experiment" in r.text and "env_vars" in r.text, r.text
    assert SECRET not in r.text and not os.path.exists(os.path.join(wd.path, ".trainform", "workspaces"))
    run = _run().replace('source_directory = "src"', 'source_directory = "${var.token == "x" ? "y" : "src"}"')
    wd = make_wd(tmp_path / "b", {"main.hcl": config("process", run), "src/run.sh": PRINT_SH}, _secret_env())
    r = wd.plan("-no-color")
    assert r.code == 1 and "Sensitive value in source_directory" in r.text, r.text


def test_refresh_that_records_a_change_keeps_sensitive_outputs_unchanged(tmp_path):
    """A refresh-only apply evaluates outputs from state, where sensitive attributes are digests:
    it used to store a digest of the digest, and the next plan showed the outputs as changed."""
    from tests.integration.test_runs import _refresh_until_done

    extra = textwrap.dedent("""
        value "derived" {
          input = { a = upper(var.token) }
        }
        output "derived" {
          value     = value.derived.output
          sensitive = true
        }
        """)
    wd = make_wd(tmp_path, {"main.hcl": config("process", _run(extra="  wait = false\n")) + extra, "src/run.sh": "echo hi\n"},
                 _secret_env())
    wd.apply()
    assert _refresh_until_done(wd)["status"] == "succeeded"  # a refresh that records the run's end
    r = wd.plan("-detailed-exitcode", "-no-color")
    assert r.code == 0, r.text
    assert wd.run("output", "-json", check=True).out.count("sensitive") >= 1


def test_run_adopted_after_kill9_is_masked_when_refresh_collects_it(tmp_path, mode):  # noqa: F811
    """trainform killed mid-run (wait = true): the execution keeps running and the next
    refresh -- which has no configuration values -- collects its log, masked."""
    import signal

    from tests.integration.test_run_adoption import Cli, go, run_dirs, wait_finished

    script = ('d=$(dirname "$TRAINFORM_METRICS_FILE")\necho started\nwhile [ ! -f "$d/go" ]; do sleep 0.1; done\n'
              + PRINT_SH + 'echo finished\n')
    wd = make_wd(tmp_path, {"main.hcl": config(mode, _run("[var.token]")), "src/run.sh": script}, _secret_env())
    cli = Cli(wd)
    cli.wait_for("run.train: started")
    os.killpg(cli.proc.pid, signal.SIGKILL)
    cli.wait()
    [run_dir] = run_dirs(wd)
    go(run_dir)
    wait_finished(mode, run_dir)
    wd.run("refresh", "-no-color", check=True)
    a = attrs(wd)
    assert a["status"] == "succeeded", a
    saved = Path(a["log_path"]).read_text()
    assert "finished" in saved and "raw=***" in saved and "arg=***" in saved and f"plain={PLAIN}" in saved, saved
    for form in _encodings(SECRET):
        assert form not in saved, (form, saved)


@pytest.mark.parametrize("wait", [True, False])
def test_a_secret_inside_a_composed_value_is_masked_when_printed_alone(tmp_path, mode, wait):  # noqa: F811
    """Found by probing: env_vars = { AUTH = "Bearer ${var.token}" } and a script that
    prints the token alone.  The masker knew the configured value ("Bearer ...") only,
    so the bare token was printed.  Every value marked sensitive in the command is
    masked now, live and when a refresh collects a detached run."""
    from tests.integration.test_runs import _refresh_until_done

    run = _run(extra="" if wait else "  wait = false\n").replace(
        "TOKEN      = var.token\n", 'AUTH       = "Bearer ${var.token}"\n')
    script = 'printf "token=%s\\n" "${AUTH#Bearer }"\nprintf "plain=%s\\n" "$PLAIN"\n'
    wd = make_wd(tmp_path, {"main.hcl": config(mode, run), "src/run.sh": script}, _secret_env())
    r = wd.apply()
    a = attrs(wd) if wait else _refresh_until_done(wd)
    assert a["status"] == "succeeded", a
    saved = Path(a["log_path"]).read_text()
    shown = wd.run("logs", "run.train", check=True).out
    for text in ([r.text] if wait else []) + [saved, shown]:
        assert "token=***" in text and f"plain={PLAIN}" in text, text
        assert SECRET not in text
