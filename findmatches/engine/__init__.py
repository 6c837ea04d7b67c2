"""The entity-resolution engine: profiling, blocking, features, model, clustering, active learning.

Public entry points (see `api.py`):

- ``generate_labeling_set(source, params, labels, *, out_path, ...)``
- ``evaluate(source, params, labels, ...)``
- ``find_matches(source, params, labels, *, out_path, compute_confidence, ...)``

Labels are an Arrow table with string columns ``labeling_set_id``, ``label`` and ``primary_key``.
"""
