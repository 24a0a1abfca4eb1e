"""Acknowledgement latency: Partnerbot vs a bare Bolt app that only acks, served the same way, side by side.

Both apps run in this process behind waitress on loopback and talk to the same local Slack sandbox; the
driver sends correctly signed `/lead` commands and registration-form submissions at a steady rate,
alternating between the two apps so both see the same machine. Usage: python bench/bench_ack.py [N] [RATE]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from slack_bolt import App

from bot.local import local_bot
from bot.server import EVENTS_PATH, HttpServer, make_wsgi_app
from handlers.blocks.registration import build_registration_modal
from handlers.ids import Callback, Command
from storage.db import create_schema, make_engine
from workflows.program import Program

FORM = {
    "company": "Bench Co", "domain": "bench.example.com", "contact_name": "Jane Smith",
    "contact_email": "jane@bench.example.com", "region": "EMEA", "product_line": "Platform",
    "estimated_value": "12000", "currency": "USD", "pricing_model": "subscription", "company_size": "51-200",
    "budget": "identified", "timeline": "3-6m", "attribution": "partner_sourced", "notes": "benchmark",
}


def bare_app(client, signing_secret: str) -> App:
    """The floor: the same Bolt and server, listeners that only ack."""
    app = App(client=client, signing_secret=signing_secret, token_verification_enabled=False)
    app.command(Command.lead.value)(lambda ack: ack())
    app.view(Callback.lead_registration.value)(lambda ack: ack())
    return app


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main(requests_per_series: int = 300, rate: float = 40.0) -> int:
    console = Console()
    samples: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        create_schema(engine)
        with local_bot(engine, Program(), process_before_response=False) as bot:
            sandbox, client = bot.sandbox, bot.runtime.client
            bare = HttpServer(make_wsgi_app(bare_app(client, sandbox.signing_secret), engine)).start()
            drivers = {"partnerbot": bot.driver, "bare bolt": sandbox.driver(bare.url + EVENTS_PATH)}
            modal = build_registration_modal(Program(), choose_partner=False, origin_channel_id="C0NORTH",
                                             partner_name="Northwind Consulting")
            interval, next_at = 1.0 / rate, time.perf_counter()
            try:
                for i in range(requests_per_series):
                    for name, driver in drivers.items():
                        for kind in ("/lead command", "modal submission"):
                            next_at += interval
                            time.sleep(max(0.0, next_at - time.perf_counter()))
                            if kind == "/lead command":
                                response = driver.command("U0ALEX", "/lead", f"bench{i}.example.com")
                            else:
                                view_id = client.views_open(trigger_id=sandbox.issue_trigger("U0DANA"),
                                                            view=modal)["view"]["id"]
                                response = driver.submit("U0DANA", view_id, dict(
                                    FORM, company=f"Bench {name} {i}", domain=f"bench-{i}-{len(name)}.example.com"))
                            if response.status != 200:
                                raise SystemExit(f"{name} {kind} answered {response.status}")
                            samples.setdefault((kind, name), []).append(response.elapsed * 1000)
                time.sleep(1.0)  # let the last registrations finish before the database goes away
            finally:
                bare.stop()
        engine.dispose()

    table = Table(title=f"Ack latency over loopback, {requests_per_series} requests per series at "
                        f"{rate:.0f} req/s overall (ms)")
    for column in ("request", "app", "p50", "p99", "max", "p99 vs bare"):
        table.add_column(column, justify="right" if column not in ("request", "app") else "left")
    verdicts = []
    for kind in ("/lead command", "modal submission"):
        bare_p99 = percentile(samples[(kind, "bare bolt")], 0.99)
        for name in ("partnerbot", "bare bolt"):
            values = samples[(kind, name)]
            p99 = percentile(values, 0.99)
            ratio = p99 / bare_p99
            table.add_row(kind, name, f"{statistics.median(values):.1f}", f"{p99:.1f}", f"{max(values):.1f}",
                          f"{ratio:.2f}x")
            if name == "partnerbot":
                verdicts.append((kind, ratio, p99))
    console.print(table)
    for kind, ratio, p99 in verdicts:
        ok = ratio <= 1.5 and p99 < 3000
        console.print(f"{kind}: p99 {p99:.1f} ms = {ratio:.2f}x the bare app's "
                      f"({'within' if ok else 'OUTSIDE'} the 1.5x target; Slack's limit is 3000 ms)")
    return 0


if __name__ == "__main__":
    args = [float(a) for a in sys.argv[1:3]]
    sys.exit(main(int(args[0]) if args else 300, args[1] if len(args) > 1 else 40.0))
