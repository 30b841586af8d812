"""The article's scenario for the tests: the project's own data and reader (emulator/demo)."""

from emulator.demo.scenario import SCENARIO, Step, cell, expected_stage_cells, load, parse_step  # noqa: F401
