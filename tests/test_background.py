"""sim.apps.background: work in a forked child, its JSON result or its error back in the parent."""

from __future__ import annotations

import os

import pytest

from sim.apps.background import Background, BackgroundError, fork_available

needs_fork = pytest.mark.skipif(not fork_available(), reason="fork is used on Linux only")


@needs_fork
def test_the_work_runs_in_another_process_and_its_value_comes_back():
    parent = os.getpid()
    job = Background(lambda: {"pid": os.getpid(), "values": [1, 2.5, "x"]})
    value = job.result()
    assert value["values"] == [1, 2.5, "x"]
    assert value["pid"] != parent


@needs_fork
def test_the_child_sees_the_parent_memory_but_cannot_change_it():
    state = {"n": 41}

    def work():
        state["n"] += 1
        return state["n"]

    assert Background(work).result() == 42
    assert state["n"] == 41


@needs_fork
def test_an_error_in_the_child_is_raised_in_the_parent_with_its_type_and_message():
    def work():
        raise ValueError("chart cost_by_year: no data")

    job = Background(work)
    with pytest.raises(BackgroundError, match=r"^ValueError: chart cost_by_year: no data$"):
        job.result()
    with pytest.raises(BackgroundError):  # asking again gives the same answer
        job.result()


@needs_fork
def test_a_result_that_is_not_json_is_an_error_not_a_hang():
    with pytest.raises(BackgroundError, match="TypeError"):
        Background(lambda: object()).result()


def test_without_fork_the_work_runs_in_place_at_once():
    calls = []
    job = Background(lambda: calls.append(os.getpid()) or "done", fork=False)
    assert calls == [os.getpid()]  # already ran, in this process
    assert job.result() == "done"
    with pytest.raises(BackgroundError, match="ZeroDivisionError"):
        Background(lambda: 1 / 0, fork=False).result()


@needs_fork
def test_wait_ends_the_child_without_raising_and_keeps_its_answer(tmp_path):
    marker = tmp_path / "written-by-child"

    def work():
        marker.write_text("done")
        raise OSError("disk full")

    job = Background(work)
    job.wait()  # a failing caller waits so the child never outlives it
    assert marker.read_text() == "done"  # the child had finished when wait returned
    job.wait()  # idempotent
    with pytest.raises(BackgroundError, match="OSError: disk full"):
        job.result()
