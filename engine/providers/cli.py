"""What a provider package's own CLI commands may use (``trainform runs``, ``logs``).

A provider package adds commands through the ``trainform.commands`` entry-point
group (name = verb, value = "module:click_command"); the engine lists them in
``trainform --help`` and imports one only when it is invoked.  Such a command
imports this module, not engine.cli: the flag conventions (``-no-color``),
diagnostics output, and a read-only view of the state.
"""

from __future__ import annotations

from engine.cli.common import color_flag, fail, no_color, print_diags

__all__ = ["color_flag", "fail", "no_color", "print_diags", "read_state", "working_config"]


def working_config():
    """The working directory's configuration, or None when it does not load."""
    from engine.cli.core import _maybe_config

    return _maybe_config()


def read_state():
    """The current state (read only: no lock, no refresh), or None when there is none.
    Problems reading it end the command with a diagnostic."""
    from engine.cli.common import get_backend_or_exit, read_state_or_exit

    return read_state_or_exit(get_backend_or_exit(working_config()))
