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


def test_work_that_reads_first_is_done_again_when_someone_writes_before_its_first_write(engine, now):
    """SQLite: the work's reads take no write lock; an ack committing meanwhile makes it run again from the start,
    so what commits was read and written as if alone. (PostgreSQL: the work runs once, as before.)"""
    from datetime import timedelta

    from sqlalchemy import text as sql
    from sqlmodel import Session, select

    from storage.db import transaction
    from storage.models import PendingWork, ProcessedEvent
    from tests.support import RecordingNotifier
    from workflows.program import Program
    from workflows.services import Services
    from workflows.work import PROCESSORS, run_pending_work

    services = Services(engine=engine, program=Program(), notifier=RecordingNotifier(), clock=lambda: now)
    runs = []

    def count_then_write(services, session, subject_id):
        seen = session.exec(select(ProcessedEvent)).all()  # the reads
        runs.append(len(seen))
        if len(runs) == 1:  # an ack commits between this run's reads and its first write
            with transaction(engine) as other:
                other.add(ProcessedEvent(event_id="ack", received_at=now))
        session.add(ProcessedEvent(event_id=f"work-saw-{len(seen)}", received_at=now))

    PROCESSORS["test_read_first"] = count_then_write
    try:
        with transaction(engine) as session:
            session.add(PendingWork(kind="test_read_first", subject_id=1, created_at=now,
                                    next_attempt_at=now - timedelta(seconds=1)))
        assert run_pending_work(services, "test_read_first") == 1
    finally:
        del PROCESSORS["test_read_first"]
    with Session(engine) as session:
        events = sorted(session.exec(select(ProcessedEvent.event_id)).all())
        assert session.exec(sql("SELECT count(*) FROM pending_work")).one()[0] == 0
    if engine.dialect.name == "sqlite":
        assert runs == [0, 1] and events == ["ack", "work-saw-1"]  # the second run saw the ack's row
    else:
        assert runs == [0] and events == ["ack", "work-saw-0"]
