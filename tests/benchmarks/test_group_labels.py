"""The operator's group labels are read strictly, and a refusal names a line, never a person.

Identities and labels here are made up; the project ships no label of a real person.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.group_labels import DifferentialRefused, RefusalCode, read_group_labels

IDENTITIES = {"Person_A", "Person_B", "Person_C"}


def refusal(tmp_path: Path, content: str) -> DifferentialRefused:
    path = tmp_path / "groups.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DifferentialRefused) as caught:
        read_group_labels(path, IDENTITIES)
    return caught.value


def test_a_well_formed_file_maps_each_identity_to_its_group(tmp_path: Path) -> None:
    path = tmp_path / "groups.csv"
    # A spreadsheet's byte-order mark, spaces around cells, a quoted label and a blank row.
    path.write_text('\ufeffidentity, group\nPerson_A,group x\n\n Person_B ,"group, y"\n',
                    encoding="utf-8")
    assert read_group_labels(path, IDENTITIES) == {"Person_A": "group x", "Person_B": "group, y"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "line 1: the first line must be the header"),
        ("person,label\nPerson_A,x\nPerson_B,y\n", "line 1: the first line must be the header"),
        ("identity,group\nPerson_A,x,extra\nPerson_B,y\n", "line 2: 3 fields, expected 2"),
        ("identity,group\nPerson_A\nPerson_B,y\n", "line 2: 1 fields, expected 2"),
        ("identity,group\n,x\nPerson_B,y\n", "line 2: the identity is empty"),
        ("identity,group\nPerson_A,x\nPerson_B, \n", "line 3: the group is empty"),
        ("identity,group\nPerson_A,x\nPerson_B,y\nPerson_A,y\n",
         "line 4: this identity is already labelled"),
        ("identity,group\nPerson_A,x\nPerson_B,y\x07\n", "line 3: the group holds a control"),
        ("identity,group\nPerson_A,x\nPerson_B," + "y" * 65 + "\n", "line 3: the group label is "
         "longer than 64"),
        ("identity,group\nPerson_A,x\nPerson_B,x\n", "at least two groups"),
        ("identity,group\nPerson_A,x\nPerson_B,\x00y\n", "line 3: the group holds a control"),
        ('identity,group\nPerson_A,"x"y\nPerson_B,y\n', "line 2: ',' expected after '\"'"),
        ('identity,group\nPerson_A,x\nPerson_B,"y\n', "line 3: unexpected end of data"),
    ],
)
def test_a_malformed_file_is_refused_at_its_line(
    tmp_path: Path, content: str, message: str
) -> None:
    refused = refusal(tmp_path, content)
    assert refused.code is RefusalCode.GROUPS_MALFORMED
    assert refused.message.startswith(message), refused.message
    assert "Person_" not in refused.message  # who is in which group never reaches a terminal


def test_an_identity_that_is_not_in_the_data_set_is_refused(tmp_path: Path) -> None:
    refused = refusal(tmp_path, "identity,group\nPerson_A,x\nPerson_Z,y\n")
    assert refused.code is RefusalCode.GROUPS_UNKNOWN_IDENTITY
    assert refused.message == "line 3: the identity is not a folder of the data set"


@pytest.mark.parametrize(("content", "reason"), [(None, "No such file"),
                                                 (b"identity,group\nP\xe9rson,x\n", "not UTF-8")])
def test_a_file_that_cannot_be_read_is_refused(
    tmp_path: Path, content: bytes | None, reason: str
) -> None:
    path = tmp_path / "groups.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DifferentialRefused) as caught:
        read_group_labels(path, IDENTITIES)
    assert caught.value.code is RefusalCode.GROUPS_UNREADABLE
    assert caught.value.message.startswith(f"groups.csv: {reason}")
