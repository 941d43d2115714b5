"""The long-running daemon: store, scheduler and HTTP server on one event loop; SIGTERM, SIGHUP."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from quota_watch.collect.poller import Poller, PollResult
from quota_watch.collect.runtime import AccountRuntime, build_runtimes, http_client, utcnow
from quota_watch.collect.scheduler import PollScheduler
from quota_watch.config.errors import ConfigError
from quota_watch.config.settings import Config, HeartbeatSettings
from quota_watch.daemon.alerting import Alerting
from quota_watch.daemon.auth import BasicAuth
from quota_watch.daemon.heartbeat import Heartbeat
from quota_watch.daemon.livemetrics import DaemonWideFacts, LiveMetrics
from quota_watch.daemon.memory import (
    fix_mmap_threshold,
    freeze_heap,
    limit_malloc_arenas,
    trim_malloc,
)
from quota_watch.daemon.memtrace import memtrace_tasks
from quota_watch.daemon.selfstats import process_stats
from quota_watch.daemon.server import announce, bind, build_server, create_app
from quota_watch.daemon.staleness import StalenessWatch
from quota_watch.daemon.tlsreload import TlsReloader
from quota_watch.engine.rulepack import RulePack
from quota_watch.model import Outcome
from quota_watch.prometheus.exposition import (
    AccountFacts,
    ClusterFacts,
    PoolFacts,
    PoolLimitFacts,
    Snapshot,
)
from quota_watch.sdk import RateLimitStatus
from quota_watch.store.facade import Store
from quota_watch.store.migrator import open_migrated
from quota_watch.store.models import StoreError
from quota_watch.web.source import LiveSource

if TYPE_CHECKING:
    import uvicorn

    from quota_watch.cluster.member import ClusterMember

log = logging.getLogger("quota_watch.daemon")

DRAIN_TIMEOUT = 30.0
HEALTH_INTERVAL = timedelta(minutes=5)  # reminders of paused (auth-failed) accounts


class Daemon:
    """Owns the store, the HTTP client, the scheduler and the HTTP server for one run."""

    def __init__(
        self,
        config: Config,
        reload: Callable[[], Config] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self.reload_config = reload
        self.clock = clock
        self.stop = asyncio.Event()
        self.store: Store | None = None
        self.scheduler: PollScheduler | None = None
        self.client: httpx.AsyncClient | None = None
        self.alerting: Alerting | None = None
        self.rate_limits: dict[tuple[str, str], RateLimitStatus] = {}
        self.heartbeat: Heartbeat | None = None
        self.tls: TlsReloader | None = None
        self._pool_planned: dict[str, datetime] = {}
        self.cluster: ClusterMember | None = None  # [cluster] on: the accounts are shared
        self._configured: dict[str, AccountRuntime] = {}  # every account, owned or not
        self._retired = False
        self._retiring: asyncio.Future[None] | None = None
        self.live = LiveMetrics(lambda: self.alerting.forecasts if self.alerting else {})
        self._live_reload: asyncio.Future[None] | None = None

    def ready(self) -> str | None:
        """None when the daemon is ready to serve, else why not."""
        if self.store is None:
            return "store not open"
        if self.scheduler is None or not self.scheduler.scheduler.running:
            return "scheduler not started"
        return self.scheduler.store_unhealthy()

    async def health(self) -> str | None:
        """None when the scheduler runs and the store answers (the heartbeat test), else why not."""
        reason = self.ready()
        if reason is not None or self.store is None:
            return reason
        try:
            timeout = self.config.settings.heartbeat.timeout.total_seconds()
            await asyncio.wait_for(self.store.schema_revision(), timeout)
        except TimeoutError:
            return "store did not answer in time"
        except StoreError as exc:
            return f"store unreachable: {exc}"
        return None

    async def snapshot(self) -> Snapshot:
        """The data one /metrics scrape renders: the accounts' parts pre-rendered as polls
        finished, the daemon-wide facts from memory; nothing is read from the store."""
        if self.store is None or self.scheduler is None or self.alerting is None:
            return Snapshot(readings=(), statuses=(), accounts=(), process=process_stats())
        names = set(self.scheduler.runtimes)
        worker = self.alerting.worker
        return Snapshot(
            readings=(),
            statuses=(),
            accounts=(),
            alerts_firing=self.live.daemon_wide.firing,
            live=self.live.exposition,
            notifications_sent=dict(worker.sent_total),
            notifications_failed=dict(worker.failed_total),
            outbox_depth=self.live.daemon_wide.outbox_depth,
            rate_limits={k: v for k, v in self.rate_limits.items() if k[1] in names},
            heartbeat=self.heartbeat.facts() if self.heartbeat is not None else None,
            process=process_stats(),
            pools=[
                PoolFacts(
                    provider=plan.provider,
                    group=group,
                    shards=plan.shards,
                    limits=[
                        PoolLimitFacts(
                            limit=p.limit,
                            utilization=p.utilization,
                            forecast_utilization=p.projected_utilization,
                            shards_recommended=p.recommended,
                        )
                        for p in plan.limits
                    ],
                )
                for group, plan in sorted(self.alerting.pools.items())
            ],
            cluster=self._cluster_facts(),
        )

    def _cluster_facts(self) -> ClusterFacts | None:
        if self.cluster is None:
            return None
        epochs = self.cluster.account_epochs()
        return ClusterFacts(self.cluster.member, len(self.cluster.members), epochs)

    async def _daemon_wide(self) -> DaemonWideFacts:
        """Firing alerts (of watched accounts) by severity and the outbox depth, from the store."""
        assert self.store is not None and self.alerting is not None
        names = set(self.scheduler.runtimes) if self.scheduler is not None else set()
        firing: dict[str, int] = {}
        for alert in await self.alerting.firing():
            if alert.account in names:
                firing[alert.severity] = firing.get(alert.severity, 0) + 1
        return DaemonWideFacts(firing=firing, outbox_depth=await self.store.outbox_depth())

    async def _load_live(self) -> None:
        """Seed /metrics' in-memory view of the configured accounts from the store."""
        assert self.store is not None and self.scheduler is not None
        self.live.set_accounts(
            [
                AccountFacts(
                    provider=rt.provider,
                    account=name,
                    group=rt.config.group,
                    interval_seconds=rt.config.interval.total_seconds(),
                )
                for name, rt in self.scheduler.runtimes.items()
            ]
        )
        try:
            await self.live.load(self.store, set(self.scheduler.runtimes))
        except StoreError as exc:
            log.error("reading the latest values for /metrics: %s", exc)

    def _held(self) -> dict[str, int]:
        """What the per-series memory holds now (for the memtrace bench hook)."""
        series, samples = self.alerting.windows.held() if self.alerting else (0, 0)
        return {"window_series": series, "window_samples": samples}

    def _page_source(self) -> LiveSource:
        """The status page's view of this daemon, read anew at each request."""
        return LiveSource(
            store=lambda: self.store,
            runtimes=lambda: self.scheduler.runtimes if self.scheduler is not None else {},
            pack=lambda: self.alerting.pack if self.alerting is not None else RulePack(),
            overrides=lambda: self.config.settings.rules,
            refresh=lambda: self.config.settings.server.page_refresh,
            clock=self.clock,
        )

    async def run(self) -> int:
        """Run until SIGTERM/SIGINT; returns the process exit code."""
        limit_malloc_arenas()  # before the store's and the executor's threads start
        fix_mmap_threshold()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))
        settings = self.config.settings
        host, port = settings.server.host_port()
        try:
            sock = bind(host, port)
        except OSError as exc:
            log.error("cannot listen on %s: %s", settings.server.listen, exc.strerror or exc)
            return 1
        await self._open_and_schedule()
        assert self.store is not None and self.scheduler is not None
        assert self.alerting is not None and self.client is not None
        auth = BasicAuth(lambda: self.config.settings.server.basic_auth_users or {})
        app = create_app(
            self.snapshot, self.ready, auth, self._page_source(), resume=self.scheduler.resume
        )
        server = build_server(app, host, port, settings.server)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        tls_watch = self._watch_tls(server)
        outbox = asyncio.create_task(
            self.alerting.run_outbox(settings.alerts.outbox_interval, self.stop)
        )
        self.heartbeat = Heartbeat(self._heartbeat_settings, self.health, self.client, self.clock)
        heartbeat = asyncio.create_task(self.heartbeat.run(self.stop))
        members = self.cluster.run(self.stop) if self.cluster is not None else asyncio.sleep(0)
        membership = asyncio.create_task(members)
        staleness = StalenessWatch(self.store, self.scheduler, self.alerting, self.clock)
        stale_watch = asyncio.create_task(staleness.run(self.stop))
        live_facts = asyncio.create_task(self.live.run(self._daemon_wide, self.stop))
        traced = memtrace_tasks(self.live.polls_done, self.stop, self._held)  # a bench's hook
        await asyncio.sleep(0)
        freeze_heap()  # start-up's objects are there for good: full collections skip them
        announce(self.config, host, auth.enabled)
        stop = asyncio.create_task(self.stop.wait())
        done, _ = await asyncio.wait({serving, stop}, return_when=asyncio.FIRST_COMPLETED)
        code = 0
        if serving in done and (serving.exception() or not server.started):
            log.error("HTTP server on %s could not start", settings.server.listen)
            code = 1
        tasks = [serving, outbox, heartbeat, stale_watch, live_facts, *traced]
        tasks += [tls_watch] if tls_watch is not None else []
        await self._shut_down(server, membership, tasks)
        stop.cancel()
        log.info("stopped")
        return code

    async def _open_and_schedule(self) -> None:
        """Open (and migrate) the store, start the scheduler with its maintenance jobs, join
        the cluster when configured and schedule the accounts this daemon polls."""
        settings = self.config.settings
        self.store = await open_migrated(self.config.store_url())  # Alembic in a child
        log.info("store: %s", self.store.display_url)
        self.client = http_client(self.config)
        poller = Poller(self.store, self.clock)
        self.alerting = Alerting(self.store, self.config, self.clock)
        self.scheduler = PollScheduler(poller, settings.polling, self._after_poll)
        self.scheduler.start()
        self.scheduler.add_maintenance(
            "rollup", settings.store.rollup_interval, self._singleton(self._rollup)
        )
        self.scheduler.add_maintenance(
            "retention", settings.store.retention_interval, self._singleton(self._retention)
        )
        self.scheduler.add_maintenance("paused-health", HEALTH_INTERVAL, self._paused_health)
        self._configured = build_runtimes(self.config, self.client)
        if settings.cluster.enabled:
            await self._join_cluster()
        self.scheduler.set_accounts(self._owned(self._configured))
        await self._load_live()
        if self.cluster is None:
            await self._retire_unwatched()

    def _watch_tls(self, server: uvicorn.Server) -> asyncio.Task[None] | None:
        """Re-read the TLS files when they change (and on SIGHUP), when TLS is on."""
        settings = self.config.settings
        if settings.server.tls_cert_file is not None and settings.server.tls_key_file is not None:
            self.tls = TlsReloader(
                lambda: server.config.ssl if server.config.loaded else None,
                settings.server.tls_cert_file,
                settings.server.tls_key_file,
            )
            interval = settings.server.tls_reload_interval
            return asyncio.create_task(self.tls.watch(interval, self.stop))
        return None

    async def _shut_down(
        self,
        server: uvicorn.Server,
        membership: asyncio.Task[None],
        tasks: list[asyncio.Task[Any]],
    ) -> None:
        """Drain the polls, store the latest forecasts, leave the cluster, stop every task and
        close the client and the store."""
        assert self.scheduler is not None and self.alerting is not None
        assert self.client is not None and self.store is not None
        log.info("stopping: draining polls")
        await self.scheduler.drain(DRAIN_TIMEOUT)
        try:
            await self.alerting.flush_forecasts()
        except StoreError as exc:
            log.error("storing the latest forecasts: %s", exc)
        server.should_exit = True
        self.stop.set()
        if self.cluster is not None:
            await asyncio.gather(membership, return_exceptions=True)  # no tick after leaving
            await self.cluster.leave()
        await asyncio.gather(membership, *tasks, return_exceptions=True)
        await self.client.aclose()
        await self.store.close()

    async def reload(self) -> None:
        """Re-read the config (SIGHUP); a bad config keeps the running one and says why."""
        if self.reload_config is None or self.scheduler is None or self.client is None:
            return
        log.info("SIGHUP: reloading configuration")
        try:
            new = self.reload_config()
            runtimes = build_runtimes(new, self.client)
        except ConfigError as exc:
            log.error("reload failed; keeping the running configuration:\n%s", exc)
            return
        except Exception as exc:
            log.error("reload failed; keeping the running configuration: %s", exc)
            return
        old = self.config.settings
        cert, key = new.settings.server.tls_cert_file, new.settings.server.tls_key_file
        if self.tls is not None and cert is not None and key is not None:
            self.tls.use(cert, key)  # a new pair of paths, or the same files renewed
            self.tls.reload(force=True)
        for what, before, after in (
            ("server.listen", old.server.listen, new.settings.server.listen),
            ("server TLS on/off", old.server.tls_cert_file is None, cert is None),
            (
                "server.tls_client_ca_file",
                old.server.tls_client_ca_file,
                new.settings.server.tls_client_ca_file,
            ),
            ("store.url", self.config.store_url(), new.store_url()),
        ):
            if before != after:
                log.warning("%s changed: takes effect at the next restart", what)
        watched = {n for n, rt in self._configured.items() if rt.config.enabled}
        self.scheduler.settings = new.settings.polling
        self._configured = runtimes
        self.scheduler.set_accounts(self._owned(runtimes))
        if self.alerting is not None:
            still = {n for n, rt in runtimes.items() if rt.config.enabled}
            try:
                await self._singleton(lambda: self._retire(watched - still))()
            except StoreError as exc:
                log.error("resolving the alerts of removed accounts: %s", exc)
            self.alerting.reconfigure(new)
            self.alerting.forget(
                set(runtimes), {r.config.group for r in runtimes.values() if r.config.group}
            )
        self.config = new
        await self._load_live()
        freeze_heap()  # what the reload replaced is collected, what it built is frozen
        log.info("reloaded: %d accounts", len(new.accounts))

    async def _after_poll(self, rt: AccountRuntime, result: PollResult) -> None:
        if result.rate_limit is not None:
            self.rate_limits[(rt.provider, rt.config.name)] = result.rate_limit
        assert self.alerting is not None
        try:
            await self.alerting.after_poll(rt, result)
        finally:
            self.live.polled(result)  # after the rules: the forecasts are this poll's
        group = rt.config.group
        if self.cluster is not None:
            return  # pools are planned by the cluster's singleton member (_plan_pools)
        if group is not None and self.scheduler is not None and result.outcome == Outcome.SUCCESS:
            await self._plan_pool(group)

    async def _plan_pool(self, group: str) -> None:
        """Re-plan a pool after a member's poll, at most once per half its shortest interval."""
        assert self.scheduler is not None and self.alerting is not None
        members = {n: r for n, r in self._configured.items() if r.config.group == group}
        now = self.clock()
        every = min(r.config.interval for r in members.values()) / 2
        last = self._pool_planned.get(group)
        if last is not None and now - last < every:
            return
        self._pool_planned[group] = now
        try:
            await self.alerting.evaluate_pool(group, members)
        except StoreError as exc:
            log.error("planning pool %s: %s", group, exc, extra={"group": group})

    async def _paused_health(self) -> None:
        assert self.scheduler is not None and self.alerting is not None
        for name in sorted(self.scheduler.paused):
            rt = self.scheduler.runtimes.get(name)
            if rt is not None:
                with self.scheduler.account_context(name):
                    await self.alerting.evaluate_health(rt)

    # --- several daemons on one PostgreSQL store (quota_watch.cluster, docs/cluster.md) -------

    async def _join_cluster(self) -> None:
        """Join the group: first tick before any poll, so this member polls only its share."""
        from quota_watch.cluster.member import ClusterMember, cluster_params  # [cluster] only

        assert self.store is not None and self.scheduler is not None
        params = cluster_params(self.config)
        self.cluster = ClusterMember(
            self.store,
            params,
            self.config.settings.server.listen,
            lambda: [a.name for a in self.config.accounts],
            self._cluster_changed,
        )
        self.store.outbox_claim = params.lease
        self.scheduler.account_context = self.cluster.account_fence
        self.scheduler.add_maintenance(
            "pool-plan", params.lease / 3, self._singleton(self._plan_pools)
        )
        log.info(
            "cluster member %s: lease %s, heartbeat every %s",
            params.member,
            params.lease,
            params.heartbeat,
        )
        try:
            await self.cluster.tick()
        except Exception as exc:  # the loop retries; polling waits for the first leases
            log.error("cluster: first heartbeat failed: %s", str(exc).split("\n")[0])

    def _owned(self, runtimes: dict[str, AccountRuntime]) -> dict[str, AccountRuntime]:
        if self.cluster is None:
            return runtimes
        owned = self.cluster.owned_accounts()
        return {n: rt for n, rt in runtimes.items() if n in owned}

    def _cluster_changed(self) -> None:
        """Leases moved: poll, and export on /metrics, exactly the accounts held now."""
        if self.scheduler is not None:
            self.scheduler.set_accounts(self._owned(self._configured))
            if self.store is not None:
                self._live_reload = asyncio.ensure_future(self._load_live())
        if self.cluster is not None and self.cluster.is_singleton and not self._retired:
            self._retired = True
            self._retiring = asyncio.ensure_future(self._singleton(self._retire_unwatched)())

    def _singleton(self, job: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """`job`, run only on the member holding the singleton lease, its writes fenced by it."""

        async def run() -> None:
            if self.cluster is None:
                await job()
            elif self.cluster.is_singleton:
                with self.cluster.singleton_fence():
                    await job()

        return run

    def _heartbeat_settings(self) -> HeartbeatSettings:
        heartbeat = self.config.settings.heartbeat
        if self.cluster is not None and not self.cluster.is_singleton:
            return heartbeat.model_copy(update={"url": None})  # another member pings
        return heartbeat

    async def _retire_unwatched(self) -> None:
        assert self.alerting is not None
        try:
            await self.alerting.retire_unwatched(
                {n for n, rt in self._configured.items() if rt.config.enabled}
            )
        except StoreError as exc:
            log.error("resolving the alerts of removed accounts: %s", exc)

    async def _retire(self, accounts: set[str]) -> None:
        assert self.alerting is not None
        await self.alerting.retire(accounts)

    async def _plan_pools(self) -> None:
        groups = {rt.config.group for rt in self._configured.values() if rt.config.group}
        for group in sorted(groups):
            await self._plan_pool(group)

    async def _rollup(self) -> None:
        assert self.store is not None
        written = await self.store.rollup(self.clock())
        trim_malloc()
        log.debug("rollup: %d buckets", written)

    async def _retention(self) -> None:
        assert self.store is not None
        r = self.config.settings.store.retention
        now = self.clock()
        deleted = await self.store.apply_retention(
            now, samples=r.samples, hourly=r.hourly, daily=r.daily, runs=r.runs
        )
        deleted["silence"] = await self.store.expire_silences(now)
        trim_malloc()
        if deleted.get("sample") and self.alerting is not None:
            # The rules' in-memory windows must not hold samples the store no longer has.
            self.alerting.windows.forget()
        log.info("retention: deleted %s", deleted)
