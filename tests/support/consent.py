"""What the consent tests build with: a clock that only moves when told, and a deployment set
up the usual way (keys per role, one purpose, one notice, declared) whose people sign with
software passkeys."""

from __future__ import annotations

import copy
import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, NoReturn

import pytest
from sqlalchemy import ColumnElement, Connection, create_engine, func, select
from sqlalchemy import text as sql_text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from optinface.api.sweeper import Sweeper
from optinface.consent import audit_redaction, audit_seal_tree
from optinface.consent.audit import Entry, event_hash, keyed_seal, link
from optinface.consent.crypto import canonical_json
from optinface.consent.declaration import declared_long_enough_ago
from optinface.consent.errors import ConsentError
from optinface.consent.passkeys import challenge_for
from optinface.consent.roles import Actor, Role
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import (
    AdminPasskeyAsk,
    AdminPasskeyResponse,
    AgeCategory,
    ConsentGiven,
    MatchResult,
    NoticeCreate,
    Operation,
    PasskeyChallenge,
    PasskeyResponse,
    ProbeConsentRequest,
    PurposeCreate,
    SubjectCreate,
    TemplatePublic,
    TranslationLanguage,
    WithdrawalResult,
)
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings, Jurisdiction
from optinface.consent.soft_authenticator import SoftAuthenticator, b64url
from optinface.consent.soft_person import DEFAULT_ORIGIN, SoftPerson, probe_consent
from optinface.consent.tables import AuditEvent
from optinface.consent.witness import witnessed
from optinface.engine.errors import EngineError


def witness_sizes(settings: ConsentSettings) -> list[int]:
    """The sizes of the checkpoints the deployment's witness folder holds, smallest first."""
    return [int(path.stem) for path in witnessed(settings.witness_dir)]


def assert_witness_sees_the_restore(service: OptinFace) -> None:
    """A restored log lost the events after the copy: the first start after it chained that
    once (``log_rolled_back``), and the witness folder says so at the first event the restore
    rewrote, naming that rollback (the lost events stay lost: the log does not verify)."""
    status = service.verify_audit()
    assert not status.ok and status.problem is not None and "witness" in status.problem
    assert "rolled back from" in status.problem
    assert row_count(service, AuditEvent, AuditEvent.action == "log_rolled_back") == 1


def row_count(service: OptinFace, table: type, *where: ColumnElement[bool]) -> int:
    """How many rows of ``table`` (those matching ``where``) the ledger holds now: what the
    sweep and the erasure tests watch disappear."""
    with service.runtime.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(table).where(*where)) or 0


