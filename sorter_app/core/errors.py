"""Exceptions the core raises on purpose, each carrying a one-line reason fit for a user."""


class SorterError(Exception):
    """A failure the user can act on; the CLI prints it as one line and exits 1."""


class ImageError(SorterError):
    """One file could not be used as an image; the run goes on without it."""


class ModelError(SorterError):
    """The bundled model or its sidecar is missing, corrupt or inconsistent."""


class CancelledError(SorterError):
    """Raised by long work when its `cancelled()` callable says stop; work done so far is kept."""
