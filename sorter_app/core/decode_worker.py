"""What a decode worker needs before its first file, imported once by the fork server.

Every worker is forked from the server (decode_pool.py), so whatever the server imported is
already there. Importing `model_input` alone left a worker's first file to import Pillow's
plug-ins and the optional decoders (43 modules, ~23 ms of a 12-MP file's 34): work done again by
every new worker, at the moment a folder's indexing starts.
"""

import numpy.ma  # noqa: F401  (np.median, in the layout check, imports it on first use)
from PIL import Image

from . import formats
from .model_input import prepare_model_input

# The fork server runs this on its start; an exception here other than ImportError would end the
# server, and with it every worker start. Each file then meets whatever failed, with its reason.
try:
    formats.import_optional()
    Image.preinit()
except Exception:  # a head start only
    pass

__all__ = ["prepare_model_input"]
