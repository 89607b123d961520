"""What the command groups share: the data-dir option, opening the service, the operator's key.

Commands that act on people's data (keys, export, erase, declare) authenticate an admin key like
the API does, so the audit log names who did it; reading the register, verifying the chain and
sweeping run as the system.
"""

from __future__ import annotations

import functools
import os
import re
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, ParamSpec

import typer
from pydantic import BaseModel
from pydantic_core import to_json
from rich.console import Console

from optinface.api.error_codes import CliErrorCode, status_for
from optinface.api.settings import ApiSettings, load_settings
from optinface.api.web.i18n import Language
from optinface.consent.deployment import require_deployment
from optinface.consent.errors import ConsentError, InvalidRequest
from optinface.consent.receipts import parse_public_key
from optinface.consent.roles import Actor
from optinface.consent.service import OptinFace
from optinface.engine.documents import json_from
from optinface.engine.errors import EngineError, UnreadableFile
from optinface.engine.pipeline import FacePipeline

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="The data directory (default: $OPTINFACE_DATA_DIR, else ./var).",
        show_default=False,
    ),
]
ApiKey = Annotated[
    str,
    typer.Option(
        "--api-key",
        envvar="OPTINFACE_API_KEY",
        help="An admin API key secret (or set OPTINFACE_API_KEY).",
        show_default=False,
    ),
]

Lang = Annotated[
    Language | None,
    typer.Option(
        "--lang", "--language",
        help="The language of the Markdown and HTML: en or fr (the JSON is never translated);"
             " by default the deployment's, OPTINFACE_DEFAULT_LANGUAGE.",
        show_default=False,
    ),
]
"""The language of a document a command prints for people, as ``lang`` chooses on the API."""

RemoteUrl = Annotated[
    str | None,
    typer.Option("--url", help="A running server, with its admin --api-key; default: a server"
                 " of the command's own (a local process for bench, in-process for demo)."),
]
"""The running server a command that drives one measures or walks through (``bench``, ``demo``):
either a throw-away deployment, never one holding real people."""
RemoteApiKey = Annotated[
    str | None,
    typer.Option("--api-key", envvar="OPTINFACE_API_KEY", help="Admin key (with --url)."),
]
"""The admin key of the running server that ``--url`` names (``bench``, ``demo``)."""
REMOTE_CHECK_SECONDS = 10.0
LONGEST_WORD = 120
"""The most characters of one word (a run without a space: an id, a path) a line on stderr
shows; longer, it is cut and says so with an ellipsis."""
LONGEST_LINE = 1_000
UNBOUNDED_WIDTH = 10_000
"""The width rich lays out for when the output is not a terminal: wider than any row a command
prints, so nothing is wrapped or cut with an ellipsis (a key id must reach ``keys revoke``
whole)."""
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")


def reason_option(example: str, kept: str) -> Any:
    """The ``--reason`` of a command that chains why it was run: one line, with ``example`` of
    what it names and ``kept`` saying where it is kept. The one wording of what every such
    reason must leave out: the audit log outlives an erasure, so a reason names no person."""
    return typer.Option("--reason", help=f"Why, in one line: {example}; never a person's name"
                                         f" or pseudonym. {kept}")


def dry_run_option(listed: str) -> Any:
    """The ``--dry-run`` of a command that seals again what carries no valid seal: it lists
    ``listed`` and seals nothing, so that the operator looks before sealing (a row or an event
    planted in the database would be sealed with the rest)."""
    return typer.Option("--dry-run", help=f"List {listed} and seal nothing.")


def one_line(text: str) -> str:
    """``text`` as one printable line of bounded length, as an error is printed.

    Messages quote what the command was given (an id, a path, a server's answer): a control
    character in it would reach the terminal (a bell, an escape sequence retitling the window
    or worse) and a newline would forge a second line; they are shown escaped (``\\x07``). An
    argument of 100,000 characters is shown as its first :data:`LONGEST_WORD`, then ``…``,
    and a line longer than :data:`LONGEST_LINE` (a server's output) as its head and tail.
    """
    words = " ".join(word if len(word) <= LONGEST_WORD else word[:LONGEST_WORD] + "…"
                     for word in text.split(" "))
    line = "".join(character if character.isprintable()
                   else character.encode("unicode_escape").decode("ascii")
                   for character in words)
    if len(line) <= LONGEST_LINE:
        return line
    half = LONGEST_LINE // 2  # the head says what failed, the tail often why
    return f"{line[:half]}…{line[-half:]}"


def say_error(line: str) -> None:
    """Print ``line`` on stderr as :func:`one_line` makes it: every error line of a command."""
    typer.echo(one_line(line), err=True)


def redacted(url: str) -> str:
    """``url`` without its user information (``http://***@host/``): a password given in a URL
    is never printed or written to a result file."""
    return _USERINFO.sub(r"\1***@", url)


