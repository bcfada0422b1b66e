"""Failures `sorter-train` reports as one line and exit status 1, instead of a traceback."""


class TrainingError(Exception):
    """Something a user can fix: a missing photo, a failed check, an unwritable folder."""
