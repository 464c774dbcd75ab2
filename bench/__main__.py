"""Run every benchmark in turn: `python -m bench` (see bench/README.md)."""

from bench import api_load, build, load

for module in (load, build, api_load):
    module.main()
