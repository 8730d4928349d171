"""HELPDESK_S3_BUCKET and HELPDESK_X_ACCEL_REDIRECT as config.settings reads them."""

from pathlib import Path

from tests.config.test_settings import _manage


def test_the_bucket_makes_the_object_store_the_default_storage(tmp_path: Path) -> None:
    secret = tmp_path / "s3-secret"
    secret.write_text("from-a-file\n")
    code = (
        "from django.core.files.storage import storages; d = storages['default'];"
        "print(type(d).__name__);"
        "print(d.bucket_name, d.endpoint_url, d.addressing_style, d.querystring_expire,"
        " d.file_overwrite, d.secret_key == 'from-a-file', d.access_key);"
        "from config import objectstore as o;"
        "print(o.raw_storage().location)"
    )
    env = {
        "HELPDESK_DATA_DIR": str(tmp_path),
        "HELPDESK_S3_BUCKET": "helpdesk-files",
        "HELPDESK_S3_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "key-id",
        "AWS_SECRET_ACCESS_KEY_FILE": str(secret),
    }
    result = _manage("shell", "--no-imports", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "ObjectStorage",
        "helpdesk-files http://127.0.0.1:9 path 300 True True key-id",
        "raw",
    ]


def test_without_the_bucket_nothing_changes(tmp_path: Path) -> None:
    code = (
        "from django.conf import settings as s; print(s.STORAGES['default']['BACKEND']);"
        "from helpdesk import health; print('object_store' in health._probes)"
    )
    result = _manage("shell", "--no-imports", "-c", code, env={"HELPDESK_DATA_DIR": str(tmp_path)})
    assert result.stdout.split() == ["django.core.files.storage.FileSystemStorage", "False"]


def test_a_bad_x_accel_prefix_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    result = _manage(
        "check",
        env={"HELPDESK_DATA_DIR": str(tmp_path), "HELPDESK_X_ACCEL_REDIRECT": "protected"},
    )
    assert result.returncode != 0
    assert "HELPDESK_X_ACCEL_REDIRECT" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
