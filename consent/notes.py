"""Checkpoints as C2SP signed notes (c2sp.org/signed-note, c2sp.org/tlog-checkpoint).

A checkpoint's text is three lines, the log's origin, the tree size in decimal and the base64
RFC 6962 root hash; the note adds a blank line and ``— <key name> base64(key hash || Ed25519
signature)``, the signature covering the text including its last newline. The key hash is the
first four bytes of SHA-256(key name || 0x0A || 0x01 || public key), and a verifier key is
published as ``<name>+<hex key hash>+base64(0x01 || public key)``. Being the standard format
means a standard witness can cosign our checkpoints and any tlog client can check them.

The checkpoint key signs nothing but notes, and receipts are canonical JSON signed by another
key (:mod:`consent.receipts`): neither signature can be passed off as the other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

ED25519 = b"\x01"
SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space
HASH_BYTES = 32


class NoteError(ValueError):
    """A note that is malformed, or not signed by the trusted key."""


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _key_hash(name: str, raw_public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + raw_public).digest()[:4]


def _valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


@dataclass(frozen=True, slots=True)
class Verifier:
    """A trusted note key: a name and an Ed25519 public key."""

    name: str
    public: bytes  # the 32 raw bytes

    @property
    def key_hash(self) -> bytes:
        return _key_hash(self.name, self.public)

    @property
    def vkey(self) -> str:
        """The verifier key as published: ``<name>+<hex key hash>+<base64(0x01 || key)>``."""
        encoded = base64.b64encode(ED25519 + self.public).decode()
        return f"{self.name}+{self.key_hash.hex()}+{encoded}"

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        """Read a published verifier key; its key hash must match its name and key."""
        name, _, rest = vkey.strip().partition("+")
        parts = [name, *rest.partition("+")[::2]]  # base64 may hold "+": split twice only
        if not all(parts) or not _valid_name(name):
            raise NoteError("not a verifier key (name+keyhash+key)")
        try:
            key = base64.b64decode(parts[2], validate=True)
            stated = bytes.fromhex(parts[1])
        except (binascii.Error, ValueError) as error:
            raise NoteError("verifier key is not hex and base64") from error
        if len(key) != 33 or key[:1] != ED25519:
            raise NoteError("verifier key is not an Ed25519 key")
        verifier = cls(name=parts[0], public=key[1:])
        if stated != verifier.key_hash:
            raise NoteError("verifier key hash does not match its name and key")
        return verifier

    def open(self, note: str) -> str:
        """The text of ``note`` once its signature by this key is checked.

        Raises:
            NoteError: Malformed, no signature line by this key, or a bad signature.
        """
        text, signatures = signed_parts(note)
        for line in signatures:
            name, _, encoded = line[len(SIGNATURE_PREFIX):].rpartition(" ")
            try:
                blob = base64.b64decode(encoded, validate=True)
            except binascii.Error as error:
                raise NoteError("signature is not base64") from error
            if name != self.name or blob[:4] != self.key_hash:
                continue  # another signer (a witness's cosignature): not ours to judge
            try:
                Ed25519PublicKey.from_public_bytes(self.public).verify(blob[4:], text.encode())
            except InvalidSignature as error:
                raise NoteError(f"signature by {self.name} does not verify") from error
            return text
        raise NoteError(f"no signature by {self.name}+{self.key_hash.hex()}")


@dataclass(frozen=True, slots=True)
class Signer:
    """The checkpoint key, named after the log's origin."""

    name: str
    key: Ed25519PrivateKey

    @classmethod
    def for_log(cls, key: Ed25519PrivateKey, *, prefix: str = "optinface/audit") -> Signer:
        """Name the log after its key, so two deployments never share an origin."""
        fingerprint = hashlib.sha256(_raw(key.public_key())).hexdigest()[:16]
        return cls(name=f"{prefix}/{fingerprint}", key=key)

    @property
    def verifier(self) -> Verifier:
        return Verifier(name=self.name, public=_raw(self.key.public_key()))

    def sign(self, text: str) -> str:
        """``text`` (newline-terminated, no blank line) as a note signed by this key."""
        if not text.endswith("\n") or "\n\n" in text:
            raise NoteError("note text must end in one newline and hold no blank line")
        signature = self.key.sign(text.encode())
        blob = base64.b64encode(self.verifier.key_hash + signature).decode()
        return f"{text}\n{SIGNATURE_PREFIX}{self.name} {blob}\n"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head: the log's origin, its size and its RFC 6962 root hash."""

    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """The checkpoint in a note's verified text, or :class:`NoteError`.

        Strict where the format is: a size in canonical decimal (no leading zero), so a size
        has one spelling, and a root of exactly 32 bytes. Extension lines after the root,
        which tlog-checkpoint allows, are accepted and ignored.
        """
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise NoteError("a checkpoint has an origin, a size and a root hash")
        origin, size, root = lines[0], lines[1], lines[2]
        if not origin or not size.isdigit() or (size != "0" and size.startswith("0")):
            raise NoteError("malformed checkpoint origin or size")
        try:
            digest = base64.b64decode(root, validate=True)
        except binascii.Error as error:
            raise NoteError("checkpoint root hash is not base64") from error
        if len(digest) != HASH_BYTES:
            raise NoteError("checkpoint root hash is not 32 bytes")
        return cls(origin=origin, size=int(size), root=digest)


def signed_parts(note: str) -> tuple[str, list[str]]:
    """A note's signed text and its signature lines, by shape alone (no key is checked): what
    tells a file that holds no note from a note whose signature fails.

    Raises:
        NoteError: No blank line before signature lines, or a line that is not one.
    """
    text, separator, signatures = note.rpartition("\n\n")
    if not separator or not signatures.endswith("\n"):
        raise NoteError("not a signed note")
    lines = signatures[:-1].split("\n")
    if not all(line.startswith(SIGNATURE_PREFIX) for line in lines):
        raise NoteError("malformed signature line")
    return text + "\n", lines


def open_checkpoint(note: str, verifier: Verifier) -> Checkpoint:
    """The checkpoint in ``note``, signed by ``verifier`` and naming its log as origin."""
    checkpoint = Checkpoint.parse(verifier.open(note))
    if checkpoint.origin != verifier.name:
        raise NoteError(f"checkpoint of another log ({checkpoint.origin})")
    return checkpoint
