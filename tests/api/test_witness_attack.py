"""Black box 25's attack on a witness folder that stops taking checkpoints: what whoever holds
the database can still delete unseen once it is stalled (nothing asked after it stalled), on
both backends."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

from fastapi.testclient import TestClient

from optinface.api.app import create_app
from optinface.consent.service import OptinFace
from optinface.consent.tables import AuditEvent
from optinface.consent.witness import latest_witnessed
from optinface.engine.pipeline import FacePipeline
from tests.support.api import auth, deployment, ok, set_up_world
from tests.support.backends import both_backends
from tests.support.consent import outside_sql, row_count
from tests.support.witness import assert_held, checkpoints_refused, stall


@both_backends
def test_the_attack_on_a_stalled_witness_finds_no_act_to_hide(
    tmp_path: Path, pipeline: FacePipeline, portrait_jpegs: list[bytes], database_url: str | None,
) -> None:
    """Black box 25's attack, end to end: the folder stops taking checkpoints, searches, reads
    and an enrolment are asked over HTTP, the server stops, the events past the last witnessed
    checkpoint are deleted with SQL, the folder is mended and the server started again. The
    log and the witness agree, as before; but all the deletion took was what the log held when
    the folder first refused (the read that met it), none of the acts asked after: none was
    done, and the probe consent the search was to spend is still unused."""
    image = portrait_jpegs[1]
    with deployment(tmp_path, pipeline, database_url=database_url) as (
            settings, service, client, keys):
        world = set_up_world(client, keys)
        person = world.people[world.subject]
        person.enrol(world.consent_id, image, desk=keys.portal)
        probe = world.probe_consent(image)
        capture = person.approve_capture(world.consent_id, image, desk=keys.portal)
        service.witness_audit()
        witnessed = latest_witnessed(settings.witness_dir)
        with checkpoints_refused(settings.witness_dir):
            stall(world, service)
            stalled_at = row_count(service, AuditEvent)
            for response in (
                client.post("/v1/identify", data={"purpose_id": world.purpose_id,
                                                  "probe_consent_id": probe},
                            files={"image": ("probe.jpg", image, "image/jpeg")},
                            headers=auth(keys.researcher)),
                client.get("/v1/audit/events", headers=auth(keys.reviewer)),
                client.post(f"/v1/subjects/{world.subject}/faces", data={"capture_id": capture},
                            files={"image": ("face.jpg", image, "image/jpeg")},
                            headers=auth(keys.portal)),
            ):
                assert_held(response, service)
            assert row_count(service, AuditEvent) == stalled_at == witnessed + 1
            service.close()
        outside_sql(service, "DELETE FROM audit_events WHERE seq > :kept", kept=witnessed)
        outside_sql(service, "DELETE FROM audit_checkpoints WHERE seq > :kept", kept=witnessed)
    with closing(OptinFace.open(settings, pipeline=pipeline)) as restarted, TestClient(
            create_app(settings, service=restarted)) as client:
        assert restarted.verify_audit().ok
        assert ok(client.post("/v1/identify", data={"purpose_id": world.purpose_id,
                                                    "probe_consent_id": probe},
                              files={"image": ("probe.jpg", image, "image/jpeg")},
                              headers=auth(keys.researcher)))["candidates"]
