"""``optinface models`` and ``optinface embed`` as an operator runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from optinface.api.cli.main import app
from optinface.engine.decode import BgrImage
from optinface.engine.samples import encode, group_photo
from tests.corpus.generate import THIN_SHAPES, large_16_bit_png, thin_png
from tests.support.console import console
from tests.support.full_disk import small_file_system
from tests.support.server import inherited_environment

runner = CliRunner()


def test_models_lists_verified_models_licence_and_providers() -> None:
    result = runner.invoke(app, ["models", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert {m["id"]: m["verified"] for m in report["models"]} == {
        "scrfd_500m_bnkps": True,
        "w600k_mbf": True,
    }
    assert all("non-commercial" in m["licence"] for m in report["models"])
    assert "CPUExecutionProvider" in report["providers"]["recognizer"]


def test_models_table_warns_about_the_licence() -> None:
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0
    assert "non-commercial research only" in result.output.replace("\n", " ")


def test_embed_writes_one_row_per_input_and_nan_for_failures(
    tmp_path: Path, portrait_images: list[BgrImage]
) -> None:
    good = tmp_path / "a.jpg"
    good.write_bytes(encode(portrait_images[0]))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    group = tmp_path / "group.jpg"
    group.write_bytes(encode(group_photo()))
    other = tmp_path / "b.png"
    other.write_bytes(encode(portrait_images[1], ".png"))
    out = tmp_path / "vectors.npy"
    inputs = [good, broken, group, other, tmp_path / "missing.jpg"]
    result = runner.invoke(app, ["embed", *map(str, inputs), "--out", str(out), "--json"])
    assert result.exit_code == 2  # some inputs failed, the rest were processed
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [line["error"] for line in lines] == [
        None, "invalid_image", "multiple_faces", None, "unreadable_file"
    ]
    assert lines[2]["faces_found"] == 6
    vectors = np.load(out)
    assert vectors.shape == (5, 512) and vectors.dtype == np.float32
    assert np.isnan(vectors[[1, 2, 4]]).all()
    assert np.allclose(np.linalg.norm(vectors[[0, 3]], axis=1), 1.0, atol=1e-5)


def test_embed_reports_an_image_too_thin_for_the_detector_and_embeds_the_rest(
    tmp_path: Path, portrait_images: list[BgrImage]
) -> None:
    """One such file once aborted the whole batch with a traceback: no JSON, no --out."""
    inputs = []
    for name, data in [("a.jpg", encode(portrait_images[0])), *(
            (f"thin-{w}x{h}.png", thin_png(w, h)) for w, h in THIN_SHAPES),
            ("b.jpg", encode(portrait_images[1]))]:
        inputs.append(tmp_path / name)
        inputs[-1].write_bytes(data)
    out = tmp_path / "vectors.npy"
    result = runner.invoke(app, ["embed", *map(str, inputs), "--out", str(out), "--json"])
    assert result.exit_code == 2, result.output  # some inputs failed, the rest were processed
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [line["error"] for line in lines] == [None, *["no_face"] * len(THIN_SHAPES), None]
    vectors = np.load(out)
    assert vectors.shape == (len(inputs), 512)
    assert np.isnan(vectors[1:-1]).all() and not np.isnan(vectors[[0, -1]]).any()


def test_embed_pick_all_writes_one_row_per_face(tmp_path: Path) -> None:
    group = tmp_path / "group.jpg"
    group.write_bytes(encode(group_photo()))
    out = tmp_path / "all.npy"
    result = runner.invoke(app, ["embed", str(group), "--pick", "all", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert np.load(out).shape == (6, 512)


def test_an_out_file_that_cannot_be_written_is_one_line(
    tmp_path: Path, portrait_images: list[BgrImage], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    face = tmp_path / "face.jpg"
    face.write_bytes(encode(portrait_images[0]))
    code, lines = console(monkeypatch, capsys, "embed", str(face), "--out", "/proc/nope.npy")
    assert (code, lines) == (1, ["refused: unwritable_file: cannot write /proc/nope.npy:"
                                 " No such file or directory"])


def test_vectors_that_a_full_disk_cannot_take_leave_the_out_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """Six faces' vectors, 12 kB, where 8 kB are free once the old file is emptied: --out was
    emptied, then left cut at 8 kB, and the line said ``cannot write ...: None``."""
    group = tmp_path / "group.jpg"
    group.write_bytes(encode(group_photo()))
    with small_file_system(tmp_path / "usb") as usb:
        out = usb / "vectors.npy"
        out.write_bytes(b"the vectors of the last run")
        (usb / "other-files").write_bytes(bytes(8_192))  # one 4 kB page left
        code, lines = console(monkeypatch, capsys, "embed", str(group), "--pick", "all",
                              "--out", str(out))
        assert (code, lines) == (1, [f"refused: unwritable_file: cannot write {out}: No space"
                                     " left on device"])
        assert out.read_bytes() == b"the vectors of the last run"
        assert sorted(path.name for path in usb.iterdir()) == ["other-files", "vectors.npy"]


def test_embed_writes_out_where_named_and_refuses_a_folder_in_one_line(
    tmp_path: Path, portrait_images: list[BgrImage], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """numpy's own naming added ``.npy``: a folder named ``--out`` was silently written beside
    itself as ``FOLDER.npy``, and ``--out vectors`` went to ``vectors.npy``."""
    face = tmp_path / "face.jpg"
    face.write_bytes(encode(portrait_images[0]))
    folder = tmp_path / "vectors"
    folder.mkdir()
    code, lines = console(monkeypatch, capsys, "embed", str(face), "--out", str(folder))
    assert (code, lines) == (1, [f"refused: unwritable_file: cannot write {folder}:"
                                 " Is a directory"])
    assert sorted(tmp_path.iterdir()) == [face, folder] and not list(folder.iterdir())
    unsuffixed = tmp_path / "vectors.bin"
    result = runner.invoke(app, ["embed", str(face), "--out", str(unsuffixed)])
    assert result.exit_code == 0, result.output
    assert np.load(unsuffixed).shape == (1, 512)


@pytest.mark.parametrize(("value", "reason"), [
    ("-1", "Input should be greater than or equal to 0"),
    # Past a C int: onnxruntime's TypeError, a traceback, when the engine loaded.
    ("99999999999999999999", f"Value error, at most the {os.cpu_count()} CPUs of this machine"
                             " (0: onnxruntime's choice); more threads only take turns on them"),
])
def test_a_setting_that_is_not_valid_is_one_line_naming_its_variable(
        tmp_path: Path, value: str, reason: str) -> None:
    env = {**inherited_environment(), "OPTINFACE_INTRA_OP_THREADS": value,
           "OPTINFACE_DATABASE_URL": "postgresql://user:hunter2@db/optinface"}
    result = subprocess.run([sys.executable, "-m", "optinface.api.cli.main", "models"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: invalid_settings: OPTINFACE_INTRA_OP_THREADS: {reason}"]


@pytest.mark.parametrize(("variable", "value", "reason"), [
    # hnswlib's MemoryError (std::bad_alloc) when the index was made.
    ("OPTINFACE_INDEX_MAX_ELEMENTS", "99999999999999",
     "Input should be less than or equal to 1000000"),
    # An IndexError at the first image the detector sized.
    ("OPTINFACE_DET_SIZES", "[]", "List should have at least 1 item after validation, not 0"),
])
def test_a_setting_that_crashed_later_is_one_line_from_the_cli(
        tmp_path: Path, variable: str, value: str, reason: str) -> None:
    face = tmp_path / "face.png"
    face.write_bytes(encode(group_photo(), ".png"))
    env = {**inherited_environment(), variable: value}
    result = subprocess.run([sys.executable, "-m", "optinface.api.cli.main", "embed", str(face)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines() == [f"error: invalid_settings: {variable}: {reason}"]


EMBED_IN_A_CHILD = """
import json, resource, sys
limit = int(sys.argv[1])
if limit:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from optinface.api.cli.main import app
try:
    app(["embed", *sys.argv[2:]])
