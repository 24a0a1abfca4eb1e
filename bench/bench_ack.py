"""Acknowledgement latency: Partnerbot vs a bare Bolt app that only acks, side by side in one run.

Topology as in production: each app is its own process (`partnerbot serve`, and bench/bare_app.py served
by the same waitress set-up), and "Slack" — the local sandbox's Web API and its request driver — is this
process. The driver sends correctly signed `/lead` commands and registration-form submissions at a steady
rate, alternating between the two apps so both see the same machine.

Usage: python bench/bench_ack.py [REQUESTS_PER_SERIES] [RATE_PER_SECOND]
"""

from __future__ import annotations

import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from rich.console import Console
from rich.table import Table

from bot.demo_data import BOT_USER, OUR_TEAM, import_demo_records, populate_sandbox
from bot.sandbox import Sandbox
from handlers.blocks.registration import build_registration_modal
from storage.db import create_schema, make_engine
from workflows.program import Program

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("/lead command", "modal submission")
FORM = {
    "company": "Bench Co", "domain": "bench.example.com", "contact_name": "Jane Smith",
    "contact_email": "jane@bench.example.com", "region": "EMEA", "product_line": "Platform",
    "estimated_value": "12000", "currency": "USD", "pricing_model": "subscription", "company_size": "51-200",
    "budget": "identified", "timeline": "3-6m", "attribution": "partner_sourced", "notes": "benchmark",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], env: dict, port: int, log: Path) -> subprocess.Popen:
    """Start an app process (its output to a file, never a pipe nobody reads) and wait until it answers."""
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except requests.ConnectionError:
            if process.poll() is not None:
                raise SystemExit(f"{command} exited: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"{command} did not start")


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (serve's background worker), in MB."""
    total = 0.0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(child) for child in children]
        for each in pids:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
    except OSError:
        pass
    return total


MEMORY: dict[str, float] = {}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def measure(requests_per_series: int, rate: float) -> dict[tuple[str, str], list[float]]:
    samples: dict[tuple[str, str], list[float]] = {}
    secret, token = secrets.token_hex(16), "xoxb-bench-" + secrets.token_hex(8)
    with tempfile.TemporaryDirectory() as folder, \
            Sandbox(secret, token, team_id=OUR_TEAM[0], team_name=OUR_TEAM[1], bot_user_id=BOT_USER) as sandbox:
        populate_sandbox(sandbox)
        database_url = f"sqlite:///{Path(folder) / 'bench.db'}"
        engine = make_engine(database_url)
        create_schema(engine)
        import_demo_records(engine)
        engine.dispose()
        ports = {"partnerbot": free_port(), "bare bolt": free_port()}
        base_env = dict(os.environ, SLACK_BOT_TOKEN=token, SLACK_SIGNING_SECRET=secret,
                        SLACK_API_URL=sandbox.api_url, DATABASE_URL=database_url, LOG_LEVEL="WARNING",
                        PROGRAM_FILE=str(Path(folder) / "none.yml"))
        base_env.pop("SLACK_APP_TOKEN", None)
        processes = [
            start([sys.executable, "-m", "bot.cli", "serve"], dict(base_env, PORT=str(ports["partnerbot"])),
                  ports["partnerbot"], Path(folder) / "partnerbot.log"),
            start([sys.executable, str(ROOT / "bench" / "bare_app.py")], dict(base_env, PORT=str(ports["bare bolt"])),
                  ports["bare bolt"], Path(folder) / "bare.log"),
        ]
        try:
            drivers = {name: sandbox.driver(f"http://127.0.0.1:{port}/slack/events") for name, port in ports.items()}
            client = sandbox.client()
            modal = build_registration_modal(Program(), choose_partner=False, origin_channel_id="C0NORTH",
                                             partner_name="Northwind Consulting")
            MEMORY["after start"] = rss_mb(processes[0].pid)
            interval, next_at = 1.0 / rate, time.perf_counter()
            for i in range(requests_per_series):
                for name, driver in drivers.items():
                    for kind in KINDS:
                        next_at += interval
                        time.sleep(max(0.0, next_at - time.perf_counter()))
                        if kind == KINDS[0]:
                            response = driver.command("U0ALEX", "/lead", f"bench{i}.example.com")
                        else:
                            view_id = client.views_open(trigger_id=sandbox.issue_trigger("U0DANA"),
                                                        view=modal)["view"]["id"]
                            response = driver.submit("U0DANA", view_id, dict(
                                FORM, company=f"Bench {name} {i}", domain=f"bench{i}-{len(name)}.com"))
                        if response.status != 200:
                            raise SystemExit(f"{name} {kind} answered {response.status}")
                        samples.setdefault((kind, name), []).append(response.elapsed * 1000)
            time.sleep(1.0)  # let the last registrations finish
            MEMORY["after the run"] = rss_mb(processes[0].pid)
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=10)
    return samples


def report(samples: dict[tuple[str, str], list[float]], requests_per_series: int, rate: float) -> None:
    console = Console(soft_wrap=True)
    table = Table(title=f"Ack latency over loopback, app processes apart from the load, "
                        f"{requests_per_series} requests per series at {rate:.0f} req/s overall (ms)")
    for column in ("request", "app", "p50", "p99", "max", "p99 vs bare"):
        table.add_column(column, justify="left" if column in ("request", "app") else "right")
    for kind in KINDS:
        bare_p99 = percentile(samples[(kind, "bare bolt")], 0.99)
        for name in ("partnerbot", "bare bolt"):
            values = samples[(kind, name)]
            table.add_row(kind, name, f"{statistics.median(values):.1f}", f"{percentile(values, 0.99):.1f}",
                          f"{max(values):.1f}", f"{percentile(values, 0.99) / bare_p99:.2f}x")
    console.print(table)
    for kind in KINDS:
        ours, bare = percentile(samples[(kind, "partnerbot")], 0.99), percentile(samples[(kind, "bare bolt")], 0.99)
        verdict = "within" if ours <= 1.5 * bare and ours < 3000 else "OUTSIDE"
        console.print(f"{kind}: p99 {ours:.1f} ms = {ours / bare:.2f}x the bare app's ({verdict} the 1.5x target; "
                      "Slack's limit is 3000 ms)")
    if MEMORY:
        console.print(f"partnerbot serve and its background worker, resident memory: "
                      f"{MEMORY.get('after start', 0):.0f} MB after start, {MEMORY.get('after the run', 0):.0f} MB "
                      f"after {2 * requests_per_series:,} requests")


def main() -> int:
    args = [float(a) for a in sys.argv[1:3]]
    requests_per_series = int(args[0]) if args else 300
    rate = args[1] if len(args) > 1 else 40.0
    report(measure(requests_per_series, rate), requests_per_series, rate)
    return 0


if __name__ == "__main__":
    sys.exit(main())
