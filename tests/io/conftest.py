"""Fixtures for the I/O tests: the loopback S3 server from tests/fixtures_s3.py."""

from tests.fixtures_s3 import S3Server, s3_bucket, s3_env, s3_server

__all__ = ["S3Server", "s3_bucket", "s3_env", "s3_server"]
