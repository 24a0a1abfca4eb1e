"""The users bench/bench_ack.py plays: partner contacts submitting the registration form, AEs running /lead and
opening App Home, each request sent at its time as Slack delivers it, its ack timed."""

from __future__ import annotations

import gc
import itertools
import json
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ack_report import APPS, HOME, LEAD, SUBMIT, Sample
from bench_scale import PARTNERS, STAGES, company
from bot.sandbox import Sandbox
from handlers.blocks.registration import build_registration_modal
from workflows.program import Program

AES = 40  # seed_people's UAE0000..UAE0039
# The partners whose contacts submit the form: those that have registered before (activated and later), as every
# partner holding bench_scale's registrations would be. A recruited or onboarded partner's first registration
# activates it (a lock of its row and a look for an earlier registration, before the ack): once per partner, not
# at each of its submissions as bench_scale's stages, given without regard to its registrations, would make it.
REGISTERING = [n for n in range(PARTNERS) if STAGES[n % len(STAGES)] in ("activated", "producing", "strategic")]
TIMEOUT = 10.0  # the driver's; an ack this late counts at this value, as a failure
# What the user types, by input block; only the blocks the form has are filled (the form changes as we build).
FORM = {"contact_name": "Jane Smith", "contact_email": "jane@bench.example.com", "region": "EMEA", "country": "GB",
        "product_line": "Platform", "estimated_value": "12000", "currency": "USD", "pricing_model": "subscription",
        "company_size": "51-200", "budget": "identified", "timeline": "3-6m", "attribution": "partner_sourced",
        "notes": "benchmark"}


@dataclass
class Load:
    """Plays the users: each send() is one request as Slack delivers it, its ack timed by the driver."""

    sandbox: Sandbox
    urls: dict[str, str]
    on_sent: object = None  # called with the app's request count after each request
    samples: list[Sample] = field(default_factory=list)
    sent: Counter = field(default_factory=Counter)

    def __post_init__(self):
        self.drivers = {app: self.sandbox.driver(url, timeout=TIMEOUT) for app, url in self.urls.items()}
        self.client = self.sandbox.client(timeout=TIMEOUT)
        self.program = Program()
        self.inputs = {block.block_id for block in self.modal(0).blocks if block.type == "input"}
        self.numbers = itertools.count()
        self.lock = threading.Lock()

    def send(self, app: str, kind: str) -> Sample:
        n, driver, at = next(self.numbers), self.drivers[app], time.monotonic()
        try:
            if kind == SUBMIT:
                partner = REGISTERING[n % len(REGISTERING)]
                contact = f"UPC{partner:05d}"
                response = driver.submit(contact, self.open_form(contact, partner), self.form(n))
            elif kind == LEAD:
                response = driver.command(f"UAE{n % AES:04d}", "/lead", f"lead{n}.example.com")
            else:
                response = driver.home_opened(f"UAE{n % AES:04d}")
            body = response.json if isinstance(response.json, dict) else {}
            errors = body.get("errors") if body.get("response_action") == "errors" else None
            sample = Sample(app, kind, response.elapsed * 1000, response.status == 200,
                            refused=json.dumps(errors)[:300] if errors else None, at=at)
        except Exception as error:  # noqa: BLE001 - no answer within TIMEOUT, the app gone, Slack refusing
            sample = Sample(app, kind, (time.monotonic() - at) * 1000, False, at=at,
                            error=f"{error.__class__.__name__}: {error}"[:200])
        self.samples.append(sample)
        with self.lock:
            self.sent[app] += 1
            count = self.sent[app]
        if self.on_sent:
            self.on_sent(app, count)
        return sample

    def open_form(self, user: str, partner: int) -> str:
        """The modal as the app opens it for a partner contact (Slack's side of it: not timed)."""
        return self.client.views_open(trigger_id=self.sandbox.issue_trigger(user),
                                      view=self.modal(partner))["view"]["id"]

    def modal(self, partner: int):
        return build_registration_modal(self.program, choose_partner=False, origin_channel_id=f"CP{partner:05d}",
                                        partner_name=f"Partner {partner}")

    def form(self, n: int) -> dict:
        name = company(random.Random(n), 20_000_000 + n)  # bench_scale's names: near-duplicates included
        values = dict(FORM, company=name, domain=f"{name.replace(' ', '-')}-{n}.com".lower())
        return {block: value for block, value in values.items() if block in self.inputs}


def measured_plan(rate: float, seconds: float) -> list[tuple[float, str, str]]:
    """(when, app, kind): each app `rate` submissions a second and half that many /lead and Home opens,
    evenly interleaved (the apps in turn, each a submission and then a /lead or Home open)."""
    step, plan, turns = 1.0 / rate, [], len(APPS)
    for slot in range(int(rate * seconds)):
        for turn, app in enumerate(APPS):
            plan.append((slot * step + turn * step / turns, app, SUBMIT))
            plan.append((slot * step + (turn + 0.5) * step / turns, app, LEAD if slot % 2 == 0 else HOME))
    return plan


def soak_plan(rate: float, count: int) -> list[tuple[float, str, str]]:
    """Partnerbot alone, `rate` requests a second: a quarter submissions, the rest /lead and Home opens."""
    mix = itertools.cycle((SUBMIT, LEAD, HOME, LEAD, SUBMIT, HOME, LEAD, HOME))
    return [(n / rate, "partnerbot", next(mix)) for n in range(count)]


def run_plan(load: Load, plan: list[tuple[float, str, str]], seconds: float, *,
             concurrency: int = 128) -> float:
    """Send each request at its time, up to `concurrency` at once (Slack does not wait for one ack before the
    next); a request with no free sender waits for one. Stops after `seconds`. Returns the latest send, in ms
    behind its time."""
    slots, behind, start = threading.BoundedSemaphore(concurrency), 0.0, time.perf_counter() + 0.2

    def send(app: str, kind: str) -> None:
        try:
            load.send(app, kind)
        finally:
            slots.release()

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="slack") as pool:
        for at, app, kind in plan:
            if time.perf_counter() - start > seconds:
                break
            delay = start + at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            slots.acquire()  # nothing waits in the pool's queue, so nothing is sent after the bench gives up
            behind = max(behind, time.perf_counter() - start - at)
            pool.submit(send, app, kind)
    return behind * 1000


def keep_gc_off_the_record(stop: threading.Event) -> None:
    """The sandbox keeps every call and view it saw: move them out of the collector's full passes.

    Otherwise those passes walk a record that grows with every request (over a second per pass by 10,000
    requests), freezing "Slack" (triggers expire before the app's views.open gets through) and the driver's
    clock (the freeze is timed as ack latency)."""
    while not stop.wait(1.0):
        gc.freeze()


class GcPauses:
    """The longest garbage-collection pause in this process: a stop of the driver's clock and of "Slack"."""

    def __init__(self) -> None:
        self.longest_ms, self._started = 0.0, 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.longest_ms = max(self.longest_ms, (time.perf_counter() - self._started) * 1000)
