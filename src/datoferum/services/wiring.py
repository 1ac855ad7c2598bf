"""Builds every service from one ``Settings`` object, and the start-up sequence."""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from datoferum.adapters.identity import OidcSettings, OidcVerifier
from datoferum.adapters.signing import LocalKeySigner, Signer
from datoferum.adapters.storage import Backends, load_layout
from datoferum.adapters.storage.base import StorageBackend
from datoferum.config import Settings
from datoferum.domain.roles import SYSTEM, Role
from datoferum.errors import DatoferumError
from datoferum.services import retention
from datoferum.services.access import AccessService
from datoferum.services.audit import AuditService
from datoferum.services.background import Background, Loop, every
from datoferum.services.capture import CaptureService
from datoferum.services.certificates import CertificateService
from datoferum.services.erasure import ErasureService
from datoferum.services.holds import HoldService
from datoferum.services.journal import SmallFileJournal
from datoferum.services.lake import Lake
from datoferum.services.links import LinkService
from datoferum.services.placement import PlacementService
from datoferum.services.policies import PolicyService, QueryHolds
from datoferum.services.purge import PurgeService
from datoferum.services.retention import RetentionService
from datoferum.services.scheduler import Scheduler, set_schedule
from datoferum.services.scrub import ScrubService
from datoferum.services.signals import BulkSignals, SignalService
from datoferum.services.sweep import SweepReport, sweep
from datoferum.services.telemetry.receiver import TelemetryReceiver
from datoferum.services.tokens import TokenService
from datoferum.services.webhooks import WebhookService
from datoferum.services.webhooks import loops as webhook_loops
from datoferum.services.worker import Handler, Worker
from datoferum.spine import jobs
from datoferum.spine.catalog import migrate
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.jobs import NewJob

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    catalog: Catalog
    #: Every configured backend, by name.
    backends: Backends
    #: The backend uploads are written to (the first copy of the default storage policy).
    storage: StorageBackend
    tokens: TokenService
    capture: CaptureService
    access: AccessService
    audit: AuditService
    signer: Signer
    certificates: CertificateService
    holds: HoldService
    signals: SignalService
    purge: PurgeService
    retention: RetentionService
    policies: PolicyService
    erasure: ErasureService
    bulk_signals: BulkSignals
    placement: PlacementService
    scrub: ScrubService
    hash_executor: ThreadPoolExecutor
    #: Small uploads made durable in the catalog until their files are flushed.
    journal: SmallFileJournal
    #: ThriftData's lake: normalization, queries, own storage cost.
    lake: Lake
    #: Job kind -> handler; lifecycle services register theirs when built.
    handlers: dict[str, Handler] = field(default_factory=dict)
    #: The OTLP receiver; built on the capture service once that exists.
    telemetry: TelemetryReceiver = field(init=False)

    def sweep(self) -> SweepReport:
        report = SweepReport()
        for name, backend in self.backends.items():
            try:
                found = sweep(self.catalog, backend)
            except DatoferumError as error:  # a backend down is swept when it is back
                log.warning("could not sweep storage backend %s: %s", name, error.detail)
                continue
            report.completed += found.completed
            report.removed += found.removed
        return report

    @property
    def links(self) -> LinkService:
        return LinkService(self.catalog)

    @property
    def webhooks(self) -> WebhookService:
        return WebhookService(self.catalog)

    def queue_status(self) -> dict[str, Any]:
        """Queue depth, and when the next purge is due and how far purges lag behind."""
        with self.catalog.reading() as conn:
            status = jobs.depth(conn)
            status.update(retention.purge_schedule(conn))
        return status

    def scheduled_job(self, name: str) -> NewJob:
        """What to queue when the schedule ``name`` is due."""
        kind, _, subject = name.partition(":")
        return NewJob(kind, {"name": subject} if subject else {})

    def background(self, job_threads: int) -> Background:
        """Job workers, the scheduler, webhook delivery and the periodic sweep, ready to start."""
        settings = self.settings
        lease = timedelta(seconds=settings.job_lease_seconds)
        loops: list[tuple[str, Loop]] = [
            (f"datoferum-jobs-{n}", Worker(self.catalog, self.handlers, lease=lease).run)
            for n in range(job_threads)
        ]
        if job_threads:
            scheduler = Scheduler(self.catalog, self.scheduled_job)
            loops.append(
                (
                    "datoferum-scheduler",
                    every(settings.scheduler_seconds, scheduler.run_once, "scheduler"),
                )
            )
        loops += webhook_loops(self.catalog, settings)
        flush = every(settings.journal_flush_seconds, self.journal.flush, "journal flush")
        loops.append(("datoferum-journal-flush", flush))
        if settings.lake_watch_seconds > 0:
            watch = every(settings.lake_watch_seconds, self.lake.watcher.drain, "lake watch")
            loops.append(("datoferum-lake-watch", watch))
        if settings.sweep_interval_seconds > 0:
            loops.append(
                ("datoferum-sweep", every(settings.sweep_interval_seconds, self.sweep, "sweep"))
            )
        return Background(loops)

    def close(self) -> None:
        try:
            self.journal.flush()  # what is left is restored at the next start, so no harm if not
        except DatoferumError as error:
            log.warning("could not flush journaled small uploads: %s", error.detail)
        if self.tokens.provider is not None:
            self.tokens.provider.close()
        self.hash_executor.shutdown(wait=False, cancel_futures=True)
        self.backends.close()
        self.catalog.dispose()


