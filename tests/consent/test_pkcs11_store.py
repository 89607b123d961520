"""The PKCS#11 key store against a real SoftHSM2 token: wrapping happens inside the token.

Each test initialises its own token in a tmp folder (``SOFTHSM2_CONF`` is read once per
process, so one configuration serves the session and tokens are told apart by label), then
reloads the library, which lists tokens only when it loads.
"""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import NamedTuple

import pkcs11
import pytest
from pkcs11 import Attribute, KeyType, ObjectClass
from pydantic import SecretStr
from sqlalchemy import event, select

from optinface.consent import witness_binding
from optinface.consent.audit import AuditAction
from optinface.consent.crypto import NONCE_BYTES, TAG_BYTES
from optinface.consent.erasure_journal import journal_path
from optinface.consent.errors import KeyStoreUnusable, KeyUnavailable, WitnessUnusable
from optinface.consent.keys import SIGNING_KEY_NAME, public_key_of
from optinface.consent.keystore import open_key_store
from optinface.consent.pkcs11_store import Pkcs11KeyStore
from optinface.consent.schemas import ErasureReason
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings, KeyStoreKind
from optinface.consent.tables import AuditEvent
from optinface.engine.errors import IndexCorrupt
from optinface.engine.pipeline import FacePipeline
from tests.support.consent import Crash, FakeClock, crash, make_world, served_consent_receipt
from tests.support.files import open_index_copy, template_bytes

SOFTHSM = Path("/usr/lib/softhsm/libsofthsm2.so")
PIN = "4711-" + "0" * 4
SESSION_ENDED_UNDER_A_SEARCH = pytest.mark.filterwarnings(
    "ignore:Exception ignored in. 'pkcs11._pkcs11.OperationContext.__del__'"
    ":pytest.PytestUnraisableExceptionWarning")
"""For the tests that end the token's session on purpose: python-pkcs11 finalises the search
a key lookup began when it is collected, and with the session gone that can only fail where no
one can catch it (``SessionHandleInvalid``, reported as unraisable). The fault the test makes,
not one of the store's."""


@pytest.fixture(scope="session")
def softhsm_conf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("softhsm")
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {folder / 'tokens'}\n"
                    "objectstore.backend = file\nlog.level = ERROR\n")
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    yield conf
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous


@pytest.fixture
def hsm_settings(softhsm_conf: Path, settings: ConsentSettings) -> ConsentSettings:
    return on_a_new_token(settings)


def on_a_new_token(settings: ConsentSettings) -> ConsentSettings:
    """``settings`` with a freshly initialised, empty token as key store."""
    label = f"optinface-test-{secrets.token_hex(4)}"
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label,
                    "--pin", PIN, "--so-pin", "so-" + PIN], check=True, capture_output=True)
    pkcs11.unload(str(SOFTHSM))  # the library lists tokens once per load: see the new one
    return settings.model_copy(update={
        "key_store": KeyStoreKind.PKCS11, "pkcs11_module": SOFTHSM,
        "pkcs11_token_label": label, "pkcs11_pin": SecretStr(PIN)})


def _assert_the_one_key_is_unextractable(settings: ConsentSettings) -> None:
    """The token holds one AES key, sensitive and not extractable: a second look at it (the
    login is the application's)."""
    token = pkcs11.lib(str(SOFTHSM)).get_token(token_label=settings.pkcs11_token_label)
    with token.open() as session:
        [key] = session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY,
                                     Attribute.KEY_TYPE: KeyType.AES})
        assert key[Attribute.EXTRACTABLE] is False and key[Attribute.SENSITIVE] is True


class _KeyKind(NamedTuple):
    """The store's calls for one kind of key it makes on the token, each taking the store
    first (a wrap and an unwrap also take the ``associated`` data the blob is bound to)."""

    new: Callable[[Pkcs11KeyStore], int]
    wrap: Callable[..., bytes]
    unwrap: Callable[..., bytes]
    destroy: Callable[[Pkcs11KeyStore, int], None]


EPOCH_KEY = _KeyKind(Pkcs11KeyStore.new_epoch, Pkcs11KeyStore.wrap, Pkcs11KeyStore.unwrap,
                     Pkcs11KeyStore.destroy_epoch)
