"""Read-only operations: validate, the console's evaluation scope, a sensitive
output's value, the configuration graph.

Like :mod:`engine.operations` (plan, apply), they hold the engine's side of a
command and return data; the CLI only calls them and renders what they return.
None of them takes the state lock or writes anything: they plan with refresh
off and keep nothing of the plan.
"""

from __future__ import annotations

import os

from engine.diagnostics import Diagnostics
from engine.operations import OperationError

CACHE_DIR = os.path.join(".trainform", "cache")


def validate() -> tuple[object, Diagnostics]:
    """Load, check the graph and evaluate every expression with unknown inputs.

    Like ``terraform validate``: variables are unknown (sensitive ones stay
    marked, so an output leaking one is caught), function names and argument
    counts are checked statically everywhere, and count/for_each values that
    are known without any input are checked too.
    """
    from engine.config.loader import load_config
    from engine.plan.model import PlanOptions
    from engine.session import Session
    from engine.evaluate import check_function_calls, config_expressions
    from engine.state import State
    from engine.values import UNKNOWN, Sensitive

    config, diags = load_config(".", cache_dir=CACHE_DIR)
    if config is None or diags.has_errors:
        return config, diags
    inputs = {name: Sensitive(UNKNOWN) if var.sensitive else UNKNOWN for name, var in config.module.variables.items()}
    s = Session(config, inputs, State.new(), PlanOptions(validate_only=True, refresh=False))
    s.build_graph()
    from engine.config.variables import check_default_validations

    static = check_default_validations(config)
    for cfg in config.walk():
        for expr, address in config_expressions(cfg):
            check_function_calls(expr, static, address)
    walked = False
    if not s.diags.has_errors:
        s.plan()
        walked = True
    out = Diagnostics(list(diags) + list(s.diags))
    if walked:
        out.extend(_check_expansions(s, include_eval_errors=not s.diags.has_errors))
    return config, _in_source_order(_dedupe(list(out) + list(static)))


def _check_expansions(session, include_eval_errors: bool) -> Diagnostics:
    """count/for_each values known at validate time (literals, locals of literals)
    must be valid, as terraform validate checks them."""
    from engine.config.expr import evaluate
    from engine.evaluate import expand
    from engine.values import contains_unknown

    d = Diagnostics()
    for cfg in session.config.walk():
        scope = session.scopes[cfg.path]
        blocks = [(cfg.prefix + key, res) for key, res in cfg.module.resources.items()]
        blocks += [(cfg.prefix + "module." + name, call) for name, call in cfg.module.module_calls.items()]
        for address, res in blocks:
            expr = res.count if res.count is not None else res.for_each
            if expr is None:
                continue
            value, ed = evaluate(expr, scope.ctx())
            if ed.has_errors:
                if include_eval_errors:
                    d.extend(ed)
                continue
            if contains_unknown(value):
                continue
            expand(res, scope.ctx(), d, address)
    return d


def _in_source_order(diags) -> Diagnostics:
    """Diagnostics with a range sorted by file and position (the order a reader
    fixes them in); those without one (cycles, files) keep their place after."""
    ranged = sorted((d for d in diags if d.range is not None), key=lambda d: (d.range.filename, d.range.start.line, d.range.start.column))
    return Diagnostics(ranged + [d for d in diags if d.range is None])


def _dedupe(diags) -> Diagnostics:
    """One diagnostic per (severity, summary, place): the static pass and the
    evaluation can both find the same problem."""
    seen = set()
    out = Diagnostics()
    for d in diags:
        key = (d.severity, d.summary, str(d.range) if d.range is not None else d.detail)
        if key in seen:
            continue
        seen.add(key)
        out.append(d)
    return out


def evaluation_scope(config, inputs: dict, state):
    """The root module's scope after evaluating every expression against ``state``
    (no provider is asked to plan anything): what ``trainform console`` reads.
    ``config`` None: an empty directory, where only functions and literals work."""
    from engine.plan.model import PlanOptions
    from engine.session import Session
    from engine.state import State

    if config is None:
        from engine.config.model import Config, Module

        return Session(Config(Module(dir=".")), {}, State.new(), PlanOptions(refresh=False)).scopes[()]
    s = Session(config, inputs, state or State.new(), PlanOptions(refresh=False, targets=["\x00none"]))
    s.evaluate_all = True
    s.plan()
    return s.scopes[()]


def sensitive_output_value(config, inputs: dict, state, name: str):
    """State keeps only a digest of a sensitive output: compute it again from the
    configuration and ``inputs``, and check it against the digest.  Raises
    OperationError when it cannot be computed or no longer matches."""
    from engine.evaluate import split_marks
    from engine.plan.model import PlanOptions
    from engine.session import Session
    from engine.state import secrets
    from engine.values import to_plain, unmark

    d = Diagnostics()
    if config is None:
        d.error("Cannot show sensitive output", "State holds only a digest of sensitive outputs; the configuration is needed to compute the value again, and it failed to load.")
        raise OperationError(d)
    s = Session(config, inputs, state, PlanOptions(refresh=False))
    s.plan()
    plain = to_plain(split_marks(unmark(s.root_outputs.get(name))))
    stored = state.outputs[name].get("value")
    if isinstance(stored, str) and secrets.is_digest(stored) and not secrets.matches(stored, plain):
        d.error("Sensitive output changed", f'The output "{name}" computed from the current configuration and inputs no longer matches the applied value (state keeps only its digest). Run trainform apply first.')
        raise OperationError(d)
    return plain


def configuration_graph():
    """The plan graph of the configuration in this directory (no variables, no state)."""
    from engine.config.loader import load_config
    from engine.plan.model import PlanOptions
    from engine.session import Session
    from engine.state import State

    config, diags = load_config(".", cache_dir=CACHE_DIR)
    if diags.has_errors or config is None:
        raise OperationError(diags)
    s = Session(config, {}, State.new(), PlanOptions())
    d = s.build_graph()
    if d.has_errors:
        raise OperationError(d)
    return s.graph
