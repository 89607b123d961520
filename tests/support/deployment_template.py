"""A deployment's first start, made once per test process for each kind of settings and clock
instant, and copied where a consent test's deployment starts for the first time.

A first start makes what every later start only checks: the keys (the template key is a
512x512 random rotation, one QR decomposition), the seals adopted over the empty ledger (each
chained), the first epoch, the witness folder's first checkpoint. On the 2-core VM it took
0.10-0.15 s of a test deployment's open when idle (a second start: 0.06 s), and the consent
fixtures' opens were 9.4 % of the whole suite's samples under py-spy, nearly all of them first
starts. The copy is what the service's own first start made, with the same settings (the
paths aside) and the same clock instant, closed as the service closes; the test's deployment
then starts on it as any deployment starts the second time, checking all a start checks
(keys against the ledger, the log against its witness, the index against the ledger).

What a copy changes, and where it is not made:
- The deployments a test process copies share their keys. Only the test's own settings are
  copied to (``tests/consent``'s ``open_service``), so no two deployments of one test share
  them: a deployment a test makes with other settings starts from nothing. A test about its
  deployment's keys differing from another test's opts out with the :data:`FIRST_START` marker.
- Its ledger holds the events of one start and one close before the test's own start, and its
  index file was saved once, under a key. A test about what a first start does or chains, or
  counting the keys an erasure destroys, opts out the same way.
- Only the file key store on the default layout (SQLite ledger in the data directory, keys and
  witness folder beside it) is copied, and only where none of the three is there yet: a token
  (PKCS#11) holds keys no copy can take, and PostgreSQL ledgers are one database per test.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings, KeyStoreKind
from optinface.engine.pipeline import FacePipeline
from tests.support.consent import FakeClock
from tests.support.ledger_template import seed_ledger

FIRST_START = "first_start"
"""The marker of a test whose deployments start from nothing: what it expects is a first
start's (what that start makes or chains; an index file never saved yet), or two deployments'
keys differing."""


@dataclass(frozen=True, slots=True)
class _Template:
    """A closed first start: its folder (``data``, ``data-keys``, ``data-witness`` inside, as
    the settings named them) and the pipeline it started with (held: its ``id`` is in the
    template's key, and must not be reused by another while the template is)."""

    folder: Path
    pipeline: FacePipeline


_templates: dict[str, _Template] = {}


@cache
def _root() -> tempfile.TemporaryDirectory[str]:
    """The folder holding this process's templates (removed when the process ends)."""
    return tempfile.TemporaryDirectory(prefix="optinface-deployments-")


def _parts(settings: ConsentSettings) -> tuple[Path, Path, Path]:
    """The data directory, key directory and witness folder ``settings`` name."""
    return settings.data_dir, settings.keys_dir, settings.witness_dir


def _default_layout(data: Path) -> dict[str, str | Path]:
    """Where settings with the data directory ``data`` keep the ledger, the keys and the
    witness folder unless told otherwise (``ConsentSettings._default_locations``), by field."""
    return {"database_url": f"sqlite:///{data / 'optinface.db'}",
            "key_dir": data.with_name(f"{data.name}-keys"),
            "audit_witness_dir": data.with_name(f"{data.name}-witness")}


def _copyable(settings: ConsentSettings) -> bool:
    """Whether ``settings`` are on the default layout, with the file key store, and nothing of
    the deployment is there yet."""
    data = settings.data_dir
    return (settings.key_store == KeyStoreKind.FILE and data.is_absolute()
            and all(getattr(settings, field) == value
                    for field, value in _default_layout(data).items())
            and not any(part.exists() for part in _parts(settings)))


def _key(settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock) -> str:
    """What a first start depends on: the settings with the test's folder taken out, the
    thresholds file's content, the pipeline and the clock's instant."""
    root = str(settings.data_dir.parent)
    shape = json.dumps(settings.model_dump(mode="json"), sort_keys=True).replace(root, "")
    thresholds = hashlib.sha256(settings.thresholds_path.read_bytes()).hexdigest() \
        if settings.thresholds_path is not None and settings.thresholds_path.exists() else ""
    return f"{shape}|{thresholds}|{id(pipeline)}|{clock.now().isoformat()}"


def _made(settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock) -> _Template:
    """A first start with ``settings`` moved to a folder of the process's own, closed."""
    folder = Path(tempfile.mkdtemp(dir=_root().name))
    data = folder / settings.data_dir.name
    moved = settings.model_copy(update={"data_dir": data, **_default_layout(data)})
    seed_ledger(moved)
    OptinFace.open(moved, pipeline=pipeline, clock=FakeClock(clock.now())).close()
    return _Template(folder, pipeline)


def seed_deployment(settings: ConsentSettings, *, pipeline: FacePipeline,
                    clock: FakeClock) -> None:
    """Copy a first start made with ``settings``, ``pipeline`` and ``clock``'s instant where
    ``settings`` keep the deployment, if they are on the default layout and nothing of it is
    there yet (see the module's docstring); else nothing."""
    if not _copyable(settings):
        return
    key = _key(settings, pipeline, clock)
    if (template := _templates.get(key)) is None:
        template = _templates[key] = _made(settings, pipeline, clock)
    for part in _parts(settings):
        shutil.copytree(template.folder / part.name, part, symlinks=True)
