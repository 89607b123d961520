"""``optinface audit verify``: check the audit log as an outsider would, changing nothing;
``verify-export``: check an exported log (JSON) with the published key alone;
``verify-access``: check a person's access export (each event and its inclusion proof) alike.

The database is opened read-only (nothing is created, migrated or written, no key is made), the
verifying key is the one pinned in the witness folder or given with ``--public-key``, never one
from the data directory, and every checkpoint of the witness folder and of ``--against`` files
must still be covered by the log. Where the key store is (``OPTINFACE_KEY_DIR``, or the PKCS#11
token), its HMAC key is read, only read, to check each event's keyed seal too
(:mod:`consent.log_seals`); without it the chain is checked as an outsider would, and the
verdict says that an event appended with the database alone is not told apart. The witness's
pin is whatever whoever writes that folder put there: it vouches for nothing unless the key
store's checkpoint key is the same, or a checkpoint the reviewer kept verifies under it; else
the verdict is NOT ANCHORED (exit 3) until ``--public-key`` names the published key.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, NamedTuple, TypeVar

import typer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from optinface.api.cli.common import (
    DataDir,
    dry_run_option,
    echo_json,
    opened,
    read_input,
    reason_option,
    refused,
    say_error,
    unreadable,
    verdict_by_exit_status,
)
from optinface.api.error_codes import ApiErrorCode
from optinface.api.settings import ApiSettings, load_settings
from optinface.consent.audit_verify import (
    NOT_CHECKABLE,
    ExportReport,
    KnownCheckpoint,
    carries_keyed_seals,
    read_access_export,
    read_export,
    verify_access,
    verify_export,
    verify_log,
)
from optinface.consent.db import (
    failure_summary,
    ledger_locked,
    lock_wait_ended,
    read_only_engine,
    storage_failed,
    storage_failing,
    unreachable,
    unreachable_summary,
)
from optinface.consent.deployment import require_data_dir
from optinface.consent.errors import (
    ConsentError,
    DataDirUnusable,
    InvalidRequest,
    KeyFileExposed,
    KeyStoreUnusable,
    WitnessUnusable,
)
from optinface.consent.keys import HMAC_KEY_NAME
from optinface.consent.keystore import open_key_store_to_read, read_key
from optinface.consent.log_seals import Unsealed
from optinface.consent.notes import NoteError, Verifier
from optinface.consent.schemas import ChainStatus, ExportedEvent, UnsealedEvent
from optinface.consent.transparency import (
    chain_status,
    read_checkpoint_file,
    stored_checkpoint_key,
    witness_checkpoints,
)
from optinface.consent.witness import pinned_key
from optinface.engine.errors import UnreadableFile

app = typer.Typer(
    help="The hash-chained, witnessed audit log: verify (read-only, as an outsider would),"
         " export (to a file, chained), verify-export (without the data directory),"
         " verify-access (a person's access export, with the published key), reseal"
         " (keyed seals after a migration round trip).\n\n"
         "Example: optinface audit verify --data-dir /srv/optinface",
    no_args_is_help=True)

Against = Annotated[
    list[Path] | None,
    typer.Option("--against",
                 help="A checkpoint you kept (POST /v1/audit/checkpoints, an access export or"
                      " a .note file); repeatable."),
]
PublicKey = Annotated[
    str | None,
    typer.Option("--public-key", help="The published checkpoint verifier key"
                                      " (name+keyhash+key), if not the witness folder's."),
]


NOT_ANCHORED = 3
"""The verifiers' exit status when the log or export holds together but not to something a
forger cannot make: ``verify-export``, when events lie past the newest signed checkpoint it
checked (all of them, where none) and no keyed seal was checked; ``verify``, when the key the
checkpoints were checked with is only the one the witness folder pins (no --public-key, no
--against checkpoint, no key store); ``verify-access``, when an event is not held to the signed
checkpoint by its proof (:attr:`consent.audit_verify.AccessReport.anchored`)."""


def _broken(line: str, *more: str) -> typer.Exit:
    """The verdict that the log does not verify (exit 1), in its own words (``audit log
    BROKEN ...``, then ``more`` lines): an answer, not a refusal, so it carries no code."""
    for each in (line, *more):
        say_error(each)
    return typer.Exit(code=1)


def _broken_line(what: str, sequence: int | None, problem: str) -> str:
    """The verdict line: where the first problem is (a checkpoint that is not this log's points
    at no sequence) and what it is."""
    where = "" if sequence is None else f" at sequence {sequence}"
    return f"{what} BROKEN{where}: {problem}"


def _given_key(public_key: str) -> Verifier:
    try:
        return Verifier.parse(public_key)
    except NoteError as error:
        raise refused(InvalidRequest.code, f"unusable --public-key: {error}",
                      exit_code=2) from error


def _checkpoint_files(against: list[Path] | None) -> list[KnownCheckpoint]:
    kept = []
    for path in against or []:
        try:
            kept.append(read_checkpoint_file(path))
        except OSError as error:
            raise unreadable(path, error) from error
        except ValueError as error:
            raise refused(UnreadableFile.code, str(error), exit_code=2) from error
    return kept


class StoreKeys(NamedTuple):
    """What ``audit verify`` reads of the key store, where it is (read, never made)."""

    seal_key: bytes | None  # the HMAC key: each event's keyed seal
    checkpoint: Verifier | None  # the checkpoint key's verifier: the pin set against it


class TrustedKey(NamedTuple):
    """The key checkpoints are checked with, and what vouches for it (None: the witness
    folder's pin alone, which whoever writes that folder chose: red team 7, #9)."""

    verifier: Verifier
    vouched: str | None


def _trusted_key(witness: Path, public_key: str | None, *, stored: Verifier | None,
                 kept: bool) -> TrustedKey:
    """The key given, else the one ``witness`` pins, vouched for by the key store's own
    checkpoint key (``stored``) or by checkpoints the reviewer kept (``kept``: they are checked
    with it, so a pin of another key fails them)."""
    try:
        pinned = pinned_key(witness)
    except WitnessUnusable as error:
        raise refused(error.code, error.message, exit_code=2) from error
    given = _given_key(public_key) if public_key else None
    if pinned and given and pinned != given:
        raise _broken(_broken_line("audit log", None, f"the witness folder {witness} pins"
                                   " another key than --public-key"))
    if pinned and not given and stored and pinned != stored:
        raise _broken(_broken_line("audit log", None, f"the witness folder {witness} pins"
                                   " another key than the key store's checkpoint key"))
    if given is not None:
        return TrustedKey(given, "given with --public-key")
    if pinned is None:
        raise refused(InvalidRequest.code,
                      f"no checkpoint key: {witness} pins none; pass the published --public-key",
                      exit_code=2)
    if stored:
        return TrustedKey(pinned, "pinned by the witness folder, the key store's checkpoint key")
    if kept:
        return TrustedKey(pinned, "pinned by the witness folder, which signed the checkpoints"
                                  " you kept (--against)")
    return TrustedKey(pinned, None)


@app.command("verify")
@verdict_by_exit_status
def verify(data_dir: DataDir = None, against: Against = None,
           public_key: PublicKey = None) -> None:
    """Exit 0 if the log is intact and covers every known checkpoint, else 1 and the first
    inconsistency (2: a file or key that cannot be used, a data directory that holds no
    ledger and no checkpoint says one was there; 3: NOT ANCHORED, the log holds
    together but only under the key the witness folder pins, with no --public-key, no
    --against checkpoint and no key store to vouch for it). Read-only.

    Example: optinface audit verify --data-dir /srv/optinface --against checkpoint-2027-03.json
    """
    settings = load_settings(data_dir=data_dir)
    kept = _checkpoint_files(against)
    try:
        known = witness_checkpoints(settings.witness_dir)
    except (ValueError, OSError) as error:
        raise refused(UnreadableFile.code, str(error), exit_code=2) from error
    _require_ledger(settings, witnessed=bool(known or kept))
    stored = _store_keys(settings)
    trusted = _trusted_key(settings.witness_dir, public_key, stored=stored.checkpoint,
                           kept=bool(kept))
    status = _check(settings.url, trusted.verifier, known + kept, seal_key=stored.seal_key)
    seals = SEALS_CHECKED if stored.seal_key else _no_key_store(settings)
    if trusted.vouched is None:
        raise _log_not_anchored(status, trusted.verifier, settings.witness_dir, seals)
    typer.echo(f"audit log OK: {status.events} events, {status.checkpoints} signed checkpoints,"
               f" {status.witnessed} outside checkpoints covered; root {status.root_hash};"
               f" key {trusted.verifier.vkey}")
    typer.echo(f"checkpoint key: {trusted.vouched}")
    typer.echo(seals)


def _require_ledger(settings: ApiSettings, *, witnessed: bool) -> None:
    """Refuse, exit 2, a data directory that is no folder or holds no ledger, by the rule every
    command asks first (:func:`consent.deployment.require_data_dir`): a mistyped path or an
    empty mount point is ``data_dir_unusable``, never the verdict BROKEN, which says the log was
    tampered with. Where a checkpoint is known (``witnessed``: the witness folder's, or one
    kept), a ledger was there: its file gone is the verdict (a deleted database), not a typo."""
    try:
        require_data_dir(settings)
    except DataDirUnusable as error:
        if witnessed and (settings.data_dir.is_dir() or not settings.data_dir.exists()):
            return
        raise refused(error.code, error.message, exit_code=2) from error


def _log_not_anchored(status: ChainStatus, verifier: Verifier, witness: Path,
                      seals: str) -> typer.Exit:
    """The verdict that the log holds together under a key nothing vouches for (exit 3):
    whoever writes the data and the witness folder can re-sign every checkpoint with a key of
    their own and pin it there (red team 7, #9)."""
    say_error(f"audit log NOT ANCHORED: {status.events} events and {status.checkpoints} signed"
              f" checkpoints hold together, but only under the key the witness folder {witness}"
              f" pins ({verifier.vkey}), not a published one: a copy re-signed with another key"
              " and pinned there reads the same; pass the deployment's published --public-key"
              " (/.well-known/optinface-keys.json) or --against a checkpoint you kept, or run"
              " it beside the key store")
    say_error(seals)
    return typer.Exit(code=NOT_ANCHORED)


SEALS_CHECKED = "keyed seals: every event's checked with the key store"


def _no_key_store(settings: ApiSettings) -> str:
    return (f"keyed seals: NOT checked, no key store at {settings.keys_dir}: an event appended"
            " with the database alone is not told apart")


def _store_keys(settings: ApiSettings) -> StoreKeys:
    """The key store's HMAC key, which checks each event's keyed seal, and its checkpoint
    key's verifier; each None where no key store is here (the key folder does not exist) or it
    holds no such key: the chain alone is checked, and the witness's pin stands alone.

    Raises:
        typer.Exit: a key store that is here but cannot be used (exit 2).
    """
    try:
        store = open_key_store_to_read(settings)
        if store is None:
            return StoreKeys(seal_key=None, checkpoint=None)
        try:
            return StoreKeys(seal_key=read_key(store, HMAC_KEY_NAME),
                             checkpoint=stored_checkpoint_key(store))
        finally:
            store.close()
    except (KeyStoreUnusable, KeyFileExposed) as error:
        raise refused(error.code, error.message, exit_code=2) from error


def _check(url: str, verifier: Verifier, known: list[KnownCheckpoint], *,
           seal_key: bytes | None) -> ChainStatus:
    """The log's status when it verifies.

    Raises:
        typer.Exit: it does not (exit 1): the failure line and, after it, the events without a
            valid keyed seal by sequence number; the database could not be read for now (exit
            2, see :func:`_not_read`).
    """
    try:
        engine = read_only_engine(url)
    except FileNotFoundError as error:
        raise _broken(_broken_line("audit log", None, f"no database at {error}"
                                   f" ({len(known)} checkpoints known)")) from error
    try:
        with Session(engine) as session:
            status = chain_status(verify_log(session, verifier=verifier, known=known,
                                             seal_key=seal_key))
    except SQLAlchemyError as error:
        if (not_read := _not_read(error)) is not None:
            raise not_read from error
        raise _broken(_broken_line("audit log", None, "the audit tables cannot be read"
                                   f" ({error.__class__.__name__})")) from error
    finally:
        engine.dispose()
    if not status.ok:
        where = _broken_line("audit log", status.first_bad_sequence, str(status.problem))
        raise _broken(where + (f" [{status.reason}]" if status.reason else ""),
                      *_unsealed(status.unsealed, status.unsealed_count))
    return status


def _not_read(error: SQLAlchemyError) -> typer.Exit | None:
    """The refusal (exit 2) of a ledger its database could not read for now, which says
    nothing of what the log holds: PostgreSQL unreachable, the ledger locked by another process
    past the wait, its storage failing. Never the verdict BROKEN, which says the log was
    altered; None for any other failure, which is that verdict (its tables gone, its pages
    damaged)."""
    not_checked = "the log was not checked"
    if unreachable(error):
        return refused(ApiErrorCode.LEDGER_UNAVAILABLE,
                       f"{unreachable_summary(error)}; {not_checked}", exit_code=2)
    refusal: ConsentError
    if lock_wait_ended(error):
        refusal = ledger_locked(failure_summary(error))
    elif storage_failing(error):
        refusal = storage_failed(error)
    else:
        return None
    return refused(refusal.code, f"{refusal.message}; {not_checked}", exit_code=2)


def _unsealed(listed: Sequence[UnsealedEvent | Unsealed], count: int) -> list[str]:
    """The events without a valid keyed seal, one line: those ``listed`` of ``count``."""
    if not count:
        return []
    named = ", ".join(f"{found.seq} {found.reason}" for found in listed)
    more = count - len(listed)
    return [f"events without a valid keyed seal ({count}): {named}"
            + (f" and {more} more" if more else "")]


def _seals_verdict(report: ExportReport, *, carried: bool, settings: ApiSettings) -> str:
    """What the export's check said of the keyed seals (it passed)."""
    if not carried:
        return ("keyed seals: NOT checked, the export carries none (made before the events'"
                " keyed seals were exported)")
    if not report.seals_checked:
        return _no_key_store(settings)
    if report.unjudged:
        return (f"keyed seals: checked with the key store where an event carries one;"
                f" {report.unjudged} carry none, which this filtered export cannot tell from"
                " events from before keyed seals (it leaves out log_seals_adopted)")
    return SEALS_CHECKED


ExportFile = Annotated[
    Path,
    typer.Argument(help="The JSON export: GET /v1/audit/export?format=json, or the reviewer"
                        " dashboard's audit.json (not the CSV, which is for reading)."),
]
PublishedKey = Annotated[
    str,
    typer.Option("--public-key", help="The checkpoint key's verifier_key in"
                                      " /.well-known/optinface-keys.json (name+keyhash+key)."),
]
Filtered = Annotated[
    bool,
    typer.Option("--filtered", help="The export was filtered (an action, a subject, a time):"
                                    " check each event and the links between consecutive ones;"
                                    " no checkpoint can be checked."),
]


def _not_anchored(report: ExportReport, signed: str, seals: str) -> typer.Exit:
    """The verdict that the export is consistent but its last events, or all of them, hold to
    nothing signed (exit 3): a rewritten export, chained again with the project's own hash
    past the newest checkpoint it holds, reads the same (red team 7, #1)."""
    if report.signed is None:
        say_error(f"audit export NOT ANCHORED: {report.events} events match their hashes and"
                  " links, but no signed checkpoint covers them (none carried, none given with"
                  " --against) and no keyed seal was checked: an export rewritten and chained"
                  " again reads the same; check it against a checkpoint you kept, or with the"
                  " key store")
    else:
        first, last = report.signed.size + 1, report.events
        lie = "lies" if first == last else "lie"
        say_error(f"audit export NOT ANCHORED: {_events(first, last)} {lie} past the newest"
                  f" signed checkpoint (at event {report.signed.size}) and no keyed seal was"
                  " checked:"
                  f" an export rewritten from event {first} and chained again reads the same;"
                  f" check it against a checkpoint you kept that covers event {last}"
                  " (--against), or with the key store, or take a new export (each signs a"
                  " checkpoint at its last event)")
    say_error(signed)
    say_error(seals)
    return typer.Exit(code=NOT_ANCHORED)


def _events(first: int, last: int) -> str:
    """A range of events in words: ``events 8-44``, or ``event 82`` alone."""
    return f"event {first}" if first == last else f"events {first}-{last}"


def _signed_line(report: ExportReport, events: Sequence[ExportedEvent]) -> str:
    """What holds which events, with the time the last of each range says it was logged:
    ``signed: events 1-S (to T) by <checkpoint>; events S+1-N (to T) by their chain only``
    (or their keyed seals, where the key store checked them; a lone event's, its)."""
    at = {event.seq: event.at for event in events}
    rest = "keyed seals (the key store)" if report.seals_checked else "chain only"
    if report.root is None:
        return (f"signed: no checkpoint on a filtered export; its {report.events} events by"
                f" their {rest}")
    parts = [] if report.signed is None else [
        f"{_events(1, report.signed.size)} (to {at.get(report.signed.size)}) by"
        f" {report.signed.source}"]
    if report.unsigned:
        first, last = report.events - report.unsigned + 1, report.events
        their = "its" if first == last else "their"
        parts.append(f"{_events(first, last)} (to {at.get(last)}) by {their} {rest}")
    return "signed: " + "; ".join(parts)


@app.command("verify-export")
@verdict_by_exit_status
def verify_export_file(file: ExportFile, public_key: PublishedKey, against: Against = None,
                       filtered: Filtered = False, data_dir: DataDir = None) -> None:
    """Check an exported audit log with no data directory, writing nothing: exit 0 if every
    event matches its hash, the seals rule and its predecessor's hash, and the whole log's root
    matches every checkpoint signed by --public-key, those given with --against and the one the
    export carries; else 1 and the first problem (2: a file or key that cannot be used; 3: NOT
    ANCHORED, the events are consistent but some lie past the newest signed checkpoint checked,
    or none is, and no keyed seal was checked, so an export rewritten past it and re-chained
    would read the same). A line says which events which checkpoint signed and which rest on
    their chain (or keyed seals) alone; an export signs a checkpoint at its last event, so a
    true one is signed throughout. Without --filtered the file must
    hold the whole log from event 1: a missing event is a deletion. Only the JSON export is
    verified: the CSV is for reading in a spreadsheet (cells that would read as formulas are
    neutralised), not the bytes the chain hashed. Where the key store is (found as `audit
    verify` finds it), each event's keyed seal is checked too, and one without a valid seal
    named by sequence number; elsewhere the verdict says the keyed seals were NOT checked.

    Example: optinface audit verify-export audit.json --public-key VKEY --against kept.json
    """
    verifier = _given_key(public_key)
    events = _read_file(file, read_export, what="a JSON export of the audit log")
    known = _checkpoint_files(against)
    settings = load_settings(data_dir=data_dir)
    carried = carries_keyed_seals(events)
    report = verify_export(events, verifier=verifier, known=known, whole=not filtered,
                           seal_key=_store_keys(settings).seal_key if carried else None)
    if (problem := report.problem) is not None:
        where = _broken_line("audit export", problem.sequence, problem.message)
        raise _broken(where + (f" [{problem.reason}]" if problem.reason else ""),
                      *_unsealed(report.unsealed, len(report.unsealed)))
    seals = _seals_verdict(report, carried=carried, settings=settings)
    signed = _signed_line(report, events)
    if not report.anchored:
        raise _not_anchored(report, signed, seals)
    if report.root is None:
        typer.echo(f"audit export OK (filtered): {report.events} events each match their hash,"
                   " and their predecessor's where the export holds it; checkpoints cannot be"
                   f" checked on a filtered export ({len(known)} given, not checked)")
    else:
        typer.echo(f"audit export OK: {report.events} events, the whole log from event 1,"
                   f" {report.known} checkpoints covered; root"
                   f" {base64.b64encode(report.root).decode()}; key {verifier.vkey}")
    typer.echo(signed)
    typer.echo(seals)


Read = TypeVar("Read")


def _read_file(file: Path, read: Callable[[str], Read], *, what: str) -> Read:
    """``read`` of ``file``'s text; a file that is not ``what`` (not UTF-8, not its JSON) or
    cannot be read (:func:`common.read_input`) is refused in one line, exit 2."""
    data = read_input(file)
    try:
        return read(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise refused(UnreadableFile.code, f"{file}: not {what} (not UTF-8 text: byte"
                      f" {error.start})", exit_code=2) from error
    except ValueError as error:
        raise refused(UnreadableFile.code, f"{file}: {error}", exit_code=2) from error


AccessFile = Annotated[
    Path,
    typer.Argument(help="A person's access export (JSON): GET /v1/subjects/{pseudonym}/export,"
                        " or the portal's My data JSON."),
]


_VERDICT = {True: "OK", False: "FAILS", None: "NOT CHECKED"}


@app.command("verify-access")
@verdict_by_exit_status
def verify_access_file(file: AccessFile, public_key: PublishedKey) -> None:
    """Check a person's access export with the published key alone, writing nothing: the
    checkpoint it carries signed by --public-key, each event against its hash (an event whose
    details about others were left out, by the commitment it shows in their place) and its
    inclusion proof (RFC 9162) against that checkpoint. One line per event says what holds;
    an event chained before commitments whose details were left out is named, "redacted
    before commitments: not checkable". Exit 0 only if every event holds, 1 if one does not
    or the checkpoint is not signed by --public-key (a checkpoint of another deployment, or
    forged), 2 for a file or key that cannot be used, 3 NOT ANCHORED: no checkpoint carried,
    an event without its proof (it rests on its hash alone), or an event not checkable (the
    mark is the export's word, which whoever edits the export can set).

    Example: optinface audit verify-access my-data.json --public-key VKEY
    """
    verifier = _given_key(public_key)
    export = _read_file(file, read_access_export, what="an access export")
    report = verify_access(export, verifier=verifier)
    lines = [f"event {v.seq}: {_VERDICT[v.holds]}: {v.what}" for v in report.events]
    if (problem := report.problem) is not None:
        raise _broken(_broken_line("access export", problem.sequence, problem.message), *lines)
    if not report.anchored:
        say_error(f"access export NOT ANCHORED: {len(report.events)} events"
                  + (", no signed checkpoint carried" if report.signed is None else "")
                  + (f"; {report.unproven} rest on their hashes alone, which whoever edits the"
                     " export can recompute" if report.unproven else "")
                  + (f"; {report.unchecked} not checked at all, marked {NOT_CHECKABLE} (a mark"
                     " whoever edits the export can set)" if report.unchecked else ""))
        for line in lines:
            say_error(line)
        raise typer.Exit(code=NOT_ANCHORED)
    typer.echo(f"access export OK: {len(report.events)} events hold to the checkpoint signed"
               f" at size {report.signed}; key {verifier.vkey}")
    for line in lines:
        typer.echo(line)


@app.command("reseal")
def reseal(
    reason: Annotated[str, reason_option("e.g. a migration round trip below 0031",
                                         "Chained with the events sealed.")],
    dry_run: Annotated[bool, dry_run_option("the witnessed events that carry no valid keyed"
                                            " seal (how many, the first and the last)")] = False,
    data_dir: DataDir = None,
) -> None:
    """Seal again the events the witness signed that carry no valid keyed seal, chained.

    A migration below 0031 and back drops every event's keyed seal, and no start adopts them
    again, so `audit verify` with the key store names them all. This is the operator's own act,
    where the data directory and the key store are (on SQLite with the server stopped), and
    only on a log that is the one its witness signed, now and at every start: one where a start
    chained log_rolled_back, log_rewritten, witness_adopted, log_events_unsealed,
    log_seals_not_adopted, or where the running service chained log_truncated, is refused
    (log_not_as_witnessed) and nothing is sealed. No event past the witness's newest
    checkpoint is sealed. Chained as log_seals_resealed with the reason, how many, the first
    and the last.

    Look first: --dry-run makes the same checks, refuses alike, and lists how many events it
    would seal, the first and the last, sealing nothing and chaining nothing.

    Example: optinface audit reseal --reason "CHG-7: schema rolled back to 0030 and forward"
    """
    with opened(data_dir) as (_, service):
        done = service.reseal_log(reason=reason, dry_run=dry_run)
    echo_json({**done.summary(), "dry_run": dry_run})


@app.command("adopt-witness")
def adopt_witness(
    reason: Annotated[str, reason_option("the incident or ticket that lost the witness",
                                         "Chained as witness_adopted.")],
    data_dir: DataDir = None,
) -> None:
    """Take up the folder OPTINFACE_AUDIT_WITNESS_DIR names as the witness, in place of the
    deployment's own witness, lost for good.

    Every start refuses (witness_unusable) a witness folder other than the one the key store
    recorded: a new or emptied folder, another one, or one whose erasure journal is shorter
    than, or differs from, what the key store saw. Its journal is what keeps a restored copy of
    the ledger from bringing back the people erased since. Point the setting at the newest copy
    of the witness you still have (its journal is replayed at once), or at a new folder where
    none is left. Chained as witness_adopted with the reason and how many bytes of journal the
    key store had seen against how many the folder holds; what is missing cannot be replayed,
    and the operator's log says so: erase again whoever was erased since the ledger copy.
    Run it where the data directory and the key store are, with the server stopped.

    Example: optinface audit adopt-witness --reason "INC-12: witness disk lost"
    """
    with opened(data_dir, adopt_witness=reason) as (settings, service):
        found = service.runtime.log.witness.found
        echo_json({"witness": str(settings.witness_dir), "journal_seen": found.journal_seen,
                   "journal_held": found.journal_held,
                   "journal_lost": max(found.journal_seen - found.journal_held, 0),
                   "reconciled": service.last_reconcile})
