"""Deployment: the Dockerfile's steps and entrypoint, and the systemd units, run on this machine.

There is no container engine here, so the image is emulated as far as it can be: the build
context is cut by .dockerignore's rules, each stage gets its own directory as a root file system,
COPY copies into it, and the RUN steps that call deploy/*.sh run those very scripts with image
paths mapped into that root (bind mounts mapped to their sources). The runtime stage installs
from the built wheels only (no package index, no pip configuration), and the ENTRYPOINT + CMD
start with the image's ENV. The build stage fetches the dependencies' wheels from the package
index (PyPI or the configured mirror), as `docker build` does.

The systemd units are checked by `systemd-analyze verify` (skipped when it is missing, failing
then when QUOTA_WATCH_REQUIRE_SYSTEMD_ANALYZE is set) and their Exec lines are run the way
systemd would run them, with paths mapped into a temporary root.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.daemon_proc import free_port

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
UNITS = ("quota-watch.service", "quota-watch-backup.service", "quota-watch-backup.timer")
ARCH_WORDS = re.compile(r"amd64|x86[_-]64|aarch64|arm64|armv\d|--platform", re.IGNORECASE)
REQUIRE_SYSTEMD_ANALYZE = "QUOTA_WATCH_REQUIRE_SYSTEMD_ANALYZE"


def python_bin_dir(tmp: Path) -> Path:
    """A directory whose `python3` (the image's interpreter) runs this test's Python 3.11.

    A wrapper, not a symlink, so that it keeps pip (this virtual environment's); `python -m
    venv` from it still makes a clean environment on the base interpreter.
    """
    bin_dir = tmp / "python-bin"
    bin_dir.mkdir(exist_ok=True)
    for name in ("python", "python3"):
        wrapper = bin_dir / name
        wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
        wrapper.chmod(0o755)
    return bin_dir


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without QUOTA_WATCH_* and pip settings (the image has neither)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("QUOTA_WATCH_", "PIP_", "VIRTUAL_ENV", "PYTHON"))
    }
    env.update(extra)
    return env


def wait_http(
    url: str, proc: subprocess.Popen[bytes], log: Path, needle: str = "", timeout: float = 30.0
) -> str:
    """GET `url` until it answers 200 with `needle` in the body (the process must stay alive)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited with {proc.returncode}:\n{log.read_text()}")
        try:
            response = httpx.get(url, timeout=5)
            if response.status_code == 200 and needle in response.text:
                return response.text
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer in {timeout}s:\n{log.read_text()}")


# --- .dockerignore --------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match plus `**`) as a regex over a relative path."""
    out = ""
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
            continue
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            end = pattern.index("]", i)
            out += "[" + pattern[i + 1 : end].replace("!", "^", 1) + "]"
            i = end
        else:
            out += re.escape(c)
        i += 1
    return re.compile(out + r"\Z")


def dockerignore_rules(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    """(exclude?, regex) per line of a .dockerignore file, in order."""
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclude = not line.startswith("!")
        line = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        rules.append((exclude, _pattern_regex(line)))
    return rules


def ignored(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's verdict for `path`: the last rule matching it or one of its parent folders wins."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    verdict = False
    for exclude, regex in rules:
        if any(regex.match(c) for c in candidates):
            verdict = exclude
    return verdict


def build_context(dest: Path) -> Path:
    """Copy the repository into `dest` as `docker build .` would send it."""
    text = (REPO / ".dockerignore").read_text()
    rules = dockerignore_rules(text)
    exceptions = [
        line.strip()[1:].strip().lstrip("/")
        for line in text.splitlines()
        if line.strip()[:1] == "!"
    ]
    for folder, dirs, files in os.walk(REPO):
        base = Path(folder).relative_to(REPO).as_posix()
        rel = "" if base == "." else base + "/"
        # Skip ignored folders no exception reaches into (.git, .venv): like Docker, cheaply.
        dirs[:] = [
            d
            for d in dirs
            if not ignored(rel + d, rules) or any(e.startswith(rel + d + "/") for e in exceptions)
        ]
        for name in files:
            if ignored(rel + name, rules):
                continue
            target = dest / rel / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(folder) / name, target)
    return dest


def test_dockerignore_matches_like_docker() -> None:
    rules = dockerignore_rules("*\n!src\n**/__pycache__\nsrc/*/tests\n!src/keep/tests/x.py\n")
    assert ignored("README.md", rules)
    assert not ignored("src/a.py", rules)
    assert ignored("src/__pycache__/a.pyc", rules)
    assert ignored("src/pkg/tests/t.py", rules)
    assert not ignored("src/keep/tests/x.py", rules)


def test_build_context_holds_the_build_inputs_and_no_leftovers(tmp_path: Path) -> None:
    context = build_context(tmp_path / "context")
    files = {p.relative_to(context).as_posix() for p in context.rglob("*") if p.is_file()}
    for needed in (
        "pyproject.toml",
        "README.md",
        "rules/default.toml",
        "quota_watch/cli/__init__.py",
        "quota_watch/store/migrations/env.py",
        "collectors/quota_watch_collectors/host/limits.toml",
        "deploy/build-wheels.sh",
        "deploy/install-wheel.sh",
        "deploy/healthcheck.py",
    ):
        assert needed in files, needed
    for name in files:
        top = name.split("/")[0]
        assert top in {
            "pyproject.toml",
            "README.md",
            "rules",
            "quota_watch",
            "collectors",
            "deploy",
        }
        assert "__pycache__" not in name and not name.endswith((".pyc", ".db"))
        assert "/tests/" not in name, name


# --- Dockerfile -----------------------------------------------------------------------------


@dataclass
class Instruction:
    """One Dockerfile instruction: keyword, its --flags, and the rest of the line."""

    keyword: str
    flags: list[tuple[str, str]]
    args: str

    def exec_form(self) -> list[str]:
        """The JSON-array (exec) form of the arguments."""
        value = json.loads(self.args)
        assert isinstance(value, list) and all(isinstance(v, str) for v in value), self.args
        return value


@dataclass
class Stage:
    """A FROM stage."""

    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        """Every instruction with `keyword`."""
        return [i for i in self.instructions if i.keyword == keyword]

    def one(self, keyword: str) -> Instruction:
        """The only instruction with `keyword`."""
        found = self.all(keyword)
        assert len(found) == 1, f"expected one {keyword}, found {len(found)}"
        return found[0]


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not current):
            continue  # comments (also inside continuations) and blank lines
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    assert not current, "dangling line continuation"
    return [line for line in lines if line]


def parse_dockerfile(text: str) -> list[Stage]:
    """The stages of a Dockerfile (global ARG defaults substituted into FROM)."""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in _logical_lines(text):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "FROM":
            for key, value in args.items():
                rest = rest.replace(f"${{{key}}}", value)
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
            continue
        if keyword == "ARG" and not stages:
            key, _, value = rest.partition("=")
            args[key] = value
            continue
        flags: list[tuple[str, str]] = []
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            key, _, value = flag[2:].partition("=")
            flags.append((key, value))
            rest = rest.strip()
        assert stages, f"{keyword} before FROM"
        stages[-1].instructions.append(Instruction(keyword, flags, rest))
    return stages


def dockerfile() -> list[Stage]:
    """The repository's Dockerfile, parsed."""
    return parse_dockerfile((REPO / "Dockerfile").read_text())


def test_dockerfile_shape() -> None:
    text = (REPO / "Dockerfile").read_text()
    build, runtime = dockerfile()
    assert build.name == "build" and build.base.startswith("python:3.11") and "slim" in build.base
    assert runtime.base == build.base, "both stages on the same slim Python"
    # No step assumes an architecture: the same file builds on amd64 and arm64.
    code = "\n".join(_logical_lines(text))
    scripts = "\n".join(
        line
        for name in ("build-wheels.sh", "install-wheel.sh")
        for line in (DEPLOY / name).read_text().splitlines()
        if not line.lstrip().startswith("#")
    )
    assert not ARCH_WORDS.search(code), ARCH_WORDS.search(code)
    assert not ARCH_WORDS.search(scripts), ARCH_WORDS.search(scripts)
    # The build stage makes the wheels; the runtime stage installs them without keeping them.
    assert "deploy/build-wheels.sh" in build.one("RUN").args
    install = next(i for i in runtime.all("RUN") if "install-wheel.sh" in i.args)
    assert ("mount", "type=bind,from=build,source=/wheels,target=/tmp/wheels") in install.flags
    assert not [c for c in runtime.all("COPY") if ("from", "build") in c.flags]
    user = runtime.one("USER").args
    assert user.split(":")[0] not in ("root", "0"), "runs as a non-root user"
    assert runtime.one("VOLUME").args == "/var/lib/quota-watch"
    assert runtime.one("EXPOSE").args == "9877"
    env = image_env(runtime, {})
    assert env["QUOTA_WATCH_SERVER__LISTEN"] == "0.0.0.0:9877"
    assert env["XDG_CONFIG_HOME"] + "/quota-watch/config.toml" == "/etc/quota-watch/config.toml"
    assert env["XDG_DATA_HOME"] + "/quota-watch" == "/var/lib/quota-watch"
    health = runtime.one("HEALTHCHECK")
    assert health.args.startswith("CMD [")
    assert (
        Instruction("CMD", [], health.args[3:].strip()).exec_form()[-1].endswith("healthcheck.py")
    )
    assert runtime.one("ENTRYPOINT").exec_form() == ["/opt/quota-watch/bin/quota-watch"]
    assert runtime.one("CMD").exec_form() == ["run"]


def image_env(stage: Stage, base: dict[str, str], rebase: Rebase | None = None) -> dict[str, str]:
    """The stage's ENV on top of `base`, $VAR expanded; image paths mapped when `rebase`."""
    env = dict(base)
    for instruction in stage.all("ENV"):
        for pair in shlex.split(instruction.args):
            key, sep, value = pair.partition("=")
            assert sep, f"ENV {pair}: use the key=value form"
            if rebase is not None:
                value = ":".join(rebase.path(p) for p in value.split(":"))
            env[key] = re.sub(
                r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: env.get(m.group(1), ""), value
            )
    return env


class Rebase:
    """Maps image paths into a stage's root directory (bind-mount targets to their sources)."""

    #: top-level folders the image itself populates; other absolute paths are the base image's
    OWN = ("/opt", "/etc", "/var", "/tmp", "/src", "/wheels")

    def __init__(self, root: Path, mounts: dict[str, Path] | None = None) -> None:
        self.root = root
        self.mounts = mounts or {}

    def path(self, value: str) -> str:
        """`value` mapped, if it is an image path; else unchanged."""
        for target, source in self.mounts.items():
            if value == target or value.startswith(target + "/"):
                return str(source) + value[len(target) :]
        if value == "/":
            return str(self.root)
        if value.startswith(self.OWN) and value.split("/")[1] in {p[1:] for p in self.OWN}:
            return str(self.root) + value
        return value

    def argv(self, words: list[str]) -> list[str]:
        """Each word mapped."""
        return [self.path(w) for w in words]


def _mounts(instruction: Instruction, context: Path, roots: dict[str, Path]) -> dict[str, Path]:
    mounts = {}
    for key, value in instruction.flags:
        if key != "mount":
            continue
        options = dict(part.split("=", 1) for part in value.split(","))
        assert options.get("type") == "bind", value
        source = options.get("source", "/").lstrip("/")
        base = roots[options["from"]] if "from" in options else context
        mounts[options["target"]] = base / source
    return mounts


def emulate_build(tmp: Path) -> tuple[Stage, Path, dict[str, str]]:
    """Run the Dockerfile's steps into per-stage roots under `tmp`; the runtime stage, root, env.

    RUN steps that call a deploy/ script run it; the other RUN steps (creating the system user
    and its folders) need root on a real image and are replaced by making the folders.
    """
    context = build_context(tmp / "context")
    stages = dockerfile()
    roots: dict[str, Path] = {}
    python_dir = python_bin_dir(tmp)
    for index, stage in enumerate(stages):
        root = tmp / f"stage{index}"
        root.mkdir()
        roots[stage.name or str(index)] = root
        final = index == len(stages) - 1
        # The build stage uses the machine's pip configuration (index or mirror), like a
        # `docker build` with network; the runtime stage gets none: wheels only.
        base_env = dict(os.environ) if not final else clean_env(PIP_CONFIG_FILE=os.devnull)
        base_env["PATH"] = f"{python_dir}:{base_env.get('PATH', '')}"
        workdir = "/"
        for instruction in stage.instructions:
            if instruction.keyword == "WORKDIR":
                workdir = instruction.args
                Path(Rebase(root).path(workdir)).mkdir(parents=True, exist_ok=True)
            elif instruction.keyword == "COPY":
                *sources, dest = shlex.split(instruction.args)
                for source in sources:
                    src = context / source if source != "." else context
                    target = Path(Rebase(root).path(dest))
                    if src.is_dir():
                        shutil.copytree(src, target, dirs_exist_ok=True)
                    else:
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(src, target)
            elif instruction.keyword == "RUN":
                words = shlex.split(instruction.args)
                if words[0] == "sh" and "/deploy/" in words[1]:
                    rebase = Rebase(root, _mounts(instruction, context, roots))
                    proc = subprocess.run(
                        ["sh", *rebase.argv(words[1:])],
                        cwd=Path(rebase.path(workdir)),
                        env=image_env(stage, base_env, Rebase(root)),
                        capture_output=True,
                        text=True,
                        timeout=600,
                    )
                    assert proc.returncode == 0, f"{instruction.args}\n{proc.stdout}{proc.stderr}"
                else:
                    assert words[0] == "useradd", f"unexpected RUN step: {instruction.args}"
                    for folder in ("/var/lib/quota-watch", "/etc/quota-watch"):
                        Path(Rebase(root).path(folder)).mkdir(parents=True, exist_ok=True)
        if final:
            return stage, root, image_env(stage, base_env, Rebase(root))
    raise AssertionError("no stages")


@pytest.mark.slow
def test_image_steps_install_and_the_entrypoint_serves(tmp_path: Path) -> None:
    runtime, root, env = emulate_build(tmp_path)
    (wheel,) = (tmp_path / "stage0" / "wheels").glob("quota_watch-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "quota_watch/__init__.py",
        "quota_watch_collectors/__init__.py",
        "quota_watch/engine/default.toml",
    } <= names
    prefix = root / "opt" / "quota-watch"
    site = subprocess.run(
        [str(prefix / "bin" / "python"), "-c", "import quota_watch; print(quota_watch.__file__)"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert site.startswith(str(prefix)), "imported from the clean venv, not the source tree"

    # The operator's config at the image's config path, found through XDG_CONFIG_HOME.
    config = Path(Rebase(root).path("/etc/quota-watch/config.toml"))
    config.write_text('[[accounts]]\nname = "vm"\ncollector = "host"\ninterval = "1m"\n')
    port = free_port()
    host = env["QUOTA_WATCH_SERVER__LISTEN"].rpartition(":")[0]
    env["QUOTA_WATCH_SERVER__LISTEN"] = f"{host}:{port}"
    workdir = Path(Rebase(root).path(runtime.one("WORKDIR").args))
    rebase = Rebase(root)
    argv = rebase.argv(runtime.one("ENTRYPOINT").exec_form() + runtime.one("CMD").exec_form())
    health = rebase.argv(json.loads(runtime.one("HEALTHCHECK").args.split("CMD", 1)[1]))
    log_path = tmp_path / "entrypoint.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            argv, cwd=workdir, env={**env, "HOME": str(workdir)}, stdout=log, stderr=log
        )
        try:
            body = wait_http(
                f"http://127.0.0.1:{port}/metrics", proc, log_path, 'limit="disk_used"'
            )
            assert 'account="vm"' in body and "process_resident_memory_bytes" in body
            check = subprocess.run(health, env=env, capture_output=True, text=True, timeout=30)
            assert check.returncode == 0, check.stderr
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == 0, log_path.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    text = log_path.read_text()
    assert f"metrics on http://{host}:{port}/metrics" in text
    assert "Traceback" not in text
    store = Path(rebase.path("/var/lib/quota-watch/quota-watch.db"))
    assert store.is_file(), "the default store lives in the volume"
    with closing(sqlite3.connect(store)) as db, db:
        assert db.execute("SELECT count(*) FROM sample").fetchone()[0] > 0
    # The health check fails once the daemon is gone.
    down = subprocess.run(health, env=env, capture_output=True, text=True, timeout=30)
    assert down.returncode == 1 and "/healthz" in down.stderr


# --- systemd units --------------------------------------------------------------------------


def systemd_analyze() -> str:
    """Path of systemd-analyze, or skip (fail when the CI said it must be there)."""
    path = shutil.which("systemd-analyze")
    if path is None:
        if os.environ.get(REQUIRE_SYSTEMD_ANALYZE):
            pytest.fail(f"systemd-analyze not found but {REQUIRE_SYSTEMD_ANALYZE} is set")
        pytest.skip("systemd-analyze not installed (Debian package: systemd)")
    return path


def unit_entries(name: str) -> list[tuple[str, str, str]]:
    """(section, key, value) of every assignment in deploy/`name`, in order."""
    entries = []
    section = ""
    for raw in (DEPLOY / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{name}: {line!r}"
        entries.append((section, key.strip(), value.strip()))
    return entries


def unit_value(name: str, section: str, key: str) -> str:
    """The last value of `key` in `section` (systemd's rule for single-valued settings)."""
    values = [v for s, k, v in unit_entries(name) if (s, k) == (section, key)]
    assert values, f"{name}: no {key} in [{section}]"
    return values[-1]


def installed_units(tmp: Path) -> tuple[Path, Path]:
    """Copies of the units with /opt/quota-watch mapped to a prefix holding a real quota-watch."""
    prefix = tmp / "opt" / "quota-watch"
    (prefix / "bin").mkdir(parents=True)
    script = Path(sys.executable).parent / "quota-watch"
    assert script.is_file(), "quota-watch console script next to the test interpreter"
    (prefix / "bin" / "quota-watch").symlink_to(script)
    units = tmp / "units"
    units.mkdir()
    for name in UNITS:
        text = (DEPLOY / name).read_text().replace("/opt/quota-watch/", f"{prefix}/")
        (units / name).write_text(text)
    return units, prefix


def test_units_verify(tmp_path: Path) -> None:
    analyze = systemd_analyze()
    units, _ = installed_units(tmp_path)
    proc = subprocess.run(
        [analyze, "verify", "--man=no", *(str(units / n) for n in UNITS)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # verify exits 0 on unknown keys and unparsable values, and only warns: any output fails.
    assert proc.returncode == 0 and not (proc.stdout + proc.stderr).strip(), (
        proc.stdout + proc.stderr
    )


def test_units_verify_catches_a_typo(tmp_path: Path) -> None:
    analyze = systemd_analyze()
    units, _ = installed_units(tmp_path)
    unit = units / "quota-watch.service"
    unit.write_text(unit.read_text().replace("MemoryMax=", "MemoryMaks="))
    proc = subprocess.run(
        [analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert "MemoryMaks" in proc.stdout + proc.stderr


def test_services_are_hardened(tmp_path: Path) -> None:
    analyze = systemd_analyze()
    units, _ = installed_units(tmp_path)
    for name in ("quota-watch.service", "quota-watch-backup.service"):
        proc = subprocess.run(
            [analyze, "security", "--offline=yes", "--threshold=30", str(units / name)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, f"{name}: exposure above 3.0\n{proc.stdout}{proc.stderr}"


def _bytes(size: str) -> int:
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    return int(size[:-1]) * units[size[-1]] if size[-1] in units else int(size)


def test_service_settings() -> None:
    name = "quota-watch.service"
    service = {(k, v) for s, k, v in unit_entries(name) if s == "Service"}
    for setting in (
        ("User", "quota-watch"),
        ("Restart", "on-failure"),
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "yes"),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
        ("EnvironmentFile", "-/etc/quota-watch/env"),
    ):
        assert setting in service, setting
    assert "quota-watch" in unit_value(name, "Service", "StateDirectory").split()
    memory_max = _bytes(unit_value(name, "Service", "MemoryMax"))
    assert 150 * 2**20 <= memory_max <= 400 * 2**20, "sized for the 1 GB VM, above the ~100 MB RSS"
    assert _bytes(unit_value(name, "Service", "MemoryHigh")) < memory_max
    assert unit_value(name, "Service", "ExecStart").startswith(
        "/opt/quota-watch/bin/quota-watch run"
    )
    # SIGTERM drains for up to 30 s (quota_watch.daemon.DRAIN_TIMEOUT): systemd must wait longer.
    assert int(unit_value(name, "Service", "TimeoutStopSec").rstrip("s")) > 30
    timer = "quota-watch-backup.timer"
    assert unit_value(timer, "Timer", "Unit") == "quota-watch-backup.service"
    assert unit_value(timer, "Timer", "Persistent") == "true"
    assert unit_value(timer, "Install", "WantedBy") == "timers.target"


_MAPPED = re.compile(r"(?<![\w./-])(/opt/quota-watch|/etc/quota-watch|/var/lib)(?=/|\b)")


def unit_command(value: str, root: Path, **variables: str) -> list[str]:
    """An Exec line as systemd runs it: %% and $$ unescaped, $VARS set, image paths mapped."""
    assert not re.search(r"%[^%]", value.replace("%%", "")), f"unsupported specifier: {value}"
    value = _MAPPED.sub(lambda m: f"{root}{m.group(1)}", value)
    value = re.sub(
        r"(?<!\$)\$\{?([A-Z_]+)\}?", lambda m: variables.get(m.group(1), m.group(0)), value
    )
    return shlex.split(value.replace("%%", "%").replace("$$", "$"))


def unit_environment(name: str, root: Path) -> dict[str, str]:
    """The environment systemd gives `name`: Environment= then EnvironmentFile= (mapped)."""
    env = clean_env()
    for section, key, value in unit_entries(name):
        if section != "Service":
            continue
        if key == "Environment":
            for pair in shlex.split(_MAPPED.sub(lambda m: f"{root}{m.group(1)}", value)):
                k, _, v = pair.partition("=")
                env[k] = v
        elif key == "EnvironmentFile":
            path = Path(_MAPPED.sub(lambda m: f"{root}{m.group(1)}", value.lstrip("-")))
            if path.is_file():
                for line in path.read_text().splitlines():
                    if line.strip() and not line.lstrip().startswith("#"):
                        k, _, v = line.partition("=")
                        env[k.strip()] = v.strip()
    return env


@pytest.mark.slow
def test_service_commands_run_reload_stop_and_back_up(tmp_path: Path) -> None:
    root = tmp_path / "root"
    installed_units(root)
    etc = root / "etc" / "quota-watch"
    etc.mkdir(parents=True)
    port = free_port()
    # A ${VAR} secret that only the EnvironmentFile provides.
    (etc / "env").write_text(f"# secrets\nQW_LISTEN=127.0.0.1:{port}\n")
    (etc / "config.toml").write_text(
        '[server]\nlisten = "${QW_LISTEN}"\n\n'
        '[[accounts]]\nname = "vm"\ncollector = "host"\ninterval = "1m"\n'
    )
    name = "quota-watch.service"
    env = unit_environment(name, root)
    for state in unit_value(name, "Service", "StateDirectory").split():
        (root / "var" / "lib" / state).mkdir(parents=True, exist_ok=True)
    workdir = Path(unit_command(unit_value(name, "Service", "WorkingDirectory"), root)[0])
    log_path = tmp_path / "service.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            unit_command(unit_value(name, "Service", "ExecStart"), root),
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=log,
        )
        try:
            wait_http(f"http://127.0.0.1:{port}/metrics", proc, log_path, 'limit="disk_used"')
            reload = unit_command(
                unit_value(name, "Service", "ExecReload"), root, MAINPID=str(proc.pid)
            )
            subprocess.run(reload, check=True, timeout=30)
            deadline = time.monotonic() + 30
            while "reloaded: 1 accounts" not in log_path.read_text():
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.1)
            assert unit_value(name, "Service", "KillSignal") == "SIGTERM"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(45) == 0, log_path.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    assert "Traceback" not in log_path.read_text()
    database = root / "var" / "lib" / "quota-watch" / "quota-watch.db"
    assert database.is_file()

    backup = "quota-watch-backup.service"
    backups = root / "var" / "lib" / "quota-watch" / "backups"
    old = backups / "quota-watch-20200101T030000Z.db"
    old.write_bytes(b"")
    os.utime(old, (time.time() - 20 * 86400,) * 2)
    recent = backups / "quota-watch-20200102T030000Z.db"
    recent.write_bytes(b"")
    benv = unit_environment(backup, root)
    for key in ("ExecStart", "ExecStartPost"):
        proc_b = subprocess.run(
            unit_command(unit_value(backup, "Service", key), root),
            cwd=workdir,
            env=benv,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc_b.returncode == 0, f"{key}: {proc_b.stdout}{proc_b.stderr}"
    made = sorted(p.name for p in backups.iterdir())
    assert not old.exists() and recent.exists(), made
    fresh = [
        n for n in made if re.fullmatch(r"quota-watch-\d{8}T\d{6}Z\.db", n) and n != recent.name
    ]
    assert len(fresh) == 1, made
    with closing(sqlite3.connect(backups / fresh[0])) as db, db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM sample").fetchone()[0] > 0
