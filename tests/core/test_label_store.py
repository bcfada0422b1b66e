"""Label sets in user.sqlite: names, labels, which image has which, and what a change takes with it."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sorter_app.core.catalog import Catalog
from sorter_app.core.errors import SorterError
from sorter_app.core.label_store import LabelStore, check_name
from sorter_app.core.user_store import USER_SCHEMA_STEPS, USER_SCHEMA_VERSION


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        yield catalog


@pytest.fixture
def store(catalog: Catalog) -> LabelStore:
    return LabelStore(catalog)


def test_sets_are_found_regardless_of_case_and_names_are_checked(store: LabelStore) -> None:
    made = store.create(" Style ", ["baroque", "Realism", "realism"])
    assert (made.name, made.labels) == ("Style", ("baroque", "Realism"))
    assert store.get("STYLE") == made and made.label("REALISM") == "Realism"
    with pytest.raises(SorterError, match="exists already"):
        store.create("style")
    for bad, what, reason in [
        ("", "set", "cannot be empty"),
        ("a\tb", "label", "control characters"),
        ("Unknown", "label", "what a prediction says"),
        ("a:b", "set", "cannot hold ':'"),
        ("x" * 101, "label", "at most 100"),
    ]:
        with pytest.raises(SorterError, match=reason):
            check_name(bad, what)
    with pytest.raises(SorterError, match="no label set named 'period'"):
        store.get("period")


def test_a_refused_label_name_leaves_no_set_behind(store: LabelStore) -> None:
    # bench_ui once asked for a set whose labels included "" (a source without categories)
    with pytest.raises(SorterError, match="cannot be empty"):
        store.create("bench", ["kitchen", ""])
    assert store.find("bench") is None
    assert store.create("bench", ["kitchen"]).labels == ("kitchen",)


def test_images_get_one_label_per_set_and_keep_it_through_a_rename(store: LabelStore) -> None:
    store.create("style", ["baroque"])
    store.create("period", ["old"])
    assert store.label_images("style", "baroque", ["h1", "h2", "h1"]) == 2
    assert store.label_images("style", "baroque", ["h1"]) == 0  # unchanged
    assert store.label_images("style", "realism", ["h2"]) == 1  # new label, and a relabel
    store.label_images("period", "old", ["h1"])
    style = store.rename_label("style", "BAROQUE", "Baroque")
    assert style.labels == ("Baroque", "realism")
    assert store.image_labels(style) == {"h1": "Baroque", "h2": "realism"}
    assert store.image_labels(style, ["h2", "h3"]) == {"h2": "realism"}
    assert store.counts(style) == {"Baroque": 1, "realism": 1}
    assert store.image_labels(store.get("period")) == {"h1": "old"}
    with pytest.raises(SorterError, match="has a label 'realism' already"):
        store.rename_label("style", "baroque", "Realism")


def test_removing_a_label_or_a_set_takes_its_images_labels_and_nothing_else(store: LabelStore) -> None:
    store.create("style", ["baroque", "realism"])
    store.create("period", ["old"])
    store.label_images("style", "baroque", ["h1", "h2"])
    store.label_images("style", "realism", ["h3"])
    store.label_images("period", "old", ["h1"])
    assert store.remove_label("style", "baroque") == 2
    assert store.image_labels(store.get("style")) == {"h3": "realism"}
    assert store.unlabel_images("style", ["h3", "h9"]) == 1
    assert store.delete("period") == 1
    assert [s.name for s in store.sets()] == ["style"]
    assert store.image_labels(store.get("style")) == {}
    renamed = store.rename("style", "movement")
    assert renamed.labels == ("realism",) and store.find("style") is None


def test_training_reads_only_images_with_a_vector_of_the_model(catalog: Catalog, store: LabelStore) -> None:
    store.create("style", ["a", "b"])
    store.label_images("style", "a", ["h2", "h1"])
    store.label_images("style", "b", ["h3"])
    with catalog.transaction():
        catalog.upsert_vectors("m1", [("h1", np.ones(3, np.float32)), ("h3", np.ones(3, np.float32))])
        catalog.upsert_vectors("m2", [("h2", np.ones(3, np.float32))])
    assert store.labelled_with_vectors(store.get("style"), "m1") == [("h1", "a"), ("h3", "b")]


def _user_file(path: Path, steps: list[int], version: int, rows: list[str]) -> None:
    """A user file as some earlier version (or a broken one) left it: these steps' tables, rows."""
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        for step in steps:
            for statement in USER_SCHEMA_STEPS[step]:
                db.execute(statement.replace("user.", ""))
        for row in rows:
            db.execute(row)
        db.execute(f"PRAGMA user_version = {version}")


def test_an_older_user_file_gains_the_label_tables_and_keeps_its_corrections(tmp_path: Path) -> None:
    correction = "INSERT INTO corrections VALUES ('h1', 'room', 'kitchen', 0)"
    _user_file(tmp_path / "user.sqlite", [0], 1, [correction])
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        assert catalog.corrections(["h1"]) == {"h1": {"room": "kitchen"}}
        LabelStore(catalog).create("style", ["a"])
    with sqlite3.connect(tmp_path / "user.sqlite") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == USER_SCHEMA_VERSION >= 2  # later steps too


def test_a_user_file_whose_tables_do_not_match_its_version_gets_what_is_missing(tmp_path: Path) -> None:
    """Seen on a developer's machine: version 2 on the file, step 3's tables in it, step 2's not.
    Opening it ended every job with "table keep_choices already exists"; now the label tables are
    added, and the choices and corrections already there are kept."""
    rows = [
        "INSERT INTO corrections VALUES ('h1', 'room', 'kitchen', 0)",
        "INSERT INTO keep_choices VALUES ('h2', 'best.jpg', 0)",
    ]
    _user_file(tmp_path / "user.sqlite", [0, 2], 2, rows)
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        assert catalog.corrections(["h1"]) == {"h1": {"room": "kitchen"}}
        LabelStore(catalog).create("style", ["a", "b"])
    with Catalog(tmp_path / "catalog.sqlite") as catalog:  # and it opens again without a change
        assert [s.name for s in LabelStore(catalog).sets()] == ["style"]
    with sqlite3.connect(tmp_path / "user.sqlite") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == USER_SCHEMA_VERSION
        assert db.execute("SELECT name FROM keep_choices").fetchall() == [("best.jpg",)]
