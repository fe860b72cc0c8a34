"""The pytest plugin: `pytest --mtlspec specs/` turns each spec into a budget test.

Runs that compile a spec go to a subprocess: an in-process (inline) run drops the modules it
imported afterwards, and importing torch a second time in one process crashes it.
"""

from __future__ import annotations

import pytest

import mtlspec.cost  # noqa: F401  (imported here, so inline runs keep it: no torch)

pytest_plugins = ["pytester"]

SPEC = """\
model {name} {{
  input image: float[1, 1, 8, 8]
  backbone convnet(depth=2, width=8, in_channels=1) {{ blocks: auto(2) }}
  tasks {{
    a: head linear(classes=2)
    b: head linear(classes=2)
  }}
  layout [
    {{a, b}}
    {{a}} {{b}}
  ]
  budget {{ {budget} }}
}}
"""


@pytest.fixture
def specs(pytester: pytest.Pytester) -> list[str]:
    pytester.makefile(".mtl", small=SPEC.format(name="small", budget="params <= 1M"),
                      over=SPEC.format(name="big", budget="gmacs <= 0.000001; params <= 1M"))
    # Installed, the plugin loads from its `pytest11` entry point (named mtlspec); load it by
    # module instead, so the test does not depend on `pip install -e .` having been re-run.
    return ["-p", "no:cacheprovider", "-p", "no:mtlspec", "-p", "mtlspec.pytest_plugin"]


def test_specs_are_budget_tests_with_mtlspec(pytester: pytest.Pytester, specs: list[str]):
    result = pytester.runpytest_subprocess(*specs, "--mtlspec", str(pytester.path))
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*over.mtl: 1 budget exceeded*",
        "*big*gmacs (spec)*1e-06*OVER*",
        "FAILED over.mtl::budget*",
    ])
    out = result.stdout.str()
    assert "Traceback" not in out and "def runtest" not in out and "raise " not in out
    assert "small.mtl::budget" not in out.split("short test summary")[-1]


def test_an_invalid_spec_fails_compiler_style(pytester: pytest.Pytester, specs: list[str]):
    pytester.makefile(".mtl", broken="model x {\n  tasks { a: head nope(\n}\n")
    result = pytester.runpytest(*specs, "--mtlspec", "broken.mtl")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*broken.mtl:*: error: *"])
    assert "Traceback" not in result.stdout.str()


def test_the_ini_option_turns_collection_on(pytester: pytest.Pytester, specs: list[str]):
    pytester.makeini("[pytest]\nmtlspec_specs = true\n")
    result = pytester.runpytest_subprocess(*specs, "small.mtl")
    result.assert_outcomes(passed=1)


def test_specs_are_not_collected_unless_asked(pytester: pytest.Pytester, specs: list[str]):
    result = pytester.runpytest(*specs, str(pytester.path))
    result.assert_outcomes()
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_the_installed_entry_point_names_the_plugin_module():
    from importlib.metadata import entry_points

    import mtlspec.pytest_plugin

    found = [ep for ep in entry_points(group="pytest11") if ep.name == "mtlspec"]
    if not found:
        pytest.skip("mtlspec is not installed (no pytest11 entry points); `make test` installs it")
    assert found[0].load() is mtlspec.pytest_plugin
