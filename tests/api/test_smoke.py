"""The smallest end-to-end: a signed boto3 call through the real server."""

from typing import Any


def test_create_and_get_database(glue: Any) -> None:
    glue.create_database(DatabaseInput={"Name": "smoke"})
    assert glue.get_database(Name="smoke")["Database"]["Name"] == "smoke"
