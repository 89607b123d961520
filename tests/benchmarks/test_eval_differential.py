"""``benchmarks/eval_differential.py`` end to end, through the real engine, on ``tiny_lfw``.

The folder's six people are those of insightface's sample photo under made-up names; the
groups "x" and "y" below are arbitrary splits of them, not demographic labels. The thresholds
are calibrated on the same folder by ``benchmarks.calibrate`` at FMR 0.2, the only rate its 191
impostor pairs can support with groups of a few people (3 / 0.2 = 15 comparisons a group).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.calibrate import calibrate
from benchmarks.eval_differential import Stratum, evaluate
from benchmarks.group_labels import DifferentialRefused, RefusalCode
from benchmarks.scores import Corpus
from optinface.engine.pipeline import FacePipeline
from optinface.engine.settings import EngineSettings
from tests.support.tiny_lfw import NAMES

ROOT = Path(__file__).resolve().parents[2]
FMR = 0.2
X = ["Person_A", "Person_B"]


@pytest.fixture(scope="module")
def calibration(
    pipeline: FacePipeline, tiny_lfw: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    """The folder's own thresholds file, and calibrate's report."""
    path = tmp_path_factory.mktemp("thresholds") / "thresholds.toml"
    report = calibrate(pipeline, tiny_lfw, thresholds_path=path, fmrs=(FMR,), use_cache=False,
                       dataset_name="tiny test folder")
    return path, report


def labels(path: Path, x: list[str]) -> Path:
    """A CSV putting ``x`` in group "x" and the other people in group "y"."""
    path.write_text("identity,group\n" + "".join(
        f"{name},{'x' if name in x else 'y'}\n" for name in NAMES))
    return path


def run(pipeline: FacePipeline, tiny_lfw: Path, thresholds: Path, out: Path,
        **options: Any) -> dict[str, Any]:
    return evaluate(pipeline, tiny_lfw, out=out, name="run", settings=EngineSettings(),
                    thresholds_path=thresholds, use_cache=False, **options)


def test_labelled_groups_are_counted_pair_by_pair_through_the_real_engine(
    pipeline: FacePipeline, tiny_lfw: Path, calibration: tuple[Path, dict[str, Any]],
    tmp_path: Path, tiny_corpus: Corpus,
) -> None:
    thresholds, calibrated = calibration
    report = run(pipeline, tiny_lfw, thresholds, tmp_path,
                 groups_file=labels(tmp_path / "groups.csv", X))
    assert json.loads((tmp_path / "run.json").read_text()) == json.loads(json.dumps(report))
    assert (tmp_path / "run.png").stat().st_size > 0
    (grouping,) = report["groupings"]
    facts = {group["label"]: group for group in grouping["groups"]}
    assert (facts["x"]["images"], facts["y"]["images"]) == (10, 12)
    assert (facts["x"]["identities"], facts["y"]["identities"]) == (2, 4)
    assert facts["x"]["largest_identity_share_of_genuine"] == 0.5  # A and B: 10 pairs each
    (point,) = grouping["points"]
    threshold = calibrated["points"][0]["threshold"]
    assert point["threshold"] == threshold and point["minimum_comparisons"]["fmr"] == 15

    # By hand: x holds 10 images, so C(10, 2) = 45 pairs, of which 2 x C(5, 2) = 20 same-person;
    # y holds 12 (C, D with five, E, F with one): 66 pairs, 20 same-person; across, 10 x 12.
    x, y = point["groups"]["x"], point["groups"]["y"]
    assert x["fnmr"]["ci95_by_identity"] is not None and x["fmr"]["ci95_by_identity"] is not None
    assert (x["fmr"]["comparisons"], x["fnmr"]["comparisons"]) == (25, 20)
    assert (y["fmr"]["comparisons"], y["fnmr"]["comparisons"]) == (46, 20)
    (across,) = point["across_groups"]
    assert (across["fmr"]["comparisons"], across["fnmr"]["comparisons"]) == (120, 0)
    assert across["fmr"]["ci95_by_identity"] is None
    # x is two people: any false match in it is between A and B.
    assert x["false_match_person_pairs"] == (1 if x["fmr"]["errors"] else 0)

    # The errors, recounted here from the embeddings with plain numpy.
    corpus = tiny_corpus
    scores = corpus.vectors @ corpus.vectors.T
    in_x = np.isin(np.asarray(corpus.names)[corpus.identities], X)
    pair = np.triu(np.ones_like(scores, dtype=bool), k=1)
    same = corpus.identities[:, None] == corpus.identities[None, :]
    matched = scores >= np.float32(threshold)
    for group, member in (("x", in_x), ("y", ~in_x)):
        both = pair & member[:, None] & member[None, :]
        assert point["groups"][group]["fmr"]["errors"] == int((both & ~same & matched).sum())
        assert point["groups"][group]["fnmr"]["errors"] == int((both & same & ~matched).sum())
    # Every pair is in one cell, so the pooled FMR is calibration's own, recomputed.
    pooled = point["all_groups"]["fmr"]
    assert pooled["comparisons"] == 191
    assert pooled["errors"] / 191 == pytest.approx(calibrated["points"][0]["achieved_fmr"])
    assert report["labelled_identities"] == 6 and report["images_without_face"] == 0


def test_capture_strata_put_every_face_in_one_bin_by_the_detectors_own_measure(
    pipeline: FacePipeline, tiny_lfw: Path, calibration: tuple[Path, dict[str, Any]],
    tmp_path: Path, tiny_corpus: Corpus,
) -> None:
    report = run(pipeline, tiny_lfw, calibration[0], tmp_path, strata=list(Stratum), bins=2)
    assert [grouping["name"] for grouping in report["groupings"]] == ["inter-eye", "det-score"]
    for grouping in report["groupings"]:
        low, high = grouping["groups"]
        assert low["images"] + high["images"] == 22
        assert low["range"][1] <= high["range"][0]  # the bins do not overlap
        (point,) = grouping["points"]
        cells = [*point["groups"].values(), *point["across_groups"]]
        assert sum(cell["fmr"]["comparisons"] for cell in cells) == 191
        assert sum(cell["fnmr"]["comparisons"] for cell in cells) == 40
    corpus = tiny_corpus
    # Each image's measures are those of the face the detector finds in it (one a portrait).
    for position in (0, 7, 21):
        (face,) = pipeline.detector.detect(pipeline.decode(corpus.paths[position].read_bytes()))
        assert corpus.inter_eye_px[position] == pytest.approx(face.inter_eye_distance)
        assert corpus.det_scores[position] == pytest.approx(face.score)
    # The "smaller" variant is the portrait at 3/4 of its size: its eyes are closer, in pixels.
    where = corpus.index_of()
    for name in NAMES[:4]:
        portrait, smaller = (where[tiny_lfw / name / f"{name}_{n:04d}.jpg"] for n in (1, 5))
        assert corpus.inter_eye_px[smaller] == pytest.approx(
            0.75 * corpus.inter_eye_px[portrait], rel=0.1)


def test_groups_too_small_to_compare_are_refused_and_nothing_is_written(
    pipeline: FacePipeline, tiny_lfw: Path, calibration: tuple[Path, dict[str, Any]],
    tmp_path: Path,
) -> None:
    # x = Person_A alone: no impostor pair, 10 genuine (< 15); only y could be stated.
    out = tmp_path / "out"
    with pytest.raises(DifferentialRefused) as caught:
        run(pipeline, tiny_lfw, calibration[0], out,
            groups_file=labels(tmp_path / "groups.csv", ["Person_A"]))
    assert caught.value.code is RefusalCode.TOO_FEW_COMPARISONS
    assert "15 impostor or 15 genuine comparisons a group" in caught.value.message
    assert not out.exists()


def test_a_missing_data_set_is_refused_before_anything_is_embedded(
    pipeline: FacePipeline, tmp_path: Path
) -> None:
    with pytest.raises(DifferentialRefused) as caught:
        run(pipeline, tmp_path / "nowhere", tmp_path / "thresholds.toml", tmp_path / "out")
    assert caught.value.code is RefusalCode.DATASET_MISSING


def test_the_script_ends_bad_labels_in_one_line_with_its_code(
    tiny_lfw: Path, calibration: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    groups = tmp_path / "groups.csv"
    groups.write_text("identity,group\nPerson_A,x\nSomeone_Else,y\n")
    finished = subprocess.run(
        [sys.executable, "-m", "benchmarks.eval_differential", "--lfw", str(tiny_lfw),
         "--groups", str(groups), "--thresholds", str(calibration[0]), "--no-cache",
         "--out", str(tmp_path / "out")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=os.environ | {"COLUMNS": "200"},
    )
    assert finished.returncode == 1
    assert finished.stderr.strip().splitlines()[-1] == (
        "refused: groups_unknown_identity: line 3: the identity is not a folder of the data set")
    assert "Traceback" not in finished.stderr and not (tmp_path / "out").exists()
