"""``optinface receipt verify FILE``: check a receipt's signatures, offline.

Two checks: the controller's Ed25519 signature, with the deployment's published key
(``--public-key``, or the server's own when run next to its data dir: the receipt key in force
and those a rotation retired, each receipt checked against the one it names among them,
:mod:`consent.receipt_keys`), never a key a receipt carries from elsewhere, since anyone can
sign with their own; and, on a receipt of the person's own act, their
passkey's WebAuthn assertion over the statement whose SHA-256 was the challenge, against the
credential public key registered when they enrolled (carried in the receipt: it is theirs, and
the controller's signature binds it to them).

Every receipt in the file is checked, and the verdict says what it did not check
(:mod:`api.cli.receipt_contents`): a signature vouches for its receipt only, never for what the
file holds around it. It also says what each receipt states, since a valid signature of some
receipt proves nothing about whose it is or what it grants until the reader sees it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from optinface.api.cli.common import (
    DataDir,
    json_input,
    one_line,
    refused,
    say_error,
    usable_public_key,
    verdict_by_exit_status,
)
from optinface.api.cli.receipt_contents import Contents, contents, not_whose, stated
from optinface.api.settings import load_settings
from optinface.consent.errors import InvalidRequest, KeyStoreUnusable
from optinface.consent.keys import SIGNING_KEY_NAME, public_key_of
from optinface.consent.keystore import open_key_store, read_key
from optinface.consent.receipt_keys import RETIRED_KEYS_NAME, ReceiptKeys, retired_from
from optinface.consent.receipts import (
    subject_signature_problem,
    verify_receipt,
)
from optinface.consent.settings import KeyStoreKind
from optinface.engine.errors import UnreadableFile

app = typer.Typer(
    help="Signed consent and erasure receipts: verify checks their signatures offline.\n\n"
         "Example: optinface receipt verify erasure-receipt.json --public-key KEY",
    no_args_is_help=True)


def _published_key(data_dir: Path | None) -> ReceiptKeys:
    settings = load_settings(data_dir=data_dir)
    if settings.key_store is KeyStoreKind.FILE and not settings.keys_dir.exists():
        # Nothing here to check with; whether a ledger holds data is no verifier's question.
        raise refused(KeyStoreUnusable.code, f"no key store at {settings.keys_dir} to check the"
                      f" receipt with (is {settings.data_dir} a deployment's data directory?);"
                      " pass the published --public-key", exit_code=2)
    try:
        store = open_key_store(settings, create=False)  # a verifier never makes a key store
        try:
            seed = read_key(store, SIGNING_KEY_NAME)
            retired = retired_from(store.read_secret(RETIRED_KEYS_NAME))
        finally:
            store.close()
    except KeyStoreUnusable as error:
        raise refused(error.code, f"{error.message}; or pass the published --public-key",
                      exit_code=2) from error
    if seed is None:
        raise refused(InvalidRequest.code, f"no signing key in the key store {settings.keys_dir};"
                      " pass the published --public-key", exit_code=2)
    return ReceiptKeys(current=public_key_of(seed), retired=retired)


@app.command("verify")
@verdict_by_exit_status
def verify(
    file: Annotated[Path, typer.Argument(help="Receipt JSON.")],
    public_key: Annotated[
        str | None,
        typer.Option("--public-key", help="The deployment's published Ed25519 key (base64)."),
    ] = None,
    pseudonym: Annotated[
        str | None,
        typer.Option("--pseudonym", help="Also check that every receipt is this person's."),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Check every receipt in the file offline: exit 0 if all are signed, else 1.

    Every receipt in the file is checked, however nested: signed by the deployment's key and,
    for a consent, a withdrawal or a probe consent, by the person's passkey; one with no
    signature beside it is INVALID. The verdict says what each receipt states (type, whose,
    purposes, dates) and names the parts of the file no signature covers, which it did not
    check (an access export's templates and events, say). --pseudonym: each receipt must also
    name that person (an erasure receipt, by its commitment opened with the salt beside it).
    Exit 2: a file that holds no receipt, is not JSON (or names a key twice in one object),
    or no key to check it with.

    Example: optinface receipt verify consent.json --public-key 3q2+7w...=
    """
    found = contents(json_input(file, what="receipt"))
    if not found.signed and not found.unsigned:
        raise refused(UnreadableFile.code, f"{file}: no signed receipt in this file", exit_code=2)
    trusted = (ReceiptKeys(current=usable_public_key(public_key)) if public_key
               else _published_key(data_dir))
    problems = _problems(found, trusted, pseudonym)
    if problems:
        for problem in problems:
            say_error(f"{file}: {problem}")
        raise typer.Exit(code=1)
    _report(file, found, trusted, pseudonym)


