"""Bad and extreme inputs across every command (issue 18's corpus): each run ends with exit 1
or 2 and a message, never exit 3 (an internal error), never a Python traceback, and within a
time limit. Files come from tests/corpus/make_corpus.py; commands run in-process with click's
CliRunner, a few as real subprocesses. The case count is asserted (≥ 150).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from mtlspec.cli import main
from tests.corpus.make_corpus import (
    BASELINES,
    CONAL,
    GROUPING_TABLES,
    PAIRS,
    PLANS,
    SCORES,
    SPECS,
    write_corpus,
)

ROOT = Path(__file__).resolve().parents[1]
TREE = str(ROOT / "specs/multidigits_tree.mtl")
CONAL_SPEC = str(ROOT / "specs/conal_multidigits.mtl")
LIMIT_S = 60
NINES = "9" * 60

# Specs whose problem only the built backbone can show: validate passes them (exit 0), the
# commands that build them refuse them.
VALID_UNTIL_BUILT = {"torchvision_too_small", "blocks_too_many", "torchvision_bad_kwarg",
                     "torchvision_weights", "user_code_without_flag", "grouping_width_1e5",
                     "convnet_width_huge_deep", "input_100000_square"}

# Extreme specs that are fine: they must simply not crash.
EXTREME_BUT_VALID = {"torchvision_too_small", "grouping_convnet_width_arg"}

# (command line with {C} for the corpus folder, the exit codes it may end with)
OPTIONS: list[tuple[str, ...]] = [
    ("check", TREE, "--max-gflops", "nan"), ("check", TREE, "--max-gflops", "inf"),
    ("check", TREE, "--max-gflops", "-1"), ("check", TREE, "--max-params", NINES),
    ("check", TREE, "--max-params", "-5"), ("check", TREE, "--max-params", "abc"),
    ("check", TREE, "--max-params", "1e999"), ("check", TREE, "--max-increase", "abc"),
    ("check", TREE, "--max-increase", "nan"), ("check", TREE, "--latency-runs", "0"),
    ("check", TREE, "--max-params", "1"),  # a real budget failure: exit 1
    ("train", TREE, "--seed", "-1"), ("train", TREE, "--seed", str(2**40)),
    ("train", TREE, "--lr", "nan"), ("train", TREE, "--lr", "inf"), ("train", TREE, "--lr", "0"),
    ("train", TREE, "--epochs", "-1"), ("train", TREE, "--batch-size", "0"),
    ("train", TREE, "--epochs", NINES),
    ("train", TREE, "--data-option", "overlap=abc"),
    ("train", TREE, "--data-option", "overlap=nan"),
    ("train", TREE, "--data-option", "noequals"), ("train", TREE, "--data-option", "=1"),
    ("train", TREE, "--data-option", "bogus=1"), ("train", TREE, "--data-option", "overlap=1e999"),
    ("train", TREE, "--device", "cuda:9"), ("train", TREE, "--device", "bogus"),
    ("train", TREE, "--device", "tpu"), ("train", TREE, "--train-size", "100000000"),
    ("train", TREE, "--data", "nosuchdata"), ("train", TREE, "--weights", "a=nan"),
    ("train", TREE, "--weighting", "fixed", "--weights", "left=nan,right=1"),
    ("train", TREE, "--weighting-option", "alpha=abc", "--weighting", "gradnorm"),
    ("train", TREE, "--resume"),
    ("enumerate", "--tasks", "-1", "--blocks", "2"),
    ("enumerate", "--tasks", "3.5", "--blocks", "2"),
    ("enumerate", "--tasks", "0", "--blocks", "2"),
    ("enumerate", "--tasks", "a,,b", "--blocks", "2"),
    ("enumerate", "--tasks", "a,a", "--blocks", "2"),
    ("enumerate", "--tasks", "100", "--blocks", "2"),
    ("enumerate", "--tasks", "3", "--blocks", "0"),
    ("enumerate", "--tasks", "3", "--blocks", "300"),
    ("enumerate", "--tasks", "3", "--blocks", "2", "--id", "-1"),
    ("enumerate", "--tasks", "3", "--blocks", "2", "--id", NINES),
    ("group", "--table", "standley:setting1", "--sweep", "0:1e9999999999:1"),
    ("group", "--table", "standley:setting1", "--sweep", "1:0:1"),
    ("group", "--table", "standley:setting1", "--sweep", "a:b:c"),
    ("group", "--table", "standley:setting1", "--sweep", "0:10:0"),
    ("group", "--table", "standley:setting1", "--sweep", "0:1e400:1e399"),
    ("group", "--table", "standley:setting1", "--budget", "nan"),
    ("group", "--table", "standley:setting1", "--budget", "inf"),
    ("group", "--table", "standley:setting1", "--budget", "-1"),
    ("group", "--table", "nosuch:table", "--budget", "1"),
    ("run", "{C}/plans/result_missing", "--lr", "nan"),
    ("run", "{C}/plans/result_missing", "--device", "cuda:9"),
    ("run", "{C}/plans/result_missing", "--threads", "0"),
    ("run", "{C}/plans/result_missing", "--workers", "0"),
    ("run", "{C}/plans/result_missing", "--epochs", "0"),
    ("run", "{C}/plans/result_missing", "--seed", "-1"),
    ("run", "{C}/plans/result_missing", "--data-option", "overlap=abc"),
    ("run", "{C}/plans/result_missing", "--cpus-per-task", "nan"),
    ("blocks", "convnet", "--input", "3x99999999999999999999x1"),
    ("blocks", "convnet", "--input", "3x100000x100000"), ("blocks", "convnet", "--input", "0x1x1"),
    ("blocks", "convnet", "--input", "abc"), ("blocks", "convnet", "--arg", "depth=0"),
    ("blocks", "convnet", "--arg", "x=" + "[" * 3000 + "]" * 3000),
    ("blocks", "convnet", "--arg", "depth=" + "9" * 5000),
    ("blocks", "convnet", "--blocks", "0"), ("blocks", "nosuchnet"),
    ("blocks", "torchvision.resnet18", "--arg", "num_clases=3"),
    ("cost", "no/such/file.mtl"), ("validate", "{C}"), ("fmt", "no/such/file.mtl"),
    ("diff", "{C}/baselines/array.json", TREE),
    ("check", TREE, "--against", "{C}/baselines/nan.json"),
    ("--max-memory", "abc", "validate", TREE), ("--max-memory", "1K", "cost", TREE),
    ("recommend", "--spec", TREE, "--pairs", "{C}/pairs/empty.csv", "--top", "0"),
    ("recommend", "--spec", TREE, "--pairs", "{C}/pairs/empty.csv", "--beam-width", "0"),
    ("recommend", "--spec", TREE, "--pairs", "{C}/pairs/empty.csv", "--max-models", "nan"),
    ("recommend", "--spec", TREE, "--pairs", "{C}/pairs/empty.csv", "--max-gmacs", "inf"),
    ("search", "dag", str(ROOT / "specs/multidigits_dag.mtl"), "--lr", "nan"),
    ("search", "dag", str(ROOT / "specs/multidigits_dag.mtl"), "--seed", "-1"),
    ("search", "conal", CONAL_SPEC, "--seed", "-1"),
    ("search", "conal", CONAL_SPEC, "--epochs", "0"),
]


def _cases() -> list[tuple[str, tuple[str, ...], frozenset[int]]]:
    bad = frozenset({1, 2})
    out = []
    for name in SPECS:
        spec = f"{{C}}/specs/{name}.mtl"
        out.append((f"validate-{name}", ("validate", spec),
                    bad | {0} if name in VALID_UNTIL_BUILT | EXTREME_BUT_VALID else bad))
        out.append((f"cost-{name}", ("cost", "--no-cache", spec),
                    bad | {0} if name in EXTREME_BUT_VALID else bad))
    out += [(f"group-{n}", ("group", "--table", f"{{C}}/tables/{n}", "--budget", "2"), bad)
            for n in GROUPING_TABLES]
    out += [(f"recommend-pairs-{n}", ("recommend", "--spec", TREE, "--pairs", f"{{C}}/pairs/{n}"),
             bad) for n in PAIRS]
    out += [(f"recommend-evaluate-{n}", ("recommend", "--spec", CONAL_SPEC, "--pairs",
                                         str(ROOT / "tests/corpus/make_corpus.py"), "--evaluate",
                                         f"{{C}}/scores/{n}"), bad) for n in SCORES]
    out += [(f"import-conal-{n}", ("import", "conal", f"{{C}}/conal/{n}", "--base", CONAL_SPEC),
             bad) for n in CONAL]
    out += [(f"train-baseline-{n}", ("train", TREE, "--baseline", f"{{C}}/baselines/{n}"), bad)
            for n in BASELINES]
    out += [(f"run-{n}", ("run", f"{{C}}/plans/{n}", "--tables-only"), bad) for n in PLANS]
    out += [(f"train-resume-{n}", ("train", TREE, "--resume", "--checkpoint",
                                   f"{{C}}/checkpoints/{n}"), bad)
            for n in ("missing_keys", "wrong_types", "version_9", "not_a_dict", "garbage",
                      "empty")]
    out += [(f"option-{i}-{'-'.join(a[:1] + a[-2:])[:40]}", a, bad)
            for i, a in enumerate(OPTIONS)]
    return out


CASES = _cases()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus") / "c")


def test_corpus_is_large_enough():
    assert len(CASES) >= 150, len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_cleanly(case, corpus, tmp_path):
    _, args, codes = case
    argv = [a.replace("{C}", str(corpus)) for a in args]
    start = time.perf_counter()
    result = CliRunner().invoke(main, argv, env={"MTLSPEC_MAX_MEMORY": None,
                                                 "MTLSPEC_CACHE_DIR": str(tmp_path)})
    seconds = time.perf_counter() - start
    output = result.output
    assert result.exit_code in codes, (result.exit_code, output[-2000:])
    assert "Traceback" not in output and "internal error" not in output, output[-2000:]
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert output.strip(), "refused without a word"
    assert seconds < LIMIT_S


@pytest.mark.parametrize("args", [
    ("validate", "{C}/specs/nested_brackets.mtl"),
    ("cost", "{C}/specs/task_state_dict.mtl"),
    ("group", "--table", "{C}/tables/deep.json", "--budget", "1"),
    ("blocks", "convnet", "--input", "3x99999999999999999999x1"),
], ids=["validate", "cost", "group", "blocks"])
def test_bad_input_in_a_real_process(args, corpus):
    argv = [a.replace("{C}", str(corpus)) for a in args]
    done = subprocess.run([sys.executable, "-m", "mtlspec", *argv], capture_output=True,
                          text=True, timeout=LIMIT_S, cwd=ROOT)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "frame #" not in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 12
