from __future__ import annotations

import numpy as np
import pyarrow as pa

from findmatches.engine.features import compute_features, feature_spec
from findmatches.engine.profile import ColumnKind, ColumnProfile


def test_features_identical_different_and_missing() -> None:
    profiles = [
        ColumnProfile("name", 0, ColumnKind.NAME, 0.0, 0.9, 1.0, 6.0),
        ColumnProfile("amount", 1, ColumnKind.NUMBER, 0.0, 0.9, 1.0, 3.0),
    ]
    spec = feature_spec(profiles)
    batch = pa.table(
        {
            "l_c0": ["smith", "smith", None],
            "r_c0": ["smith", "jones", "smith"],
            "fl_c0": [2, 2, None],
            "fr_c0": [2, 1, 2],
            "l_c1": ["10", "10", "10"],
            "r_c1": ["10", "20", None],
            "d_c1": [0.0, 0.5, None],
            "l_rec": ["smith 10", "smith 10", "10"],
            "r_rec": ["smith 10", "jones 20", "smith"],
        }
    )
    x = compute_features(spec, batch)
    assert x.shape == (3, len(spec.names))
    col = {name: i for i, name in enumerate(spec.names)}
    assert x[0, col["name:exact"]] == 1.0 and x[0, col["name:jw"]] == 1.0
    assert x[1, col["name:exact"]] == 0.0 and x[1, col["name:jw"]] < 0.7
    assert np.isnan(x[2, col["name:jw"]]) and np.isnan(x[2, col["amount:reldiff"]])
    assert x[1, col["amount:reldiff"]] == 0.5
    assert x[0, col["name:rarity"]] > 0 and x[1, col["name:rarity"]] == 0
    assert len(spec.monotone) == len(spec.names) == len(spec.columns)
