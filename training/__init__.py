"""`sorter-train`: builds, checks and exports the models the app bundles.

This package may import `sorter_app.core` (so preprocessing is defined once, in the sidecar the app
reads); the app never imports this package, torch or torchvision.
"""

import sorter_app  # noqa: F401  (first: it switches off onnxruntime's telemetry store)
