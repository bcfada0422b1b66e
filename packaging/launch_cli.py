"""Entry script of the frozen `sorter` (console): the same `main` as the `sorter` console script."""

import multiprocessing
import sys

# First: in the frozen app a child process (clusters run igraph in one) starts as this very program;
# freeze_support runs the child's work and exits instead of opening a second window or command.
multiprocessing.freeze_support()

from sorter_app.cli import main  # noqa: E402

if __name__ == "__main__":
    # Decoding runs in worker processes (sorter_app.core.decode_pool); in the frozen program they
    # are this executable started again, which must run the worker instead of the command line.
    multiprocessing.freeze_support()
    sys.exit(main())
