"""One open folder's state and commands, without Qt: what the window's views render.

See session.py. The window adapts it to Qt (ui/); tests drive it with `SyncRunner`.
"""

from .events import Changes, Event
from .jobs import Job, JobRunner, SyncRunner
from .session import ImageFacts, Session, SimilarResult

__all__ = ["Changes", "Event", "ImageFacts", "Job", "JobRunner", "Session", "SimilarResult", "SyncRunner"]
