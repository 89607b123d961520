"""The LFW harness runs end to end without LFW, on a tiny LFW-shaped folder
(``tiny_lfw``: :mod:`tests.support.tiny_lfw`)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.calibrate import calibrate
from benchmarks.eval_lfw import evaluate, identification, verification_official
from benchmarks.scores import Corpus, all_pair_scores
from optinface.engine.pipeline import FacePipeline
from optinface.engine.settings import EngineSettings
from optinface.engine.thresholds import load_thresholds, threshold_for


def test_easy_pairs_are_verified_and_every_pair_is_scored(
    tiny_corpus: Corpus, tiny_lfw: Path
) -> None:
    corpus = tiny_corpus
    assert (len(corpus.paths), corpus.failures) == (22, 0)

    official, _ = verification_official(corpus, tiny_lfw)
    assert official["pairs"] == 12
    assert official["pairs_with_failure"] == 0
    assert official["kfold"]["mean"] >= 5 / 6
    assert official["eer"]["rate"] <= 0.2

    scores = all_pair_scores(corpus)
    # 4 people x C(5, 2) same-person pairs; C(22, 2) pairs in all.
    assert (scores.genuine.size, scores.impostor.size) == (40, 231 - 40)
    assert scores.genuine_failed == scores.impostor_failed == 0
    assert scores.genuine.mean() > scores.impostor.mean() + 0.3


def test_identification_finds_the_enrolled_people_exactly_and_with_the_index(
    tiny_corpus: Corpus,
) -> None:
    corpus = tiny_corpus
    report, cmc = identification(corpus, settings=EngineSettings(), k=5)
    assert (report["enrolled_people"], report["mated_probes"], report["distractors"]) == (4, 16, 2)
    assert report["closed_set_gallery"] == 6
    assert report["exact"]["rank_1"] >= 0.9
    assert report["hnsw"]["rank_1"] == report["exact"]["rank_1"]
    assert report["difference_hnsw_minus_exact"]["probes_with_different_rank_1_identity"] == 0
    assert cmc["exact"][-1] == 1.0
    # Two non-mated searches cannot support FPIR 1e-2: reported, not invented.
    assert not report["exact"]["fnir_at_fpir"][0]["estimable"]


def test_calibration_merges_a_thresholds_file_the_engine_reads(
    pipeline: FacePipeline, tiny_lfw: Path, tmp_path: Path
) -> None:
    path = tmp_path / "thresholds.toml"
    path.write_text(
        '[models.other_model]\ndataset = "x"\ndate = "2026-01-01"\n'
        "points = [{ fmr = 1e-3, threshold = 0.5, fnmr = 0.1 }]\n"
    )
    report = calibrate(
        pipeline, tiny_lfw, thresholds_path=path, fmrs=(1e-2,), use_cache=False,
        dataset_name="tiny test folder",
    )
    point = threshold_for(path, model_id=pipeline.model_id, fmr=1e-2)
    assert point.threshold == report["points"][0]["threshold"]
    assert 0.0 < point.threshold < 1.0
    assert point.fnmr <= 0.1
    assert point.dataset.startswith("tiny test folder")
    assert threshold_for(path, model_id="other_model", fmr=1e-3).threshold == 0.5
    assert len(load_thresholds(path)) == 2


def test_a_full_run_writes_every_report_file(
    pipeline: FacePipeline, tiny_lfw: Path, tmp_path: Path
) -> None:
    out = tmp_path / "results"
    evaluate(pipeline, tiny_lfw, out=out, settings=EngineSettings(), use_cache=False)
    written = {path.name for path in out.iterdir()}
    assert written == {
        "eval_lfw.json", "eval_lfw.md", "eval_lfw_roc.png", "eval_lfw_det.png",
        "eval_lfw_scores.png", "eval_lfw_cmc.png",
    }
    report = json.loads((out / "eval_lfw.json").read_text())
    assert report["images"] == 22
    assert "Huang" in report["citation"]
    assert "Verification (1:1)" in (out / "eval_lfw.md").read_text()
