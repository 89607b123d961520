"""``optinface models`` and ``optinface embed``: the engine, without the consent core.

``embed`` is a research tool on images the operator already holds lawfully; it stores nothing.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from optinface.api.cli.common import console, refused, say_error
from optinface.api.error_codes import CliErrorCode
from optinface.engine.errors import EngineError, ImageTooLarge, UnreadableFile
from optinface.engine.files import write_private_atomic
from optinface.engine.manifest import inspect_model, load_manifest
from optinface.engine.pipeline import Cropped, FacePipeline, ImageResult
from optinface.engine.settings import EngineSettings
from optinface.engine.types import FacePick

CHUNK = 32  # images whose crops are embedded together: one batched recognizer call


def add_commands(app: typer.Typer) -> None:
    app.command("models")(models)
    app.command("embed")(embed)


def models(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON, not a table.")] = False,
) -> None:
    """List the manifest's models, their licence, SHA-256 status and active providers.

    Example: optinface models
    """
    settings = EngineSettings()
    statuses = [
        inspect_model(spec, settings.model_dir)
        for spec in load_manifest(settings.manifest_path).values()
    ]
    providers: dict[str, list[str]] | str
    try:
        providers = FacePipeline.from_settings(settings).active_providers
    except EngineError as error:
        providers = f"not loaded: {error.message}"
    rows: list[dict[str, Any]] = [
        {
            "id": s.spec.id,
            "role": str(s.spec.role),
            "file": str(s.path) if s.path else s.spec.file,
            "sha256": s.spec.sha256,
            "verified": s.verified,
            "problem": s.problem,
            "licence": s.spec.licence,
            "source": s.spec.source,
        }
        for s in statuses
    ]
    if as_json:
        typer.echo(json.dumps({"models": rows, "providers": providers}, indent=2))
        return
    out = console()
    table = Table(title="optinface models")
    for column in ("id", "role", "sha256", "status", "licence"):
        table.add_column(column, overflow="fold")
    for row in rows:
        status = "[green]verified[/]" if row["verified"] else f"[red]{row['problem']}[/]"
        table.add_row(row["id"], row["role"], row["sha256"][:16] + "…", status, row["licence"])
    out.print(table)
    out.print(f"Active execution providers: {providers}")
    out.print(
        "[bold yellow]The InsightFace pretrained models are for non-commercial research only."
        "[/] License a model before any other use (see models/README.md)."
    )
    if not all(row["verified"] for row in rows):
        raise typer.Exit(code=1)


@dataclass
class _Outcome:
    path: Path
    result: ImageResult


def embed(
    images: Annotated[list[Path], typer.Argument(help="Image files (JPEG, PNG, WebP).")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the embeddings, a float32 .npy, to this file (its"
                     " name as given; an existing file is replaced, a folder refused)."),
    ] = None,
    pick: Annotated[FacePick, typer.Option("--pick", help="Which faces to embed.")] = (
        FacePick.SINGLE
    ),
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per input on stdout.")
    ] = False,
) -> None:
    """Embed faces into 512-d vectors; a bad file is reported and the rest still processed.

    --out writes shape (number of inputs, 512) in input order, a row of NaN where an input gave
    no face; with --pick all, shape (number of faces, 512).

    Example: optinface embed photos/*.jpg --out vectors.npy --pick largest --json
    """
    settings = EngineSettings()
    pipeline = FacePipeline.from_settings(settings)
    outcomes = _embed_all(pipeline, images, pick, limit=settings.max_image_bytes,
                          show_progress=not as_json)
    for outcome in outcomes:
        if as_json:
            typer.echo(json.dumps(_describe(outcome)))
        elif outcome.result.error is not None:
            say_error(f"{outcome.path}: {outcome.result.error.code}: "
                      f"{outcome.result.error.message}")
    if out is not None:
        # Saved to bytes, not to --out's name, to which numpy would add ".npy" (a folder named
        # --out was written beside itself as FOLDER.npy); then written whole, readable by the
        # owner alone, or not at all: a full disk left a file cut short in place of --out.
        vectors = io.BytesIO()
        np.save(vectors, _matrix(outcomes, pick, pipeline.embedder.dim), allow_pickle=False)
        try:
            write_private_atomic(out, vectors.getvalue())
        except OSError as error:
            raise refused(CliErrorCode.UNWRITABLE_FILE,
                          f"cannot write {out}: {error.strerror}") from error
    if any(outcome.result.error is not None for outcome in outcomes):
        raise typer.Exit(code=2)


def _embed_all(
    pipeline: FacePipeline, paths: list[Path], pick: FacePick, *, limit: int,
    show_progress: bool,
) -> list[_Outcome]:
    outcomes: list[_Outcome] = []
    columns = (TextColumn("embedding"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, disable=not show_progress, transient=True) as progress:
        task = progress.add_task("embed", total=len(paths))
        for start in range(0, len(paths), CHUNK):
            chunk = paths[start : start + CHUNK]
            cropped = []
            for path in chunk:  # one file's pixels at a time; only its crops stay
                cropped.append(_crop_file(pipeline, path, pick, limit=limit))
                progress.advance(task)
            results = pipeline.embed_cropped(cropped)
            outcomes.extend(_Outcome(p, r) for p, r in zip(chunk, results, strict=True))
    return outcomes


def _crop_file(pipeline: FacePipeline, path: Path, pick: FacePick, *, limit: int) -> Cropped:
    """The faces of one file, or why not: a file over the size limit is refused from at most
    ``limit + 1`` bytes read, so a huge file or ``/dev/zero`` is never read whole."""
    try:
        with path.open("rb") as file:
            data = file.read(limit + 1)
    except OSError as error:
        return Cropped(ImageResult(error=UnreadableFile(f"cannot read file: {error.strerror}")))
    if len(data) > limit:
        return Cropped(ImageResult(error=ImageTooLarge(
            f"the file is over the limit of {limit} bytes", details={"limit_bytes": limit})))
    return pipeline.crop_upload(data, pick)


def _describe(outcome: _Outcome) -> dict[str, Any]:
    result = outcome.result
    return {
        "path": str(outcome.path),
        "faces_found": len(result.faces),
        "chosen_boxes": [[round(v, 1) for v in e.face.box] for e in result.embeddings],
        "error": result.error.code if result.error else None,
    }


def _matrix(outcomes: list[_Outcome], pick: FacePick, dim: int) -> np.ndarray:
    if pick is FacePick.ALL:
        rows = [e.vector for o in outcomes for e in o.result.embeddings]
        return np.stack(rows) if rows else np.empty((0, dim), dtype=np.float32)
    matrix = np.full((len(outcomes), dim), np.nan, dtype=np.float32)
    for row, outcome in enumerate(outcomes):
        if outcome.result.embeddings:
            matrix[row] = outcome.result.embeddings[0].vector
    return matrix