def open_catalog(settings: Settings) -> Catalog:
    """The catalog the settings name, with their SQLite tuning (creating the home first)."""
    settings.home.mkdir(parents=True, exist_ok=True)
    return Catalog(
        settings.catalog_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        sqlite_cache_mib=settings.sqlite_cache_mib,
    )


def build_services(settings: Settings) -> Services:
    catalog = open_catalog(settings)
    backends = Backends(load_layout(settings), settings)
    storage = backends.for_copy(backends.layout.ingest)
    signer = LocalKeySigner.load_or_create(settings.home / "keys")
    hash_executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="datoferum-hash")
    journal = SmallFileJournal(catalog, backends, max_bytes=settings.small_file_journal_bytes)
    certificates = CertificateService(catalog, signer)
    holds = HoldService(catalog, QueryHolds())
    purge = PurgeService(catalog, backends, holds, certificates)
    placement = PlacementService(catalog, backends)
    retention = RetentionService(catalog, purge)
    policies = PolicyService(catalog, purge)
    signals = SignalService(catalog)
    signals.hooks.append(policies.on_signal)
    services = Services(
        settings=settings,
        catalog=catalog,
        backends=backends,
        storage=storage,
        tokens=TokenService(
            catalog, cache_seconds=settings.token_cache_seconds, provider=_provider(settings)
        ),
        capture=CaptureService(
            catalog,
            storage,
            hash_executor,
            max_bytes=settings.max_upload_bytes,
            journal=journal,
            placed=placement.satisfied,
        ),
        access=AccessService(catalog, backends),
        audit=AuditService(catalog),
        signer=signer,
        certificates=certificates,
        holds=holds,
        signals=signals,
        purge=purge,
        retention=retention,
        policies=policies,
        erasure=ErasureService(catalog, purge, settings.subject_key),
        bulk_signals=BulkSignals(catalog, signals, policies.select),
        placement=placement,
        scrub=ScrubService(catalog, backends, placement, settings.scrub_bytes_per_second),
        hash_executor=hash_executor,
        journal=journal,
        lake=Lake.build(settings, catalog, backends, storage),
    )
    services.capture.classifier = policies.classify
    services.telemetry = TelemetryReceiver(services.capture, settings.otlp_collection)
    services.handlers.update(
        {
            "policy.run": policies.run_job,
            "reclassify": policies.reclassify_job,
            "signal.bulk": services.bulk_signals.run_job,
            "retention.sweep": retention.sweep,
            "purge": lambda ctx: purge.run_job(ctx.payload, ctx.actor).as_dict(),
            "erasure.run": services.erasure.run_job,
            "placement": placement.run_job,
            "scrub": services.scrub.run_job,
            "storage.report": services.scrub.dark_data_job,
            **services.lake.handlers(),
        }
    )
    return services


def _provider(settings: Settings) -> OidcVerifier | None:
    if settings.oidc_issuer is None:
        return None
    return OidcVerifier(
        OidcSettings(
            issuer=settings.oidc_issuer, client_id=settings.oidc_client_id,
            audience=settings.oidc_audience, roles_claim=settings.oidc_roles_claim,
            role_prefix=settings.oidc_role_prefix,
        )
    )  # fmt: skip


def bootstrap_admin(services: Services) -> str | None:
    """Make sure an admin can log in; returns a newly generated secret, to be shown once."""
    settings, tokens = services.settings, services.tokens
    if settings.bootstrap_token is not None:
        secret = settings.bootstrap_token.get_secret_value()
        if not tokens.knows(secret):
            tokens.create(SYSTEM, name="bootstrap", role=Role.ADMIN, secret=secret)
        return None
    if tokens.has_admin():
        return None
    _, secret = tokens.create(SYSTEM, name="first admin", role=Role.ADMIN)
    path = settings.admin_token_file
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    path.chmod(0o600)
    return secret


def prepare(settings: Settings) -> str | None:
    """Everything ``serve`` does before listening: migrate, bootstrap the admin, sweep.

    Returns a newly generated admin secret, if one was made.
    """
    services = build_services(settings)
    try:
        before, after = migrate.upgrade(services.catalog)
        if before != after:
            log.info("catalog migrated from %s to %s", before or "empty", after)
        secret = bootstrap_admin(services)
        with services.catalog.writing() as conn:
            set_schedule(conn, "retention.sweep", settings.retention_sweep_cron)
            set_schedule(conn, "scrub", settings.scrub_cron)
            set_schedule(conn, "lake.storage_cost", settings.storage_cost_cron)
        if settings.policies_directory.is_dir():
            for applied in services.policies.load_directory(settings.policies_directory):
                log.info("policy %(name)s version %(version)s: %(change)s", applied)
        for name, backend in services.backends.items():
            try:
                backend.check()
            except DatoferumError as error:  # copies there wait; uploads go on to the ingest
                log.warning("storage backend %s is not usable now: %s", name, error.detail)
        restored = services.journal.recover()
        if restored:
            log.info("restored %d small uploads from the catalog's journal", restored)
        report = services.sweep()
        if report.removed or report.completed:
            log.info(
                "sweep: removed %d abandoned uploads, completed %d",
                len(report.removed), len(report.completed),
            )  # fmt: skip
        return secret
    finally:
        services.close()
