"""Training plans: the specs a search needs trained, run anywhere, assembled into its table.

The layer above `mtlspec.train` (which fits one model) and `mtlspec.search` (which reads the
tables). Data flows one way:

1. write a plan (`pairs.pairs_plan` for the TreeMTL recommender, `grouping.write_group_plan`
   for task grouping): spec files and one typed `Manifest` (`manifest.json`);
2. run it (`runner.run_plan`): every entry trained with the shared `RunSettings` on an
   executor (`executors`: a local process pool, or Ray), each result written atomically;
3. assemble its table (`results.assemble_tables`): `pairs.csv`, or the candidate tables.

    >>> from mtlspec.plan import group_plan
    >>> from mtlspec.spec import load
    >>> len(group_plan(load("specs/conal_multidigits.mtl").spec, half_size=True))
    10
"""

from mtlspec.plan.executors import ExecutorOptions, check_options, execute
from mtlspec.plan.grouping import PlannedNetwork, group_plan, subsets, write_group_plan
from mtlspec.plan.manifest import Entry, Manifest, load_manifest, write_plan
from mtlspec.plan.pairs import pairs_from_results, pairs_plan
from mtlspec.plan.results import assemble_tables, candidate_csv, load_results
from mtlspec.plan.runner import Job, RunReport, run_job, run_plan
from mtlspec.train.settings import RunSettings

__all__ = [
    "Entry", "ExecutorOptions", "Job", "Manifest", "PlannedNetwork", "RunReport", "RunSettings",
    "assemble_tables", "candidate_csv", "check_options", "execute", "group_plan",
    "load_manifest", "load_results", "pairs_from_results", "pairs_plan", "run_job", "run_plan",
    "subsets", "write_group_plan", "write_plan",
]
