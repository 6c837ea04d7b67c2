"""The hostile-input campaign of bench/fuzz_api.py at a small scale (issue 17).

Three hundred requests, fifty from each family of operations, of every kind the campaign sends (valid,
pointed at real resources, boundary, invalid, wrong types, unknown or null members, deep nesting, huge,
bad UTF-8, duplicate keys, not an object; most signed, some unsigned or wrongly signed): no 5xx, no hang,
every error one that the operation may answer, and nothing in the server's log that says it crashed.
The full campaign (10,000 a family) runs from bench/ and its figures are in docs/reliability.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.fuzz_api import (
    FAMILY_NAMES,
    IMPLEMENTED,
    KINDS,
    Sender,
    draw_pool,
    exchange,
    make_request,
    seed_resources,
)
from tests.conftest import ServerProcess, free_port

PER_FAMILY = 50
#: Generous for a loaded CI machine; the campaign's own bound is 10 s.
HANG_S = 20.0


@pytest.fixture(scope="module")
def campaign_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    """A server of its own, as the bench runs it: no rate limit, an S3 endpoint that refuses at once."""
    root = tmp_path_factory.mktemp("campaign")
    files = root / "files"
    files.mkdir()
    server = ServerProcess(
        root / "data",
        [
            "--allow-path",
            str(files),
            "--account-rate",
            "0",
            "--s3-endpoint-url",
            f"http://127.0.0.1:{free_port()}",
        ],
        env={"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"},
    )
    server.start()
    yield server, files
    server.stop()


def test_a_small_campaign(campaign_server: tuple[ServerProcess, Path]) -> None:
    server, files = campaign_server
    seeds = seed_resources(server.port, files)
    pools = {op: draw_pool(op, 5, 0) for op in IMPLEMENTED}
    sender = Sender(server.port, timeout_s=HANG_S * 2)
    kinds: Counter[str] = Counter()
    problems = []
    for index in range(PER_FAMILY):
        for family in FAMILY_NAMES:
            request = make_request(family, index, 0, seeds, pools)
            outcome = exchange(sender, server.port, request, 0, HANG_S)
            kinds[request.kind] += 1
            if outcome.problem:
                problems.append((family, index, request.kind, outcome.status, outcome.problem, outcome.reply))
    assert not problems, problems[:5]
    assert set(kinds) == {kind for kind, _ in KINDS}, kinds
    log = server.log()
    assert "Traceback" not in log, log[-3000:]
    assert "status=5" not in log, log[-3000:]
