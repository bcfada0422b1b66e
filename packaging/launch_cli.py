"""Entry script of the frozen `sorter` (console): the same `main` as the `sorter` console script."""

import sys

from sorter_app.cli import main

sys.exit(main())
