"""The app's engine: plain Python, numpy, Pillow, onnxruntime, Annoy and SQLite.

Nothing here imports Qt or torch, so the CLI, the window and tests share one implementation
(a test checks this in a fresh interpreter).
"""
