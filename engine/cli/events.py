"""Terminal progress for apply/destroy: Terraform's "Creating..." lines and live logs."""

from __future__ import annotations

import threading
import time

import click

from engine.events import Events

_WORDS = {
    "create": ("Creating...", "Creation complete", "Still creating..."),
    "update": ("Modifying...", "Modifications complete", "Still modifying..."),
    "replace": ("Creating replacement...", "Creation complete", "Still creating..."),
    "destroy": ("Destroying...", "Destruction complete", "Still destroying..."),
}


def _fmt_elapsed(s: float) -> str:
    s = int(s)
    if s < 60:
        return f"{s}s"
    return f"{s // 60}m{s % 60}s"


class CliEvents(Events):
    def __init__(self, color: bool = False, still_every: float = 10.0, quiet_logs: bool = False) -> None:
        self.color = color
        self.lock = threading.Lock()
        self.in_flight: dict[str, tuple[str, float]] = {}
        self.still_every = still_every
        self.streaming: set[str] = set()
        self.quiet_logs = quiet_logs
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, daemon=True)
        self._ticker.start()

    def close(self) -> None:
        self._stop.set()

    def _echo(self, text: str, err: bool = False) -> None:
        with self.lock:
            click.echo(text, err=err)

    def _b(self, s: str) -> str:
        return f"\x1b[1m{s}\x1b[0m" if self.color else s

    def resource_start(self, address, action):
        self.in_flight[address] = (action, time.monotonic())
        self._echo(f"{self._b(address + ':')} {_WORDS.get(action, _WORDS['create'])[0]}")

    def resource_done(self, address, action, elapsed, id=None):
        self.in_flight.pop(address, None)
        suffix = f" [id={id}]" if id else ""
        self._echo(f"{self._b(address + ':')} {_WORDS.get(action, _WORDS['create'])[1]} after {_fmt_elapsed(elapsed)}{suffix}")

    def resource_failed(self, address, action, elapsed):
        self.in_flight.pop(address, None)

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            now = time.monotonic()
            for address, (action, t0) in list(self.in_flight.items()):
                el = now - t0
                if el >= self.still_every and int(el) % int(self.still_every) == 0:
                    self._echo(f"{self._b(address + ':')} {_WORDS.get(action, _WORDS['create'])[2]} [{_fmt_elapsed(el)} elapsed]")

    def log(self, address, line):
        if self.quiet_logs:
            return
        self.streaming.add(address)
        prefix = f"{address}: " if len(self.streaming) > 1 or True else ""
        self._echo(f"{prefix}{line.rstrip()}")

    def progress(self, address, message):
        self._echo(f"{self._b(address + ':')} {message}")
