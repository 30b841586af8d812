"""pipemu.testing: the testing kit for release logic (emulator/testing/; its doc tells the fixtures)."""

from emulator.testing import *  # noqa: F401,F403
from emulator.testing import __all__  # noqa: F401
from emulator.testing.plugin import pipemu_daemon  # noqa: F401  (for `pytest_plugins = ["pipemu.testing"]`)