def console(*, stderr: bool = False) -> Console:
    """The rich console every command prints through. On a terminal, rich's layout for its
    width; piped or redirected, lines are never wrapped and tables never cut, where rich
    would lay them out for 80 columns (a key id cut to ``key_1e79…``, a JSON value split)."""
    terminal = Console(stderr=stderr)
    if terminal.is_terminal:
        return terminal
    return Console(stderr=stderr, soft_wrap=True, width=UNBOUNDED_WIDTH)


def key_id_only(value: str) -> str:
    """A key's id as a command takes it (a typer callback). Given the whole key,
    ``ID.SECRET``, it is refused naming only the id: the secret is never echoed."""
    key_id, dot, _ = value.partition(".")
    if dot:
        raise refused(InvalidRequest.code, f"a key id is expected, not the key: pass {key_id}"
                      " (the part before the dot)")
    return value


def require_utf8(arguments: Sequence[str]) -> None:
    """Refuse a command line holding an argument that is not UTF-8, before any command runs.

    Python hands such bytes on as lone surrogates (``caf\\udce9``), which no query, file
    name in JSON or printed line can encode: a pseudonym or key id would end in a traceback in
    the ledger's query, a path after the work was done, when its report is printed. Refused
    here, once for every command's text arguments. The message names the argument's position,
    never its value, which may be a secret (``--api-key``).

    Raises:
        InvalidRequest: an argument is not UTF-8.
    """
    for position, argument in enumerate(arguments, start=1):
        try:
            argument.encode()
        except UnicodeEncodeError:
            raise InvalidRequest(f"argument {position} of the command line is not UTF-8: ids,"
                                 " names and paths are taken as UTF-8 text",
                                 details={"argument": position}) from None


def refused(code: str, message: str, *, exit_code: int = 1) -> typer.Exit:
    """End the command with one line on stderr, ``PREFIX: CODE: MESSAGE``, and exit status 1:
    ``raise refused(...)``. Every command ends this way, whatever stopped it.

    The prefix follows from the code's status in the table (:data:`STATUS_BY_CODE`), never
    from the caller: ``refused:`` for a 4xx, the request itself was refused (bad input, a
    missing right, a rule of the ledger, the data directory in use, a file that cannot be read
    or written); ``error:`` for a 5xx, the command could not run here (settings, models, the
    key store, the data directory, a busy port, a server that does not answer or fails).

    ``exit_code``: only the verifiers (``audit verify``, ``receipt verify``) give 2, for input
    they cannot use, since their 1 is a verdict (a log BROKEN, a receipt INVALID) printed in
    its own words.
    """
    prefix = "error" if status_for(code, default=400) >= 500 else "refused"
    say_error(f"{prefix}: {code}: {message}")
    return typer.Exit(code=exit_code)


def unreadable(file: Path, error: OSError) -> typer.Exit:
    """The verifiers' refusal of a file they cannot read (missing, a folder, not allowed):
    one line, ``unreadable_file``, exit 2, as for every input they cannot use. Typer's
    ``exists=True`` printed its usage box instead, which is kept for a usage error."""
    return refused(UnreadableFile.code, f"{file}: cannot be read ({error.strerror or error})",
                   exit_code=2)


def read_input(file: Path) -> bytes:
    """The bytes of a file handed to a verifier, else :func:`unreadable` ends the command."""
    try:
        return file.read_bytes()
    except OSError as error:
        raise unreadable(file, error) from error


def json_input(file: Path, *, what: str) -> Any:
    """The JSON of a file handed to a verifier (``what`` it should hold: "receipt",
    "register"), parsed by :func:`engine.documents.json_from`: a file it cannot read ends the
    command as :func:`read_input` does, and one that is not UTF-8 JSON or names a key twice in
    an object as ``unreadable_file``, exit 2: the verifiers' one parse (``receipt verify``,
    ``register verify``)."""
    data = read_input(file)
    try:
        return json_from(data)
    except ValueError as error:
        raise refused(UnreadableFile.code, f"{file}: not a JSON {what} ({error})",
                      exit_code=2) from error


def usable_public_key(public_key: str) -> str:
    """``public_key`` (``--public-key``, base64 Ed25519) once it is one, else the command ends
    with ``invalid_request``, exit 2: no key to check with is not the document's fault."""
    try:
        parse_public_key(public_key)
    except ValueError as error:
        raise refused(InvalidRequest.code, f"unusable --public-key: {error}",
                      exit_code=2) from error
    return public_key


def check_remote(url: str | None, api_key: str | None) -> None:
    """A running server named by ``--url`` is driven with its own admin key, and answers:
    checked before any work, so a typo or a stopped server is one line, not a traceback."""
    if url is None:
        return
    if not api_key:
        raise typer.BadParameter("--url needs an admin --api-key", param_hint="--api-key")
    import httpx2  # here: only the commands that drive a server (bench, demo) need it

    try:
        httpx2.get(f"{url.rstrip('/')}/healthz", timeout=REMOTE_CHECK_SECONDS)
    except (httpx2.HTTPError, httpx2.InvalidURL) as error:
        raise refused(CliErrorCode.SERVER_UNREACHABLE,
                      f"no server answers at {redacted(url)}: {error}") from error


