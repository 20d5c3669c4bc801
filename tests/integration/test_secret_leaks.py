"""The leak battery (issue 11): secrets used everywhere the language allows never escape.

One configuration passes sensitive values into a workspace registry password,
run env_vars (docker and process mode), run arguments, outputs, ``value``
resources, locals (derived and encoded values) and a module.  It goes through
init / validate / plan -out / show / apply / output / runs (-json) / logs (-f, -attempt) /
state / refresh / destroy, with a detached (``wait = false``) docker run collected by
refresh and a process run whose first attempt fails (``max_retries``), on the real Docker Engine and an htpasswd-protected
registry, and asserts that no secret -- raw or base64-, URL- or JSON-encoded --
appears in:

* any command's stdout or stderr (except ``output -raw NAME``, which is how a user asks
  for one sensitive output, as in Terraform);
* any file under the working directory (state, backups, plan file, journal,
  run logs and records, caches, snapshots, crash logs) and ``.trainform/``;
* the environment image (``docker history --no-trunc``, ``docker inspect``), and the
  name and labels of a run's container (``docker ps`` shows them to every docker user);
* any process command line (``/proc/*/cmdline``) sampled during apply.

The one place a secret *can* be seen is a run's ``arguments`` (as in every
tool: a command line is public); trainform warns about it, so that secret
(``ARG_SECRET``) is checked everywhere except command lines, and the warning
itself is asserted.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
import urllib.parse
from pathlib import Path

import pytest

from engine.testing.harness import Workdir

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

TOKEN = 'tok-Q7/+:"x\\y z-91c4e'  # slash, plus, colon, quote, backslash, space: every encoding differs
ARG_SECRET = "argsecret-5d1f0b77"
MOD_SECRET = "modsecret-e3a9c01d"
REG_PASSWORD = "regpw-8c0ffee5b2d4"

MODULE = """\
variable "secret" {
  type      = string
  sensitive = true
}
value "inner" {
  input = "inner:${var.secret}"
}
output "echo" {
  value     = value.inner.output
  sensitive = true
}
"""

RUN_SH = r"""
printf 'token=%s\n' "$TOKEN"
printf 'bearer=%s\n' "$BEARER"
printf 'regpw=%s\n' "$REGPW"
printf 'args=%s\n' "$*"
printf '%s' "$TOKEN" | base64
printf 'user:%s' "$REGPW" | base64
env | sort
echo '{"name": "acc", "value": 0.5}' >> "$TRAINFORM_METRICS_FILE"
"""


def config(reg) -> str:
    return f"""
variable "registry_password" {{
  type      = string
  sensitive = true
}}
variable "token" {{
  type      = string
  sensitive = true
}}
variable "arg_secret" {{
  type      = string
  sensitive = true
}}
variable "mod_secret" {{
  type      = string
  sensitive = true
}}
variable "secret_map" {{
  type      = map(string)
  sensitive = true
}}

locals {{
  bearer  = "Bearer ${{var.token}}"
  encoded = base64encode(var.token)
  upper   = upper(var.token)
  joined  = join(",", [var.token, "x"])
}}

workspace "ml" {{
  registry {{
    address  = "{reg.address}"
    username = "{reg.username}"
    password = var.registry_password
  }}
}}

environment "bb" {{
  workspace = workspace.ml.id
  docker {{
    base_image = "trainform/busybox:latest"
  }}
  python {{
    user_managed_dependencies = true
    interpreter               = "sh"
  }}
  env_vars = {{
    PLAIN = "not-a-secret"
  }}
}}

environment "host" {{
  workspace = workspace.ml.id
  python {{
    user_managed_dependencies = true
  }}
}}

compute "local" {{
  workspace           = workspace.ml.id
  type                = "local"
  max_concurrent_runs = 2
}}

