"""Cloudflare API emulator: a loopback HTTP server answering what the `cloudflare` collector asks.

For end-to-end tests and the shard-pool demo. A Starlette app served by uvicorn in a background
thread (see `threaded.ThreadedServer`), under `/client/v4` like the real API, so a collector
with `api_base = emulator.api_base` polls it unchanged:

- `GET /user/tokens/verify`, `GET /accounts/{id}/tokens/verify`: the token's status;
- `POST /graphql`: the GraphQL Analytics API. The query text is parsed (a small GraphQL
  subset: aliases, arguments, variables, nested selections) and every dataset the collector
  reads is answered from the account's usage profiles, grouped by the dimensions asked for,
  filtered by the `datetime_*`/`date_*` bounds (clipped to the clock's now), and projected onto
  the selected fields. Unknown datasets or fields get the API's `unknown field` error;
- `GET /accounts/{id}/pages/projects` and `.../pages/projects/{name}/deployments`: paginated
  REST lists of the account's Pages projects and their deployments (newest first).

Usage counters follow `Rate`s: `per_hour` at the emulator's `epoch`, multiplied by `growth`
per day (continuously), so a daily counter at time t is the integral of the rate from 00:00 UTC
to t: "requests so far today". Payload shapes, status codes, error bodies and rate-limit headers
follow the collector's recorded cases (collectors/quota_watch_collectors/cloudflare/tests/cases):
a bad token gets HTTP 401 (GraphQL `Unauthorized`, REST code 1000); a token of another account
gets the GraphQL `not authorized for that account` error under HTTP 200, or a REST 403 with
code 10000; the budgets (1200 REST and 300 GraphQL requests per token per 5 minutes) answer
429 with `Retry-After` and `Ratelimit`/`Ratelimit-Policy` headers once spent.

Usage::

    from quota_watch_collectors.cloudflare.emulator import (
        CloudflareAccount,
        CloudflareEmulator,
        Rate,
    )
    from quota_watch.testing.emulator import ManualClock

    clock = ManualClock(datetime(2026, 11, 22, 0, 0, tzinfo=UTC))
    account = CloudflareAccount("cf-a", "0123456789abcdef0123456789abcdef", "token-a",
                                workers=Rate(per_hour=3600))
    with CloudflareEmulator([account], clock=clock) as emulator:
        options = emulator.collector_options("cf-a")  # cloudflare collector options
        clock.advance(hours=10)                        # workers_requests is now 36,000
"""

from quota_watch_collectors.cloudflare.emulator.datasets import DO_BILLED_MEMORY_GB
from quota_watch_collectors.cloudflare.emulator.graphql import GraphQLSyntaxError, parse_graphql
from quota_watch_collectors.cloudflare.emulator.model import (
    COUNTERS,
    STORAGE,
    CloudflareAccount,
    Rate,
)
from quota_watch_collectors.cloudflare.emulator.server import (
    API_PREFIX,
    GRAPHQL_BUDGET,
    REST_BUDGET,
    BudgetPolicy,
    CloudflareEmulator,
)

__all__ = [
    "API_PREFIX",
    "COUNTERS",
    "DO_BILLED_MEMORY_GB",
    "GRAPHQL_BUDGET",
    "REST_BUDGET",
    "STORAGE",
    "BudgetPolicy",
    "CloudflareAccount",
    "CloudflareEmulator",
    "GraphQLSyntaxError",
    "Rate",
    "parse_graphql",
]