@contextmanager
def refusing() -> Iterator[None]:
    """A domain refusal inside ends the command with its code (:func:`refused`), as
    :func:`main.run` ends one raised anywhere: inside, because a test's runner calls the
    commands without ``run``."""
    try:
        yield
    except (ConsentError, EngineError) as error:
        raise refused(error.code, error.message) from error


@contextmanager
def opened(data_dir: Path | None, *,
           creates: bool = False,
           require_witness: bool = False,
           adopt_witness: str | None = None) -> Iterator[tuple[ApiSettings, OptinFace]]:
    """The service on the data dir; a domain refusal ends the command with its code.

    Only ``serve`` and the bootstrap ``keys create`` (no ``--api-key``) make a deployment
    (``creates``): any other command where no deployment is there
    (:func:`consent.deployment.require_deployment`: a mistyped path, an empty mount point) is
    refused before any file is made, so it is one line instead of a new, empty deployment that
    answers as if all were well. ``require_witness``, ``adopt_witness``: as
    :meth:`OptinFace.open` has them (break-glass, ``audit adopt-witness``).
    """
    settings = load_settings(data_dir=data_dir)
    with refusing():
        if not creates:
            require_deployment(settings)
        # Checked now, loaded only by a command that embeds (benchmarks/bench_cli_open.py).
        pipeline = FacePipeline.from_settings(settings, deferred=True)
        # refused while a server has the data dir open
        service = OptinFace.open(settings, pipeline=pipeline, require_witness=require_witness,
                                 adopt_witness=adopt_witness)
        try:
            yield settings, service
        finally:
            service.close()


def operator(service: OptinFace, api_key: str) -> Actor:
    return service.authenticate(api_key)


def echo_json(value: BaseModel | Sequence[BaseModel] | dict[str, Any] | DataclassInstance,
              ) -> None:
    """Print ``value`` as indented JSON, encoded as the API encodes its answers: the one
    definition of how a command prints, so an instant reads ``2027-03-01T10:45:23Z`` from every
    command (``str`` of a datetime, once printed by rotate-epoch, reads ``... +00:00``)."""
    typer.echo(to_json(value, indent=2).decode())


_Params = ParamSpec("_Params")


def verdict_by_exit_status(command: Callable[_Params, None]) -> Callable[_Params, None]:
    """For a command whose exit status is its verdict (``audit verify*``: 0 OK, 1 BROKEN, 3 NOT
    ANCHORED; ``receipt verify``, ``register verify``: 0 valid, 1 invalid), read only, whose
    output scripts pipe on: a reader that closes the pipe early (``| head``) ends it by
    ``SIGPIPE``, as it ends ``cat`` (status 141 in a shell), never with Click's exit 1 for a
    broken pipe, which reads as BROKEN or INVALID. Only there: a command that writes, or holds
    sockets, must not die mid-act because its reader left.

    The signal's default is restored only once the pipe has broken, never when the command
    starts: the disposition is the whole process's, and a verdict run in a longer-lived process
    (a test worker invoking the CLI in place) would leave it to kill that process at its next
    write to a closed socket or pipe."""
    @functools.wraps(command)
    def verdict(*args: _Params.args, **kwargs: _Params.kwargs) -> None:
        try:
            command(*args, **kwargs)
            sys.stdout.flush()
        except BrokenPipeError:
            _end_by_sigpipe()
    return verdict


def _end_by_sigpipe() -> NoReturn:
    """End this process as ``SIGPIPE`` ends ``cat``, the way Python's documentation advises
    (the ``signal`` module's note on SIGPIPE): both streams pointed at ``/dev/null`` first, so
    no flush at exit raises again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        os.dup2(devnull, stream.fileno())
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGPIPE)
    raise SystemExit(128 + signal.SIGPIPE)  # were the signal held back by a mask


def require_writable(out: Path, *, force: bool) -> None:
    """Refuse, before anything is read or chained, a file that exists (unless ``force``) or a
    place no file can be written: a folder, or a folder that does not exist."""
    if out.is_dir():
        raise refused(CliErrorCode.UNWRITABLE_FILE, f"cannot write {out}: it is a folder")
    if (out.exists() or out.is_symlink()) and not force:
        raise refused(CliErrorCode.FILE_EXISTS,
                      f"{out} exists: choose another --out, or pass --force to replace it")
    if not out.parent.is_dir():
        raise refused(CliErrorCode.UNWRITABLE_FILE,
                      f"cannot write {out}: {out.parent} is not a folder")
