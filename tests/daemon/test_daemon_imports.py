"""The daemon's modules leave out the heavy packages it needs only on some paths."""

from __future__ import annotations

import subprocess
import sys
import textwrap

#: apprise (and requests): only when a notification is sent; alembic: only to migrate (in a
#: child process); botocore: only for the aws collector; jinja2: only on the first page view;
#: rich and pygments: httpx's own command line; prometheus_client: /proc is read directly;
#: bcrypt: only when basic auth checks a password; wsproto and websockets: no WebSocket routes.
NOT_AT_START = ("apprise", "requests", "alembic", "botocore", "jinja2", "rich", "pygments",
                "prometheus_client", "bcrypt", "wsproto", "websockets")  # fmt: skip


def test_starting_the_daemon_imports_none_of_the_optional_packages() -> None:
    code = textwrap.dedent(
        f"""
        import sys
        import quota_watch.cli
        import quota_watch.cli.run
        import quota_watch.daemon.process
        from quota_watch.daemon.server import build_server, create_app
        build_server(create_app(None, lambda: None), "127.0.0.1", 0).config.load()
        loaded = {{m.split(".")[0] for m in sys.modules}}
        print(sorted(loaded & set({NOT_AT_START!r})))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_a_sqlite_daemon_never_loads_the_postgresql_dialect(tmp_path: object) -> None:
    code = textwrap.dedent(
        """
        import asyncio, sys
        from quota_watch.store.migrator import open_migrated

        async def main(url):
            store = await open_migrated(url)
            await store.close()

        asyncio.run(main(sys.argv[1]))
        print(sorted(m for m in sys.modules if m.startswith("sqlalchemy.dialects.postgresql")))
        """
    )
    url = f"sqlite:///{tmp_path}/qw.db"
    done = subprocess.run(
        [sys.executable, "-c", code, url], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_the_cluster_modules_load_only_for_a_cluster() -> None:
    code = textwrap.dedent(
        """
        import sys
        import quota_watch.cli.run
        import quota_watch.daemon.process
        print(sorted(m for m in sys.modules if m.startswith("quota_watch.cluster")))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