@contextmanager
def _outside(service: OptinFace) -> Iterator[Connection]:
    """A transaction on a connection of the operator's own (SQLite or PostgreSQL), not the
    service's, while the service runs."""
    engine = create_engine(service.settings.url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


def outside_sql(service: OptinFace, statement: str, **parameters: object) -> None:
    """A write to the ledger as an operator's SQL console makes it, on a connection of its own."""
    with _outside(service) as connection:
        connection.execute(sql_text(statement), parameters)


def keep_deleted_rows(service: OptinFace, *tables: str) -> None:
    """Red team 5's trigger on each table, made by :func:`outside_sql`: every row a ``DELETE``
    names stays, and the statement succeeds (PostgreSQL: ``RETURN NULL``; SQLite:
    ``RAISE(IGNORE)``). :func:`drop_triggers` takes them away."""
    if service.runtime.db.shared:
        outside_sql(service, "CREATE OR REPLACE FUNCTION keep_the_row() RETURNS trigger"
                             " LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$")
    for table in tables:
        outside_sql(service, f"CREATE TRIGGER keep_{table} BEFORE DELETE ON {table}"
                             + (" FOR EACH ROW EXECUTE FUNCTION keep_the_row()"
                                if service.runtime.db.shared
                                else " BEGIN SELECT RAISE(IGNORE); END"))


def keep_updated_rows(service: OptinFace, table: str, *columns: str) -> None:
    """A trigger made by :func:`outside_sql` that undoes every ``UPDATE`` of ``table``, the
    statement succeeding (PostgreSQL: ``BEFORE UPDATE`` returning ``OLD``; SQLite, whose
    triggers cannot return a row: an ``AFTER UPDATE`` one that sets ``columns`` back).
    :func:`drop_triggers` takes it away."""
    if service.runtime.db.shared:
        outside_sql(service, "CREATE OR REPLACE FUNCTION keep_the_old_row() RETURNS trigger"
                             " LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$")
        outside_sql(service, f"CREATE TRIGGER keep_{table} BEFORE UPDATE ON {table}"
                             " FOR EACH ROW EXECUTE FUNCTION keep_the_old_row()")
        return
    back = ", ".join(f"{column} = OLD.{column}" for column in columns)
    outside_sql(service, f"CREATE TRIGGER keep_{table} AFTER UPDATE ON {table} BEGIN"
                         f" UPDATE {table} SET {back} WHERE rowid = OLD.rowid; END")


def refuse_updates(service: OptinFace, table: str) -> None:
    """A trigger made by :func:`outside_sql` that fails every ``UPDATE`` of ``table`` as a
    read-only replica fails a write (PostgreSQL: SQLSTATE 25006, read_only_sql_transaction;
    SQLite: ``RAISE(ABORT)``). :func:`drop_triggers` takes it away."""
    if service.runtime.db.shared:
        outside_sql(service, "CREATE OR REPLACE FUNCTION refuse_the_update() RETURNS trigger"
                             " LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION"
                             " 'cannot execute UPDATE in a read-only transaction'"
                             " USING ERRCODE = '25006'; END $$")
        outside_sql(service, f"CREATE TRIGGER keep_{table} BEFORE UPDATE ON {table}"
                             " FOR EACH ROW EXECUTE FUNCTION refuse_the_update()")
        return
    outside_sql(service, f"CREATE TRIGGER keep_{table} BEFORE UPDATE ON {table} BEGIN"
                         " SELECT RAISE(ABORT, 'attempt to write a readonly database'); END")


def drop_triggers(service: OptinFace, *tables: str) -> None:
    """Take away the triggers :func:`keep_deleted_rows`, :func:`keep_updated_rows` or
    :func:`refuse_updates` made on ``tables``, as the operator would."""
    for table in tables:
        outside_sql(service, f"DROP TRIGGER keep_{table}"
                             + (f" ON {table}" if service.runtime.db.shared else ""))


def outside_copy(service: OptinFace, table: str) -> list[dict[str, Any]]:
    """The rows of ``table`` as a copy of the database holds them (a backup, taken by the
    operator on a connection of their own): the driver's values, no ledger type in between."""
    with _outside(service) as connection:
        return [dict(row) for row in connection.execute(
            sql_text(f"SELECT * FROM {table}")).mappings()]


def outside_put_back(service: OptinFace, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` of :func:`outside_copy` into ``table`` again, as an operator restoring
    them from the copy while the service runs."""
    with _outside(service) as connection:
        for row in rows:
            connection.execute(sql_text(
                f"INSERT INTO {table} ({', '.join(row)})"
                f" VALUES ({', '.join(':' + column for column in row)})"), row)


def refused(code: str, call: Callable[[], object]) -> ConsentError | EngineError:
    """``call`` is refused with the stable error ``code`` (a gate of the consent core or of
    the engine): the refusal."""
    with pytest.raises((ConsentError, EngineError)) as error:
        call()
    refusal = error.value
    assert isinstance(refusal, ConsentError | EngineError) and refusal.code == code
    return refusal


def searches_the_server_fails(world: World, image: bytes, *, times: int,
                              daily_quota: int | None = None) -> None:
    """``times`` identify attempts that fail unexpectedly once their probe consent is spent and
    the face embedded: the gallery's table is gone (a real database failure, no stand-in)."""
    with world.service.runtime.db.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS templates")
    for _ in range(times):
        with pytest.raises(OperationalError):
            world.service.identify(actor=world.researcher, purpose_id=world.purpose,
                                   probe_consent_id=world.probe(image=image), image=image,
                                   daily_quota=daily_quota)


class Crash(Exception):
    """The process dies here: nothing after this point of the call runs."""


def crash(*_: object, **__: object) -> NoReturn:
    """Stands in for a step a test kills the process at (``monkeypatch.setattr``)."""
    raise Crash


class Killed(BaseException):
    """The process is killed here, in a run of erasures that reports and skips a subject whose
    erasure raises (``erasure.erase_each``): no ``except Exception`` stops it, as none stops
    a kill."""


def rotated_by_the_sweeper(service: OptinFace, keys_dir: Path, epoch: int) -> None:
    """The server's own schedule (the sweeper's thread) rotates past ``epoch`` and destroys
    its key file in ``keys_dir`` (within 20 s)."""
    sweeper = Sweeper(service, interval=3600)
    sweeper.start()
    try:
        deadline = time.monotonic() + 20
        while (keys_dir / f"epoch-{epoch}.key").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sweeper.stop()


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@dataclass
class World:
    """A deployment set up the usual way: keys per role, one purpose, one notice, declared.

    People hold software passkeys (:mod:`consent.soft_person`): every consent, withdrawal,
    opt-in, photo approval and probe consent below is signed by the person, as the rules ask.
    """

    service: OptinFace
    clock: FakeClock
    admin: Actor
    portal: Actor
    researcher: Actor
    reviewer: Actor
    purpose: str
    notice: str
    people: dict[str, SoftPerson] = field(default_factory=dict)
    guardians: dict[str, SoftPerson] = field(default_factory=dict)

    def person(self, *, age: AgeCategory = AgeCategory.ADULT,
               jurisdiction: Jurisdiction | None = None,
               declared_on: date | None = None) -> SoftPerson:
        """A new subject shell taken over by its person (and their guardian, for a minor under
        the age of consent), no consent yet; its age bracket declared on ``declared_on``
        (default today)."""
        created = self.service.create_subject(
            actor=self.portal, body=SubjectCreate(age_category=age, jurisdiction=jurisdiction,
                                                  age_declared_on=declared_on))
        person = SoftPerson.take_over(self.service, created.enrolment.secret)
        self.people[person.pseudonym] = person
        if created.guardian_enrolment is not None:
            self.guardians[person.pseudonym] = SoftPerson.take_over(
                self.service, created.guardian_enrolment.secret)
        return person

    def signer(self, pseudonym: str) -> SoftPerson:
        """Who signs for the subject: their guardian if they have one, else themselves."""
        return self.guardians.get(pseudonym) or self.people[pseudonym]

    def subject(
        self,
        *,
        age: AgeCategory = AgeCategory.ADULT,
        searchable: bool = True,
        purposes: list[str] | None = None,
        days: int = 365,
    ) -> tuple[str, str]:
        """A new subject with one consent (opted in to search unless told): (pseudonym,
        consent id)."""
        person = self.person(age=age)
        consent = self.consent(person.pseudonym, purposes=purposes, days=days)
        if searchable:
            person.set_searchable(True)
        return person.pseudonym, consent.consent.id

    def consent(self, pseudonym: str, *, purposes: list[str] | None = None,
                days: int = 365) -> ConsentGiven:
        return self.signer(pseudonym).consent(
            purposes=purposes or [self.purpose], notice_id=self.notice, language="fr-CA",
            expires_at=self.clock.now() + timedelta(days=days))

    def enrol(self, pseudonym: str, consent_id: str, image: bytes, *,
              replaces: int | None = None) -> TemplatePublic:
        """Desk-assisted: the desk opens a capture session (replacing the template
        ``replaces``, if named), the person approves, the desk uploads."""
        return self.signer(pseudonym).enrol(consent_id, image, desk=self.portal,
                                            replaces=replaces)

    def enrolled(self, image: bytes) -> str:
        """A new searchable subject with one consent and ``image`` enrolled: their pseudonym."""
        pseudonym, consent_id = self.subject()
        self.enrol(pseudonym, consent_id, image)
        return pseudonym

    def withdraw(self, pseudonym: str, consent_id: str) -> WithdrawalResult:
        return self.signer(pseudonym).withdraw(consent_id)

    def withdraw_purpose(self, pseudonym: str, consent_id: str,
                         purpose_id: str) -> WithdrawalResult:
        return self.signer(pseudonym).withdraw_purpose(consent_id, purpose_id)

    def probe_link(self, purpose: str | None = None, *, image: bytes,
                   researcher: Actor | None = None, subject: str | None = None) -> str:
        """A researcher's request for the consent of the person in ``image`` (for a verify,
        of the ``subject`` compared with): the link's secret, not yet opened."""
        return self.service.request_probe_consent(
            actor=researcher or self.researcher,
            body=ProbeConsentRequest(purpose_id=purpose or self.purpose, notice_id=self.notice,
                                     probe_sha256=hashlib.sha256(image).hexdigest(),
                                     subject=subject)).secret

    def probe(self, purpose: str | None = None, *, image: bytes,
              researcher: Actor | None = None, subject: str | None = None) -> str:
        """A probe consent signed by the person in ``image`` for this researcher's key; for a
        verify against ``subject``, signed by that subject's own passkey."""
        link = self.probe_link(purpose, image=image, researcher=researcher, subject=subject)
        if subject is not None:
            return self.signer(subject).sign_probe(link).id
        return probe_consent(self.service, link).id

    def identify(self, image: bytes, *, purpose: str | None = None,
                 decision_use: bool = False) -> MatchResult:
        """The researcher's 1:N search with ``image``, under a probe consent the person in it
        signed for it (in the world's purpose unless told)."""
        purpose = purpose or self.purpose
        return self.service.identify(actor=self.researcher, purpose_id=purpose,
                                     probe_consent_id=self.probe(purpose, image=image),
                                     image=image, decision_use=decision_use)

    def verify(self, subject: str, image: bytes, *, purpose: str | None = None,
               decision_use: bool = False) -> MatchResult:
        """The researcher's 1:1 comparison of ``image`` with ``subject``, under a probe consent
        the person in it signed for it (in the world's purpose unless told)."""
        purpose = purpose or self.purpose
        return self.service.verify(actor=self.researcher, subject=subject, purpose_id=purpose,
                                   probe_consent_id=self.probe(purpose, image=image,
                                                               subject=subject),
                                   image=image, decision_use=decision_use)

    def purpose_with(self, *operations: Operation, name: str, retention_days: int = 3650) -> str:
        """A new purpose, declared: a new purpose suspends matching until a declaration
        covers it (tests of that rule call ``create_purpose`` themselves)."""
        created = self.service.create_purpose(
            actor=self.admin,
            body=PurposeCreate(name=name, description="test", legal_basis="consent",
                               operations=set(operations), retention_days=retention_days),
        ).id
        self.declare()
        return created

    @cached_property
    def verifiers(self) -> tuple[Actor, Actor]:
        """Two verifier keys (made on first use: other tests count the audit events)."""
        made = [self.service.authenticate(self.service.create_api_key(
            actor=self.admin, role=Role.VERIFIER, name=f"verifier {n}").secret) for n in (1, 2)]
        return made[0], made[1]

    def as_made_before(self, pseudonym: str, receipt: dict[str, Any],
                       field_name: str) -> tuple[dict[str, Any], str]:
        """``receipt`` as a consent given before ``field_name`` existed has it: that field gone
        from the receipt and from the statement its person signed, the person's passkey
        signature and the controller's made anew. The receipt and its signature."""
        old = copy.deepcopy(receipt)
        del old[field_name]
        evidence = old["subjectSignature"]
        del evidence["statement"][field_name]
        evidence["assertion"] = self.people[pseudonym].authenticator.get({
            "challenge": b64url(challenge_for(evidence["statement"])), "rpId": evidence["rpId"],
            "allowCredentials": [{"type": "public-key", "id": evidence["credentialId"]}]})
        return old, self.service.runtime.keys.sign(canonical_json(old))

    def translate_purpose(self, french: dict[str, str]) -> None:
        """The admin gives the world's purpose its French (by field: name, description,
        legal_basis), then declares the register again (translations are declared material)."""
        texts = {where: text for text in self.service.operator_texts(
            language=TranslationLanguage.FR) for where in text.places}
        for field_name, text in french.items():
            self.service.translate_operator_text(
                actor=self.admin, language=TranslationLanguage.FR,
                source_sha256=texts[f"purpose {self.purpose} {field_name}"].source_sha256,
                text=text)
        self.declare()

    def declare(self) -> None:
        """Declare the register as it stands, dated early enough to be in service now."""
        self.service.declare(
            actor=self.admin,
            date=declared_long_enough_ago(self.clock.now().date(), self.service.settings),
            reference="CAI-2026-001",
        )


def second_worker(settings: ConsentSettings) -> ConsentSettings:
    """The same ledger, key store and witness folder; its own data directory (its index
    replica and its lock)."""
    return settings.model_copy(update={"data_dir": settings.data_dir.with_name("worker-b")})


def enrolled_seen_by(a: World, b: World, image: bytes) -> tuple[str, TemplatePublic]:
    """A new subject enrolled through worker A, once B's replica holds the template."""
    pseudonym, consent_id = a.subject()
    template = a.enrol(pseudonym, consent_id, image)
    b.service.settle()
    assert template.id in b.service.index.labels()
    return pseudonym, template


def make_world(service: OptinFace, clock: FakeClock, *, declare: bool = True) -> World:
    bootstrap = service.create_api_key(actor=None, role=Role.ADMIN, name="root")
    admin = service.authenticate(bootstrap.secret)
    actors = {
        role: service.authenticate(
            service.create_api_key(actor=admin, role=role, name=str(role)).secret
        )
        for role in (Role.PORTAL, Role.RESEARCHER, Role.REVIEWER)
    }
    purpose = service.create_purpose(
        actor=admin,
        body=PurposeCreate(
            name="study-1",
            description="Re-identification of consenting volunteers in study 1",
            legal_basis="express consent (Law 25 s. 12; GDPR art. 9(2)(a))",
            operations={Operation.ENROL, Operation.VERIFY, Operation.IDENTIFY},
            retention_days=3650,
            study="study 1",
        ),
    )
    notice = service.publish_notice(
        actor=admin, body=NoticeCreate(version="1.0", language="fr-CA", text="Avis ...")
    )
    world = World(
        service=service, clock=clock, admin=admin, portal=actors[Role.PORTAL],
        researcher=actors[Role.RESEARCHER], reviewer=actors[Role.REVIEWER],
        purpose=purpose.id, notice=notice.id,
    )
    if declare:
        world.declare()
    return world


def new_device_answer(options: PasskeyChallenge) -> PasskeyResponse:
    """A new software device's answer to registration ``options``: whoever asked them, the
    person or the desk, registers that device's passkey with it."""
    device = SoftAuthenticator(origin=DEFAULT_ORIGIN)
    return PasskeyResponse(ceremony_id=options.ceremony_id,
                           credential=device.create(options.options))


def sign_in_answer(service: OptinFace, device: SoftAuthenticator) -> PasskeyResponse:
    """``device``'s answer to a fresh sign-in challenge: what the browser sends back to sign
    its person in (to a token, or to a page's session)."""
    challenge = service.sign_in_options()
    return PasskeyResponse(ceremony_id=challenge.ceremony_id,
                           credential=device.get(challenge.options))


def new_subject_token(service: OptinFace, person: SoftPerson) -> str:
    """A new subject token for ``person`` (or the guardian they are), from a sign-in with their
    passkey."""
    return service.sign_in(sign_in_answer(service, person.authenticator)).subject_token


def register_admin_passkey(service: OptinFace, admin: Actor, device: SoftAuthenticator, *,
                            link: str | None = None,
                            approver: SoftAuthenticator | None = None) -> None:
    """Bind ``device``'s new passkey to ``admin``'s key: on the operator's ``link``, or
    approved by ``approver``, the key's current passkey."""
    asked = service.admin_passkey_options(actor=admin, body=AdminPasskeyAsk(link=link))
    approval = None
    if approver is not None and asked.approval is not None:
        approval = PasskeyResponse(ceremony_id=asked.approval.ceremony_id,
                                   credential=approver.get(asked.approval.options))
    service.register_admin_passkey(actor=admin, body=AdminPasskeyResponse(
        ceremony_id=asked.ceremony_id, credential=device.create(asked.options),
        approval=approval))


def admin_step_up(service: OptinFace, admin: Actor, device: SoftAuthenticator) -> str:
    """A step-up signed by ``device``, with whichever passkey it holds."""
    asked = service.step_up_options(actor=admin)
    return service.step_up(actor=admin, body=PasskeyResponse(
        ceremony_id=asked.ceremony_id,
        credential=device.get({**asked.options, "allowCredentials": []}))).step_up_token


def chain_before_commitments(runtime: Runtime, entry: Entry) -> int:
    """Chain ``entry`` as the service did before redacted details were committed
    (:mod:`consent.audit_redaction`), and so before seal roots: its details hashed as they
    are, no salt, keyed-sealed as the service seals; its sequence number. A log of both forms,
    as an upgraded deployment holds."""
    return chain_in_earlier_form(runtime, entry,
                                 salts=(audit_redaction.SALT, audit_seal_tree.SALT))


def chain_before_seal_roots(runtime: Runtime, entry: Entry) -> int:
    """Chain ``entry`` as the service did between redaction commitments and seal roots
    (:mod:`consent.audit_seal_tree`): its seal list hashed, its redacted details committed."""
    return chain_in_earlier_form(runtime, entry, salts=(audit_seal_tree.SALT,))


def chain_in_earlier_form(runtime: Runtime, entry: Entry, *, salts: tuple[str, ...]) -> int:
    """Chain ``entry`` without the details ``salts`` name, each the mark of a later hash form,
    rehashed and keyed-sealed as the service seals; its sequence number."""
    with runtime.db.transaction() as session:
        event = runtime.chain(session, entry)
        event.details = {k: v for k, v in event.details.items() if k not in salts}
        event.hash = event_hash(event)
        event.keyed_seal = keyed_seal(runtime.keys.hmac_key, event.hash)
        runtime.tail.remember(session, link(event))
        return event.seq


def served_consent_receipt(world: World, pseudonym: str) -> tuple[dict[str, Any], str, str]:
    """The subject's consent receipt as the service serves it: (receipt, signature, key)."""
    [consent] = world.service.list_consents(actor=world.admin, subject=pseudonym)
    assert consent.receipt is not None
    return consent.receipt.receipt, consent.receipt.signature, consent.receipt.public_key