except SystemExit as end:
    status = end.code
peak = next(int(line.split()[1]) for line in open("/proc/self/status")
            if line.startswith("VmHWM:"))
print(json.dumps({"status": status, "peak_mib": peak / 1024}))
"""


def _embed_in_a_child(files: list[str], *, address_space: int = 0) -> tuple[int, float, str]:
    """``optinface embed FILES`` in a fresh process (within ``address_space`` bytes of virtual
    memory if given): its exit status, its peak RSS in MiB and its stderr."""
    done = subprocess.run([sys.executable, "-c", EMBED_IN_A_CHILD, str(address_space), *files],
                          env=inherited_environment(), capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.stdout, done.stderr
    answer = json.loads(done.stdout.splitlines()[-1])
    return answer["status"], answer["peak_mib"], done.stderr


def test_embed_refuses_a_file_over_the_limit_without_reading_it_whole(
    tmp_path: Path, portrait_images: list[BgrImage]
) -> None:
    """A 3 GB file, or /dev/zero, read whole ran out of memory: a traceback, exit 1. Within
    2.5 GB of address space, each is one line and the photo after them is embedded."""
    huge = tmp_path / "huge.jpg"
    with huge.open("wb") as file:
        file.truncate(3 * 1024**3)  # sparse: no disk used
    photo = tmp_path / "a.jpg"
    photo.write_bytes(encode(portrait_images[0]))
    status, _, stderr = _embed_in_a_child([str(huge), "/dev/zero", str(photo)],
                                          address_space=5 * 1024**3 // 2)
    assert status == 2, stderr
    assert [line.split(": ")[:2] for line in stderr.splitlines()] == [
        [str(huge), "payload_too_large"], ["/dev/zero", "payload_too_large"]]


@pytest.mark.slow
def test_embed_holds_one_decoded_image_at_a_time(tmp_path: Path) -> None:
    """Files were decoded 32 at a time before their faces were looked for: 16 copies of a
    40 Mpx PNG peaked at 2.6 GB (outside test). Six 36 Mpx files take what one takes."""
    image = tmp_path / "0.png"
    image.write_bytes(large_16_bit_png())
    copies = [image]
    for number in range(1, 6):
        copies.append(tmp_path / f"{number}.png")
        copies[-1].write_bytes(image.read_bytes())
    one_status, one_peak, _ = _embed_in_a_child([str(image)])
    six_status, six_peak, _ = _embed_in_a_child([str(path) for path in copies])
    assert (one_status, six_status) == (2, 2)  # a flat image: no face
    decoded_image_mib = 6000 * 6000 * 3 / 1024**2
    assert six_peak - one_peak < decoded_image_mib, f"{one_peak:.0f} -> {six_peak:.0f} MiB"


def test_the_console_script_starts_without_the_face_libraries_or_the_web_app() -> None:
    """The verdicts a person runs (``receipt verify``, ``audit verify-access``) load no face
    model, serve no page, migrate no ledger and draw no QR code, so the console script's start
    imports no insightface (with onnx, scikit-image and SciPy, a quarter of every command's
    start), not the web app, its routes and pages, nor the web framework, its server and its
    templates (FastAPI, Starlette, uvicorn, Jinja2: with the app, about a third), the HTTP
    client and the sample faces' OpenCV that only ``bench`` and ``demo`` use, Alembic or
    segno (``benchmarks/bench_cli_start.py``); a model's loading imports the first, ``embed``
    above shows it still does, ``serve``, ``demo`` and ``audit export`` the web app, opening a
    ledger Alembic and a page's enrolment link segno, which their own tests run."""
    unneeded = ("insightface", "onnx", "skimage", "scipy", "optinface.api.app",
                "optinface.api.routes.audit", "optinface.api.web.pages", "fastapi", "starlette",
                "uvicorn", "jinja2", "httpx2", "cv2", "alembic", "segno")
    started = subprocess.run(
        [sys.executable, "-c", "import sys; import optinface.api.cli.main;"
         f" print(sorted(set(sys.modules) & {set(unneeded)!r}))"],
        capture_output=True, text=True, timeout=120, check=True)
    assert started.stdout.strip() == "[]", started.stdout