run "docker" {{
  workspace        = workspace.ml.id
  experiment       = "leaks"
  source_directory = "src"
  command          = ["sh", "run.sh"]
  arguments        = ["--key", var.arg_secret]
  environment      = environment.bb.id
  compute          = compute.local.id
  env_vars = {{
    TOKEN  = var.token
    BEARER = local.bearer
    REGPW  = var.registry_password
    B64    = local.encoded
    UPPER  = local.upper
    MAPPED = var.secret_map["k"]
  }}
}}

run "process" {{
  workspace        = workspace.ml.id
  experiment       = "leaks"
  source_directory = "src"
  command          = ["sh", "run.sh"]
  environment      = environment.host.id
  compute          = compute.local.id
  env_vars = {{
    TOKEN  = var.token
    BEARER = local.bearer
    REGPW  = var.registry_password
    JOINED = local.joined
  }}
}}

run "detached" {{
  workspace        = workspace.ml.id
  experiment       = "leaks"
  source_directory = "src"
  command          = ["sh", "run.sh"]
  arguments        = ["--key", var.arg_secret]
  environment      = environment.bb.id
  compute          = compute.local.id
  wait             = false
  env_vars = {{
    TOKEN = var.token
    REGPW = var.registry_password
  }}
}}

run "retried" {{
  workspace        = workspace.ml.id
  experiment       = "leaks"
  source_directory = "src"
  command          = ["sh", "retry.sh"]
  environment      = environment.host.id
  compute          = compute.local.id
  max_retries      = 1
  env_vars = {{
    TOKEN = var.token
  }}
}}

value "direct" {{
  input            = var.token
  triggers_replace = var.mod_secret
}}

value "derived" {{
  input = {{
    a = local.upper
    b = [local.encoded, var.secret_map]
  }}
}}

module "m" {{
  source = "./mod"
  secret = var.mod_secret
}}

output "token" {{
  value     = var.token
  sensitive = true
}}

output "derived" {{
  value     = value.derived.output
  sensitive = true
}}

output "module_echo" {{
  value     = module.m.echo
  sensitive = true
}}

