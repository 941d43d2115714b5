"""The emulator's HTTP server: token checks, rate-limit budgets, REST and GraphQL endpoints."""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import json
import math
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from quota_watch.testing.threaded import ServedInThread, ThreadedServer
from quota_watch_collectors.cloudflare.emulator.datasets import QueryError, execute
from quota_watch_collectors.cloudflare.emulator.graphql import GraphQLSyntaxError, parse_graphql
from quota_watch_collectors.cloudflare.emulator.model import CloudflareAccount, midnight, utc_stamp

__all__ = [
    "API_PREFIX",
    "GRAPHQL_BUDGET",
    "REST_BUDGET",
    "BudgetPolicy",
    "CloudflareEmulator",
]

Clock = Callable[[], datetime]

API_PREFIX = "/client/v4"
_PER_PAGE_PROJECTS = 10
_PER_PAGE_DEPLOYMENTS = 25


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class BudgetPolicy:
    """A request budget per token: `quota` requests per `window_seconds` window."""

    quota: int
    window_seconds: int


REST_BUDGET = BudgetPolicy(1200, 300)
"""Cloudflare's global API limit: 1200 requests per 5 minutes per user."""
GRAPHQL_BUDGET = BudgetPolicy(300, 300)
"""The GraphQL Analytics API's limit: 300 queries per 5 minutes per user."""


