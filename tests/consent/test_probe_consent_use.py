"""A probe consent is spent by the attempt whose face is processed, and only once.

An attempt refused before any of the face is processed (the engine busy, the upload too large,
its header refused) leaves the probe consent for the next attempt; one whose pixels are decoded
spends it, refused afterwards or not; of two attempts at once under one probe consent, one
only is processed. The real engine, a real SQLite ledger.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable

import pytest
from PIL import Image
from sqlalchemy import update

from optinface.consent import spent_marks
from optinface.consent.errors import ProbeConsentRequired
from optinface.consent.schemas import MatchResult
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import ProbeConsent
from optinface.engine.decode import WAITING_PER_SLOT
from optinface.engine.errors import EngineError
from optinface.engine.jpeg_scans import MAX_JPEG_SCANS
from optinface.engine.pipeline import FacePipeline
from optinface.engine.settings import EngineSettings
from tests.corpus.generate import scan_bomb
from tests.support.consent import FakeClock, World, make_world, refused, row_count


def _identify(world: World, probe: str, image: bytes) -> MatchResult:
    return world.service.identify(actor=world.researcher, purpose_id=world.purpose,
                                  probe_consent_id=probe, image=image)


def _spent(world: World, probe: str) -> bool:
    return row_count(world.service, ProbeConsent, ProbeConsent.id == probe,
                     ProbeConsent.used_at.is_not(None)) == 1


def test_an_identify_refused_as_busy_leaves_its_probe_consent_for_the_next_attempt(
    settings: ConsentSettings, clock: FakeClock, portrait_jpegs: list[bytes],
    flipped_jpegs: list[bytes],
) -> None:
    """One decode slot and its waiting places taken (uploads held once admitted): the identify
    is refused at once with ``engine_busy``, its probe consent unspent; once they are gone the
    same probe consent finds the person."""
    one_slot = FacePipeline.from_settings(EngineSettings(max_concurrent_decodes=1))
    service = OptinFace.open(settings, pipeline=one_slot, clock=clock)
    try:
        world = make_world(service, clock)
        subject = world.enrolled(portrait_jpegs[0])
        probe = world.probe(image=flipped_jpegs[0])
        release, admitted = threading.Event(), threading.Semaphore(0)

        def held() -> None:
            admitted.release()
            release.wait(timeout=60)

        uploads = [threading.Thread(target=one_slot.embed_single, args=(portrait_jpegs[1],),
                                    kwargs={"before_decoding": held})
                   for _ in range(1 + WAITING_PER_SLOT)]
        for upload in uploads:
            upload.start()
        try:
            assert all(admitted.acquire(timeout=60) for _ in uploads)
            refused("engine_busy", lambda: _identify(world, probe, flipped_jpegs[0]))
            assert not _spent(world, probe)
        finally:
            release.set()
            for upload in uploads:
                upload.join()
        assert [c.subject for c in _identify(world, probe, flipped_jpegs[0]).candidates] == [
            subject]
        assert _spent(world, probe)
    finally:
        service.close()


def _encoded(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def _bmp(jpeg: bytes) -> bytes:
    return _encoded(Image.open(io.BytesIO(jpeg)), "BMP")


REFUSED_IMAGES: dict[str, tuple[Callable[[bytes], bytes], str, bool]] = {
    # name: (the upload made from a portrait, the refusal, whether its probe consent is spent)
    "format_not_accepted": (_bmp, "invalid_image", False),
    "too_many_scans": (lambda _: scan_bomb(64, 64, scans=MAX_JPEG_SCANS + 1),
                       "invalid_image", False),
    "too_many_bytes": (lambda jpeg: jpeg + b"\0" * EngineSettings().max_image_bytes,
                       "payload_too_large", False),
    "pixels_truncated": (lambda jpeg: jpeg[:len(jpeg) // 2], "invalid_image", True),
    "no_face": (lambda _: _encoded(Image.new("RGB", (250, 250), (128, 128, 128)), "PNG"),
                "no_face", True),
}


@pytest.mark.parametrize("case", REFUSED_IMAGES, ids=list(REFUSED_IMAGES))
def test_an_image_refused_from_its_header_leaves_its_probe_consent_one_decoded_spends_it(
    world: World, portrait_jpegs: list[bytes], case: str,
) -> None:
    """What the header says (its format, a JPEG's scans, the upload's size) is refused before
    any pixel is decoded: the attempt is refused again the same way, never as a spent probe
    consent. Pixels decoded, the face looked for, the probe consent is spent, refused or not."""
    made, code, spends = REFUSED_IMAGES[case]
    image = made(portrait_jpegs[0])
    probe = world.probe(image=image)
    refused(code, lambda: _identify(world, probe, image))
    assert _spent(world, probe) is spends
    if spends:
        with pytest.raises(ProbeConsentRequired) as again:
            _identify(world, probe, image)
        assert again.value.details["problem"] == "used"
    else:
        refused(code, lambda: _identify(world, probe, image))


def test_two_attempts_at_once_under_one_probe_consent_are_processed_once(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
) -> None:
    """Both pass the checks made before the upload is taken in; the probe consent is used in
    a serialised transaction once the engine admitted each, so one is processed and the other
    refused as used, its face never decoded."""
    subject = world.enrolled(portrait_jpegs[0])
    probe = world.probe(image=flipped_jpegs[0])
    start = threading.Barrier(2)
    answers: list[MatchResult | Exception] = []

    def attempt() -> None:
        start.wait(timeout=60)
        try:
            answers.append(_identify(world, probe, flipped_jpegs[0]))
        except (ProbeConsentRequired, EngineError) as refusal:
            answers.append(refusal)

    attempts = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in attempts:
        thread.start()
    for thread in attempts:
        thread.join()
    found = [a for a in answers if isinstance(a, MatchResult)]
    refusals = [a for a in answers if isinstance(a, ProbeConsentRequired)]
    assert [[c.subject for c in f.candidates] for f in found] == [[subject]]
    assert [r.details["problem"] for r in refusals] == ["used"]



def test_a_probe_consent_whose_use_is_cleared_in_the_database_searches_no_more(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
) -> None:
    """The person in the probe agreed to one search. Whoever writes the database alone could
    clear the row's use mark and let the researcher, who holds the probe, search again until
    the consent expires. Its use is marked in the witness folder, which the writer cannot
    undo: refused as used, nothing processed; and a folder that takes no mark refuses a first
    search with nothing spent, the same probe consent searching once it is mended."""
    subject = world.enrolled(portrait_jpegs[0])
    probe = world.probe(image=flipped_jpegs[0])
    assert [c.subject for c in _identify(world, probe, flipped_jpegs[0]).candidates] == [
        subject]
    with world.service.runtime.db.transaction() as session:
        session.execute(update(ProbeConsent).where(ProbeConsent.id == probe).values(
            used_at=None))
    with pytest.raises(ProbeConsentRequired) as again:
        _identify(world, probe, flipped_jpegs[0])
    assert again.value.details["problem"] == "used"
    assert spent_marks.marked(world.service.settings.witness_dir,
                              spent_marks.probe_consent(probe))

    other = world.probe(image=flipped_jpegs[0])
    marks = world.service.settings.witness_dir / spent_marks.SPENT
    aside = marks.with_name("spent.aside")
    marks.rename(aside)
    marks.write_text("not a folder", encoding="utf-8")  # refused to root too
    refused("witness_unusable", lambda: _identify(world, other, flipped_jpegs[0]))
    assert not _spent(world, other)
    marks.unlink()
    aside.rename(marks)
    assert [c.subject for c in _identify(world, other, flipped_jpegs[0]).candidates] == [
        subject]