"""An epoch's key: it wraps the subject keys."""
INDEX_FILE_KEY = _KeyKind(Pkcs11KeyStore.new_index_file_key, Pkcs11KeyStore.wrap_index_file,
                          Pkcs11KeyStore.unwrap_index_file, Pkcs11KeyStore.destroy_index_file_key)
"""An index file's own key: an erasure destroys it."""


@pytest.mark.parametrize(("kind", "associated"), [
    (EPOCH_KEY, b"subject-key:7"),
    (INDEX_FILE_KEY, b"index-file"),
], ids=["epoch", "index-file"])
def test_on_a_token_a_key_is_made_there_unextractable_wraps_there_and_is_destroyed_for_good(
    hsm_settings: ConsentSettings, kind: _KeyKind, associated: bytes,
) -> None:
    store = open_key_store(hsm_settings, create=True)
    assert isinstance(store, Pkcs11KeyStore)
    try:
        key = kind.new(store)
        assert store.epochs() + store.index_file_keys() == [key]  # that key alone
        data_key = secrets.token_bytes(32)
        wrapped = kind.wrap(store, key, data_key, associated=associated)
        assert data_key not in wrapped
        assert kind.unwrap(store, key, wrapped, associated=associated) == data_key
        with pytest.raises(ValueError):  # opened with other associated data than it was bound to
            kind.unwrap(store, key, wrapped, associated=b"subject-key:8")
        _assert_the_one_key_is_unextractable(hsm_settings)

        kind.destroy(store, key)
        assert store.epochs() + store.index_file_keys() == []
        with pytest.raises(KeyUnavailable):
            kind.unwrap(store, key, wrapped, associated=associated)
    finally:
        store.close()


