"""The session model without a display: open, index, browse, edit groups, undo/redo, move, reopen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sorter_app.core.browse import BrowseFilter
from sorter_app.core.grouping import Group
from sorter_app.core.kinds import AnalysisKind, MoveMode
from sorter_app.core.ratings import REJECTED, UNRATED
from sorter_app.session import Session, SyncRunner
from sorter_app.session.files import Proposal
from sorter_app.session.jobs import Job
from tests import builders

from .conftest import FRAMES, SCENES, MakeSession, Recorder, clusters

CLUSTERS = AnalysisKind.CLUSTERS
DUPLICATES = AnalysisKind.DUPLICATES
MAP = AnalysisKind.MAP
Opened = tuple[Session, SyncRunner, Recorder]


def test_opening_lists_indexes_loads_and_clusters(opened: Opened, photos: Path) -> None:
    session, runner, recorder = opened
    assert runner.ran[:4] == ["recover", "list", "index", "load"]
    assert len(session.items) == SCENES * FRAMES + 1
    assert all(i.content_hash and i.prediction for i in session.items.values())
    assert [p.relpath for p in session.skipped] == ["broken.jpg"]
    assert session.analyses.states[CLUSTERS].status == "done"
    found = [p for _, paths in clusters(session) for p in paths]
    assert sorted(found) == sorted(session.items)  # every image in exactly one group
    assert session.cluster_names["s1_f1.jpg"] in {g.name for g in session.groups.grouping(CLUSTERS).groups}
    assert any(c.folder for c in recorder.changes)


def test_a_new_folder_resets_the_filter_and_the_skipped_files(opened: Opened, tmp_path: Path) -> None:
    session, _, _ = opened
    session.set_filter(BrowseFilter(label="kitchen", text="s1"))
    other = tmp_path / "other"
    builders.write_jpeg(other / "a.jpg", seed=9)
    session.open_folder(other)
    assert session.filter == BrowseFilter() and session.skipped == []
    assert [i.relpath for i in session.visible_items()] == ["a.jpg"]


def test_filters_by_subfolder_and_name(opened: Opened) -> None:
    session, _, _ = opened
    session.set_filter(BrowseFilter(folder="Backup"))
    assert [i.relpath for i in session.visible_items()] == ["Backup/copy_of_s0_f0.jpg"]
    session.set_filter(BrowseFilter(text="F3"))
    assert sorted(i.relpath for i in session.visible_items()) == [f"s{s}_f3.jpg" for s in range(SCENES)]
    assert session.subfolders() == {"": SCENES * FRAMES + 1, "Backup": 1}


def test_rename_and_merge_undo_and_redo(opened: Opened) -> None:
    session, _, recorder = opened
    before = clusters(session)
    session.groups.rename(CLUSTERS, 0, "Bamboo forest")
    assert session.groups.undo_text() == f"Rename “{before[0][0]}”"
    session.groups.merge(CLUSTERS, [0, 1])
    merged = clusters(session)
    assert len(merged) == len(before) - 1 and merged[0][0] == "Bamboo forest"
    assert len(merged[0][1]) == len(before[0][1]) + len(before[1][1])
    session.groups.undo()
    assert clusters(session)[0] == ("Bamboo forest", before[0][1])
    assert recorder.messages[-1].startswith("Undone: Merge of 2 groups")
    session.groups.undo()
    assert clusters(session) == before
    assert not (session.groups.undo_text() or "").startswith("Rename")
    session.groups.redo()
    session.groups.redo()
    assert clusters(session) == merged
    assert session.groups.redo_text() is None


def test_names_keep_choices_and_not_duplicates_outlive_the_session(
    opened: Opened, make_session: MakeSession, photos: Path
) -> None:
    session, _, _ = opened
    session.groups.rename(CLUSTERS, 0, "Bamboo forest")
    members = set(clusters(session)[0][1])
    session.analyses.show(DUPLICATES)
    row, group = backup_group(session)
    assert group.keep != "Backup/copy_of_s0_f0.jpg"  # not the backup copy
    session.groups.set_keep(DUPLICATES, row, "Backup/copy_of_s0_f0.jpg")

    again, _, _ = make_session()
    again.open_folder(photos)
    named = [paths for name, paths in clusters(again) if name == "Bamboo forest"]
    assert named and set(named[0]) == members
    again.analyses.show(DUPLICATES)
    row, group = backup_group(again)
    assert group.keep == "Backup/copy_of_s0_f0.jpg" and group.note.endswith("chosen by you")
    assert group.name == "duplicates of copy_of_s0_f0.jpg"  # named after the copy kept, as it was
    groups = len(again.groups.grouping(DUPLICATES).groups)
    again.groups.dismiss(DUPLICATES, row)

    third, _, _ = make_session()
    third.open_folder(photos)
    third.analyses.show(DUPLICATES)
    assert len(third.groups.grouping(DUPLICATES).groups) == groups - 1
    assert all("Backup/copy_of_s0_f0.jpg" not in g.paths for g in third.groups.grouping(DUPLICATES).groups)


def backup_group(session: Session) -> tuple[int, Group]:
    return next(
        (row, g)
        for row, g in enumerate(session.groups.grouping(DUPLICATES).groups)
        if "Backup/copy_of_s0_f0.jpg" in g.paths
    )


def trash_the_backup_group(session: Session) -> Group:
    """Tick the group holding the backup copy and send its extra copies to the trash."""
    proposals: list[Proposal] = []
    session.files.proposed.connect(proposals.append)
    row, group = backup_group(session)
    session.groups.tick(DUPLICATES, [row], True)
    session.files.propose(DUPLICATES, MoveMode.TRASH, None)
    session.files.apply(proposals[-1].plan)
    return group


def test_after_a_move_groups_keep_names_members_and_edits(opened: Opened, photos: Path) -> None:
    session, _, recorder = opened
    session.groups.rename(CLUSTERS, 0, "Chosen ones")
    session.groups.tick(CLUSTERS, [0], True)
    chosen = clusters(session)[0][1]
    others = clusters(session)[1:]
    proposals: list[Proposal] = []
    session.files.proposed.connect(proposals.append)
    session.files.propose(CLUSTERS, MoveMode.MOVE, photos)
    (proposal,) = proposals
    session.files.apply(proposal.plan)
    assert all((photos / "Chosen ones" / Path(p).name).exists() for p in chosen)
    after = clusters(session)
    assert after[0] == ("Chosen ones", sorted(f"Chosen ones/{Path(p).name}" for p in chosen))
    assert after[1:] == others  # nothing else moved, nothing was computed again
    assert session.groups.undo_text() == f"Move of {len(chosen)} Files"

    session.groups.undo()
    assert recorder.messages[-1] == f"Undo finished: {len(chosen)} files put back"
    assert clusters(session)[0] == ("Chosen ones", chosen)
    session.groups.undo()  # the rename, made before the move, still undoes
    assert clusters(session)[0][0] != "Chosen ones"
    session.groups.redo()
    session.groups.redo()  # the move again
    assert all((photos / "Chosen ones" / Path(p).name).exists() for p in chosen)


def test_undo_of_a_trash_gives_the_groups_back_with_their_trashed_members(
    opened: Opened, photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A newcomer's find: after Undo the files were back, but the duplicate group stayed gone and
    the restored files were in no cluster (grey on the map) until the analyses ran again."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    session, _, recorder = opened
    session.analyses.show(DUPLICATES)
    duplicates_before = [g.paths for g in session.groups.grouping(DUPLICATES).groups]
    clusters_before = clusters(session)
    row, _ = backup_group(session)
    other = next(r for r, g in enumerate(session.groups.grouping(DUPLICATES).groups) if r != row)
    kept_before = session.groups.grouping(DUPLICATES).groups[other].keep
    chosen = next(p for p in session.groups.grouping(DUPLICATES).groups[other].paths if p != kept_before)
    session.groups.set_keep(DUPLICATES, other, chosen)  # an edit made before the trash
    group = trash_the_backup_group(session)
    trashed = [p for p in group.paths if p != group.keep]
    assert trashed and not any((photos / p).exists() for p in trashed)
    assert group.paths not in [g.paths for g in session.groups.grouping(DUPLICATES).groups]
    assert not any(p in paths for _, paths in clusters(session) for p in trashed)

    session.groups.undo()
    assert recorder.messages[-1] == f"Undo finished: {len(trashed)} files put back"
    assert [g.paths for g in session.groups.grouping(DUPLICATES).groups] == duplicates_before
    assert clusters(session) == clusters_before
    # The edit made before the trash still undoes onto every group, the trashed one's included
    # (a re-check's find: the trash had rewritten the edit's groups without it, and it vanished).
    session.groups.undo()
    assert [g.paths for g in session.groups.grouping(DUPLICATES).groups] == duplicates_before
    assert session.groups.grouping(DUPLICATES).groups[other].keep == kept_before
    session.groups.redo()
    assert session.groups.grouping(DUPLICATES).groups[other].keep == chosen
    session.groups.redo()  # trashed again: they leave their groups again
    assert group.paths not in [g.paths for g in session.groups.grouping(DUPLICATES).groups]


def test_trash_keeps_the_keeper_and_reference_folders(
    opened: Opened, photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    session, _, _ = opened
    session.analyses.show(DUPLICATES)
    proposals: list[Proposal] = []
    session.files.proposed.connect(proposals.append)
    row, group = backup_group(session)
    session.groups.tick(DUPLICATES, [row], True)
    session.files.propose(DUPLICATES, MoveMode.TRASH, None)
    assert {m.src.name for m in proposals[-1].plan.moves} == {Path(p).name for p in group.paths} - {
        Path(group.keep or "").name
    }
    assert set(proposals[-1].kept.values()) == {str(photos / (group.keep or ""))}

    session.set_reference_folder(str(photos / "Backup"), True)  # the copies there are the originals
    row, group = backup_group(session)
    assert group.keep == "Backup/copy_of_s0_f0.jpg" and "reference folder" in group.note
    session.groups.tick(DUPLICATES, [row], True)
    session.files.propose(DUPLICATES, MoveMode.TRASH, None)
    assert "copy_of_s0_f0.jpg" not in {m.src.name for m in proposals[-1].plan.moves}
    assert set(proposals[-1].kept.values()) == {str(photos / "Backup" / "copy_of_s0_f0.jpg")}


def test_cancelled_indexing_keeps_unindexed_images_in_view_and_resumes(
    make_session: MakeSession, tmp_path: Path
) -> None:
    # More images than the indexer keeps in flight (2 batches of 32 + its decoders): images already
    # decoded when Cancel comes are kept, so only a folder this large is sure to have some left.
    count = 80
    folder = tmp_path / "big"
    for i in range(count):
        builders.write_jpeg(folder / f"img{i}.jpg", seed=i, size=(64, 48))
    session, runner, _ = make_session()
    runner.cancel_at = 2  # Cancel pressed once two images are done
    session.open_folder(folder)
    assert session.report is not None and session.report.cancelled
    assert session.indexing_incomplete
    assert len(session.items) == count  # listed, though not all indexed
    assert 0 < sum(1 for i in session.items.values() if i.content_hash) < count
    runner.cancel_at = None
    session.resume_indexing()
    assert not session.indexing_incomplete
    assert all(i.content_hash for i in session.items.values())


def test_seed_threshold_is_live_and_similarity_is_on_every_member(opened: Opened) -> None:
    session, _, _ = opened
    session.analyses.add_seeds(["s0_f0.jpg", "s2_f0.jpg"])
    seeds = session.groups.grouping(AnalysisKind.SEED_GROUPS)
    assert [g.paths[0] for g in seeds.groups] == ["s0_f0.jpg", "s2_f0.jpg"]
    assert all(p in g.scores for g in seeds.groups for p in g.paths)
    counts = [session.analyses.seed_count_at(t) for t in (0.0, 0.5, 0.9, 0.999)]
    assert counts == sorted(counts, reverse=True) and counts[0] == SCENES * FRAMES + 1
    session.analyses.set_seed_threshold(0.999)
    strict = session.groups.grouping(AnalysisKind.SEED_GROUPS)
    assert sum(len(g.paths) for g in strict.groups) == counts[-1]


def test_outliers_show_scores_and_a_chosen_number(opened: Opened) -> None:
    session, _, _ = opened
    session.analyses.show(AnalysisKind.OUTLIERS)
    (group,) = session.groups.grouping(AnalysisKind.OUTLIERS).groups
    assert len(group.paths) == 10 and all(0 < group.scores[p] <= 2 for p in group.paths)
    session.analyses.set_outlier_count(4)
    (group,) = session.groups.grouping(AnalysisKind.OUTLIERS).groups
    assert len(group.paths) == 4


def test_a_correction_reaches_the_items_at_once(opened: Opened, photos: Path) -> None:
    session, _, recorder = opened
    session.correct([str(photos / "s1_f2.jpg")], "kitchen")
    item = session.items["s1_f2.jpg"]
    assert item.prediction is not None and item.prediction.answers["room"].corrected
    assert "s1_f2.jpg" in session.cluster_names  # its cluster name survived the reload
    assert recorder.changes[-1].items


def test_a_correction_is_said_and_undone_exactly(opened: Opened, photos: Path) -> None:
    """A newcomer corrected an image and saw nothing change (a label set was shown): the status
    line says what was corrected, and Undo gives each image exactly its earlier corrections."""
    session, _, recorder = opened

    def corrected(path: str) -> dict[str, str | None]:
        prediction = session.items[path].prediction
        assert prediction is not None
        return {h: a.label for h, a in prediction.answers.items() if a.corrected}

    images = [str(photos / "s1_f2.jpg"), str(photos / "s2_f0.jpg")]
    assert not session.any_corrected(images)  # "Clear Correction" is offered only after one
    session.correct(images[:1], "outdoor")
    assert session.any_corrected(images) and not session.any_corrected(images[1:])
    before = {p: corrected(p) for p in ("s1_f2.jpg", "s2_f0.jpg")}
    assert before["s1_f2.jpg"] == {"kind": "photo", "scene": "outdoor"} and before["s2_f0.jpg"] == {}
    session.correct(images, "kitchen")  # a room: its scene becomes indoor, its kind photo
    kitchen = {"kind": "photo", "scene": "indoor", "setting": "home", "room": "kitchen"}
    assert recorder.messages[-1] == "Corrected 2 images as “kitchen”; Undo (Ctrl+Z) takes it back"
    assert corrected("s1_f2.jpg") == kitchen == corrected("s2_f0.jpg")
    assert session.groups.undo_text() == "Correct 2 Images “kitchen”"
    session.groups.undo()
    assert {p: corrected(p) for p in before} == before
    assert recorder.messages[-1] == "Undone: Correct 2 Images “kitchen”"
    session.groups.redo()
    assert corrected("s2_f0.jpg") == kitchen
    session.correct(images[1:], None)
    assert corrected("s2_f0.jpg") == {} and session.groups.undo_text() == "Clear Correction of 1 Image"
    session.groups.undo()
    assert corrected("s2_f0.jpg") == kitchen


def test_a_rating_reaches_every_copy_at_once_is_undone_exactly_and_outlives_the_session(
    opened: Opened, photos: Path, make_session: MakeSession
) -> None:
    session, _, recorder = opened

    def rating(*relpaths: str) -> list[int]:
        return [session.items[p].rating for p in relpaths]

    session.rate([str(photos / "s0_f0.jpg"), str(photos / "s1_f1.jpg")], 4)
    assert rating("s0_f0.jpg", "Backup/copy_of_s0_f0.jpg", "s1_f1.jpg", "s1_f2.jpg") == [4, 4, 4, 0]
    assert recorder.messages[-1] == "Rated 2 images ★★★★; Undo (Ctrl+Z) takes it back"
    assert recorder.changes[-1].items
    session.rate([str(photos / "s1_f1.jpg")], REJECTED)
    assert session.groups.undo_text() == "Reject 1 Image" and rating("s1_f1.jpg") == [-1]
    session.groups.undo()
    assert rating("s0_f0.jpg", "s1_f1.jpg") == [4, 4] and recorder.messages[-1] == "Undone: Reject 1 Image"
    session.groups.undo()
    assert rating("s0_f0.jpg", "Backup/copy_of_s0_f0.jpg", "s1_f1.jpg") == [0, 0, 0]
    session.groups.redo()
    assert rating("s0_f0.jpg", "s1_f1.jpg") == [4, 4]
    session.rate([str(photos / "s0_f0.jpg")], UNRATED)
    assert session.groups.undo_text() == "Clear Rating of 1 Image"
    session.rate([str(photos / "broken.jpg"), str(photos / "nowhere.jpg")], 5)  # nothing to rate: no step
    assert session.groups.undo_text() == "Clear Rating of 1 Image"

    again, _, said = make_session()  # reopening the app: the rating is in the user's store
    again.open_folder(photos)
    assert not said.errors
    assert [again.items[p].rating for p in ("s0_f0.jpg", "s1_f1.jpg")] == [0, 4]


def test_rename_a_file_and_undo(opened: Opened, photos: Path) -> None:
    session, _, recorder = opened
    session.groups.rename(CLUSTERS, 0, "Named")
    session.files.rename_file(str(photos / "s2_f5.jpg"), "sunset.jpg")
    assert (photos / "sunset.jpg").exists() and not (photos / "s2_f5.jpg").exists()
    assert "sunset.jpg" in session.items and "s2_f5.jpg" not in session.items
    assert any("sunset.jpg" in paths for _, paths in clusters(session))
    session.groups.undo()
    assert (photos / "s2_f5.jpg").exists() and not (photos / "sunset.jpg").exists()
    session.files.rename_file(str(photos / "s2_f4.jpg"), "s2_f3.jpg")  # taken: refused
    assert (photos / "s2_f4.jpg").exists()
    session.files.rename_file(str(photos / "s2_f4.jpg"), "a\x00b.jpg")  # refused before any journal
    assert recorder.errors[-1][0] == "Rename" and "not a usable file name" in recorder.errors[-1][1]
    session.files.rename_file(str(photos / "s2_f4.jpg"), "Dawn.JPG")  # the extension's case may change
    assert (photos / "Dawn.JPG").exists() and not (photos / "s2_f4.jpg").exists()


def test_look_alikes_are_shown_apart_and_never_trashed(
    make_session: MakeSession, datasets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Different cloudy skies the embedding puts very close: a "similar" group after the duplicate
    groups, with no copy to keep; ticking every group and proposing the trash plans only the extra
    byte copy."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    folder = tmp_path / "skies"
    skies = builders.copy_look_alike_skies(datasets, folder)
    (folder / "copy.jpg").write_bytes((folder / skies[0]).read_bytes())
    session, _, recorder = make_session()
    session.open_folder(folder)
    session.analyses.show(DUPLICATES)
    assert not recorder.errors
    groups = session.groups.grouping(DUPLICATES).groups
    assert [(g.tier, g.paths) for g in groups] == [("exact", ["copy.jpg", skies[0]]), ("similar", skies[1:])]
    alike = groups[1]
    assert alike.keep is None and "not the same picture" in alike.note
    assert (
        "1 group of duplicates (2 images); 1 group of look-alikes" in session.analyses.states[DUPLICATES].text
    )

    proposals: list[Proposal] = []
    session.files.proposed.connect(proposals.append)
    session.groups.tick(DUPLICATES, [0, 1], True)
    session.files.propose(DUPLICATES, MoveMode.TRASH, None)
    (proposal,) = proposals
    kept = groups[0].keep
    assert [m.src for m in proposal.plan.moves] == [folder / p for p in groups[0].paths if p != kept]


class HeldRunner:
    """Jobs wait until the test lets one run: analyses asked for while another is under way."""

    def __init__(self, inner: SyncRunner) -> None:
        self.inner = inner
        self.held: list[Job[Any]] = []

    def run(self, job: Job[Any]) -> None:
        self.cancel(job.slot)  # a new job replaces the one in its slot
        self.held.append(job)

    def cancel(self, slot: str) -> None:
        self.held = [j for j in self.held if j.slot != slot]

    def is_running(self, slot: str) -> bool:
        return any(j.slot == slot for j in self.held)

    def finish(self, slot: str) -> None:
        job = next(j for j in self.held if j.slot == slot)
        self.held.remove(job)
        self.inner.run(job)


def test_analyses_run_one_at_a_time_in_the_order_asked(opened: Opened) -> None:
    """Clusters and the map at once shared the window's two cores and GIL: the map now waits."""
    session, runner, _ = opened
    held = HeldRunner(runner)
    session.runner = held
    analyses = session.analyses
    analyses.set_granularity("fine")
    analyses.compute(MAP)
    analyses.compute(DUPLICATES)
    assert [j.slot for j in held.held] == [CLUSTERS.value]
    assert analyses.states[MAP].status == "running" and "after clusters" in analyses.states[MAP].text
    analyses.set_granularity("coarse")  # the running one asked for again: replaced, nothing stuck
    assert [j.slot for j in held.held] == [CLUSTERS.value]
    held.finish(CLUSTERS.value)
    assert analyses.states[CLUSTERS].status == "done"
    assert [j.slot for j in held.held] == [MAP.value]
    held.finish(MAP.value)
    assert analyses.states[MAP].status == "done" and analyses.map_points is not None
    held.finish(DUPLICATES.value)
    assert analyses.states[DUPLICATES].status == "done" and not held.held and not analyses.waiting
    analyses.compute(MAP)
    analyses.compute(CLUSTERS)
    assert analyses.waiting == [CLUSTERS]
    cancelled = held.held.pop()  # the user cancels the map: the clusters waiting for it start
    assert cancelled.slot == MAP.value and cancelled.stopped is not None
    cancelled.stopped()
    assert analyses.states[MAP].status == "cancelled" and not analyses.waiting
    assert [j.slot for j in held.held] == [CLUSTERS.value]


