"""Only models whose SHA-256 matches the manifest are ever loaded."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from optinface.engine.errors import ModelIntegrityError
from optinface.engine.manifest import (
    ModelRole,
    inspect_model,
    load_manifest,
    package_model_dir,
    sha256_of,
    verified_model_path,
)
from optinface.engine.pipeline import FacePipeline
from optinface.engine.settings import DEFAULT_MANIFEST, EngineSettings

EXPECTED = {
    "w600k_mbf": "9cc6e4a75f0e2bf0b1aed94578f144d15175f357bdc05e815e5c4a02b319eb4f",
    "scrfd_500m_bnkps": "a3562ef62592bf387f6ef19151282ac127518e51c77696e62e0661bee95ba1ad",
}


def test_manifest_pins_the_two_default_models_with_licence() -> None:
    models = load_manifest(DEFAULT_MANIFEST)
    assert {model_id: spec.sha256 for model_id, spec in models.items()} == EXPECTED
    assert models["w600k_mbf"].role is ModelRole.RECOGNIZER
    assert models["w600k_mbf"].embedding_size == 512
    assert all("non-commercial" in spec.licence for spec in models.values())


def test_installed_package_files_verify() -> None:
    for spec in load_manifest(DEFAULT_MANIFEST).values():
        path = verified_model_path(spec, None)
        assert path.parent == package_model_dir()
        assert sha256_of(path) == spec.sha256


def test_a_model_with_a_different_hash_is_refused(tmp_path: Path) -> None:
    spec = load_manifest(DEFAULT_MANIFEST)["w600k_mbf"]
    tampered = tmp_path / spec.file
    shutil.copyfile(verified_model_path(spec, None), tampered)
    with tampered.open("r+b") as stream:
        stream.seek(4096)
        stream.write(b"\x00\x01\x02\x03")
    status = inspect_model(spec, tmp_path)
    assert not status.verified and "differs" in (status.problem or "")
    with pytest.raises(ModelIntegrityError) as refused:
        verified_model_path(spec, tmp_path)
    assert refused.value.code == "model_integrity"


def test_the_pipeline_refuses_to_start_on_a_tampered_model(tmp_path: Path) -> None:
    spec = load_manifest(DEFAULT_MANIFEST)["scrfd_500m_bnkps"]
    (tmp_path / spec.file).write_bytes(b"not the model")
    with pytest.raises(ModelIntegrityError):
        FacePipeline.from_settings(EngineSettings(model_dir=tmp_path))


@pytest.mark.parametrize("made", ["file", "nothing"])
def test_a_model_folder_that_is_no_folder_is_refused(tmp_path: Path, made: str) -> None:
    """Searching a file or a missing folder found nothing, and the package's files were taken
    without a word: the operator's folder was never used."""
    folder = tmp_path / "models"
    if made == "file":
        folder.write_text("root:x:0:0:root:/root:/bin/bash\n")
    spec = load_manifest(DEFAULT_MANIFEST)["w600k_mbf"]
    with pytest.raises(ModelIntegrityError, match="is not a folder"):
        inspect_model(spec, folder)
    with pytest.raises(ModelIntegrityError, match="is not a folder"):
        FacePipeline.from_settings(EngineSettings(model_dir=folder))


def test_an_operator_model_is_found_before_the_package(tmp_path: Path) -> None:
    spec = load_manifest(DEFAULT_MANIFEST)["w600k_mbf"]
    shutil.copyfile(verified_model_path(spec, None), tmp_path / spec.file)
    assert verified_model_path(spec, tmp_path) == tmp_path / spec.file


def test_a_missing_model_is_reported_not_downloaded(tmp_path: Path) -> None:
    spec = replace(load_manifest(DEFAULT_MANIFEST)["w600k_mbf"], file="w600k_r50.onnx")
    status = inspect_model(spec, tmp_path)
    assert not status.verified and "not found" in (status.problem or "")


def test_a_deferred_pipeline_checks_its_models_when_made_and_loads_them_on_first_use(
    tmp_path: Path,
) -> None:
    """``deferred``, as the commands that may never embed make it: a tampered file is refused
    at once, as when the models are loaded; the sessions are made by the first use, whose
    recognizer must output the size its manifest entry states (the index is sized by it)."""
    (tmp_path / "scrfd_500m_bnkps.onnx").write_bytes(b"not the model")
    with pytest.raises(ModelIntegrityError):
        FacePipeline.from_settings(EngineSettings(model_dir=tmp_path), deferred=True)
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(DEFAULT_MANIFEST.read_text().replace("embedding_size = 512",
                                                             "embedding_size = 256"))
    settings = EngineSettings(manifest_path=manifest)
    deferred = FacePipeline.from_settings(settings, deferred=True)
    # The manifest's answers: no model was loaded to give them, or its 512 values were refused.
    assert (deferred.model_id, deferred.embedding_size) == ("w600k_mbf", 256)
    with pytest.raises(ModelIntegrityError, match="outputs 512 values, its manifest entry says"):
        deferred.load()
    with pytest.raises(ModelIntegrityError, match="outputs 512 values"):
        FacePipeline.from_settings(settings)


def test_a_model_swapped_after_a_deferred_pipeline_was_made_is_refused_when_loaded(
    tmp_path: Path,
) -> None:
    """A deferred pipeline's first use may come long after its check: the file it loads then
    is checked again, so one swapped meanwhile is refused, never loaded."""
    for spec in load_manifest(DEFAULT_MANIFEST).values():
        shutil.copyfile(verified_model_path(spec, None), tmp_path / spec.file)
    deferred = FacePipeline.from_settings(EngineSettings(model_dir=tmp_path), deferred=True)
    (tmp_path / "w600k_mbf.onnx").write_bytes(b"not the model")
    with pytest.raises(ModelIntegrityError, match="w600k_mbf"):
        deferred.load()
