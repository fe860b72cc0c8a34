"""`mtlspec run --executor ray` against a local Ray instance started here, on loopback."""

from __future__ import annotations

import pytest

from mtlspec.plan.executors import ExecutorOptions
from mtlspec.plan.runner import run_plan
from tests.plan.fixtures import SETTINGS, tiny_plan

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'mtlspec[ray]'")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_executor_runs_the_plan_and_resumes(local_ray, tmp_path):
    plan = tiny_plan(tmp_path / "plan")
    options = ExecutorOptions(kind="ray", workers=2, cpus_per_task=1)
    report = run_plan(plan, SETTINGS, options, progress=False)
    assert not report.failed and len(report.trained) == 5
    assert [p.rsplit("/", 1)[-1] for p in report.tables] == ["candidates.csv",
                                                             "candidates_test.csv"]
    first = (plan / "candidates.csv").read_text()
    # a lost result is trained again, on Ray, to the same value (runs are seeded)
    (plan / "results" / "left+parity.json").unlink()
    again = run_plan(plan, SETTINGS, options, progress=False)
    assert again.trained == ["left+parity"] and len(again.skipped) == 4
    assert (plan / "candidates.csv").read_text() == first
    # a task that raises is reported, the others' results stand, and no table is written
    spec = plan / "parity.mtl"
    spec.write_text(spec.read_text().replace("classes=2", "classes=0"))
    (plan / "candidates.csv").unlink()
    failed = run_plan(plan, SETTINGS, options, progress=False)
    assert list(failed.failed) == ["parity"] and failed.tables == []
    assert "classes" in failed.failed["parity"] and len(failed.skipped) == 4
    assert not (plan / "candidates.csv").exists()
    assert ray.is_initialized()  # a Ray the caller started is left running
