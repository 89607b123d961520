"""``optinface register`` (show, ropa, pia, declare, suspend, lift, verify): the declared
biometric database."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from optinface.api.cli.common import (
    ApiKey,
    DataDir,
    Lang,
    json_input,
    one_line,
    opened,
    operator,
    refused,
    say_error,
    usable_public_key,
    verdict_by_exit_status,
)
from optinface.api.schemas import RegisterFormat
from optinface.api.web.reader_words import document_words, words_in
from optinface.consent.declaration import material_sha256, named_signing_key
from optinface.consent.receipts import published_key
from optinface.consent.register import render_pia_skeleton
from optinface.consent.ropa import render_ropa
from optinface.consent.signed_documents import signature_problem
from optinface.engine.errors import UnreadableFile

app = typer.Typer()  # help comes from the callback docstring, with its example
Format = Annotated[RegisterFormat, typer.Option("--format", help="md (readable) or json.")]


@app.callback(invoke_without_command=True)
def show(
    ctx: typer.Context,
    output_format: Format = RegisterFormat.MD,
    language: Lang = None,
    data_dir: DataDir = None,
) -> None:
    """Print the register from live figures (LCCJTI art. 45, GDPR art. 30).

    The Markdown is in the language chosen (French for the Commission d'accès à
    l'information); the JSON, and the material SHA-256 both state, are the same in every
    language.

    Example: optinface register --format md --lang fr > declaration.md
    """
    if ctx.invoked_subcommand is not None:
        return
    with opened(data_dir) as (settings, service):
        current = service.register()
        text = (
            service.render_register(current, document_words(words_in(language, settings), service))
            if output_format is RegisterFormat.MD
            else current.model_dump_json(indent=2)
        )
    typer.echo(text)


@app.command("ropa")
def ropa(
    output_format: Format = RegisterFormat.MD,
    language: Lang = None,
    data_dir: DataDir = None,
) -> None:
    """Print the record of processing activities (GDPR art. 30(1)), generated from the live
    register: each entry names the point of art. 30(1) it answers, and the record names the
    register's material SHA-256 it describes. The Markdown is in the language chosen; the
    JSON is always English.

    Example: optinface register ropa --format md --lang fr > ropa.md
    """
    with opened(data_dir) as (settings, service):
        if output_format is RegisterFormat.MD:
            say = document_words(words_in(language, settings), service)
            text = render_ropa(service.ropa(say=say), say)
        else:
            text = service.ropa().model_dump_json(indent=2) + "\n"
    typer.echo(text, nl=False)


@app.command("pia")
def pia(language: Lang = None, data_dir: DataDir = None) -> None:
    """Print a privacy impact assessment to complete and sign, from the live register.

    It names the material hash it assesses: set it as OPTINFACE_PIA_MATERIAL_SHA256 once
    signed (outside demo mode, matching is refused while the register differs). The hash is
    the same whatever the language the assessment is printed in.

    Example: optinface register pia --lang fr > pia.md
    """
    with opened(data_dir) as (settings, service):
        say = document_words(words_in(language, settings), service)
        typer.echo(render_pia_skeleton(service.register(), say), nl=False)


@app.command("declare")
def declare(
    declared_on: Annotated[
        datetime, typer.Option("--date", formats=["%Y-%m-%d"], help="Date of the declaration.")
    ],
    reference: Annotated[str, typer.Option(
        "--reference",
        help="The regulator's file number: letters, digits, spaces, '.', '_' and '-'.")],
    api_key: ApiKey,
    data_dir: DataDir = None,
) -> None:
    """Record the declaration of the register as it stands (its material SHA-256).

    Matching opens OPTINFACE_DECLARATION_PERIOD_DAYS (60, or more) after --date, the day the
    regulator received it, and, outside demo mode, never sooner than that many days after this
    recording. It also waits for an assessment of the same register
    (OPTINFACE_PIA_MATERIAL_SHA256, see register pia); a later change of the register needs
    both again.

    Example: optinface register declare --date 2026-01-05 --reference CAI-2026-001
    --api-key $ADMIN_KEY
    """
    with opened(data_dir) as (_, service):
        service.declare(actor=operator(service, api_key), date=declared_on.date(),
                        reference=reference)
    typer.echo(f"declaration of {declared_on.date().isoformat()} recorded (reference {reference})")


@app.command("suspend")
def suspend(
    order: Annotated[str, typer.Option(
        "--order", help="The regulator's order reference, as declare's --reference.")],
    api_key: ApiKey,
    destroy: Annotated[
        bool, typer.Option("--destroy", help="Also destroy every template, with receipts.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Apply a regulator's order: enrolment and matching stop (LCCJTI art. 45). While an
    order under --order is in force, a repeat is refused (order_in_force) and records nothing.

    Example: optinface register suspend --order CAI-1037199 --destroy --api-key $ADMIN_KEY
    """
    with opened(data_dir) as (_, service):
        register = service.apply_regulator_order(actor=operator(service, api_key),
                                                 reference=order, destroy=destroy)
    [applied] = [o for o in register.orders if o.reference == order and o.lifted_at is None]
    typer.echo(f"order {order} applied ({applied.kind}): enrolment and matching suspended;"
               f" {applied.templates_destroyed} templates destroyed")


@app.command("lift")
def lift(
    order: Annotated[str, typer.Option("--order", help="The order the regulator lifted.")],
    api_key: ApiKey,
    data_dir: DataDir = None,
) -> None:
    """Record that the regulator lifted its order (refused when it is not in force).

    Example: optinface register lift --order CAI-1037199 --api-key $ADMIN_KEY
    """
    with opened(data_dir) as (_, service):
        service.lift_regulator_order(actor=operator(service, api_key), reference=order)
    typer.echo(f"order {order} lifted")


@app.command("verify")
@verdict_by_exit_status
def verify(
    file: Annotated[Path, typer.Argument(
        help="A register or record of processing, JSON, as served (GET /v1/register,"
             " /v1/register/ropa, optinface register --format json).")],
    public_key: Annotated[str, typer.Option(
        "--public-key", help="The deployment's published receipt key (base64), from"
                             " /.well-known/optinface-keys.json.")],
) -> None:
    """Check a register's (or a record of processing's) signature offline, with no data
    directory: exit 0 if --public-key signed the whole document as it is, else 1.

    On a register it also hashes the material the file states again, as a declaration hashed
    it, and prints that SHA-256 for the reader to compare with the one declared; on a
    material of version 2 it says whether the receipt key the material names is the key that
    signed (not: exit 1). A record of processing carries no material: its register of the same
    time does. A valid signature proves that this key signed this document, with its figures
    and the time it names; not that the figures are true. Exit 2: a file that is not JSON (or
    names a key twice), not a register or a record of processing, or a key that is not one.

    Example: optinface register verify register.json --public-key 3q2+7w...=
    """
    document = json_input(file, what="register")
    register = isinstance(document, dict) and "material_sha256" in document
    if not register and not (isinstance(document, dict)
                             and "register_material_sha256" in document):
        raise refused(UnreadableFile.code, f"{file}: neither a register nor a record of"
                      " processing (no material_sha256, no register_material_sha256)",
                      exit_code=2)
    signer = published_key(usable_public_key(public_key)).key_id
    if (problem := signature_problem(document, public_key)) is not None:
        raise _invalid(file, problem)
    what = "register" if register else "record of processing"
    lines = [f"{what} of {document.get('generated_at')} signed by {public_key} ({signer})"]
    lines += (_material_lines(file, document, public_key) if register else [
        f"register material sha256 {document['register_material_sha256']}, as the record"
        " states it (a record carries no material: its register of the same time recomputes"
        " it)"])
    for line in lines:
        typer.echo(one_line(f"{file}: {line}"))


def _invalid(file: Path, problem: str) -> typer.Exit:
    """The verdict that the document does not hold (exit 1), one line."""
    say_error(f"{file}: {problem}")
    return typer.Exit(code=1)


def _material_lines(file: Path, register: dict[str, Any], public_key: str) -> list[str]:
    """What a signed register's material says: its SHA-256 computed again, as the declaration
    it states recorded its own, and the key a version 2 material names. A material that does
    not hash to the ``material_sha256`` the register states, or that names another receipt
    key than the one that signed, ends the command (exit 1)."""
    material = register.get("material")
    if not isinstance(material, dict):
        raise _invalid(file, "INVALID: the register states no material to hash")
    digest, stated = material_sha256(material), register["material_sha256"]
    if digest != stated:
        raise _invalid(file, f"INVALID: its material hashes to {digest}, not to the"
                             f" material_sha256 it states ({stated})")
    version = material.get("material_version", 1)
    lines = [f"material sha256 {digest} (material version {version}), computed from the"
             " register's material: compare it with the one declared"]
    declared = register.get("declaration")
    if isinstance(declared, dict):
        same = "the same" if declared.get("material_sha256") == digest else "NOT the same"
        lines.append(f"the declaration it states ({declared.get('reference')} of"
                     f" {declared.get('declared_on')}) recorded"
                     f" {declared.get('material_sha256')}: {same}")
    named = named_signing_key(material)
    if version == 1 or named is None:
        lines.append("its material (version 1) names no key: nothing in the declared hash ties"
                     " it to the key that signed")
    elif named != public_key:
        raise _invalid(file, f"NOT BOUND: its material names the receipt key {named}, not"
                             f" the key that signed ({public_key})")
    else:
        lines.append(f"its material names the receipt key {named}: the key that signed")
    return lines
