"""The job helpers: a function in a thread and a command in a process, with progress, result,
error and cancel, every signal arriving in the GUI thread."""

from __future__ import annotations

import sys
import threading
import time

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QThread  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from fer_desktop._qt.jobs import JobCancelled, JobsIndicator, ProcessJob, ThreadJob, eta_text  # noqa: E402


def test_eta_text():
    assert eta_text(0, 100, 10) == ""  # no rate yet
    assert eta_text(50, 100, 10) == "10 s left"
    assert eta_text(10, 100, 60) == "9 min 00 s left"
    assert eta_text(1, 1000, 60) == "16 h 39 min left"  # 59,940 s
    assert eta_text(100, 100, 10) == ""


def _count(n: int, *, progress, cancelled) -> dict:
    threads = {threading.get_ident()}
    for i in range(n):
        if cancelled():
            raise JobCancelled(f"stopped after {i}")
        time.sleep(0.002)
        progress(i + 1, n)
    return {"n": n, "thread": threads.pop()}


def test_thread_job_runs_off_the_gui_thread(qtbot):
    job = ThreadJob(_count, 50, title="count")
    seen = {"progress": [], "main": []}
    gui = QApplication.instance().thread()
    job.progress.connect(lambda d, t: (seen["progress"].append((d, t)), seen["main"].append(QThread.currentThread() is gui)))
    results = []
    job.returned.connect(results.append)
    with qtbot.waitSignals([job.returned, job.finished], timeout=10000, order="strict"):
        job.start()
    result = results[0]
    assert result["n"] == 50 and result["thread"] != threading.get_ident()
    assert seen["progress"][-1] == (50, 50)  # the last one is never throttled away
    assert len(seen["progress"]) < 50  # throttled
    assert all(seen["main"])  # a lambda runs in the GUI thread
    assert not job.running and job.wait()


def test_thread_job_error_and_cancel(qtbot):
    def boom():
        raise ValueError("bad input")

    job = ThreadJob(boom)
    with qtbot.waitSignal(job.errored, timeout=5000) as blocker:
        job.start()
    assert isinstance(blocker.args[0], ValueError)

    slow = ThreadJob(_count, 100000, title="slow")
    with qtbot.waitSignal(slow.aborted, timeout=10000) as blocker:
        slow.start()
        qtbot.waitUntil(lambda: slow.done > 0, timeout=5000)
        slow.cancel()
    assert blocker.args[0].startswith("stopped after")
    with pytest.raises(RuntimeError):
        slow.start()  # once only


def test_process_job_lines_progress_and_exit(qtbot):
    code = ("import json, sys\n"
            "for i in range(3): print(json.dumps({'epoch': i + 1, 'epochs': 3}), flush=True)\n"
            "print('plain line')\nsys.stderr.write('warn\\n')")
    job = ProcessJob(sys.executable, ["-c", code], title="child")
    lines, objects, progress = [], [], []
    job.line.connect(lambda text, stream: lines.append((text, stream)))
    job.jsonObject.connect(objects.append)
    job.progress.connect(lambda d, t: progress.append((d, t)))
    with qtbot.waitSignals([job.returned, job.finished], timeout=20000, order="strict"):
        job.start()
    assert [o["epoch"] for o in objects] == [1, 2, 3]
    assert progress == [(1, 3), (2, 3), (3, 3)]
    assert ("plain line", "stdout") in lines and ("warn", "stderr") in lines


def test_process_job_failure_and_cancel(qtbot):
    fail = ProcessJob(sys.executable, ["-c", "import sys; sys.stderr.write('DataError: no such split\\n'); sys.exit(2)"],
                      title="train")
    with qtbot.waitSignal(fail.errored, timeout=20000) as blocker:
        fail.start()
    assert blocker.args[0] == "train failed (exit code 2): DataError: no such split"

    missing = ProcessJob("/nonexistent/program", [], title="missing")
    with qtbot.waitSignal(missing.errored, timeout=5000) as blocker:
        missing.start()
    assert "could not start" in blocker.args[0]

    sleeper = ProcessJob(sys.executable, ["-c", "import time; print('up', flush=True); time.sleep(60)"], title="sleep")
    with qtbot.waitSignal(sleeper.aborted, timeout=20000):
        with qtbot.waitSignal(sleeper.line, timeout=20000):
            sleeper.start()
        sleeper.cancel()


def test_indicator_follows_jobs(qtbot):
    indicator = JobsIndicator()
    qtbot.addWidget(indicator)
    job = ThreadJob(_count, 100000, title="long")
    indicator.track(job)
    job.start()
    qtbot.waitUntil(lambda: indicator.isVisible() and job.done > 0, timeout=5000)
    assert indicator.label.text().startswith("long")
    with qtbot.waitSignal(job.finished, timeout=10000):
        indicator.cancel_button.click()
    qtbot.waitUntil(lambda: not indicator.isVisible(), timeout=2000)


def test_a_cancelled_job_drops_its_result(qtbot):
    gate = threading.Event()

    def stubborn():  # cannot be interrupted: it only looks at the gate
        gate.wait(5)
        return "stale"

    job = ThreadJob(stubborn)
    got = []
    job.returned.connect(got.append)
    with qtbot.waitSignal(job.aborted, timeout=10000):
        job.start()
        job.cancel()
        gate.set()
    assert got == []


def test_the_latest_only_reader_reads_what_is_wanted_last_and_skips_the_rest(qtbot):
    """Ten requests while a slow read runs: the first and the last are read, the eight between
    never; a kept result comes back without a read; an error arrives as ``failed``."""
    from fer_desktop._qt.latest_only import NOT_CACHED, LatestOnlyReader

    gate = threading.Event()
    threads = set()

    def read(key: int) -> int:
        threads.add(threading.get_ident())
        if key == 0:
            gate.wait(5)
        if key < 0:
            raise ValueError("a bug")
        return key * 10

    reader = LatestOnlyReader(read, keep=2)
    got, failed = [], []
    reader.ready.connect(lambda key, result: got.append((key, result)))
    reader.failed.connect(lambda key, exc: failed.append((key, str(exc))))
    for key in range(10):
        reader.request(key)
    gate.set()
    qtbot.waitUntil(lambda: len(got) == 2, timeout=5000)
    qtbot.wait(50)
    assert got == [(0, 0), (9, 90)] and reader.reads == 2
    assert threading.get_ident() not in threads
    assert reader.cached(9) == 90 and reader.cached(5) is NOT_CACHED
    reader.request(-1)
    qtbot.waitUntil(lambda: bool(failed), timeout=5000)
    assert failed == [(-1, "a bug")] and reader.cached(-1) is NOT_CACHED
    for key in (1, 2, 3):  # only the newest two are kept
        reader.request(key)
        qtbot.waitUntil(lambda: reader.cached(key) is not NOT_CACHED, timeout=5000)
    assert reader.cached(1) is NOT_CACHED and reader.cached(3) == 30
    reader.shutdown()
