"""The erasure's page says, in the reader's language, what its signed receipt says of the search
index's copies: how many saved files no longer open (issue #10's note, a reviewer's finding)."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from optinface.api.web.i18n import Language, Words
from optinface.api.web.receipts import erasure_summary
from optinface.consent.schemas import ErasureReceipt
from optinface.engine.pipeline import FacePipeline
from tests.support.api import auth, deployment, set_up_world

SAID = {
    Language.EN: "Copies of the search index saved before the erasure (1) no longer open: their"
                 " keys are destroyed.",
    Language.FR: "Les copies de l'index de recherche enregistrées avant l'effacement (1) ne"
                 " s'ouvrent plus : leurs clés sont détruites.",
}


@pytest.mark.parametrize("language", list(SAID))
def test_the_erasure_page_says_how_many_index_copies_no_longer_open(
    tmp_path: Path, pipeline: FacePipeline, portrait_jpegs: list[bytes], language: Language
) -> None:
    with deployment(tmp_path, pipeline) as (_, service, client, keys):
        world = set_up_world(client, keys)
        world.enrol(world.subject, world.consent_id, portrait_jpegs[0])
        service.index.save()  # the periodic save: the file holds the vector and has a key
        answer = client.delete(f"/v1/subjects/{world.subject}", headers=auth(keys.admin))
        assert answer.status_code == 200, answer.text
    erasure = ErasureReceipt.model_validate(answer.json())
    assert erasure.index_file_keys_destroyed == 1
    summary = erasure_summary(Words(language, ZoneInfo("UTC")), erasure, code="AAAA-BBBB")
    assert SAID[language] in summary.lines
