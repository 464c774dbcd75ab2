"""Run every benchmark in turn: `python -m bench` (see bench/README.md)."""

from bench import api_load, build, first_build, load

for module in (load, build, first_build, api_load):
    module.main()
