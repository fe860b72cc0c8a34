"""`mtlspec run`: any `--data` (rebuilt inside each worker, your own with --allow-import),
dense metrics in the results, `--device` checked before any job, Ray's GPUs per task."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from mtlspec.cli import main
from mtlspec.errors import MtlspecError
from mtlspec.plan.executors import ExecutorOptions
from mtlspec.plan.runner import job_device, run_plan
from tests.data.test_user_data import MODULE
from tests.plan.fixtures import SETTINGS, tiny_plan

NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="tests the no-CUDA error")
USER_SPEC = """model mine {
  input image: float[1, 3, 8, 8]
  backbone convnet(depth=2, width=8) { blocks: auto(2) }
  tasks {
    mask: head conv(classes=2)
    bright: head linear(classes=2)
  }
  layout [
    {mask, bright}
    {mask} {bright}
  ]
}
"""


def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def user_plan(tmp_path, monkeypatch):
    (tmp_path / "my_plan_data.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))  # workers are forked from here: they see it
    spec = tmp_path / "mine.mtl"
    spec.write_text(USER_SPEC)
    plan = tmp_path / "plan"
    result = _cli("group", "plan", "--spec", spec, "-o", plan)
    assert result.exit_code == 0, result.output
    return plan


def test_run_rebuilds_user_data_in_the_workers(user_plan):
    args = ["run", user_plan, "--data", "my_plan_data:make", "--data-option", "n=12",
            "--epochs", "1", "--batch-size", "6", "--json"]
    refused = _cli(*args)
    assert refused.exit_code == 2 and "--allow-import" in refused.output
    assert not (user_plan / "results").exists()  # refused before any training
    result = _cli(*args, "--allow-import")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["trained"]) == 3
    record = json.loads((user_plan / "results" / "mask+bright.json").read_text())
    assert record["settings"]["data"] == "my_plan_data:make"
    assert record["settings"]["data_options"] == {"n": 12}
    assert set(record["all_val"]["mask"]) == {"miou", "pixel_acc"}
    assert record["metric_names"] == {"bright": "accuracy", "mask": "miou"}


def test_plan_writers_check_the_data_and_print_the_next_command(tmp_path):
    spec = tmp_path / "mine.mtl"
    spec.write_text(USER_SPEC)
    result = _cli("group", "plan", "--spec", spec, "-o", tmp_path / "p", "--data", "scenes")
    assert result.exit_code == 2 and "task mask is not in data set scenes" in result.output
    result = _cli("recommend", "plan", "--spec", "specs/conal_multidigits.mtl", "-o",
                  tmp_path / "r", "--data", "multidigits", "--data-option", "train_size=64")
    assert result.exit_code == 0, result.output
    assert (f"next: mtlspec run {tmp_path / 'r'} --data multidigits "
            "--data-option train_size=64") in result.output


@NO_CUDA
@pytest.mark.parametrize(("device", "message"), [
    ("cuda", "CUDA is not available"), ("cuda:1", "CUDA is not available"),
    ("gpu0", "unknown device 'gpu0'"),
])
def test_run_device_errors_come_before_any_job(tmp_path, device, message):
    plan = tiny_plan(tmp_path / "plan")
    result = _cli("run", plan, "--device", device, "--epochs", "1")
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (plan / "results").exists()


def test_job_device_with_ray():
    ray = ExecutorOptions(kind="ray", address="auto", gpus_per_task=0.5)
    assert job_device(None, ray) == "cuda"  # GPUs asked for: train on them
    assert job_device("cuda:0", ray) == "cuda:0"  # checked on the cluster's workers
    with pytest.raises(MtlspecError, match="needs --gpus-per-task"):
        job_device("cuda", ExecutorOptions(kind="ray", address="auto"))
    assert job_device(None, ExecutorOptions(kind="ray", address="auto")) is None


class _FakeRay(types.ModuleType):
    """Records what `ray.remote` is asked for; every task 'fails' without running."""

    def __init__(self):
        super().__init__("ray")
        self.asked: dict = {}
        self.jobs: list = []
        self.exceptions = types.SimpleNamespace(RayTaskError=type("RayTaskError", (Exception,), {}),
                                                RayError=type("RayError", (Exception,), {}))

    def is_initialized(self):
        return True

    def remote(self, **resources):
        self.asked = resources

        def wrap(fn):
            return types.SimpleNamespace(remote=self._submit)
        return wrap

    def _submit(self, job):
        self.jobs.append(job)
        return len(self.jobs)  # an object ref stand-in

    def wait(self, refs, num_returns=1):
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref):
        raise self.exceptions.RayError("not run")

    def cancel(self, ref, force=False):
        pass


def test_ray_gets_the_gpus_per_task_and_jobs_the_device(tmp_path, monkeypatch):
    fake = _FakeRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    plan = tiny_plan(tmp_path / "plan")
    options = ExecutorOptions(kind="ray", address="auto", cpus_per_task=2, gpus_per_task=0.25)
    report = run_plan(plan, SETTINGS, options, progress=False)
    assert fake.asked == {"num_cpus": 2, "num_gpus": 0.25, "max_retries": 0}
    assert len(fake.jobs) == 5 and {job.device for job in fake.jobs} == {"cuda"}
    assert len(report.failed) == 5


def test_dense_results_feed_the_tables(tmp_path: Path):
    """A grouping plan on scenes tasks scored one way (miou, accuracy) assembles its table."""
    spec = tmp_path / "s.mtl"
    spec.write_text("""model s {
  input image: float[1, 3, 16, 16]
  backbone convnet(depth=2, width=8) { blocks: auto(2) }
  tasks {
    segment: head conv(classes=17)
    count: head linear(classes=6)
  }
  layout [
    {segment, count}
    {segment} {count}
  ]
}
""")
    plan = tmp_path / "plan"
    assert _cli("group", "plan", "--spec", spec, "-o", plan).exit_code == 0
    result = _cli("run", plan, "--data", "scenes", "--data-option", "size=16",
                  "--data-option", "train_size=8", "--data-option", "val_size=4",
                  "--data-option", "test_size=4", "--epochs", "1", "--batch-size", "8")
    assert result.exit_code == 0, result.output
    table = (plan / "candidates.csv").read_text()
    record = json.loads((plan / "results" / "segment+count.json").read_text())
    assert f"{record['val']['segment']}" in table or f"{record['val']['segment']:.6g}" in table