def test_the_analysis_queue_never_sticks_nor_runs_two(opened: Opened, photos: Path) -> None:
    """Seeds cleared while their groups wait; a count changed while outliers run; a view that
    fails on a result: the queue goes on, one analysis at a time (a review of the queue found each)."""
    session, runner, _ = opened
    held = HeldRunner(runner)
    session.runner = held
    analyses = session.analyses
    analyses.set_granularity("fine")
    analyses.add_seeds(["s0_f0.jpg"])
    analyses.compute(MAP)
    assert analyses.waiting == [AnalysisKind.SEED_GROUPS, MAP]
    analyses.clear_seeds()  # nothing to compute any more: out of the queue, not stuck
    assert analyses.states[AnalysisKind.SEED_GROUPS].status == "done" and analyses.waiting == [MAP]
    held.finish(CLUSTERS.value)
    assert [j.slot for j in held.held] == [MAP.value]
    held.finish(MAP.value)

    analyses.compute(AnalysisKind.OUTLIERS)
    analyses.set_outlier_count(3)  # swaps in a cut of the last ranking while the new one runs
    analyses.compute(DUPLICATES)
    assert [j.slot for j in held.held] == [AnalysisKind.OUTLIERS.value] and analyses.waiting == [DUPLICATES]

    def broken(kind: AnalysisKind, grouping: object) -> None:
        raise RuntimeError("a view failed on the result")

    real_set = analyses._set
    analyses._set = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        held.finish(AnalysisKind.OUTLIERS.value)
    analyses._set = real_set  # type: ignore[method-assign]
    assert [j.slot for j in held.held] == [DUPLICATES.value]  # the next one started all the same


