"""What the consent tests build with: checks shared by several of their modules."""

from __future__ import annotations

from optinface.consent.service import OptinFace


def assert_witness_sees_the_restore(service: OptinFace) -> None:
    """A restored log lost the events after the copy: the witness folder says so, at the
    first event the restore rewrote (known gap: no signed restore marker accepts the fork)."""
    status = service.verify_audit()
    assert not status.ok and status.problem is not None and "witness" in status.problem
