"""``optinface keys create|list|revoke|break-glass|admin-passkey-link|rotate-receipt-key`` (and
``rotate-epoch``, ``epochs``, from :mod:`api.cli.rotation_commands`): API keys for the roles of
the API, and the operator's acts on them and on the receipt key."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from optinface.api.cli.common import (
    ApiKey,
    DataDir,
    console,
    dry_run_option,
    echo_json,
    key_id_only,
    opened,
    operator,
    reason_option,
)
from optinface.api.tls import client_ca_pem
from optinface.consent.break_glass import DEFAULT_HOURS, MAX_HOURS, MIN_HOURS
from optinface.consent.roles import RELYING_PARTIES, Role

app = typer.Typer(
    help="API keys and epoch keys: create, list, revoke, break-glass, admin-passkey-link,"
         " rotate-epoch, epochs, rotate-receipt-key.\n\n"
         "create, list and revoke manage the API's keys; break-glass issues an emergency admin"
         " key when none can act; admin-passkey-link issues the link on which an admin key"
         " registers its passkey (OPTINFACE_ADMIN_MFA); rotate-epoch re-wraps every subject key"
         " under a new epoch key and destroys the old ones, and epochs lists them;"
         " rotate-receipt-key replaces the key that signs receipts, the old one retired.\n\n"
         "Example: optinface keys list --api-key $ADMIN_KEY",
    no_args_is_help=True)


class KeyRole(StrEnum):
    """The roles a key is created for: every :class:`Role` but ``subject``, whose tokens come
    with their subject's passkey, never from an operator."""

    ADMIN = Role.ADMIN
    RESEARCHER = Role.RESEARCHER
    REVIEWER = Role.REVIEWER
    VERIFIER = Role.VERIFIER
    PORTAL = Role.PORTAL


@app.command("create")
def create(
    role: Annotated[KeyRole, typer.Option(
        "--role", help="Whom the key acts for (a subject's token comes with its subject).")],
    name: Annotated[str, typer.Option("--name", help="Who or what holds the key.")],
    client_cert: Annotated[Path | None, typer.Option(
        "--client-cert", exists=True, dir_okay=False, readable=True,
        help=("A researcher's or verifier's client certificate (PEM) to bind the key to;"
              " required while OPTINFACE_TLS_CLIENT_CA is set."))] = None,
    data_dir: DataDir = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="OPTINFACE_API_KEY",
            help="An admin key; omit only to bootstrap the first admin key.",
        ),
    ] = None,
) -> None:
    """Create a key and print its secret, shown this once (only a keyed hash is stored).

    A researcher's or verifier's key bound to --client-cert works, where the server verifies
    client certificates (OPTINFACE_TLS_CLIENT_CA), only over a connection presenting it.

    Example: optinface keys create --role researcher --name "lab A" --client-cert lab-a.pem
    --api-key $ADMIN_KEY
    """
    made_for = Role(role)
    pem = client_cert.read_text(errors="replace") if client_cert is not None else None
    # Only the bootstrap makes a deployment: with a key, one must be there already.
    with opened(data_dir, creates=api_key is None) as (settings, service):
        actor = operator(service, api_key) if api_key else None
        # Only a relying party's key is bound: no other reads the CA bundle.
        bundle = client_ca_pem(settings) if made_for in RELYING_PARTIES else None
        made = service.create_api_key(actor=actor, role=made_for, name=name, client_cert_pem=pem,
                                      client_ca_pem=bundle)
    typer.echo(f"{made.key_id} ({made.role}, {made.name})")
    if made.client_cert_sha256:
        typer.echo(f"bound to the client certificate sha256:{made.client_cert_sha256}")
    typer.echo(f"secret (shown once): {made.secret}")


