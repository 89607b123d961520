"""The register and its record of processing, signed by the deployment (red team 7, #10).

A regulator holding a copy of the register must be able to show, without the operator's word,
that this deployment served it, and so tie the material SHA-256 a declaration recorded to the
deployment's published keys. Every register and record of processing the service builds
(:meth:`consent.service.OptinFace.register`, :meth:`~consent.service.OptinFace.ropa`) carries a
detached ``signature`` (:class:`consent.schemas.DocumentSignature`): Ed25519 over the canonical
JSON (:func:`consent.crypto.canonical_json`, the receipts' byte form) of the whole document as
served less that one field, so its generation time, its figures, its material SHA-256 and, in
the register, the material itself are all signed. The signature is no part of the material
(:func:`consent.declaration.material_fields` hashes settings and rows, never the document), so
signing changes no declaration's hash.

The key is the receipt key, not the checkpoint key: it already signs canonical JSON documents
that outsiders check offline with ``--public-key`` (``optinface receipt verify``), and the
material of version 2 names it (:func:`consent.declaration.named_signing_key`); the checkpoint
key signs C2SP notes only, which log tools and witnesses trust as a log's, and keeping it to
them keeps any other document from ever reading as a checkpoint.

What a valid signature proves: this deployment's key signed this document, stating these
figures, at the time it names. Not that the figures are true: the operator's service built
them from its own settings and database.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from optinface.consent.crypto import canonical_json
from optinface.consent.keys import KeyRing
from optinface.consent.receipts import published_key, verify_receipt
from optinface.consent.schemas import DocumentSignature, Register, Ropa

SIGNATURE_FIELD = "signature"
"""The one field of a signed document its signature does not cover: itself."""

Document = TypeVar("Document", Register, Ropa)


def signed_body(document: Mapping[str, Any]) -> dict[str, Any]:
    """What the signature covers: the document as served, less its ``signature``."""
    return {key: value for key, value in document.items() if key != SIGNATURE_FIELD}


def signed(keys: KeyRing, document: Document) -> Document:
    """``document`` with the receipt key's signature of its JSON as served (the API's
    answer and ``model_dump_json`` alike: ``mode="json"``, no aliases)."""
    body = signed_body(document.model_dump(mode="json"))
    signature = DocumentSignature(kid=published_key(keys.public_key).key_id,
                                  value=keys.sign(canonical_json(body)))
    return document.model_copy(update={SIGNATURE_FIELD: signature})


def signature_problem(document: Mapping[str, Any], public_key: str) -> str | None:
    """Why ``document`` (a file's JSON, so anything) is not signed by ``public_key`` (base64,
    already parsed by the caller), or None when it is."""
    signature = document.get(SIGNATURE_FIELD)
    if not isinstance(signature, dict):
        return "it carries no signature: nothing vouches for it"
    value, kid = signature.get("value"), signature.get("kid")
    if signature.get("alg") != DocumentSignature.model_fields["alg"].default:
        return f"its signature's algorithm is {signature.get('alg')!r}, not Ed25519"
    if not isinstance(value, str) or not verify_receipt(signed_body(document), value, public_key):
        given = published_key(public_key).key_id
        return (f"INVALID signature for key {given} (the document names key {kid}): changed"
                " since it was signed, or signed by another key")
    return None
