"""Settings for the test run: config.settings with a data dir of its own.

Every pytest process (the xdist controller and each worker) gets a fresh
temporary HELPDESK_DATA_DIR, so parallel workers share no SQLite file, file
cache (login-failure counters), secret key or media folder, and a test run
never touches the ./var of `make run`. manage.py children a test starts with
this environment inherit the worker's data dir and use it as it is.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile

if "pytest" in sys.modules:  # the test process itself, not a manage.py child of it
    _worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    _data_dir = tempfile.mkdtemp(prefix=f"helpdesk-test-{_worker}-")
    os.environ["HELPDESK_DATA_DIR"] = _data_dir
    atexit.register(shutil.rmtree, _data_dir, ignore_errors=True)

# The example plugin is installed for the whole run, through the same
# HELPDESK_PLUGINS a deployment uses: its pages, nav entry and API route are
# there, and with DOMAIN_ROUTING empty its filter and rule route nothing, so
# other tests see the helpdesk as it is (tests/plugins turn it on).
os.environ["HELPDESK_PLUGINS"] = "plugins.domain_routing"

from config.settings import *  # noqa: F403

DOMAIN_ROUTING = ""
