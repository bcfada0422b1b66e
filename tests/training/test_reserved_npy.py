"""A pixel or feature file must claim its disk space before work starts.

A sparse memory-mapped file on a full disk ends the process with SIGBUS at the first page that
cannot be backed (CI saw "Fatal Python error: Bus error" in the curate decode); reserved up front,
the same condition is an OSError the command line reports.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from training.reserved_npy import reserved_npy


def test_the_file_is_a_readable_npy_with_its_blocks_allocated(tmp_path: Path) -> None:
    path = tmp_path / "pixels.npy"
    mapped = reserved_npy(path, np.uint8, (40, 224, 224, 3))
    assert path.stat().st_blocks * 512 >= mapped.nbytes  # not sparse: every block is claimed
    mapped[7] = 9
    mapped.flush()
    del mapped
    loaded = np.load(path)
    assert loaded.shape == (40, 224, 224, 3) and loaded.dtype == np.uint8
    assert loaded[7].min() == 9 and loaded[6].max() == 0


def test_no_room_is_an_os_error_and_leaves_no_file(tmp_path: Path) -> None:
    # RLIMIT_FSIZE stands in for a full disk: the reservation is refused instead of crashing later
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        from pathlib import Path
        import numpy as np
        from training.reserved_npy import reserved_npy
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
        path = Path({str(tmp_path / "big.npy")!r})
        try:
            reserved_npy(path, np.uint8, (100, 224, 224, 3))
        except OSError as error:
            print("OSError", error.errno, path.exists())
            sys.exit(0)
        print("no error")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "OSError" and done.stdout.split()[2] == "False", done.stdout
