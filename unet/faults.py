"""Fault injection for tests: the process signals itself at a named point of its work.

`UNET_FAULT=<action>:<point>:<detail>` makes `point(name, value)` send the process a signal
when `name` is `<point>` and `value` is `<detail>` (a path matches by its last parts, so
`last.keras` or `run/last.keras`). Actions: `kill` (SIGKILL), `stop` (SIGSTOP, to hold a
process at that point), `interrupt` (SIGINT, as Ctrl-C), `terminate` (SIGTERM, as `timeout`
or `docker stop`) and `nospace` (raises `OSError` ENOSPC there, as a full disk). Points:

- `in_atomic_write:<path>`: the partial file is written, not yet renamed (`files.atomic_path`);
- `after_atomic_write:<path>`: the file is in place;
- `after_history:<n>`: epoch `n` (from 1) is in `history.csv`, its checkpoints not yet saved;
- `after_epoch:<n>`: epoch `n` is in `history.csv` and `last.keras` (and `best.keras`);
- `in_epoch:<n>`: the first training batch of epoch `n` is done;
- `submission_rows:<n>`: the partial submission holds `n` rows, flushed to disk.

Unset (always, outside tests) it costs one environment lookup per point.
"""

from __future__ import annotations

import errno
import os
import signal
from pathlib import PurePath

ENV = "UNET_FAULT"
ACTIONS = {"kill": signal.SIGKILL, "stop": signal.SIGSTOP, "interrupt": signal.SIGINT,
           "terminate": signal.SIGTERM}


def point(name: str, value) -> None:
    """Signals this process (or raises, for `nospace`) if `UNET_FAULT` names this point and
    value; else does nothing.

    Args:
        name: The point, e.g. `"after_epoch"`.
        value: Where the process is at it: an epoch number, a row count, a path.
    """
    spec = os.environ.get(ENV)
    if not spec:
        return
    action, _, rest = spec.partition(":")
    wanted, _, detail = rest.partition(":")
    if wanted != name or not _matches(value, detail):
        return
    if action == "nospace":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(value))
    if action not in ACTIONS:
        raise ValueError(f"{ENV}: action must be one of {sorted([*ACTIONS, 'nospace'])}; "
                         f"received {action!r}.")
    os.kill(os.getpid(), ACTIONS[action])


def _matches(value, detail: str) -> bool:
    if isinstance(value, os.PathLike):
        parts = PurePath(detail).parts
        return bool(parts) and PurePath(value).parts[-len(parts):] == parts
    return str(value) == detail
