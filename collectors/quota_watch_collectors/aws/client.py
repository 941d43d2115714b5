"""Free Tier API calls: SigV4 signing with botocore, sent through the SDK's HTTP kit.

The wire protocol is AWS JSON 1.0 (botocore service model `freetier/2023-09-07`): every call
is `POST /` with `Content-Type: application/x-amz-json-1.0` and
`X-Amz-Target: AWSFreeTierService.<Operation>`, signed with SigV4 for the service `freetier`.
botocore only signs (and resolves the credential chain); the request goes out through the
injected `httpx.AsyncClient`, so timeouts, proxies and test transports stay the core's.

botocore is an optional dependency (`pip install 'quota-watch[aws]'`), imported on first use.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from quota_watch.sdk import (
    Answer,
    AuthError,
    CollectorError,
    ProviderHttp,
    ProviderUnavailable,
    Quirks,
    RateLimited,
    UnexpectedResponse,
    retry_after_seconds,
)
from quota_watch_collectors.aws.models import AwsErrorBody
from quota_watch_collectors.aws.options import AwsOptions

if TYPE_CHECKING:
    import httpx

__all__ = [
    "CONTENT_TYPE",
    "EXTRA_HINT",
    "SIGNING_NAME",
    "TARGET_PREFIX",
    "BotocoreSigner",
    "FreeTierApi",
    "MissingExtra",
    "NotFound",
    "Signer",
    "load_botocore",
    "retry_after_seconds",
]

log = logging.getLogger(__name__)

# botocore service model metadata: targetPrefix, jsonVersion 1.0, signingName.
TARGET_PREFIX = "AWSFreeTierService"
CONTENT_TYPE = "application/x-amz-json-1.0"
SIGNING_NAME = "freetier"
EXTRA_HINT = "pip install 'quota-watch[aws]'"

# Error codes as botocore's standard retry mode lists them (retries/standard.py).
_THROTTLING = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "SlowDown",
    "LimitExceededException",
}
_UNAVAILABLE = {
    "InternalServerException",
    "InternalFailure",
    "InternalError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
}
_ACCESS_DENIED = {"AccessDeniedException", "AccessDenied", "NotAuthorized"}
_UNKNOWN_KEY = {"UnrecognizedClientException", "InvalidClientTokenId", "InvalidAccessKeyId"}
_BAD_SIGNATURE = {
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "IncompleteSignatureException",
}
_EXPIRED_TOKEN = {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}
_UNSIGNED = {"MissingAuthenticationToken", "MissingAuthenticationTokenException"}
# "... is not authorized to perform: freetier:GetFreeTierUsage ..." (IAM's standard wording).
_ACTION = re.compile(r"perform:\s*([A-Za-z0-9-]+:[A-Za-z0-9*]+)")


class MissingExtra(CollectorError):
    """botocore, the optional `aws` extra, is not installed: a setup problem, not the provider's.

    A plain CollectorError (outcome "error"): the poll fails with this message every time
    until the extra is installed; it is neither an auth failure nor a drifted payload.
    """


class NotFound(UnexpectedResponse):
    """ResourceNotFoundException: GetAccountPlanState's answer for an account without a plan."""


def load_botocore() -> dict[str, ModuleType]:
    """The botocore modules the signer uses; MissingExtra naming the extra when absent."""
    names = ("auth", "awsrequest", "credentials", "session", "exceptions")
    try:
        return {name: importlib.import_module(f"botocore.{name}") for name in names}
    except ImportError:
        pass
    raise MissingExtra(
        "the aws collector needs botocore to sign requests (SigV4), and it is not installed: "
        f"{EXTRA_HINT}"
    )


class Signer(Protocol):
    """Adds SigV4 headers for one request."""

    async def sign(self, url: str, body: bytes, headers: Mapping[str, str]) -> dict[str, str]:
        """All headers to send: `headers` plus X-Amz-Date, Authorization (and the token)."""
        ...


# botocore messages that name no secret and help the operator; others show the class only.
_SAFE_CREDENTIAL_ERRORS = {"ProfileNotFound", "PartialCredentialsError", "NoCredentialsError"}


