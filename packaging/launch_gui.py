"""Entry script of the frozen `sorter-gui` (windowed): the same `main` as the `sorter-gui` gui-script."""

import multiprocessing
import sys

# First: in the frozen app a child process (clusters run igraph in one) starts as this very program;
# freeze_support runs the child's work and exits instead of opening a second window or command.
multiprocessing.freeze_support()

from sorter_app.ui.app import main  # noqa: E402

sys.exit(main())
