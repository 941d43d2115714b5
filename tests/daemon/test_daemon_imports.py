"""The daemon's modules leave out the heavy packages it needs only on some paths."""

from __future__ import annotations

import subprocess
import sys
import textwrap

#: apprise (and requests): only when a notification is sent; alembic: only to migrate;
#: botocore: only for the aws collector; jinja2: only on the first page view; rich and
#: pygments: httpx's own command line; prometheus_client: /proc is read directly.
NOT_AT_START = ("apprise", "requests", "alembic", "botocore", "jinja2", "rich", "pygments",
                "prometheus_client")  # fmt: skip


def test_starting_the_daemon_imports_none_of_the_optional_packages() -> None:
    code = textwrap.dedent(
        f"""
        import sys
        import quota_watch.cli
        import quota_watch.cli.run
        import quota_watch.daemon.process
        loaded = {{m.split(".")[0] for m in sys.modules}}
        print(sorted(loaded & set({NOT_AT_START!r})))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
