"""The Glue service model: botocore's own, plus the findmatches extension shipped in the package."""

from __future__ import annotations

import functools
from pathlib import Path

from botocore.loaders import create_loader
from botocore.model import OperationModel, ServiceModel

SERVICE_NAME = "glue"
#: Folder to put on ``AWS_DATA_PATH`` so that boto3 and the aws CLI learn ``StartFindMatchesTaskRun``.
EXTRAS_DATA_PATH = Path(__file__).resolve().parent.parent / "data"


@functools.cache
def glue_model() -> ServiceModel:
    """The Glue model with ``service-2.sdk-extras.json`` from the package merged in."""
    loader = create_loader()
    loader.search_paths.insert(0, str(EXTRAS_DATA_PATH))
    return ServiceModel(loader.load_service_model(SERVICE_NAME, "service-2"), service_name=SERVICE_NAME)


def operation(name: str) -> OperationModel | None:
    """The operation called ``name``, or None if the model has none."""
    model = glue_model()
    if name not in model.operation_names:
        return None
    return model.operation_model(name)