class BotocoreSigner:
    """SigV4 with botocore: explicit keys from the options, or botocore's credential chain."""

    def __init__(self, options: AwsOptions) -> None:
        self._options = options
        self._credentials: Any = None  # botocore Credentials / RefreshableCredentials

    def __repr__(self) -> str:
        return f"BotocoreSigner(region={self._options.signing_region!r})"

    async def sign(self, url: str, body: bytes, headers: Mapping[str, str]) -> dict[str, str]:
        """Sign a POST of `body` to `url` for the freetier service."""
        botocore = load_botocore()
        frozen = await self._frozen_credentials(botocore)
        request = botocore["awsrequest"].AWSRequest(
            method="POST", url=url, data=body, headers=dict(headers)
        )
        auth = botocore["auth"].SigV4Auth(frozen, SIGNING_NAME, self._options.signing_region)
        auth.add_auth(request)
        return {str(k): str(v) for k, v in request.headers.items()}

    async def _frozen_credentials(self, botocore: dict[str, ModuleType]) -> Any:
        options = self._options
        if options.access_key_id is not None and options.secret_access_key is not None:
            token = options.session_token
            return botocore["credentials"].Credentials(
                options.access_key_id.get_secret_value(),
                options.secret_access_key.get_secret_value(),
                None if token is None else token.get_secret_value(),
            )
        failure: CollectorError | None = None
        try:
            if self._credentials is None:
                # Resolving the chain reads files and may ask the instance metadata service:
                # blocking I/O, kept off the event loop.
                self._credentials = await asyncio.to_thread(self._resolve_chain, botocore)
            # Refreshable (role, SSO) credentials may refresh here, again over the network.
            frozen = await asyncio.to_thread(self._credentials.get_frozen_credentials)
        except CollectorError as exc:
            failure = exc
        except Exception as exc:  # botocore raises its own hierarchy, and OSError/ValueError
            name = type(exc).__name__
            detail = f"{name}: {exc}" if name in _SAFE_CREDENTIAL_ERRORS else name
            failure = AuthError(f"AWS credential chain failed ({detail})")
        if failure is not None:
            raise failure
        if not getattr(frozen, "access_key", None) or not getattr(frozen, "secret_key", None):
            raise AuthError("AWS credential chain returned incomplete credentials")
        return frozen

    def _resolve_chain(self, botocore: dict[str, ModuleType]) -> Any:
        session = botocore["session"].Session(profile=self._options.profile)
        credentials = session.get_credentials()
        if credentials is None:
            where = f"profile {self._options.profile!r}" if self._options.profile else "chain"
            raise AuthError(
                f"no AWS credentials found (credential {where}): set access_key_id and "
                "secret_access_key, or configure the environment, shared files or a role"
            )
        log.debug("aws: credentials from botocore's chain (%s)", credentials.method)
        return credentials


@dataclass(frozen=True, slots=True)
class _ApiError:
    code: str | None
    message: str


def _api_error(answer: Answer) -> _ApiError | None:
    """The AWS error an answer carries (any non-2xx, or a 2xx whose body has `__type`)."""
    document = answer.json_or_none() if answer.content else None
    carries_type = isinstance(document, dict) and "__type" in document
    if answer.ok and not carries_type:
        return None
    parsed: AwsErrorBody | None = None
    if isinstance(document, dict):
        try:
            parsed = AwsErrorBody.model_validate(document)
        except ValidationError:
            parsed = None
    header = answer.headers.get("x-amzn-errortype")
    code = header.split(":", 1)[0].strip() if header else None
    if not code and parsed is not None:
        code = parsed.error_code
    return _ApiError(code or None, parsed.text if parsed is not None else "")


