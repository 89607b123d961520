"""``optinface receipt verify FILE``: check a receipt's signatures, offline.

Two checks: the controller's Ed25519 signature, with the deployment's published key
(``--public-key``, or the server's own when run next to its data dir), never the key a receipt
carries, since anyone can sign with their own; and, on a receipt of the person's own act, their
passkey's WebAuthn assertion over the statement whose SHA-256 was the challenge, against the
credential public key registered when they enrolled (carried in the receipt: it is theirs, and
the controller's signature binds it to them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from optinface.api.cli.common import DataDir
from optinface.api.settings import load_settings
from optinface.consent.keys import KeyRing
from optinface.consent.receipts import subject_signature_problem, verify_receipt

app = typer.Typer(help="Signed consent and erasure receipts.", no_args_is_help=True)


def _signed(document: Any) -> dict[str, Any] | None:
    """The first ``{"receipt", "signature"}`` object in a receipt file, however it is wrapped."""
    if isinstance(document, dict):
        if isinstance(document.get("receipt"), dict) and "signature" in document:
            return document
        for value in document.values():
            found = _signed(value)
            if found is not None:
                return found
    return None


def _published_key(data_dir: Path | None) -> str:
    settings = load_settings(data_dir=data_dir)
    if not settings.signing_key_path.is_file():
        raise typer.BadParameter(
            f"no signing key under {settings.keys_dir}; pass the published --public-key",
            param_hint="--public-key",
        )
    return KeyRing.load_or_create(
        master_path=settings.master_key_path,
        signing_path=settings.signing_key_path,
        hmac_path=settings.hmac_key_path,
    ).public_key


@app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Receipt JSON.")],
    public_key: Annotated[
        str | None,
        typer.Option("--public-key", help="The deployment's published Ed25519 key (base64)."),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Exit 0 if the receipt was signed by the deployment's key and, for a consent, a
    withdrawal or a probe consent, by the person's passkey; else 1.

    Example: optinface receipt verify consent.json --public-key 3q2+7w...=
    """
    try:
        signed = _signed(json.loads(file.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        typer.echo(f"{file}: not a JSON receipt ({error})", err=True)
        raise typer.Exit(code=2) from error
    if signed is None:
        typer.echo(f"{file}: no signed receipt in this file", err=True)
        raise typer.Exit(code=2)
    trusted = public_key or _published_key(data_dir)
    if not verify_receipt(signed["receipt"], str(signed["signature"]), trusted):
        typer.echo(f"{file}: INVALID signature for key {trusted}", err=True)
        raise typer.Exit(code=1)
    problem = subject_signature_problem(signed["receipt"])
    if problem is not None:
        typer.echo(f"{file}: INVALID: {problem}", err=True)
        raise typer.Exit(code=1)
    typer.echo(f"{file}: valid signature by {trusted}")
    if "subjectSignature" in signed["receipt"]:
        capacity = signed["receipt"]["subjectSignature"].get("capacity")
        typer.echo(f"{file}: valid passkey signature by the person ({capacity})")
