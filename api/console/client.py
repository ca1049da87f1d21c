"""The console reads and acts through the API's own routes, in process and with the signed-in
person's token: the permission table, the scope, the masking, the services and the errors are
the API's by construction, never a second copy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import Request


class ApiError(Exception):
    """A 4xx/5xx answer of the API, with its error body."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


class Api:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def get(self, path: str, **params: Any) -> Any:
        query = {k: v for k, v in params.items() if v not in (None, "")}
        return self._answer(await self._client.get(path, params=query))

    async def get_text(self, path: str, accept: str, **params: Any) -> str:
        query = {k: v for k, v in params.items() if v not in (None, "")}
        answer = await self._client.get(path, params=query, headers={"Accept": accept})
        self._answer(answer, parse=False)
        return answer.text

    async def post(self, path: str, body: Any, idempotency_key: str | None = None) -> Any:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self._answer(await self._client.post(path, json=body, headers=headers))

    @staticmethod
    def _answer(answer: httpx.Response, parse: bool = True) -> Any:
        if answer.status_code >= 400:
            try:
                error = answer.json().get("error", {})
            except ValueError:
                error = {}
            raise ApiError(
                answer.status_code,
                error.get("code", "error"),
                error.get("message", answer.text[:200]),
                error.get("details"),
            )
        return answer.json() if parse else None


async def api_as(request: Request, token: str) -> AsyncIterator[Api]:
    """The API of this very app, called as the bearer of `token`."""
    transport = httpx.ASGITransport(app=request.app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://gridcase.console",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60.0,
    ) as client:
        yield Api(client)
