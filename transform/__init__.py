"""Transform: dbt build and test of the warehouse, write-audit-publish, the docs site.

The public entry points, used by the chain (``scheduler``) and the CLI:

- ``run_build(warehouse, options, sink)``: the chain's transform step (dbt build and
  test into ``artifacts__build``; its result's ``candidate`` names the tested build);
- ``run_publish(warehouse, options, sink, before_commit=...)``: the chain's publish step
  (swaps ``options.candidate`` in; ``before_commit`` runs inside the publish transaction);
- ``run_freshness(warehouse, options, sink)``: the chain's freshness step (``dbt source
  freshness``, recorded, stale sources reported rather than raised);
- ``run_transform(warehouse, options, sink)``: build then publish, no step between;
- ``run_docs(warehouse, sink)``: the dbt docs site the API serves at ``/lineage``;
- ``run_dbt_command(warehouse, args)``: ``moviemetric dbt ARGS`` for analysts;
- ``connection_exports(warehouse)``: the PG* exports to run dbt by hand.
"""

from transform.build import run_build, run_docs, run_freshness, run_publish, run_transform
from transform.dbt import connection_exports, run_dbt_command
from transform.errors import BuildFailedError, DbtError, PublishError, TransformError

__all__ = [
    "BuildFailedError",
    "DbtError",
    "PublishError",
    "TransformError",
    "connection_exports",
    "run_build",
    "run_dbt_command",
    "run_docs",
    "run_freshness",
    "run_publish",
    "run_transform",
]
