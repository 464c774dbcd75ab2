"""Transform: dbt build and test of the warehouse, write-audit-publish, the docs site.

The public entry points, used by the chain (``scheduler``) and the CLI:

- ``run_transform(warehouse, options, sink)``: the chain's transform step;
- ``run_docs(warehouse, sink)``: the dbt docs site the API serves at ``/lineage``;
- ``run_dbt_command(warehouse, args)``: ``moviemetric dbt ARGS`` for analysts;
- ``connection_exports(warehouse)``: the PG* exports to run dbt by hand.
"""

from transform.build import run_docs, run_transform
from transform.dbt import connection_exports, run_dbt_command
from transform.errors import BuildFailedError, DbtError, PublishError, TransformError

__all__ = [
    "BuildFailedError",
    "DbtError",
    "PublishError",
    "TransformError",
    "connection_exports",
    "run_dbt_command",
    "run_docs",
    "run_transform",
]
