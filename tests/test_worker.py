"""One worker per database: a second (a restarted process while the old one finishes) waits its turn."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

from storage.leadership import Leadership


def test_only_one_leadership_per_database_and_it_passes_on_when_released(engine):
    first, second = Leadership(engine), Leadership(engine)
    assert first.try_acquire() and first.try_acquire()  # held, and asking again keeps it
    assert not second.try_acquire()
    first.release()
    assert second.try_acquire()
    second.release()


def test_a_killed_process_leaves_no_leadership_behind(engine, database_url):
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from storage.db import make_engine
        from storage.leadership import Leadership
        leadership = Leadership(make_engine({database_url!r}))
        assert leadership.try_acquire()
        print("held", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert not Leadership(engine).try_acquire()
    finally:
        holder.kill()  # SIGKILL: no clean-up in the holder
        holder.wait(timeout=10)
    waiting = Leadership(engine)
    for _ in range(50):  # the server notices the dead session at once on loopback; allow a moment
        if waiting.try_acquire():
            break
        time.sleep(0.1)
    assert waiting.held
    waiting.release()
