"""The one root of trainform's exception hierarchy.

User mistakes are reported as diagnostics (see ``engine.diagnostics``);
exceptions are for bugs and for aborting a phase after its diagnostics have
been collected.
"""


class TrainformError(Exception):
    """Root of every exception trainform raises on purpose."""


class DiagnosticsError(TrainformError):
    """Carries diagnostics out of a phase that cannot continue."""

    def __init__(self, diagnostics):
        self.diagnostics = list(diagnostics)
        super().__init__("; ".join(d.summary for d in self.diagnostics))


class InternalError(TrainformError):
    """A bug in trainform or a provider (never a user's mistake)."""
