"""The Temporal client every part of gridcase uses: same data converter everywhere."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import timedelta

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.envconfig import ClientConfig
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from core.codec import EncryptionCodec, local_keys, parse_keys
from core.config import Settings

log = logging.getLogger("gridcase")


def codec(settings: Settings, *, plaintext: bool = False) -> EncryptionCodec:
    encoded = settings.codec_keys or local_keys(settings.data_dir / "codec-keys.json")
    current = settings.codec_key_id or sorted(encoded)[-1]
    return EncryptionCodec(parse_keys(encoded), current, plaintext=plaintext)


def data_converter(settings: Settings, *, plaintext: bool = False) -> DataConverter:
    """Pydantic models as JSON, then encrypted: the one converter of api, worker and tests.
    Failures too: their message and stack trace (where a database error would name a resident)
    travel as an encrypted payload, and history shows only "Encoded failure". `plaintext`:
    see EncryptionCodec (replaying histories recorded before encryption)."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec(settings, plaintext=plaintext),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def metrics_runtime(bind_address: str) -> Runtime:
    """A Temporal runtime whose SDK metrics (task latency, sticky cache, poll failures)
    Prometheus scrapes at http://<bind_address>/metrics."""
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=bind_address, counters_total_suffix=True)
        )
    )


async def build_client(settings: Settings, runtime: Runtime | None = None) -> Client:
    """Connect with TLS/API-key settings from Temporal's own env config (TEMPORAL_TLS_*,
    TEMPORAL_API_KEY, profiles), and the address and namespace from our Settings."""
    connect = ClientConfig.load_client_connect_config()
    connect["target_host"] = settings.temporal_target
    connect["namespace"] = settings.temporal_namespace
    return await Client.connect(**connect, data_converter=data_converter(settings), runtime=runtime)


def rpc_timeout(settings: Settings) -> timedelta:
    """How long one client call to Temporal may take before the API answers 503."""
    return timedelta(seconds=settings.temporal_rpc_timeout)


async def connect_with_backoff(
    settings: Settings,
    first_delay: float = 0.5,
    max_delay: float = 10.0,
    runtime: Runtime | None = None,
) -> Client:
    """Connect, retrying with exponential backoff for as long as Temporal does not answer: a
    worker or API started before Temporal (or while it restarts) waits for it, never exits."""
    delay = first_delay
    while True:
        try:
            return await build_client(settings, runtime)
        except RuntimeError as failed:  # the SDK's "Failed client connect: ..."
            log.warning(
                "Temporal at %s does not answer (%s); retrying in %.1fs",
                settings.temporal_target,
                str(failed).split(":", 2)[-1].strip()[:200],
                delay,
            )
        await asyncio.sleep(delay)
        delay = min(max_delay, delay * 2)
