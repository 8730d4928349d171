"""A real S3 endpoint for tests: moto's standalone server on a free loopback
port, in a child process the test can stop (the store is down) and start
again on the same port. Its state lives in memory, so a restart empties it:
start() creates the bucket each time."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config

BUCKET = "helpdesk-test"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class S3Server:
    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        self.client().create_bucket(Bucket=BUCKET)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=Config(s3={"addressing_style": "path"}),
        )

    def objects(self, prefix: str = "") -> dict[str, bytes]:
        client = self.client()
        listed = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
        return {
            entry["Key"]: client.get_object(Bucket=BUCKET, Key=entry["Key"])["Body"].read()
            for entry in listed
        }

    def env(self) -> dict[str, str]:
        """The environment a manage.py child needs to use this store."""
        return {
            "HELPDESK_S3_BUCKET": BUCKET,
            "HELPDESK_S3_ENDPOINT_URL": self.url,
            "AWS_DEFAULT_REGION": REGION,
            **CREDENTIALS,
        }

    def options(self) -> dict[str, Any]:
        """settings.HELPDESK_S3_OPTIONS as config.settings builds it from env()."""
        return {
            "bucket_name": BUCKET,
            "endpoint_url": self.url,
            "region_name": REGION,
            "access_key": CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "secret_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "security_token": None,
            "addressing_style": "path",
            "querystring_auth": True,
            "querystring_expire": 300,
            "file_overwrite": True,
            "default_acl": None,
        }


def running() -> Iterator[S3Server]:
    """For a test module's s3_server fixture: a fresh store, stopped after."""
    server = S3Server()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def use_in_this_process(settings: Any, server: S3Server) -> S3Server:
    """This test process on the object store (what HELPDESK_S3_BUCKET does),
    for pytest-django's settings fixture (undone after the test)."""
    settings.HELPDESK_S3_BUCKET = BUCKET
    settings.HELPDESK_S3_ENDPOINT_URL = server.url
    settings.HELPDESK_S3_OPTIONS = server.options()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "config.s3.ObjectStorage", "OPTIONS": server.options()},
    }
    return server
