"""DAG integrity: every DAG imports cleanly, has the expected shape, and does no I/O at parse time."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest

from tests.conftest import PACKAGE_DIR

DAGS_DIR = PACKAGE_DIR / "dags"


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def edges(dag) -> set[tuple[str, str]]:
    return {(task.task_id, down) for task in dag.tasks for down in task.downstream_task_ids}


def test_every_dag_imports_without_error(dagbag):
    assert dagbag.import_errors == {}
    assert sorted(dagbag.dag_ids) == ["e2e3d_input_watch", "e2e3d_reconstruction"]


def test_helper_package_is_not_parsed_as_dags(dagbag):
    parsed = {stat.file for stat in dagbag.dagbag_stats}
    assert parsed == {"e2e3d_input_watch.py", "e2e3d_reconstruction.py"}


def test_reconstruction_tasks_and_dependencies(dagbag):
    dag = dagbag.dags["e2e3d_reconstruction"]
    assert edges(dag) == {
        ("validate_input", "submit_job"),
        ("submit_job", "wait_for_job"),
        ("wait_for_job", "verify_outputs"),
        ("verify_outputs", "publish_summary"),
        ("validate_input", "publish_summary"),
        ("wait_for_job", "publish_summary"),
    }
    assert dag.schedule is None or dag.timetable.summary == "None"


def test_reconstruction_params(dagbag):
    dag = dagbag.dags["e2e3d_reconstruction"]
    params = dag.params
    assert set(params.keys()) == {
        "input",
        "output",
        "options",
        "min_images",
        "wait_timeout_minutes",
        "poll_interval_seconds",
    }
    schema = params.get_param("input").schema
    assert schema["type"] == "string" and schema["pattern"].startswith("^s3://")
    assert params["options"] == {}


def test_every_task_has_a_time_limit_and_a_retry_policy(dagbag):
    for dag in dagbag.dags.values():
        assert dag.dagrun_timeout is not None, dag.dag_id
        for task in dag.tasks:
            assert task.execution_timeout is not None and task.execution_timeout <= timedelta(minutes=10), task
            assert task.retries >= 1, task
            assert task.retry_exponential_backoff, task


def test_waiting_is_deferred_not_holding_a_worker_slot(dagbag):
    from e2e3d_lib.operators import WaitForReconstructionJobOperator

    wait = dagbag.dags["e2e3d_reconstruction"].get_task("wait_for_job")
    assert isinstance(wait, WaitForReconstructionJobOperator)
    assert hasattr(wait, "execute_complete")


def test_watch_dag_triggers_reconstruction_once_per_marker(dagbag):
    dag = dagbag.dags["e2e3d_input_watch"]
    assert edges(dag) == {("find_ready_image_sets", "trigger_reconstruction")}
    trigger = dag.get_task("trigger_reconstruction")
    assert trigger.partial_kwargs["trigger_dag_id"] == "e2e3d_reconstruction"
    assert trigger.partial_kwargs["skip_when_already_exists"] is True
    assert dag.max_active_runs == 1 and not dag.catchup


def test_no_top_level_io():
    """Parse the DAG folder in a fresh interpreter whose network and subprocess calls raise: a DAG file that
    talks to the object store, the API or the DB at import time fails to import. Also bounds parse time by the
    limit Airflow itself enforces per file ([core] dagbag_import_timeout): a fixed few seconds would measure how
    busy the machine is (CI runs three projects' tests at once), not whether the DAGs do work at parse time."""
    script = textwrap.dedent(
        f"""
        import json, socket, subprocess, sys, time
        def refuse(*args, **kwargs):
            raise RuntimeError("I/O at DAG parse time")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        subprocess.Popen.__init__ = refuse
        from airflow.configuration import conf
        from airflow.dag_processing.dagbag import DagBag
        started = time.monotonic()
        bag = DagBag(dag_folder={str(DAGS_DIR)!r})
        print(json.dumps({{"errors": bag.import_errors, "dags": sorted(bag.dag_ids),
                          "seconds": time.monotonic() - started,
                          "limit": conf.getfloat("core", "dagbag_import_timeout")}}))
        """
    )
    # The dags folder is on sys.path in Airflow (bundle path) and in the image (PYTHONPATH): the same here.
    env = {**os.environ, "PYTHONPATH": str(DAGS_DIR)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["errors"] == {}
    assert outcome["dags"] == ["e2e3d_input_watch", "e2e3d_reconstruction"]
    assert outcome["seconds"] < outcome["limit"], (
        f"parsing the DAG folder took {outcome['seconds']:.1f}s, over Airflow's dagbag_import_timeout "
        f"({outcome['limit']:.0f}s): the dag processor would kill it"
    )


@pytest.mark.parametrize(
    "module",
    [
        "airflow.providers.celery.executors.celery_executor",
        "airflow.providers.celery.executors.celery_executor_utils",
        "airflow.providers.fab.auth_manager.fab_auth_manager",
        "airflow.providers.postgres.hooks.postgres",
        "airflow.providers.standard.operators.trigger_dagrun",
        "e2e3d_lib.triggers",
    ],
)
def test_the_locked_set_imports_what_the_roles_load(module):
    """Every role's entry modules import in the locked environment (the image installs the same set): a
    dependency that moves out of a provider's range fails here, not at a scheduler's start."""
    importlib.import_module(module)