class _AwsQuirks(Quirks):
    """AWS JSON 1.0 error codes (botocore's lists) decide before the status does."""

    def __init__(self, options: AwsOptions, operation: str, now: datetime) -> None:
        self.options = options
        self.operation = operation
        self.now = now

    def failure(self, answer: Answer) -> CollectorError | None:
        error = _api_error(answer)
        if error is None:
            return None
        code = error.code
        shown = f"{answer.where}: HTTP {answer.status}" + (f" {code}" if code else "")
        if code in _THROTTLING:
            wait = self.retry_after(answer, self.now)
            return RateLimited(f"{shown}; retry after {wait:g}s", wait)
        auth = _auth_message(code, error.message, self.operation)
        if auth is not None:
            return AuthError(f"{shown}: {auth}")
        if code in _UNAVAILABLE:
            return ProviderUnavailable(shown)
        if code == "ResourceNotFoundException":
            return NotFound(shown)
        if code == "ValidationException":
            detail = " ".join(error.message.split())[:200]
            return UnexpectedResponse(f"{shown}: the API refused the request: {detail}")
        return UnexpectedResponse(shown) if answer.ok else None

    def detail(self, answer: Answer) -> str:
        error = _api_error(answer)
        return error.code or "" if error is not None else ""

    def retry_after(self, answer: Answer, now: datetime) -> float:
        wait = retry_after_seconds(answer.headers.get("retry-after"), now=now)
        return self.options.throttle_retry_after.total_seconds() if wait is None else wait


def _auth_message(code: str | None, message: str, operation: str) -> str | None:
    """What to fix, for the auth error codes; None for other codes.

    AWS's own message is never shown whole: a signature error quotes the canonical
    request, which includes the signed headers (and with them a session token).
    """
    if code in _ACCESS_DENIED:
        match = _ACTION.search(message)
        action = match.group(1) if match else f"freetier:{operation}"
        return f"access denied: the credentials lack the IAM permission {action}"
    if code in _UNKNOWN_KEY:
        return "the access key ID is not recognised (deleted or inactive key?)"
    if code in _BAD_SIGNATURE:
        if "expired" in message.lower():
            return "the signature has expired: the system clock is off by over 5 minutes"
        return "the request signature was rejected (wrong secret_access_key?)"
    if code in _EXPIRED_TOKEN:
        return "the session token has expired: refresh the temporary credentials"
    if code in _UNSIGNED:
        return "the request carried no valid signature"
    return None


class FreeTierApi:
    """Calls Free Tier API operations on the SDK's HTTP kit, with AWS's error codes as quirks."""

    def __init__(self, client: httpx.AsyncClient, options: AwsOptions, signer: Signer) -> None:
        self.client = client
        self.options = options
        self.signer = signer
        self.url = options.endpoint + "/"

    async def call(
        self, operation: str, payload: Mapping[str, Any], *, now: datetime
    ) -> dict[str, Any]:
        """POST one operation; the decoded JSON object of a successful answer.

        Raises AuthError (rejected credentials, missing IAM permission), RateLimited
        (ThrottlingException, 429), ProviderUnavailable (5xx, InternalServerException,
        timeouts, connection errors), NotFound (ResourceNotFoundException) and
        UnexpectedResponse (anything else, including a body that is not a JSON object).
        """
        where = f"{operation} ({self.url})"
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = await self.signer.sign(
            self.url,
            body,
            {"Content-Type": CONTENT_TYPE, "X-Amz-Target": f"{TARGET_PREFIX}.{operation}"},
        )
        quirks = _AwsQuirks(self.options, operation, now)
        keys = (self.options.access_key_id, self.options.secret_access_key)
        secrets = [k.get_secret_value() for k in (*keys, self.options.session_token) if k]
        http = ProviderHttp(self.client, now=now, quirks=quirks, secrets=secrets)
        answer = await http.request("POST", self.url, content=body, headers=headers, where=where)
        log.debug("aws: %s -> HTTP %d", where, answer.status)
        document = _json(answer.content)
        if not isinstance(document, dict):
            kind = "not JSON" if document is _NOT_JSON else "not a JSON object"
            raise UnexpectedResponse(f"{where}: HTTP {answer.status}: the body is {kind}")
        return document


class _NotJson:
    """Marker for a body that is not JSON (distinct from the JSON value null)."""


_NOT_JSON: Any = _NotJson()


def _json(content: bytes) -> Any:
    try:
        return json.loads(content) if content else None
    except (ValueError, UnicodeDecodeError):
        return _NOT_JSON
