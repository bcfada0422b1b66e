"""Real permission errors in tests that run as root.

Root ignores file modes, so `chmod 0o555` alone makes nothing read-only for it. A child process
that drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH keeps its uid but obeys file permissions like
a user: pass `without_root_privileges` as `preexec_fn` to subprocess.
"""

from __future__ import annotations

import ctypes
import os


def without_root_privileges() -> None:
    """Runs in the child before exec: root keeps its uid but obeys file permissions, like a user."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")
