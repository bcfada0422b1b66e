"""Entry script of the frozen `sorter-gui` (windowed): the same `main` as the `sorter-gui` gui-script."""

import sys

from sorter_app.ui.app import main

sys.exit(main())
