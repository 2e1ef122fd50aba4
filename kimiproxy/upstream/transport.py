"""Sending one authenticated request to Kimi: the access token comes from the token keeper, the
identity headers from its claims, a 401 is answered by one refresh and one retry, and any failure
leaves as one of our errors."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import requests

from kimiproxy.errors import UpstreamError
from kimiproxy.upstream.failures import error_from_response, is_auth_failure, map_failure
from kimiproxy.upstream.keeper import TokenKeeper
from kimiproxy.upstream.refresh import RefreshCalls
from kimiproxy.upstream.tokens import fingerprint, identity_headers

if TYPE_CHECKING:
    from kimiproxy.accounts.directory import AccountDirectory
    from kimiproxy.settings import Settings

# A refresh lock outlives one refresh call (connect + read timeout) by this many seconds.
LOCK_MARGIN = 5.0


class AccessTokens(Protocol):
    """What the transport needs from a token keeper (:class:`TokenKeeper`)."""

    def get(self, credential: str) -> str: ...

    def invalidate(self, credential: str, access_token: str | None = None) -> None: ...

    def can_refresh(self, credential: str) -> bool: ...

    def secrets_for(self, credential: str) -> tuple[str, ...]: ...


log = logging.getLogger(__name__)


class Transport:
    """Authenticated requests for one client."""

    def __init__(
        self,
        session: requests.Session,
        base_url: str,
        tokens: AccessTokens,
        timeout: tuple[float, float],
    ):
        self.session = session
        self.base_url = base_url
        self.tokens = tokens
        self.timeout = timeout

    @classmethod
    def refreshing_through(
        cls,
        session: requests.Session,
        settings: Settings,
        directory: AccountDirectory,
        *,
        ttl: float | None,
    ) -> Transport:
        """A transport whose :class:`TokenKeeper` keeps tokens in ``directory``'s store and
        refreshes them over ``session`` like every other call; ``ttl`` as there."""
        timeout = (settings.connect_timeout, settings.read_timeout)
        refresher = RefreshCalls(
            session,
            directory.store,
            auth_url=settings.auth_upstream_url,
            base_url=settings.upstream_url,
            timeout=timeout,
        )
        keeper = TokenKeeper(
            directory,
            refresher,
            margin=settings.refresh_margin,
            lock_ttl=sum(timeout) + LOCK_MARGIN,
            ttl=ttl,
        )
        return cls(session, settings.upstream_url, keeper, timeout)

    def send(
        self,
        credential: str,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: Callable[[], Any] | None = None,
        json: Any = None,
        stream: bool = False,
        timeout: tuple[float, float] | None = None,
        allow_status: tuple[int, ...] = (),
    ) -> requests.Response:
        """Send and return a successful (or ``allow_status``) response, else raise.

        ``body`` is a factory so a streamed upload body can be rebuilt for the retry.
        """
        timeout = timeout or self.timeout
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        retried = False
        while True:
            access = self.tokens.get(credential)
            request_headers = {
                "Authorization": f"Bearer {access}",
                **identity_headers(access),
                **(headers or {}),
            }
            try:
                response = self.session.request(
                    method,
                    url,
                    headers=request_headers,
                    data=body() if body is not None else None,
                    json=json,
                    stream=stream,
                    timeout=timeout,
                )
            except requests.RequestException as exc:
                raise map_failure(exception=exc, read_timeout=timeout[1]) from None
            if response.status_code < 400 or response.status_code in allow_status:
                return response
            refused_token = is_auth_failure(response)
            if refused_token:
                self.tokens.invalidate(credential, access)
                if not retried and self.tokens.can_refresh(credential):
                    response.close()
                    log.info(
                        "Kimi refused the access token of credential %s; refreshing once",
                        fingerprint(credential),
                    )
                    retried = True
                    continue
            error = error_from_response(response, secrets=(credential, access))
            response.close()
            raise error

    def json(self, credential: str, method: str, path: str, **kwargs: Any) -> Any:
        """:meth:`send`, then the JSON body (a non-JSON success body is an upstream error)."""
        response = self.send(credential, method, path, **kwargs)
        return parse_json(response, what=f"{method} {path.split('?')[0]}")


def parse_json(response: requests.Response, what: str) -> Any:
    """The JSON body of ``response``, or :class:`UpstreamError` naming the call."""
    try:
        return response.json()
    except ValueError:
        raise UpstreamError(f"Kimi's answer to {what} was not JSON") from None
    finally:
        response.close()
