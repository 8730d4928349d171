"""The cluster topology, light: two web servers, two SMTP listeners and two
workers on one PostgreSQL, one Redis and one S3 object store (moto's server on
loopback), under mail and web load (bench/cluster.py runs it heavy, on demand,
and its figures are in the README)."""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import objectstore

ROOT = Path(__file__).resolve().parents[2]


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def _cluster() -> Any:
    spec = importlib.util.spec_from_file_location("bench_cluster", ROOT / "bench" / "cluster.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_two_of_everything_lose_nothing_and_send_each_notification_once() -> None:
    for port, service in ((5432, "PostgreSQL"), (6379, "Redis")):
        if not _listening(port):
            message = f"{service} is not running on 127.0.0.1:{port}"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
    url = os.environ.get("DATABASE_URL", "")
    store = objectstore.S3Server()
    store.start()
    try:
        figures = _run(url, store)
    finally:
        store.stop()
    assert figures["ok"], figures
    assert (figures["lost"], figures["duplicated_tickets"], figures["tickets"]) == (0, 0, 40)
    assert figures["notifications_sent"] == figures["notifications_received"] > 0
    assert figures["workers_alive"] == 2 and figures["web_requests"] >= 4
    # Every raw mail and every attachment (one mail in five has one) in the bucket.
    assert (figures["raw_objects"], figures["attachment_objects"]) == (40, 8)


def _run(url: str, store: objectstore.S3Server) -> dict[str, Any]:
    figures: dict[str, Any] = _cluster().run(
        database_url=url
        if url.startswith("postgres")
        else "postgres://postgres@127.0.0.1:5432/test",
        redis_url="redis://127.0.0.1:6379/6",
        mails=40,
        senders=6,
        web_users=2,
        web_workers=1,
        timeout=240,
        extra_env=store.env(),
    )
    keys = list(store.objects())
    figures["raw_objects"] = sum(1 for k in keys if k.startswith("raw/"))
    figures["attachment_objects"] = sum(1 for k in keys if not k.startswith("raw/"))
    return figures