class CloudflareEmulator(ServedInThread):
    """A loopback HTTP server emulating Cloudflare's v4 REST and GraphQL APIs for accounts."""

    def __init__(
        self,
        accounts: Iterable[CloudflareAccount],
        *,
        clock: Clock | None = None,
        epoch: datetime | None = None,
        rest_budget: BudgetPolicy = REST_BUDGET,
        graphql_budget: BudgetPolicy = GRAPHQL_BUDGET,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.accounts: dict[str, CloudflareAccount] = {}
        for account in accounts:
            if account.name in self.accounts:
                raise ValueError(f"account {account.name!r} is listed twice")
            self.accounts[account.name] = account
        by_id = {a.account_id for a in self.accounts.values()}
        tokens = {a.token for a in self.accounts.values()}
        if len(by_id) != len(self.accounts) or len(tokens) != len(self.accounts):
            raise ValueError("account IDs and tokens must be unique")
        self.clock: Clock = clock or _utc_now
        started = self.clock()
        if started.tzinfo is None:
            raise ValueError("the emulator's clock must return timezone-aware datetimes")
        if epoch is not None and epoch.tzinfo is None:
            raise ValueError("epoch must be timezone-aware")
        self.epoch = epoch.astimezone(UTC) if epoch is not None else midnight(started)
        self.host = host
        self._budgets = {"rest": rest_budget, "graphql": graphql_budget}
        self._spent: Counter[tuple[str, str, int]] = Counter()
        self._stats: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        prefix = API_PREFIX
        self.app = Starlette(
            routes=[
                Route(f"{prefix}/user/tokens/verify", self._verify_user, methods=["GET"]),
                Route(
                    f"{prefix}/accounts/{{account_id}}/tokens/verify",
                    self._verify_account,
                    methods=["GET"],
                ),
                Route(f"{prefix}/graphql", self._graphql, methods=["POST"]),
                Route(
                    f"{prefix}/accounts/{{account_id}}/pages/projects",
                    self._projects,
                    methods=["GET"],
                ),
                Route(
                    f"{prefix}/accounts/{{account_id}}/pages/projects/{{project}}/deployments",
                    self._deployments,
                    methods=["GET"],
                ),
                Route("/{path:path}", self._not_found, methods=["GET", "POST", "PUT", "DELETE"]),
            ]
        )
        self._http = ThreadedServer(self.app, host, port, name="quota-watch-cloudflare-emulator")

    # --- addresses (start/stop/port: ServedInThread) -----------------------------------------

    @property
    def api_base(self) -> str:
        """The `api_base` option pointing the cloudflare collector at this emulator."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{API_PREFIX}"

    def collector_options(self, name: str) -> dict[str, Any]:
        """Options of the cloudflare collector polling account `name` here (token in clear)."""
        account = self.account(name)
        return {
            "account_id": account.account_id,
            "token": account.token,
            "api_base": self.api_base,
        }

    # --- state ----------------------------------------------------------------------------------

    def account(self, name: str) -> CloudflareAccount:
        """The emulated account called `name`."""
        try:
            return self.accounts[name]
        except KeyError:
            raise KeyError(f"unknown emulated account {name!r}") from None

    def workers_requests(self, name: str, at: datetime | None = None) -> int:
        """Workers requests (Pages Functions included) of account `name` from 00:00 UTC to
        `at` (default: the clock's now): what the collector should read then."""
        moment = (at or self.clock()).astimezone(UTC)
        split = self.account(name).workers_split(midnight(moment), moment, self.epoch)
        return sum(split.values())

    @property
    def stats(self) -> dict[tuple[str, str], int]:
        """Requests answered so far, per (account name or "?", endpoint:outcome)."""
        with self._lock:
            return dict(self._stats)

    def _count(self, account: CloudflareAccount | None, what: str) -> None:
        with self._lock:
            self._stats[(account.name if account else "?", what)] += 1

    def _by_token(self, request: Request) -> CloudflareAccount | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        offered = token.strip().encode()
        for account in self.accounts.values():
            if hmac.compare_digest(offered, account.token.encode()):
                return account
        return None

    def _spend(self, account: CloudflareAccount, kind: str) -> tuple[bool, dict[str, str]]:
        """Take one request from the token's budget: (allowed, rate-limit headers)."""
        policy = self._budgets[kind]
        now = self.clock().timestamp()
        window = int(now // policy.window_seconds)
        reset = max(1, math.ceil((window + 1) * policy.window_seconds - now))
        with self._lock:
            key = (account.token, kind, window)
            allowed = self._spent[key] < policy.quota
            if allowed:
                self._spent[key] += 1
            remaining = policy.quota - self._spent[key]
            for old in [k for k in self._spent if k[2] < window]:
                del self._spent[old]
        headers = {
            "Ratelimit": f'"default";r={remaining};t={reset}',
            "Ratelimit-Policy": f'"default";q={policy.quota};w={policy.window_seconds}',
        }
        if not allowed:
            headers["Retry-After"] = str(reset)
        return allowed, headers

    def _date(self) -> dict[str, str]:
        return {"Date": email.utils.format_datetime(self.clock().astimezone(UTC), usegmt=True)}

    # --- REST -----------------------------------------------------------------------------------

    def _rest(
        self,
        result: Any,
        *,
        status: int = 200,
        errors: Sequence[Mapping[str, Any]] = (),
        messages: Sequence[Mapping[str, Any]] = (),
        result_info: Mapping[str, int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> JSONResponse:
        body: dict[str, Any] = {
            "success": not errors,
            "errors": list(errors),
            "messages": list(messages),
            "result": result,
        }
        if result_info is not None:
            body["result_info"] = dict(result_info)
        return JSONResponse(body, status_code=status, headers={**self._date(), **(headers or {})})

    def _rest_auth(
        self, request: Request, what: str, account_id: str | None
    ) -> CloudflareAccount | JSONResponse:
        """The calling account, or the error answer: 401 for a bad token, 403 for an account the
        token may not read, 429 once the budget is spent."""
        account = self._by_token(request)
        if account is None:
            self._count(None, f"{what}:auth_failed")
            error = {"code": 1000, "message": "Invalid API Token"}
            return self._rest(None, status=401, errors=[error])
        if account_id is not None and account_id.lower() != account.account_id:
            self._count(account, f"{what}:forbidden")
            error = {"code": 10000, "message": "Authentication error"}
            return self._rest(None, status=403, errors=[error])
        allowed, headers = self._spend(account, "rest")
        if not allowed:
            self._count(account, f"{what}:rate_limited")
            error = {"code": 10429, "message": "Rate limited. Please wait and consider throttling."}
            return self._rest(None, status=429, errors=[error], headers=headers)
        request.state.ratelimit = headers
        return account

    def _token_status(self, request: Request, account: CloudflareAccount) -> JSONResponse:
        self._count(account, "verify:ok")
        token_id = hashlib.sha256(account.token.encode()).hexdigest()[:32]
        return self._rest(
            {"id": token_id, "status": "active"},
            messages=[{"code": 10000, "message": "This API Token is valid and active"}],
            headers=request.state.ratelimit,
        )

    async def _verify_user(self, request: Request) -> Response:
        account = self._rest_auth(request, "verify", None)
        if isinstance(account, Response):
            return account
        return self._token_status(request, account)

    async def _verify_account(self, request: Request) -> Response:
        account_id = request.path_params["account_id"]
        owner = self._by_token(request)
        if owner is not None and owner.account_id != account_id.lower():
            # An account-owned token checked against another account is not a valid token there.
            self._count(owner, "verify:auth_failed")
            error = {"code": 1000, "message": "Invalid API Token"}
            return self._rest(None, status=401, errors=[error])
        account = self._rest_auth(request, "verify", account_id)
        if isinstance(account, Response):
            return account
        return self._token_status(request, account)

    def _page(self, request: Request, items: list[Any], per_page: int) -> JSONResponse:
        try:
            page = int(request.query_params.get("page", "1"))
        except ValueError:
            page = 0
        if page < 1:
            error = {"code": 8000024, "message": "Invalid list options provided"}
            return self._rest(None, status=400, errors=[error])
        chunk = items[(page - 1) * per_page : page * per_page]
        info = {
            "page": page,
            "per_page": per_page,
            "count": len(chunk),
            "total_count": len(items),
            "total_pages": math.ceil(len(items) / per_page),
        }
        return self._rest(chunk, result_info=info, headers=request.state.ratelimit)

    async def _projects(self, request: Request) -> Response:
        account = self._rest_auth(request, "projects", request.path_params["account_id"])
        if isinstance(account, Response):
            return account
        self._count(account, "projects:ok")
        projects = [
            {"name": name, "subdomain": f"{name}.pages.dev", "production_branch": "main"}
            for name in account.pages
        ]
        return self._page(request, projects, _PER_PAGE_PROJECTS)

    async def _deployments(self, request: Request) -> Response:
        account = self._rest_auth(request, "deployments", request.path_params["account_id"])
        if isinstance(account, Response):
            return account
        project = request.path_params["project"]
        if project not in account.pages:
            self._count(account, "deployments:not_found")
            error = {"code": 8000007, "message": "Project not found."}
            return self._rest(None, status=404, errors=[error])
        self._count(account, "deployments:ok")
        now = self.clock()
        created = sorted((t for t in account.pages[project] if t <= now), reverse=True)
        deployments = [_deployment(account, project, moment) for moment in created]
        return self._page(request, deployments, _PER_PAGE_DEPLOYMENTS)

    async def _not_found(self, request: Request) -> Response:
        self._count(None, "unrouted")
        message = (
            f"Could not route to {request.url.path}, perhaps your object identifier is invalid?"
        )
        return self._rest(None, status=404, errors=[{"code": 7003, "message": message}])

    # --- GraphQL --------------------------------------------------------------------------------

    def _graphql_error(
        self, message: str, path: Sequence[str] | None, status: int = 200, **headers: str
    ) -> JSONResponse:
        error = {
            "message": message,
            "path": path,
            "extensions": {"timestamp": utc_stamp(self.clock())},
        }
        return JSONResponse(
            {"data": None, "errors": [error]},
            status_code=status,
            headers={**self._date(), **headers},
        )

    async def _graphql(self, request: Request) -> Response:
        account = self._by_token(request)
        if account is None:
            self._count(None, "graphql:auth_failed")
            return self._graphql_error("Unauthorized", None, status=401)
        allowed, headers = self._spend(account, "graphql")
        if not allowed:
            self._count(account, "graphql:rate_limited")
            return self._graphql_error(
                "rate limiter budget depleted, try again after 5 minutes", None, 429, **headers
            )
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            self._count(account, "graphql:bad_request")
            return self._graphql_error("failed to decode the request body as JSON", None)
        variables = body.get("variables") or {}
        operation = body.get("operationName")
        try:
            root = parse_graphql(body["query"], operation if isinstance(operation, str) else None)
            bound = variables if isinstance(variables, dict) else {}
            data = execute(account, root, bound, self.clock().astimezone(UTC), self.epoch)
        except GraphQLSyntaxError as exc:
            self._count(account, "graphql:syntax_error")
            return self._graphql_error(str(exc), None)
        except QueryError as exc:
            self._count(account, "graphql:error")
            return self._graphql_error(exc.message, exc.path)
        self._count(account, "graphql:ok")
        return JSONResponse({"data": data, "errors": None}, headers=self._date())


def _deployment(account: CloudflareAccount, project: str, created: datetime) -> dict[str, Any]:
    """One Pages deployment as GET .../deployments lists it (a Git-triggered build)."""
    ident = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{account.account_id}/{project}/{created}"))
    stamp = utc_stamp(created)
    stage = {"status": "success", "started_on": stamp, "ended_on": stamp}
    return {
        "id": ident,
        "short_id": ident[:8],
        "project_name": project,
        "environment": "production",
        "url": f"https://{ident[:8]}.{project}.pages.dev",
        "created_on": stamp,
        "modified_on": stamp,
        "deployment_trigger": {
            "type": "push",
            "metadata": {"branch": "main", "commit_hash": ident.replace("-", "")[:40]},
        },
        "latest_stage": {"name": "deploy", **stage},
        "stages": [
            {"name": name, **stage}
            for name in ("queued", "initialize", "clone_repo", "build", "deploy")
        ],
        "is_skipped": False,
    }
