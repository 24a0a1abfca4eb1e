"""Injected faults: scripted ones (`Sandbox.fail`) and random ones (`Sandbox.fail_randomly`), thread-safe."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

# "timeout" holds the answer; the others answer at once. 5xx and ok:false ones can come after the effect.
RANDOM_KINDS = frozenset({"429", "500", "502", "503", "504", "internal_error", "timeout"})


@dataclass(frozen=True)
class Fault:
    """One faulty answer: what the caller sees, whether the call took effect first, and how long it waits."""

    kind: str  # "429", "500"…, the ok:false error code, or "timeout"
    status: int = 200
    error: str | None = None  # None on a timeout after the effect: the real answer, late
    retry_after: int = 1
    after_effect: bool = False
    delay: float = 0.0

    def answer(self) -> tuple[int, dict, dict]:
        if self.status == 429:
            return 429, {"Retry-After": str(self.retry_after)}, {"ok": False, "error": "ratelimited"}
        return self.status, {}, {"ok": False, "error": self.error}


def scripted(status: int | None, error: str | None, *, retry_after: int, after_effect: bool,
             delay: float | None) -> Fault:
    """The fault `Sandbox.fail` describes; raises ValueError for one Slack could never produce."""
    if status is None and error is None and not delay:
        raise ValueError("fail() needs status=, error= or delay=")
    if status == 429 and after_effect:
        raise ValueError("Slack refuses a rate-limited call before doing anything: 429 cannot be after_effect")
    if delay is not None and delay < 0:
        raise ValueError("delay must be >= 0")
    if status is None and error is None:
        # A held answer with nothing applied ends the way a gateway gives up; after the effect it is the real
        # answer, only too late for a caller with a shorter timeout.
        status, error = (200, None) if after_effect else (504, "request_timeout")
    if status not in (None, 200) and error is None:
        error = "ratelimited" if status == 429 else "internal_error"
    kind = "timeout" if delay else (str(status) if status not in (None, 200) else str(error))
    return Fault(kind, status or 200, error, retry_after, after_effect, delay or 0.0)


def random_fault(kind: str, rng: random.Random, *, timeout_delay: float, retry_after: int) -> Fault:
    """A fault of `kind`; everything but a 429 lands before or after the effect at random."""
    after = kind != "429" and rng.random() < 0.5
    if kind == "timeout":
        return scripted(None, None, retry_after=retry_after, after_effect=after, delay=timeout_delay)
    if kind == "internal_error":
        return scripted(None, "internal_error", retry_after=retry_after, after_effect=after, delay=None)
    return scripted(int(kind), None, retry_after=retry_after, after_effect=after, delay=None)


@dataclass
class _RandomPlan:
    rate: float
    kinds: tuple[str, ...]
    rng: random.Random
    timeout_delay: float
    retry_after: int


class FaultBook:
    """Pending scripted faults per method (used up in order) and random fault plans per method."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued: dict[str, list[list]] = {}  # method -> [[fault, times left], ...]
        self._random: dict[str, _RandomPlan] = {}

    def add(self, method: str, fault: Fault, times: int = 1) -> None:
        with self._lock:
            self._queued.setdefault(method, []).append([fault, times])

    def fail_randomly(self, method: str, rate: float, kinds: tuple[str, ...], *, seed: int | None,
                      timeout_delay: float, retry_after: int) -> None:
        unknown = set(kinds) - RANDOM_KINDS
        if unknown or not kinds:
            raise ValueError(f"kinds must be among {sorted(RANDOM_KINDS)}, got {sorted(kinds)}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        with self._lock:
            self._random[method] = _RandomPlan(rate, tuple(kinds), random.Random(seed), timeout_delay, retry_after)

    def take(self, method: str) -> Fault | None:
        """The fault for this call of `method`, if any: scripted ones first, then the random plan."""
        with self._lock:
            pending = self._queued.get(method)
            if pending:
                entry = pending[0]
                entry[1] -= 1
                if entry[1] <= 0:
                    pending.pop(0)
                return entry[0]
            plan = self._random.get(method)
            # The draw happens under the lock so a seed gives the same sequence of faults per call order.
            if plan is None or plan.rng.random() >= plan.rate:
                return None
            kind = plan.rng.choice(plan.kinds)
            return random_fault(kind, plan.rng, timeout_delay=plan.timeout_delay, retry_after=plan.retry_after)

    def stop(self, method: str | None = None) -> None:
        """Drop scripted and random faults of one method, or of all methods."""
        with self._lock:
            if method is None:
                self._queued.clear()
                self._random.clear()
            else:
                self._queued.pop(method, None)
                self._random.pop(method, None)

    def clear(self) -> None:
        self.stop()
