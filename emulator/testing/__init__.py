"""pipemu.testing: test release logic against a real pipemu daemon, in seconds.

The pytest plugin (plugin.py, registered as the `pipemu` pytest11 entry point) gives the
`pipemu_daemon` fixture: a factory that starts a daemon on a temporary folder with the given
definitions, simulated by default (runner/simulate.py), and returns a `Pipemu` (kit.py) to
commit, approve, reject, wait and assert the article's table with. `import pipemu.testing` is the
same module under the name the README uses. Nothing here but plugin.py imports pytest
(`pipemu demo` uses waiting.py).
"""

from .daemon import Daemon, commit, free_port, git, init_repo
from .kit import Pipemu, start_daemon
from .waiting import action_of, running_actions, settle, stage_of, wait_for

__all__ = ["Daemon", "Pipemu", "action_of", "commit", "free_port", "git", "init_repo", "running_actions", "settle",
           "stage_of", "start_daemon", "wait_for"]
