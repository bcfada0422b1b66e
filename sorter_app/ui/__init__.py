"""The window: the only package that imports PySide6. It calls the same core as the CLI."""