output "accuracy" {{
  value = run.docker.metrics.acc
}}
"""


def forms(secret: str) -> list[str]:
    raw = secret.encode()
    return sorted({
        secret, secret.upper(),
        base64.b64encode(raw).decode(), base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret),
        json.dumps(secret)[1:-1], json.dumps(json.dumps(secret))[1:-1],
    })


RETRY_SH = r"""
printf 'token=%s\n' "$TOKEN"
if [ ! -f outputs/tried ]; then touch outputs/tried; echo "failing with $TOKEN" >&2; exit 3; fi
echo second attempt
"""

ALL = {"token": TOKEN, "arg": ARG_SECRET, "module": MOD_SECRET, "registry": REG_PASSWORD, "map": "mapsecret-77aa01"}


def find_leaks(text: str, secrets=ALL) -> list[str]:
    return [f"{name} as {form!r}" for name, s in secrets.items() for form in forms(s) if form in text]


class CmdlineSampler:
    """Reads every /proc/*/cmdline over and over until stopped."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.samples = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        with open(f"/proc/{pid}/cmdline", "rb") as f:
                            self.seen.add(f.read().replace(b"\0", b" ").decode("utf-8", "replace"))
                    except OSError:
                        pass
            self.samples += 1
            self._stop.wait(0.02)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


@pytest.fixture
def leak_registry(registry, busybox_image):
    return registry(username="leaky", password=REG_PASSWORD)


def test_no_secret_escapes(tmp_path, leak_registry, docker_client):
    env = {
        "NO_COLOR": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")])),
        "TRAINFORM_VAR_registry_password": REG_PASSWORD,
        "TRAINFORM_VAR_token": TOKEN,
        "TRAINFORM_VAR_arg_secret": ARG_SECRET,
        "TRAINFORM_VAR_mod_secret": MOD_SECRET,
        "TRAINFORM_VAR_secret_map": json.dumps({"k": ALL["map"]}),
    }
    wd = Workdir(tmp_path / "w", env=env)
    wd.write("main.hcl", config(leak_registry))
    wd.write("mod/main.hcl", MODULE)
    wd.write("src/run.sh", RUN_SH)
    wd.write("src/retry.sh", RETRY_SH)
    outputs: list[tuple[str, str]] = []

    def run(*args, ok=(0,)):
        r = wd.run(*args)
        outputs.append((" ".join(args), r.text))
        assert r.code in ok, f"trainform {' '.join(args)} exited {r.code}:\n{r.text}"
        return r

    run("init", "-no-color")
    run("validate", "-no-color")
    r = run("plan", "-no-color", "-out", "tf.plan")
    assert "Sensitive value in the run's command line" in r.text  # the warned-about place
    run("show", "-no-color", "tf.plan")
    run("show", "-json", "tf.plan")
    with CmdlineSampler() as sampler:
        r = run("apply", "-no-color", "tf.plan")
    assert sampler.samples > 5 and any("engine.cli.main apply" in line for line in sampler.seen)  # it watched the apply
    assert "token=***" in r.text and "bearer=***" in r.text and "regpw=***" in r.text, r.text  # printed, masked
    # the detached container (wait = false): its name and labels are public (`docker ps`)
    detached = wd.resource("run.detached")
    container = docker_client.containers.get(detached["private"]["ident"])
    public = json.dumps([container.name, container.labels])
    run("logs", "-f", "run.detached")  # followed from the container until it ends
    for _ in range(600):  # collected by a refresh, which has no configuration values
        if wd.resource("run.detached")["attributes"]["status"] != "running":
            break
        run("refresh", "-no-color")
    assert wd.resource("run.detached")["attributes"]["status"] == "succeeded"
    assert wd.resource("run.retried")["attributes"]["attempts"] == 2
    run("output", "-no-color")
    run("output", "-json")
    # asking for one sensitive output by name is how a user reads it (as with terraform output NAME):
    # the one command allowed to print a secret, and only that output's
    asked = wd.run("output", "-raw", "token")
    assert asked.code == 0 and asked.out.rstrip("\n") == TOKEN, asked.text
    run("runs", "-no-color")
    run("runs", "-json")
    for addr in ("run.docker", "run.process", "run.detached", "run.retried"):
        r = run("logs", addr)
        assert "token=***" in r.out
    assert "failing with ***" in run("logs", "-attempt", "1", "run.retried").out
    run("state", "list")
    for addr in ("run.docker", "run.process", "value.direct", "value.derived", "workspace.ml", "module.m.value.inner"):
        run("state", "show", addr)
    run("state", "pull")
    run("refresh", "-no-color")
    run("plan", "-no-color", "-detailed-exitcode")
    image = json.loads(run("state", "pull").out)
    env_attrs = next(r["attributes"] for r in image["resources"] if r["address"] == "environment.bb")
    history = subprocess.run(["docker", "history", "--no-trunc", env_attrs["image"]], capture_output=True, text=True, check=True).stdout
    inspect = subprocess.run(["docker", "inspect", env_attrs["image"]], capture_output=True, text=True, check=True).stdout
    run("destroy", "-auto-approve", "-no-color")

    problems = []
    for cmd, text in outputs:
        problems += [f"`trainform {cmd}` printed {leak}" for leak in find_leaks(text)]
    files = 0
    for p in Path(wd.path).rglob("*"):
        if p.is_file() and not p.is_symlink():
            files += 1
            data = p.read_bytes().decode("utf-8", "replace")
            problems += [f"{p.relative_to(wd.path)} holds {leak}" for leak in find_leaks(data)]
    assert files > 10
    problems += [f"docker history shows {leak}" for leak in find_leaks(history)]
    problems += [f"docker inspect shows {leak}" for leak in find_leaks(inspect)]
    problems += [f"a container name or label shows {leak}" for leak in find_leaks(public)]
    no_args = {k: v for k, v in ALL.items() if k != "arg"}
    for line in sampler.seen:
        problems += [f"a command line showed {leak}: {line[:80]}..." for leak in find_leaks(line, no_args)]
    assert not problems, "\n".join(problems)
