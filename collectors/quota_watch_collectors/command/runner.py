"""Running the configured command: no shell, a minimal environment, a timeout, bounded output."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from dataclasses import dataclass

from quota_watch.sdk import AuthError, CollectorError, ProviderUnavailable, UnexpectedResponse
from quota_watch_collectors.command.options import INHERITED_ENV, CommandOptions

__all__ = ["EXIT_NOPERM", "EXIT_TEMPFAIL", "STDERR_TAIL", "run_command"]

log = logging.getLogger(__name__)

STDERR_TAIL = 2048  # bytes of stderr kept for messages
EXIT_TEMPFAIL = 75  # sysexits.h EX_TEMPFAIL: try again later
EXIT_NOPERM = 77  # sysexits.h EX_NOPERM: credentials rejected
_CHUNK = 65536


@dataclass
class _Output:
    stdout: bytes = b""
    stderr_tail: bytes = b""
    overflow: bool = False


def _environment(options: CommandOptions) -> dict[str, str]:
    env = {name: os.environ[name] for name in INHERITED_ENV if name in os.environ}
    env.update({name: value.get_secret_value() for name, value in options.env.items()})
    return env


def redact(text: str, options: CommandOptions) -> str:
    """`text` without any `env` value (a command may echo its token to stderr)."""
    for secret in sorted((v.get_secret_value() for v in options.env.values()), key=len):
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def _kill(process: asyncio.subprocess.Process) -> None:
    """Kill the command and everything it started (its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


async def _read_stdout(process: asyncio.subprocess.Process, limit: int, output: _Output) -> None:
    assert process.stdout is not None
    chunks: list[bytes] = []
    size = 0
    while chunk := await process.stdout.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            output.overflow = True
            _kill(process)
            return
        chunks.append(chunk)
    output.stdout = b"".join(chunks)


async def _read_stderr(process: asyncio.subprocess.Process, output: _Output) -> None:
    assert process.stderr is not None
    while chunk := await process.stderr.read(_CHUNK):
        output.stderr_tail = (output.stderr_tail + chunk)[-STDERR_TAIL:]


def _tail(output: _Output, options: CommandOptions) -> str:
    text = output.stderr_tail.decode(errors="replace").strip()
    if not text:
        return ""
    lines = redact(text, options).splitlines()
    return "; stderr: " + " | ".join(line.strip() for line in lines[-5:] if line.strip())


async def run_command(options: CommandOptions) -> bytes:
    """Run the command and return its stdout, or raise the typed error its failure means.

    Exit 0 returns stdout; exit 77 raises AuthError, exit 75 and a timeout ProviderUnavailable,
    any other exit status, a death by signal or stdout over `max_output_size`
    UnexpectedResponse; a program that cannot be started CollectorError. Messages end with
    the last lines of stderr, `env` values redacted.
    """
    where = f"command {options.program!r}"
    try:
        process = await asyncio.create_subprocess_exec(
            *options.command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=_environment(options),
            cwd=options.cwd,
            start_new_session=True,  # so a timeout kills its children too
        )
    except OSError as exc:
        raise CollectorError(
            f"{where}: cannot start: {exc.strerror or type(exc).__name__}"
        ) from None
    output = _Output()
    seconds = options.timeout.total_seconds()
    try:
        async with asyncio.timeout(seconds):
            await asyncio.gather(
                _read_stdout(process, options.max_output_size, output),
                _read_stderr(process, output),
            )
            status = await process.wait()
    except TimeoutError:
        _kill(process)
        await process.wait()
        raise ProviderUnavailable(
            f"{where}: timed out after {seconds:g}s{_tail(output, options)}"
        ) from None
    finally:
        if process.returncode is None:
            _kill(process)
            await process.wait()
    log.debug("%s exited %d (%d bytes of stdout)", where, status, len(output.stdout))
    if output.overflow:
        raise UnexpectedResponse(
            f"{where}: stdout exceeds {options.max_output_size} bytes (see max_output_size)"
        )
    if status == 0:
        return output.stdout
    tail = _tail(output, options)
    if status == EXIT_NOPERM:
        raise AuthError(f"{where}: exit {status} (credentials rejected){tail}")
    if status == EXIT_TEMPFAIL:
        raise ProviderUnavailable(f"{where}: exit {status} (temporary failure){tail}")
    if status < 0:
        raise UnexpectedResponse(f"{where}: killed by signal {-status}{tail}")
    raise UnexpectedResponse(f"{where}: exit {status}{tail}")
