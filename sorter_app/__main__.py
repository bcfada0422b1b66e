"""`python -m sorter_app [FOLDER]` opens the window, like `sorter-gui`."""

import sys

from sorter_app.ui.app import main

sys.exit(main())
