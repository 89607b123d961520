"""The wheel installs like any Python package: one import name, data inside, no path settings.

The wheel is built from this checkout and installed into a fresh virtual environment that sees
the already-installed dependencies but not the checkout; every command runs from a folder outside
the checkout with no ``OPTINFACE_*`` variable set.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from optinface.engine.samples import GROUP_PHOTO

ROOT = Path(__file__).resolve().parent.parent
GENERIC_NAMES = ("engine", "consent", "api", "models", "benchmarks", "tests")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(the wheel, everything the build printed)."""
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(out), str(ROOT)],
        capture_output=True, text=True, check=True,
    )
    (wheel,) = out.glob("optinface-*.whl")
    return wheel, build.stdout + build.stderr


@pytest.fixture(scope="module")
def installed(built: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh environment holding the wheel; returns its ``bin`` folder."""
    env_dir = tmp_path_factory.mktemp("env")
    venv.EnvBuilder(with_pip=True).create(env_dir)
    subprocess.run(
        [str(env_dir / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--no-index",
         "--quiet", str(built[0])],
        check=True, env=_clean_environment(),
    )
    # The dependencies come from this environment's site-packages, added as a plain path after
    # the install (pip would take the checkout's editable install for this wheel): .pth files
    # are not processed there, so the checkout's editable link stays out.
    purelib = next((env_dir / "lib").glob("python*/site-packages"))
    (purelib / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return env_dir / "bin"


def _clean_environment() -> dict[str, str]:
    """This environment without ``OPTINFACE_*`` and without a path to the checkout."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("OPTINFACE_") and k != "PYTHONPATH"}


@pytest.fixture()
def outside() -> dict[str, str]:
    """The environment for commands run from a folder outside the checkout."""
    return _clean_environment()


def test_building_prints_no_deprecation_warning(built: tuple[Path, str]) -> None:
    assert "Deprecat" not in built[1], built[1]


def test_the_wheel_installs_one_top_level_name_with_its_data(built: tuple[Path, str]) -> None:
    names = zipfile.ZipFile(built[0]).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"optinface"}
    for data in ("models/manifest.toml", "models/thresholds.toml",
                 "consent/migrations/script.py.mako",
                 "consent/migrations/versions/0001_initial_ledger.py",
                 "api/web/templates/base.html"):
        assert f"optinface/{data}" in names
    metadata = zipfile.ZipFile(built[0]).read(
        next(n for n in names if n.endswith(".dist-info/METADATA"))
    ).decode()
    assert "License-Expression: Apache-2.0" in metadata


def test_only_optinface_is_importable_at_top_level(
    installed: Path, outside: dict[str, str], tmp_path: Path
) -> None:
    probe = (
        "import importlib.util, json, optinface.api.cli.main;"
        f"print(json.dumps({{n: bool(importlib.util.find_spec(n)) for n in {GENERIC_NAMES}}}));"
        "print(optinface.__file__)"
    )
    result = subprocess.run([str(installed / "python"), "-c", probe], cwd=tmp_path, env=outside,
                            capture_output=True, text=True, check=True)
    found, location = result.stdout.splitlines()
    assert not any(json.loads(found).values()), found
    assert str(installed.parent) in location and str(ROOT) not in location


def test_models_and_embed_work_from_any_folder(
    installed: Path, outside: dict[str, str], tmp_path: Path
) -> None:
    models = subprocess.run([str(installed / "optinface"), "models", "--json"], cwd=tmp_path,
                            env=outside, capture_output=True, text=True)
    assert models.returncode == 0, models.stderr
    assert all(model["verified"] for model in json.loads(models.stdout)["models"])
    embed = subprocess.run(
        [str(installed / "optinface"), "embed", str(GROUP_PHOTO), "--pick", "largest", "--json",
         "--out", "vectors.npy"],
        cwd=tmp_path, env=outside, capture_output=True, text=True,
    )
    assert embed.returncode == 0, embed.stderr
    described = json.loads(embed.stdout.splitlines()[0])
    assert described["faces_found"] >= 1 and len(described["chosen_boxes"]) == 1
    assert (tmp_path / "vectors.npy").stat().st_size > 512 * 4


@pytest.mark.parametrize(
    ("setting", "value", "code"),
    [
        ("OPTINFACE_MANIFEST_PATH", "missing/manifest.toml", "manifest_unreadable"),
        ("OPTINFACE_MANIFEST_PATH", "garbage.toml", "manifest_unreadable"),
        ("OPTINFACE_MODEL_DIR", "tampered", "model_integrity"),
    ],
)
def test_a_broken_model_setup_is_one_line_with_its_code(
    installed: Path, outside: dict[str, str], tmp_path: Path, setting: str, value: str, code: str
) -> None:
    (tmp_path / "garbage.toml").write_text("[[model]\nnot toml")
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    (tampered / "w600k_mbf.onnx").write_bytes(b"not the model")
    env = {**outside, setting: str(tmp_path / value)}
    for command in (["embed", str(GROUP_PHOTO)], ["demo", "--help"]):
        result = subprocess.run([str(installed / "optinface"), *command], cwd=tmp_path, env=env,
                                capture_output=True, text=True)
        if command[-1] == "--help":
            assert result.returncode == 0  # help never needs the models
            continue
        assert result.returncode == 1, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines() == [result.stderr.strip()]
        assert f"{code}:" in result.stderr


def test_an_unwritable_data_directory_is_one_line_with_its_code(
    installed: Path, outside: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "occupied").write_text("a file where the data directory should be")
    result = subprocess.run(
        [str(installed / "optinface"), "audit", "verify", "--data-dir", str(tmp_path / "occupied")],
        cwd=tmp_path, env=outside, capture_output=True, text=True,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr  # the verifiers' exit 2
    assert "data_dir_unusable:" in result.stderr and len(result.stderr.strip().splitlines()) == 1
