"""`sorter-train curate`: from labelled images (CSV manifests, folders, WebDataset tars) to leak-free shards.

pipeline.py runs the steps: the inputs (inputs.py, tars.py) are cut into shards (work.py), whose
model stage — decode.py, noise.py, the teacher — runs in a `ShardProcessor` (shard_worker.py) on an
engine (engines.py: in-process, or Ray in ray_engine.py) and leaves resumable results on disk; then
corrupt → noise → teacher (teacher.py) → dedupe (dedupe.py over the partitioned search of cells.py,
reading rows.py) → split (split.py) and its exhaustive audit (audit.py; both searches find pairs
through the bounds of bounded.py) → shards (shards.py, writer.py), each reported with counts and
samples (report.py). command.py is the command-line face.
"""