def _problems(found: Contents, trusted: ReceiptKeys, pseudonym: str | None) -> list[str]:
    """Every reason the file's receipts do not hold, in the verdict's words; none: they do."""
    numbered = list(enumerate(found.signed, 1))
    bad = [(n, signed) for n, signed in numbered if not (
        isinstance(signed.receipt, dict) and isinstance(signed.signature, str)
        and verify_receipt(signed.receipt, signed.signature, trusted))]
    retired = " or a retired key it names" if trusted.retired else ""
    problems = [f"INVALID signature for key {trusted.current}{retired} (receipt"
                f" {', '.join(str(n) for n, _ in bad)} of {len(numbered)}:"
                f" {', '.join(signed.path for _, signed in bad)})"] if bad else []
    problems += [f"INVALID: {path} reads as a receipt and carries no signature: nothing vouches"
                 " for it" for path in found.unsigned]
    failed = {n for n, _ in bad}
    for n, signed in numbered:
        if n in failed:
            continue
        if (problem := subject_signature_problem(signed.receipt)) is not None:
            problems.append(f"INVALID: receipt {n} ({signed.path}): {problem}")
        elif pseudonym is not None and (other := not_whose(signed, pseudonym)) is not None:
            problems.append(f"NOT {pseudonym}'s: receipt {n} ({signed.path}): {other}")
    return problems


def _report(file: Path, found: Contents, trusted: ReceiptKeys, pseudonym: str | None) -> None:
    """The verdict on a file whose receipts all hold: what was checked, what each receipt
    states, and what nothing signs."""
    receipts = [signed.receipt for signed in found.signed]
    signers = [trusted.signer_of(receipt) for receipt in receipts]
    lines = [f"{len(receipts)} valid signature(s) by {', '.join(dict.fromkeys(signers))}"]
    lines += [f"{key} is a retired receipt key (retired {retired.retired_at.isoformat()}):"
              " it checks only receipts stating they were signed no later"
              for key in dict.fromkeys(signers) for retired in trusted.retired
              if retired.public_key == key]
    for n, (signed, signer) in enumerate(zip(found.signed, signers, strict=True), 1):
        lines.append(f"receipt {n} ({signed.path}): {stated(signed.receipt)}")
        named = {str(key) for key in (signed.holder.get("public_key"),
                                      signed.receipt.get("publicKey")) if key is not None}
        if named - {signer}:
            lines.append(f"receipt {n} ({signed.path}) names the key"
                         f" {', '.join(sorted(named - {signer}))}, not the one it was checked"
                         " with: that name is ignored")
    people = [receipt["subjectSignature"].get("capacity") for receipt in receipts
              if isinstance(receipt.get("subjectSignature"), dict)]
    if people:
        lines.append(f"{len(people)} valid passkey signature(s) by the person "
                     f"({', '.join(sorted(set(map(str, people))))})")
    # Each one checked above: inside the person's signed statement, its text matching its hash.
    policies = sorted({receipt["retentionPolicy"]["sha256"] for receipt in receipts
                       if "retentionPolicy" in receipt})
    if policies:
        lines.append(f"the person signed retention policy {', '.join(policies)}"
                     " (its text matches; /privacy/policy/SHA256 shows it)")
    if pseudonym is not None:
        lines.append(f"every receipt is {pseudonym}'s")
    if found.unchecked:
        lines.append("not checked, no signature covers them: " + ", ".join(found.unchecked))
    for line in lines:
        typer.echo(one_line(f"{file}: {line}"))
