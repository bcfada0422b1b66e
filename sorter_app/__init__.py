"""Image Sorter: sort a folder of photos by what is in them."""

import os

# onnxruntime's Linux wheel (1.31) keeps a telemetry store at import: a device id and queued usage
# events naming the OS, CPU and memory, in ~/.cache/Microsoft/DeveloperTools/.onnxruntime. The app
# writes nothing outside the folders it is given and its data folder, so this is set before any of
# its modules can load onnxruntime ("1" is what the library reads as off; its
# `disable_telemetry_events()` does not stop the store). A hostile-corpus round found it (stop 36).
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

__version__ = "0.1.0"
