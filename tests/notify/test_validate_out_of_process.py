"""The daemon checks notifier URLs in a child process, so apprise loads only when it sends."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from quota_watch.notify import deliver


@pytest.mark.parametrize(
    "url",
    ["json://127.0.0.1:9/hook", "mailtos://user:s3cret-pass@smtp.example.com?to=a@example.com",
     "nosuchscheme://abc", "json://"],
)  # fmt: skip
def test_the_child_gives_the_same_verdict(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    in_process = deliver._validate_sync(url)
    monkeypatch.setattr(deliver, "VALIDATE_OUT_OF_PROCESS", True)
    monkeypatch.setattr(deliver, "_apprise_module", None)
    assert deliver.validate_url(url) == in_process
    if in_process is not None:
        assert "s3cret" not in in_process


def test_loading_a_config_with_a_notifier_leaves_apprise_unloaded(tmp_path: object) -> None:
    code = textwrap.dedent(
        """
        import sys
        from quota_watch.notify import deliver
        deliver.VALIDATE_OUT_OF_PROCESS = True
        assert deliver.validate_url("json://127.0.0.1:9/hook") is None
        assert deliver.validate_url("nosuchscheme://abc") is not None
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("apprise", "requests")))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
