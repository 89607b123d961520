"""One checkpoint for the spent rights that wait on it together (a group commit).

Every act that spends a single-use right signs the log's head into the witness folder before it
answers (:mod:`consent.spent_rights`). Each such signature is a write transaction (the checks
before it, the signed row, the file written and synced with its folder) holding the ledger's
write lock: acts of several clients queued there one signature each, and an identify's
throughput fell as clients were added (``optinface bench`` on the 2-core VM: 27 identifies a
second at one client, 15 at eight).

A checkpoint covers every event committed before its transaction began. So an act that waited
while another signed need not sign again when that signature began after the act committed:
this process's acts take a ticket once committed, in order; a signature records the last
ticket taken before it began, and once the folder holds what it signed, every act holding a
ticket up to that one is covered and answers without a signature of its own. Nothing is
weakened: each act still answers only once a checkpoint signed after its commit, covering its
events, is in the folder; a signature refused (the folder full, a restore found) covers no
one, and the next act in line signs, or is refused, as it would alone.

Per process: workers of one shared ledger each sign their own acts, as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class SharedCheckpoints:
    """Turns at signing for this process's spent rights (:meth:`sign`)."""

    def __init__(self) -> None:
        self._turn = threading.Lock()  # one signature at a time
        self._tickets = threading.Lock()  # guards _issued
        self._issued = 0
        """The last ticket taken: by the act that committed last, of those that asked."""
        self._covered = 0
        """Every act holding a ticket up to this one has its events in the folder."""

    def sign(self, witness: Callable[[], int], held: Callable[[], int]) -> int | None:
        """Call ``witness`` (sign the log's head; the size of the log it was to cover) for an
        act that has committed, unless a signature begun after that commit put its events in
        the folder first: then None. ``held``: the largest size the folder holds.

        Raises:
            Whatever ``witness`` raises; nothing is then covered.
        """
        ticket = self._take()
        with self._turn:
            if ticket <= self._covered:
                return None
            with self._tickets:
                begun = self._issued  # every act up to here committed before the signature
            size = witness()
            if held() >= size:
                self._covered = begun
            return size

    def _take(self) -> int:
        with self._tickets:
            self._issued += 1
            return self._issued
