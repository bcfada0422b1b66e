"""`sorter-train curate`: from labelled image folders or a CSV manifest to leak-free shards.

pipeline.py runs the steps over one decode pass (decode.py): corrupt → noise (noise.py) →
teacher (teacher.py) → dedupe (dedupe.py) → split (split.py) → shards (shards.py, writer.py),
each reported with counts and samples (report.py). command.py is the command-line face.
"""
