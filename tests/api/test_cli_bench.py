"""``optinface bench`` as a tester runs it from a fresh clone: it starts its own server.

Tiny sizes: this checks that every operation and level is measured without an error and that
the JSON names the machine, the providers and the model hashes; the figures themselves are
evidence for ``benchmarks/README.md``, never asserted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optinface.api.app import create_app
from optinface.api.cli.bench import Api, local_server, prepare
from optinface.api.cli.main import app
from optinface.api.cli.overhead_split import FRAMEWORK, OUTSIDE
from optinface.api.settings import ApiSettings
from optinface.consent.service import OptinFace
from optinface.engine.manifest import load_manifest
from optinface.engine.pipeline import FacePipeline
from optinface.engine.settings import EngineSettings
from tests.support.api import deployment
from tests.support.console import console
from tests.support.server import running

runner = CliRunner()


@pytest.mark.slow
def test_bench_measures_every_operation_and_level_against_a_fresh_server(tmp_path: Path) -> None:
    result = runner.invoke(app, ["bench", "--requests", "2", "--overhead-rounds", "2",
                                 "--concurrency", "1",
                                 "--concurrency", "2", "--out", str(tmp_path), "--tag", "smoke"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "bench_api_smoke.json").read_text())
    assert (tmp_path / "bench_api_smoke.png").stat().st_size > 0
    specs = load_manifest(EngineSettings().manifest_path).values()
    manifest = {spec.id: spec.sha256 for spec in specs}
    for side in ("server", "in_process"):
        models = report[side]["models"]
        assert models and models == {name: manifest[name] for name in models}
    assert "CPUExecutionProvider" in report["server"]["providers"]["recognizer"]
    assert report["machine"]["cpus"] >= 1
    assert set(report["onnxruntime_threads"]) == {"intra_op_threads", "intra_op_affinities"}
    for operation in ("embed", "identify", "verify"):
        for level in ("1", "2"):
            figures = report["operations"][operation][level]
            assert figures["errors"] == {} and figures["requests"] == 2, (operation, figures)
            assert 0 < figures["p50_ms"] <= figures["p99_ms"]
    overhead = report["overhead"]
    assert overhead["overhead_ratio"] > 0 and len(overhead["overhead_ratio_per_round"]) == 2
    for side in ("in_process_embed_search", "http_identify"):
        assert overhead[side]["requests"] == 4
    assert overhead["cpu"]["server_ms_per_identify"] > 0
    assert overhead["cpu"]["in_process_ms_per_embed_search"] > 0
    assert len(overhead["rounds"][0]["load_average"]["before"]) == 3
    parts = overhead["split_ms_p50"]  # the bench's own server answers with Server-Timing
    assert set(parts) == {"auth", "consent", "embed", "search", FRAMEWORK, OUTSIDE}, parts
    assert parts["embed"] > 0 and parts[OUTSIDE] > 0


def test_bench_prepares_again_on_a_server_it_already_prepared(
    tmp_path: Path, pipeline: FacePipeline, portrait_jpegs: list[bytes]
) -> None:
    """A tester runs the bench twice against one ``./dev run``: each run sets up its own
    purpose and notice, since a name once taken stays taken."""
    with deployment(tmp_path, pipeline) as (_, _, client, keys):
        runs = [prepare(Api(client), keys.admin, portrait_jpegs[:1], researcher_keys=1)
                for _ in range(2)]
    assert runs[0].purpose_id != runs[1].purpose_id


def test_a_bench_the_server_refuses_ends_in_one_line_with_its_code(
    api_settings: ApiSettings, service: OptinFace, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """A server that answers but refuses a setup step (here the admin key) is ``bench_failed``,
    an ``error:``: the bench could not run, whatever the server's reason."""
    with running(create_app(api_settings, service=service)) as url:
        code, lines = console(monkeypatch, capsys, "bench", "--url", url, "--api-key",
                              "key_x.y", "--requests", "2", "--out", str(tmp_path / "out"))
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith("error: bench_failed: POST /v1/keys -> 401 "), lines
    assert not (tmp_path / "out").exists()


def _files(*folders: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for folder in folders for path in sorted(folder.rglob("*"))
            if path.is_file()}


@pytest.mark.slow
def test_the_bench_server_is_a_deployment_of_its_own_whatever_the_environment_names(
    tmp_path: Path, pipeline: FacePipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the container the environment names the operator's key store, witness and first
    key file: the bench's throw-away server uses none of them (it stopped at the witness's
    ``witness_unusable``), comes up with its own first admin key, and leaves them as they were."""
    with deployment(tmp_path / "operator", pipeline) as (settings, _, _, _):
        pass
    keys, witness = settings.keys_dir, settings.witness_dir
    first_key = tmp_path / "operator" / "first-admin-key"
    first_key.write_text("key_operators.own\n")
    for name, value in (("KEY_DIR", keys), ("AUDIT_WITNESS_DIR", witness),
                        ("FIRST_ADMIN_KEY_FILE", first_key)):
        monkeypatch.setenv(f"OPTINFACE_{name}", str(value))
    before = _files(keys, witness, first_key.parent)
    with local_server() as (url, admin, _):
        assert url.startswith("http://127.0.0.1:") and admin.startswith("key_")
    assert _files(keys, witness, first_key.parent) == before
