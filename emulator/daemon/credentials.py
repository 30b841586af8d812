"""The daemon's own credentials: made once per state folder, given to every container it starts.

The API listens on the Docker bridge so that action containers reach it; any other container on
the machine reaches that address too. What tells ours apart is a secret only ours are given:
these keys, in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, with which their SDKs sign (SigV4) as they
would on AWS. They are kept in `<state-dir>/credentials` (0600), so that containers a restarted
daemon re-attaches to, and the services stacks run, keep working with the keys they were given.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

FILE = "credentials"
# AWS access key ids are 20 upper-case letters and digits; ours say whose they are.
_KEY_PREFIX = "AKIAPIPEMU"
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def _new() -> dict[str, str]:
    key = _KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(20 - len(_KEY_PREFIX)))
    return {"AccessKeyId": key, "SecretAccessKey": secrets.token_urlsafe(30)}  # 40 characters, as AWS's


def own_credentials(state_dir: Path) -> tuple[str, str]:
    """(access key id, secret access key) of this state folder's daemon, made on first use."""
    path = Path(state_dir) / FILE
    try:
        # O_EXCL: two starts racing (the state lock is taken later) never overwrite each other.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            json.dump(_new(), handle)
            handle.flush()
            os.fsync(handle.fileno())
    os.chmod(path, 0o600)  # a copied folder may have lost its modes
    try:
        data = json.loads(path.read_text())
        return data["AccessKeyId"], data["SecretAccessKey"]
    except (ValueError, KeyError, TypeError):
        # Cut short by a crash between its creation and its write: no container has these yet.
        data = _new()
        temporary = path.with_name(FILE + ".new")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        return data["AccessKeyId"], data["SecretAccessKey"]