@SESSION_ENDED_UNDER_A_SEARCH
def test_a_token_fault_mid_rotation_stops_it_with_a_code_and_deletes_no_key(
    hsm_settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock,
    portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
) -> None:
    """The token's session ends as the rotation reads the subject keys to open them: a fault
    of the token, not a key failing its check. The rotation is refused
    with the store's code and rolled back; no key is deleted, and the next start re-wraps it."""
    service = OptinFace.open(hsm_settings, pipeline=pipeline, clock=clock)
    world = make_world(service, clock)
    pseudonym = world.enrolled(portrait_jpegs[0])
    store = service.runtime.keys.store

    def session_ends(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "FROM subject_keys LEFT OUTER JOIN subjects" in statement:
            store.close()

    event.listen(service.runtime.db.engine, "before_cursor_execute", session_ends)
    with pytest.raises(KeyStoreUnusable):
        service.rotate_epoch(actor=world.admin)
    event.remove(service.runtime.db.engine, "before_cursor_execute", session_ends)
    with pytest.raises(pkcs11.exceptions.SessionHandleInvalid):  # the index's save, on close
        service.close()
    service.runtime.db.close()
    with closing(OptinFace.open(hsm_settings, pipeline=pipeline, clock=clock)) as reopened:
        world.service = reopened
        rotated = reopened.rotate_epoch(actor=world.admin)
        assert rotated.subject_keys_rewrapped == 1
        assert world.verify(pseudonym, flipped_jpegs[0]).outcome == "candidates_for_review"


def test_a_passing_token_fault_on_one_key_mid_rotation_deletes_no_key(
    hsm_settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock,
    portrait_jpegs: list[bytes], flipped_jpegs: list[bytes], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The token answers one unwrap with ``CKR_GENERAL_ERROR`` (SoftHSM2's answer to a failed
    tag, so read as one), then works again: the epoch opens its other key and a probe, and the
    key that failed, tried once more, opens; it is re-wrapped, not deleted with its template
    (review 20c #3)."""
    with closing(OptinFace.open(hsm_settings, pipeline=pipeline, clock=clock)) as service:
        world = make_world(service, clock)
        enrolled = [world.enrolled(jpeg) for jpeg in portrait_jpegs[:2]]
        assert isinstance(service.runtime.keys.store, Pkcs11KeyStore)
        decrypt = pkcs11.types.DecryptMixin.decrypt  # what every key on the token decrypts with
        faults: list[str] = []

        def faults_once(key: object, *args: object, **kwargs: object) -> object:
            """A token key's decryption, the first of which fails as a passing fault would."""
            if not faults:
                faults.append("CKR_GENERAL_ERROR")
                raise pkcs11.exceptions.GeneralError()
            return decrypt(key, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(pkcs11.types.DecryptMixin, "decrypt", faults_once)
        rotated = service.rotate_epoch(actor=world.admin)
        monkeypatch.undo()
        assert faults and rotated.subject_keys_rewrapped == 2
        for pseudonym, jpeg in zip(enrolled, flipped_jpegs, strict=False):
            assert world.verify(pseudonym, jpeg).outcome == "candidates_for_review"


@SESSION_ENDED_UNDER_A_SEARCH
def test_on_a_token_a_wrapped_key_too_short_to_hold_a_nonce_and_tag_is_forged_not_a_fault(
    hsm_settings: ConsentSettings,
) -> None:
    """An empty or short blob (a row or an index file cut short) fails as a forged one does,
    ``ValueError`` (409, or an index rebuilt at start), before the token is asked: a token may
    reject its IV or length as a bad argument (``ArgumentsBad``; SoftHSM2 answers
    ``CKR_GENERAL_ERROR``), which would read as a fault of the token (review 20c #4). Shown
    with the store's session ended, so that any call to the token is a fault."""
    store = open_key_store(hsm_settings, create=True)
    epoch, key_id = store.new_epoch(), store.new_index_file_key()
    store.close()
    with pytest.raises(KeyStoreUnusable):  # a blob of a right length reaches the token
        store.unwrap(epoch, b"\x00" * (NONCE_BYTES + TAG_BYTES), associated=b"subject-key:7")
    for blob in (b"", b"\x02" * 5, b"\x00" * (NONCE_BYTES + TAG_BYTES - 1)):
        with pytest.raises(ValueError):
            store.unwrap(epoch, blob, associated=b"subject-key:7")
        with pytest.raises(ValueError):
            store.unwrap_index_file(key_id, blob, associated=b"index-file")


def test_a_wrong_pin_is_refused_with_a_code(hsm_settings: ConsentSettings) -> None:
    wrong = hsm_settings.model_copy(update={"pkcs11_pin": SecretStr("0000")})
    with pytest.raises(KeyStoreUnusable) as refused:
        open_key_store(wrong, create=True)
    assert refused.value.code == "key_store_unusable" and "0000" not in refused.value.message


def test_the_service_runs_on_a_token_and_an_epoch_rotation_shreds_there(
    hsm_settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock,
    portrait_jpegs: list[bytes],
) -> None:
    service = OptinFace.open(hsm_settings, pipeline=pipeline, clock=clock)
    try:
        world = make_world(service, clock)
        pseudonym, consent = world.subject()
        template = world.enrol(pseudonym, consent, portrait_jpegs[0])
        assert template_bytes(service, template.id)[1]  # decrypts through the token
        first = service.runtime.keys.epoch
        service.rotate_epoch(actor=world.admin)
        assert service.runtime.keys.store.epochs() == [first + 1]
        service.erase(actor=world.admin, subject=pseudonym, reason=ErasureReason.REQUEST)
    finally:
        service.close()
    assert not hsm_settings.keys_dir.exists()  # nothing written beside the data


def test_on_a_token_a_ledger_copy_on_an_empty_witness_is_refused_until_adopted(
    hsm_settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock,
    portrait_jpegs: list[bytes], tmp_path: Path,
) -> None:
    """Red team, finding 5, with the key store in the token: the token records the witness
    and how far its journal reached at the erasure, so the ledger copy from before it, started
    on a new empty folder, is refused; the operator's act takes the folder up, chained."""
    start = functools.partial(OptinFace.open, pipeline=pipeline, clock=clock)
    with closing(start(hsm_settings)) as service:
        world = make_world(service, clock)
        pseudonym = world.enrolled(portrait_jpegs[0])
    shutil.copytree(hsm_settings.data_dir, tmp_path / "snapshot")
    with closing(start(hsm_settings)) as service:
        service.erase(actor=world.admin, subject=pseudonym, reason=ErasureReason.REQUEST)
        record = witness_binding.read_record(service.runtime.keys.store)
    journal = journal_path(hsm_settings.witness_dir).read_bytes()
    assert record is not None and record.journal == len(journal)
    shutil.rmtree(hsm_settings.data_dir)
    shutil.copytree(tmp_path / "snapshot", hsm_settings.data_dir)
    moved = hsm_settings.model_copy(update={"audit_witness_dir": tmp_path / "new-witness"})
    with pytest.raises(WitnessUnusable, match="adopt-witness"):
        start(moved)
    assert not moved.witness_dir.exists()
    with closing(start(moved, adopt_witness="INC-12: witness disk lost")) as adopted:
        with adopted.runtime.db.transaction() as session:
            [details] = session.scalars(select(AuditEvent.details).where(
                AuditEvent.action == AuditAction.WITNESS_ADOPTED)).all()
        assert details["journal_seen"] == len(journal) and details["journal_held"] == 0
    with closing(start(moved)):
        pass
    assert not hsm_settings.keys_dir.exists()  # nothing written beside the data


def test_on_a_token_an_index_copy_from_before_an_erasure_opens_with_no_key_once_it_commits(
    hsm_settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock,
    portrait_jpegs: list[bytes], tmp_path: Path,
) -> None:
    """The index file's data key is wrapped inside the token, under a key made there for that
    file alone, which the erasure destroys there: no epoch rotation needed."""
    with closing(OptinFace.open(hsm_settings, pipeline=pipeline, clock=clock)) as service:
        world = make_world(service, clock)
        erased = world.enrolled(portrait_jpegs[0])
        kept = world.enrolled(portrait_jpegs[1])
        service.index.save()
        copy = tmp_path / "old-index.hnsw"
        shutil.copy2(hsm_settings.index_path, copy)
        assert open_index_copy(service, copy).count() == 2  # worth attacking
        service.erase(actor=world.admin, subject=erased, reason=ErasureReason.REQUEST)
        with pytest.raises(IndexCorrupt, match="destroyed"):
            open_index_copy(service, copy)
        service.settle()  # the live file, saved again in the background
        assert len(service.runtime.keys.store.index_file_keys()) == 1  # its new key, alone
        assert open_index_copy(service, hsm_settings.index_path).count() == 1
        assert world.verify(kept, portrait_jpegs[1]).outcome == "candidates_for_review"


def test_a_blank_token_pointed_at_a_ledger_in_use_is_refused_and_left_blank(
    hsm_settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock,
    portrait_jpegs: list[bytes],
) -> None:
    with closing(OptinFace.open(hsm_settings, pipeline=pipeline, clock=clock)) as service:
        make_world(service, clock).enrolled(portrait_jpegs[0])
    index = hsm_settings.index_path.read_bytes()
    blank = on_a_new_token(hsm_settings)
    with pytest.raises(KeyStoreUnusable) as refused:
        OptinFace.open(blank, pipeline=pipeline, clock=clock)
    assert refused.value.details["missing"] == [
        "checkpoint", "epoch", "hmac", "rotation", "signing"]
    assert hsm_settings.index_path.read_bytes() == index  # not deleted to be rebuilt
    store = open_key_store(blank, create=False)
    try:
        assert store.epochs() == [] and store.read_secret("signing") is None
    finally:
        store.close()


def test_on_a_token_the_start_destroys_what_a_killed_rotation_left_and_ignores_an_unknown_epoch(
    hsm_settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock,
    portrait_jpegs: list[bytes], flipped_jpegs: list[bytes], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A rotation killed after its commit left the old epoch's key on the token; a key made on
    the token since (as a rotation killed before its commit leaves one) wraps nothing the
    ledger keeps. The next start destroys the first, never wraps under the second, and every
    subject key still opens."""
    with closing(OptinFace.open(hsm_settings, pipeline=pipeline, clock=clock)) as service:
        world = make_world(service, clock)
        pseudonym = world.enrolled(portrait_jpegs[0])
        monkeypatch.setattr(service.runtime.db, "checkpoint", crash)  # the step after the commit
        with pytest.raises(Crash):
            service.rotate_epoch(actor=world.admin)
        monkeypatch.undo()
    store = open_key_store(hsm_settings, create=False)
    try:
        assert store.epochs() == [1, 2]
        assert store.new_epoch() == 3
    finally:
        store.close()
    with closing(OptinFace.open(hsm_settings, pipeline=pipeline, clock=clock)) as reopened:
        assert reopened.runtime.keys.store.epochs() == [2, 3]
        assert reopened.runtime.keys.epoch == 2
        first, second = reopened.key_epochs(actor=world.admin)
        assert (first.destroyed_at, second.destroyed_at) == (clock.now(), None)
        world.service = reopened
        assert world.verify(pseudonym, flipped_jpegs[0]).outcome == "candidates_for_review"


def test_on_a_token_the_old_receipt_key_object_is_destroyed_and_its_receipts_still_verify(
    hsm_settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock,
) -> None:
    hsm = hsm_settings
    with closing(OptinFace.open(hsm, pipeline=pipeline, clock=clock)) as service:
        world = make_world(service, clock)
        pseudonym, _ = world.subject()
        old_key = service.public_key
        old_seed = service.runtime.keys.store.read_secret(SIGNING_KEY_NAME)
        receipt, signature, _ = served_consent_receipt(world, pseudonym)
        service.rotate_receipt_key(reason="INC-7: receipt key copied")
        assert _token_values(hsm, SIGNING_KEY_NAME) != [old_seed]
        assert [public_key_of(v) for v in _token_values(hsm, SIGNING_KEY_NAME)] \
            == [service.public_key]
        assert [k.public_key for k in service.retired_keys()] == [old_key]
        assert served_consent_receipt(world, pseudonym) == (receipt, signature, old_key)
    with closing(OptinFace.open(hsm, pipeline=pipeline, clock=clock)) as reopened:
        assert [k.public_key for k in reopened.retired_keys()] == [old_key]
        assert reopened.published_keys()[0].public_key != old_key


def test_on_a_token_a_replaced_secret_left_behind_is_never_read_and_the_next_write_destroys_it(
    hsm_settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock,
) -> None:
    """A rotation whose destroy of the old object failed leaves two receipt-key objects: the
    newest one written is the key in force, whatever the token's order, and two of one
    generation are refused, never one picked at random."""
    hsm = hsm_settings
    with closing(OptinFace.open(hsm, pipeline=pipeline, clock=clock)) as service:
        old_seed = service.runtime.keys.store.read_secret(SIGNING_KEY_NAME)
        assert old_seed is not None
        service.rotate_receipt_key(reason="INC-7: receipt key copied")
        new_key = service.public_key
    # What a failed destroy leaves: the old object, one generation below, next to the new.
    assert _leave_object(hsm, SIGNING_KEY_NAME, old_seed, "optinface generation 1") == 2
    with closing(OptinFace.open(hsm, pipeline=pipeline, clock=clock)) as reopened:
        assert reopened.public_key == new_key
        reopened.rotate_receipt_key(reason="INC-8: second rotation")
        assert [public_key_of(v) for v in _token_values(hsm, SIGNING_KEY_NAME)] \
            == [reopened.public_key]
    _leave_object(hsm, "twice", b"one", "")
    _leave_object(hsm, "twice", b"two", "")
    store = open_key_store(hsm, create=False)
    try:
        with pytest.raises(KeyStoreUnusable):
            store.read_secret("twice")
    finally:
        store.close()


def _leave_object(settings: ConsentSettings, name: str, value: bytes, application: str) -> int:
    """Write a data object under ``name`` stating ``application`` outside the store (none
    open); returns how many objects the token then holds under ``name``."""
    token = pkcs11.lib(str(SOFTHSM)).get_token(token_label=settings.pkcs11_token_label)
    label = f"optinface-{name}"
    with token.open(rw=True, user_pin=PIN) as session:
        session.create_object({
            Attribute.CLASS: ObjectClass.DATA, Attribute.TOKEN: True, Attribute.PRIVATE: True,
            Attribute.MODIFIABLE: False, Attribute.LABEL: label, Attribute.VALUE: value,
            Attribute.APPLICATION: application})
        return len(list(session.get_objects({Attribute.CLASS: ObjectClass.DATA,
                                             Attribute.LABEL: label})))


def _token_values(settings: ConsentSettings, name: str) -> list[bytes]:
    """Every data object the token holds under ``name`` (the login is the application's)."""
    token = pkcs11.lib(str(SOFTHSM)).get_token(token_label=settings.pkcs11_token_label)
    with token.open() as session:
        return [bytes(o[Attribute.VALUE]) for o in session.get_objects(
            {Attribute.CLASS: ObjectClass.DATA, Attribute.LABEL: f"optinface-{name}"})]
