"""The Temporal client every part of gridcase uses: same data converter everywhere."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.envconfig import ClientConfig

from core.config import Settings


async def build_client(settings: Settings) -> Client:
    """Connect with TLS/API-key settings from Temporal's own env config (TEMPORAL_TLS_*,
    TEMPORAL_API_KEY, profiles), and the address and namespace from our Settings."""
    connect = ClientConfig.load_client_connect_config()
    connect["target_host"] = settings.temporal_target
    connect["namespace"] = settings.temporal_namespace
    return await Client.connect(**connect, data_converter=pydantic_data_converter)
