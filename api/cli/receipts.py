"""``optinface receipt verify FILE``: check a receipt's signatures, offline.

Two checks: the controller's Ed25519 signature, with the deployment's published key
(``--public-key``, or the server's own when run next to its data dir), never the key a receipt
carries, since anyone can sign with their own; and, on a receipt of the person's own act, their
passkey's WebAuthn assertion over the statement whose SHA-256 was the challenge, against the
credential public key registered when they enrolled (carried in the receipt: it is theirs, and
the controller's signature binds it to them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from optinface.api.cli.common import DataDir, refused, say_error
from optinface.api.settings import load_settings
from optinface.consent.errors import InvalidRequest, KeyStoreUnusable
from optinface.consent.keys import SIGNING_KEY_NAME, public_key_of
from optinface.consent.keystore import open_key_store, read_key
from optinface.consent.receipts import (
    parse_public_key,
    subject_signature_problem,
    verify_receipt,
)
from optinface.consent.settings import KeyStoreKind
from optinface.engine.documents import json_from
from optinface.engine.errors import UnreadableFile

app = typer.Typer(
    help="Signed consent and erasure receipts: verify checks their signatures offline.\n\n"
         "Example: optinface receipt verify erasure-receipt.json --public-key KEY",
    no_args_is_help=True)


def signed_receipts(document: Any) -> list[tuple[dict[str, Any], str]]:
    """Every signed receipt in a file, however it is wrapped.

    A receipt is an object with a ``receipt`` object beside its ``signature`` (consent,
    withdrawal and erasure receipts, the access export) or its ``receipt_signature`` (the
    tombstones of ``erasures.json``); lists such as ``erasures.json`` hold several.
    """
    if isinstance(document, list):
        return [found for item in document for found in signed_receipts(item)]
    if not isinstance(document, dict):
        return []
    signature = document.get("signature", document.get("receipt_signature"))
    if isinstance(document.get("receipt"), dict) and isinstance(signature, str):
        return [(document["receipt"], signature)]
    return [found for value in document.values() for found in signed_receipts(value)]


def _published_key(data_dir: Path | None) -> str:
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
        finally:
            store.close()
    except KeyStoreUnusable as error:
        raise refused(error.code, f"{error.message}; or pass the published --public-key",
                      exit_code=2) from error
    if seed is None:
        raise refused(InvalidRequest.code, f"no signing key in the key store {settings.keys_dir};"
                      " pass the published --public-key", exit_code=2)
    return public_key_of(seed)


@app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Receipt JSON.")],
    public_key: Annotated[
        str | None,
        typer.Option("--public-key", help="The deployment's published Ed25519 key (base64)."),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Check every receipt in the file offline: exit 0 if all are signed, else 1.

    Signed by the deployment's key and, for a consent, a withdrawal or a probe consent, by the
    person's passkey; exit 2: a file that holds no receipt, or no key to check it with.

    Example: optinface receipt verify consent.json --public-key 3q2+7w...=
    """
    try:
        found = signed_receipts(json_from(file.read_text(encoding="utf-8")))
    except (ValueError, OSError) as error:  # not UTF-8 text, not JSON (json_from), not read
        raise refused(UnreadableFile.code, f"{file}: not a JSON receipt ({error})",
                      exit_code=2) from error
    if not found:
        raise refused(UnreadableFile.code, f"{file}: no signed receipt in this file", exit_code=2)
    trusted = public_key or _published_key(data_dir)
    try:
        parse_public_key(trusted)
    except ValueError as error:  # no key to check with: not the receipt's fault
        raise refused(InvalidRequest.code, f"unusable --public-key: {error}",
                      exit_code=2) from error
    bad = [
        n for n, (receipt, sig) in enumerate(found, 1) if not verify_receipt(receipt, sig, trusted)
    ]
    if bad:
        say_error(f"{file}: INVALID signature for key {trusted} (receipt"
                  f" {', '.join(map(str, bad))} of {len(found)})")
        raise typer.Exit(code=1)
    for n, (receipt, _) in enumerate(found, 1):
        problem = subject_signature_problem(receipt)
        if problem is not None:
            say_error(f"{file}: INVALID: receipt {n}: {problem}")
            raise typer.Exit(code=1)
    typer.echo(f"{file}: {len(found)} valid signature(s) by {trusted}")
    people = [receipt["subjectSignature"].get("capacity") for receipt, _ in found
              if "subjectSignature" in receipt]
    if people:
        typer.echo(f"{file}: {len(people)} valid passkey signature(s) by the person "
                   f"({', '.join(sorted(set(map(str, people))))})")
    # Each one checked above: inside the person's signed statement, its text matching its hash.
    policies = sorted({receipt["retentionPolicy"]["sha256"] for receipt, _ in found
                       if "retentionPolicy" in receipt})
    if policies:
        typer.echo(f"{file}: the person signed retention policy {', '.join(policies)}"
                   " (its text matches; /privacy/policy/SHA256 shows it)")