def test_seeds_follow_their_files_and_let_go_of_one_trashed(
    opened: Opened, photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A seed left pointing at a trashed file made every later seed group fail: "seed not in the
    index" (a monkey test's find)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    session, _, recorder = opened
    analyses = session.analyses
    analyses.add_seeds(["s0_f0.jpg", "s1_f0.jpg"])
    session.files.trash_files([str(photos / "s0_f0.jpg")])
    assert analyses.seeds == ["s1_f0.jpg"]
    session.files.rename_file(str(photos / "s1_f0.jpg"), "dawn.jpg")
    assert analyses.seeds == ["dawn.jpg"]
    analyses.add_seeds(["s2_f0.jpg"])
    assert analyses.states[AnalysisKind.SEED_GROUPS].status == "done" and recorder.errors == []
    assert [g.paths[0] for g in session.groups.grouping(AnalysisKind.SEED_GROUPS).groups] == [
        "dawn.jpg",
        "s2_f0.jpg",
    ]


def test_a_renamed_cluster_found_again_keeps_what_it_was_found_as(opened: Opened) -> None:
    """The window tells a renamed group from the name it was found under ("found as …"), and
    forgets a name only when the user clears it: the name must come from the user's store beside
    the computed one, not replace it (the CLI twin's clusters carry the user's names)."""
    session, _, _ = opened
    group = session.groups.grouping(CLUSTERS).groups[0]
    session.groups.rename(CLUSTERS, 0, "Named")
    session.analyses.compute(CLUSTERS)
    (again,) = [g for g in session.groups.grouping(CLUSTERS).groups if g.name == "Named"]
    assert again.renamed and again.computed_name == group.computed_name


def test_undo_of_a_trash_after_find_again_keeps_what_was_found_again(
    opened: Opened, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-check's find: the trash's undo gave back the groups from before "Find again", and a
    keep choice made before it (stored, applied by the new search) showed undone."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    session, _, _ = opened
    session.analyses.show(DUPLICATES)
    trash_the_backup_group(session)
    other = 0
    chosen = next(
        p
        for p in session.groups.grouping(DUPLICATES).groups[other].paths
        if p != session.groups.grouping(DUPLICATES).groups[other].keep
    )
    session.groups.set_keep(DUPLICATES, other, chosen)
    session.analyses.recompute_duplicates()  # "Find again"
    assert any(g.keep == chosen for g in session.groups.grouping(DUPLICATES).groups)
    session.groups.undo()  # the trash: the keep step went with "Find again"
    assert any(g.keep == chosen for g in session.groups.grouping(DUPLICATES).groups)


@pytest.mark.parametrize("change", ["rating", "correction"])
def test_ctrl_z_held_down_undoes_a_step_once(opened: Opened, photos: Path, change: str) -> None:
    """A review: two Ctrl+Z while a rating's undo was still being written queued two undos of the
    same step; the redo list held it twice and the older step stayed on the undo list. Ratings,
    corrections and labels share the guard (serial_writes.py)."""
    session, runner, _ = opened
    session.groups.rename(CLUSTERS, 0, "Named")
    image = str(photos / "s0_f0.jpg")
    if change == "rating":
        session.rate([image], 3)
    else:
        session.correct([image], "kitchen")
    step = session.groups.undo_text()
    held = HeldRunner(runner)
    session.runner = held
    session.groups.undo()
    session.groups.undo()  # before the first is written: it waits for it
    assert len(held.held) == 1
    held.finish(held.held[0].slot)
    session.runner = runner
    item = session.items["s0_f0.jpg"]
    corrected = item.prediction is not None and item.prediction.model_answers
    assert (item.rating == 0) if change == "rating" else not corrected
    renamed = session.groups.undo_text()
    assert renamed is not None and renamed.startswith("Rename")  # the older step, once
    assert session.groups.redo_text() == step
    session.groups.redo()
    assert session.groups.redo_text() is None