@app.command("list")
def list_keys(
    api_key: ApiKey,
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the API keys (never their secrets).

    Each with its id, role, name, creation, revocation, expiry and the SHA-256 of the client
    certificate it is bound to.

    Example: optinface keys list --api-key $ADMIN_KEY
    """
    with opened(data_dir) as (_, service):
        rows = service.list_api_keys(actor=operator(service, api_key))
    if as_json:
        echo_json(list(rows))
        return
    table = Table(title="API keys")
    for column in ("key id", "role", "name", "created", "revoked", "expires",
                   "client cert sha256"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.key_id,
            str(row.role),
            row.name,
            f"{row.created_at:%Y-%m-%d %H:%M}",
            f"{row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "",
            f"{row.expires_at:%Y-%m-%d %H:%M}" if row.expires_at else "",
            row.client_cert_sha256 or "",
        )
    console().print(table)


@app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (key_...), not the secret.",
                                          callback=key_id_only)],
    api_key: ApiKey,
    data_dir: DataDir = None,
) -> None:
    """Revoke a key at once.

    Example: optinface keys revoke key_0123456789abcdef --api-key $ADMIN_KEY
    """
    with opened(data_dir) as (_, service):
        service.revoke_api_key(actor=operator(service, api_key), key_id=key_id)
    typer.echo(f"revoked {key_id}")


@app.command("break-glass")
def break_glass(
    reason: Annotated[str, reason_option(
        "an incident or ticket reference", "It is chained in the audit log, journaled in the"
                                           " witness folder and shown to reviewers.")],
    hours: Annotated[int, typer.Option(
        "--hours", help=f"How long the key works, {MIN_HOURS} to {MAX_HOURS} hours.")
    ] = DEFAULT_HOURS,
    data_dir: DataDir = None,
) -> None:
    """Issue an expiring emergency admin key when no admin key can act, chained and witnessed.

    It expires after --hours, and its opening is chained with the reason and handed over only
    once the deployment's witness folder holds it, so reviewers see it. Runs where the data
    directory, the key store and the witness folder are (OPTINFACE_AUDIT_WITNESS_DIR as the
    server has it); on SQLite with the server stopped.

    Example: optinface keys break-glass --reason "INC-42: every admin key revoked" --hours 2
    """
    with opened(data_dir, require_witness=True) as (_, service):
        made = service.open_break_glass(reason=reason, hours=hours)
    echo_json({"key_id": made.key_id, "role": made.role, "expires_at": made.expires_at,
               "secret": made.secret})


@app.command("reseal")
def reseal(
    reason: Annotated[str, reason_option(
        "e.g. a migration round trip below 0030, or a refused adoption investigated",
        "Chained with the counts.")],
    dry_run: Annotated[bool, dry_run_option("the rows that carry no valid seal (a row planted"
                                            " in the database is among them)")] = False,
    data_dir: DataDir = None,
) -> None:
    """Seal every passkey, opt-in, declaration, template, API key and admin binding again.

    Rows that grant something carry a seal made with the key store; a migration below 0030 (or,
    for admin keys' bindings to their passkeys, 0034) and back, or an adoption refused because
    the log differed from its witness, leaves them unsealed, so they grant nothing. A binding
    naming a passkey not registered as an admin's (a person's) is never sealed. This is the
    operator's own act, where the data directory and the key store are (on SQLite with the
    server stopped); the log keeps the reason and how many rows of each kind were sealed, for
    reviewers to compare with what the log registered.

    Look first: --dry-run lists, by kind, the rows without a valid seal (opt-ins by pseudonym),
    so that a row someone planted in the database is not sealed with the others.

    Example: optinface keys reseal --reason "CHG-7: schema rolled back to 0029 and forward"
    """
    with opened(data_dir) as (_, service):
        done = service.reseal_rows(reason=reason, dry_run=dry_run)
    echo_json({"were_unsealed": done.were_unsealed, "sealed": done.sealed})


@app.command("admin-passkey-link")
def admin_passkey_link(
    key_id: Annotated[str, typer.Argument(help="The admin key's id (key_...), not its secret.",
                                          callback=key_id_only)],
    data_dir: DataDir = None,
) -> None:
    """Issue the one-time link with which an admin key registers its passkey (admin MFA).

    Where OPTINFACE_ADMIN_MFA is on: its first, or one replacing a passkey lost. Hand the
    secret to the key's holder over another channel than the key; they send it as "link" to
    POST /v1/admin/passkey/options, with the key. A copied key alone never registers a
    passkey: this is the operator's own access, as break-glass is. Audited (never the secret).

    Example: optinface keys admin-passkey-link key_0123456789abcdef
    """
    with opened(data_dir) as (_, service):
        made = service.issue_admin_passkey_link(key_id=key_id)
    echo_json({"key_id": made.key_id, "link": made.secret, "expires_at": made.expires_at})


MATERIAL_CHANGE = (
    "The declaration of {declared_on} (material version 2) names the receipt key: replacing it"
    " is a material change. The register will warn, and matching will be refused until a new"
    " declaration has run its period (outside demo mode, until an assessment of the new"
    " material is configured too).")


@app.command("rotate-receipt-key")
def rotate_receipt_key(
    reason: Annotated[str, reason_option("an incident or ticket reference (a key that leaked)",
                                         "Chained in the audit log.")],
    yes: Annotated[bool, typer.Option(
        "--yes", help="Go ahead without asking, where the rotation is a material change.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Replace the receipt key: a new key signs from now on, the old one is retired.

    The old key's private half is destroyed in the key store (its file shredded, or its
    PKCS#11 object destroyed); its public half is kept there with its retirement time, published
    at /.well-known/optinface-keys.json (retired_keys) and in the register, and still checks
    every receipt it signed before. Chained as receipt_key_rotated (the key ids and the reason).
    Runs where the data directory and the key store are: on SQLite with the server stopped; on
    PostgreSQL other workers may run (each signs and checks with the key the store holds).
    Under a version 2 declaration the receipt key is declared material: the command says so and
    asks first (--yes answers for it).

    Example: optinface keys rotate-receipt-key --reason "INC-7: receipt key copied" --yes
    """
    with opened(data_dir) as (_, service):
        # The declaration alone, not the register: its figures count every template's seal.
        declared = service.declaration_state()
        if declared.declaration is not None and declared.material_version >= 2:
            typer.echo(MATERIAL_CHANGE.format(declared_on=declared.declaration.declared_on),
                       err=True)
            if not yes and not typer.confirm("Replace the receipt key?"):
                raise typer.Exit(code=1)
        done = service.rotate_receipt_key(reason=reason)
    echo_json(done)
