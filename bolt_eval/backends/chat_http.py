"""The wire of the `openai` backend: POST a chat.completions body, read the JSON reply.

aiohttp directly, not the openai SDK's client. Against a loopback server answering in 100 ms,
64 calls in flight (bench/cases/judging.py), a call through the SDK cost 0.85 ms of client
CPU and its awaits about 10 ms of event-loop wait (its request and response objects, httpx's
URL and header models, its transport's layers): 0.81 of the ideal calls/s; aiohttp alone
0.18 ms and 0.94. What the SDK gave is kept: the endpoint (`--base-url`, else
OPENAI_BASE_URL, else OpenAI's), the bearer key, the OpenAI-Organization / OpenAI-Project
headers from OPENAI_ORG_ID / OPENAI_PROJECT_ID, the proxy and certificate files the
environment names (else certifi's bundle), connect and read timeouts, and the SDK's names
and texts for failures ("NotFoundError: Error code: 404 - <the server's message>"), which
the backend's retry rules and messages use.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from bolt_eval import __version__

OFFICIAL = "https://api.openai.com/v1"


def endpoint(base_url: str | None) -> str:
    return (base_url or os.environ.get("OPENAI_BASE_URL") or OFFICIAL).rstrip("/")


class APIError(Exception):
    """A request that failed; each subclass is named as the SDK names the same failure."""

    retryable = True


class APIConnectionError(APIError):
    pass


class APITimeoutError(APIError):
    pass


class APIStatusError(APIError):
    def __init__(self, status: int, text: str, headers: Any) -> None:
        message = _server_message(text)
        super().__init__(f"Error code: {status}" + (f" - {message}" if message else ""))
        self.status_code, self.headers = status, headers
        self.retryable = status in (408, 409, 429) or status >= 500


class BadRequestError(APIStatusError):
    pass


class AuthenticationError(APIStatusError):
    pass


class PermissionDeniedError(APIStatusError):
    pass


class NotFoundError(APIStatusError):
    pass


class RateLimitError(APIStatusError):
    pass


class InternalServerError(APIStatusError):
    pass


BY_STATUS = {400: BadRequestError, 401: AuthenticationError, 403: PermissionDeniedError, 404: NotFoundError,
             429: RateLimitError}


def _server_message(text: str) -> str:
    """The `error.message` of a JSON error body (as the SDK shows it), else nothing."""
    try:
        body = json.loads(text)
    except ValueError:
        return ""
    error = body.get("error", body) if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) else ""


def _env_proxy(url: str) -> str | None:
    """The proxy the environment names for `url` (HTTPS_PROXY / HTTP_PROXY, unless NO_PROXY
    covers its host), looked up once."""
    import urllib.request
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme)


def _ssl_context() -> Any:
    """Certificates as the SDK's httpx took them: the files SSL_CERT_FILE / SSL_CERT_DIR
    name, else certifi's bundle (where installed), else the system's. Built for https
    endpoints only (~18 ms)."""
    import ssl

    if os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context()
    try:
        import certifi
    except ImportError:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


class ChatHTTP:
    """One connection pool to one endpoint; made and closed inside the backend's event loop."""

    def __init__(self, key: str, base_url: str | None, timeout_s: float) -> None:
        import aiohttp

        self.url = endpoint(base_url) + "/chat/completions"
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json",
                   "Accept": "application/json", "User-Agent": f"bolt-eval/{__version__}"}
        for header, variable in (("OpenAI-Organization", "OPENAI_ORG_ID"), ("OpenAI-Project", "OPENAI_PROJECT_ID")):
            if os.environ.get(variable):
                headers[header] = os.environ[variable]
        self.proxy = _env_proxy(self.url)
        certificates = _ssl_context() if self.url.startswith("https:") else True
        self.session = aiohttp.ClientSession(  # trust_env would look the proxy and ~/.netrc up in a thread per call
            headers=headers, connector=aiohttp.TCPConnector(limit=0, ssl=certificates),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=timeout_s, sock_read=timeout_s))

    async def post(self, body: dict[str, Any]) -> Any:
        """The reply's JSON; an APIError for a failed request, ValueError for a body that is
        not JSON (both retried by the backend)."""
        import aiohttp

        try:
            async with self.session.post(self.url, data=json.dumps(body), proxy=self.proxy) as resp:
                status, headers, text = resp.status, resp.headers, await resp.text()
        except asyncio.TimeoutError as err:  # aiohttp's own timeouts derive from it
            raise APITimeoutError("Request timed out.") from err
        except aiohttp.ClientError as err:
            raise APIConnectionError(str(err) or type(err).__name__) from err
        if status >= 400:
            kind = BY_STATUS.get(status) or (InternalServerError if status >= 500 else APIStatusError)
            raise kind(status, text, headers)
        return json.loads(text)

    async def close(self) -> None:
        await self.session.close()
