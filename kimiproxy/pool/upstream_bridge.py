"""Handing a protocol client the Kimi token of a server-held account.

The chat core names a pool account ``pool:<fingerprint>``. A protocol client that takes only
Kimi tokens gets, in its place, the account's token as the store holds it now (its refresh
token, else its access token). A client that resolves ``pool:`` names itself declares
``takes_pool_credentials = True`` and is used as it is.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, BinaryIO

from kimiproxy.accounts import AccountStore
from kimiproxy.accounts.directory import POOL_PREFIX, is_pool_credential
from kimiproxy.errors import AuthenticationFailed

if TYPE_CHECKING:
    from collections.abc import Iterator

    from kimiproxy.upstream import ChatTurn, UpstreamClient
    from kimiproxy.upstream.events import Event, UploadedFile
    from kimiproxy.upstream.model_spec import ModelSpec


def with_pool_tokens(client: UpstreamClient, store: AccountStore) -> UpstreamClient:
    """``client``, or ``client`` behind :class:`PoolTokenClient` when it needs Kimi tokens."""
    if getattr(client, "takes_pool_credentials", False):
        return client
    return PoolTokenClient(client, store)


class PoolTokenClient:
    """An upstream client that passes every call on, a ``pool:`` credential replaced by the
    account's stored token."""

    takes_pool_credentials = True

    def __init__(self, client: UpstreamClient, store: AccountStore):
        self.client = client
        self.store = store
        self.protocol = client.protocol

    def token_for(self, credential: str) -> str:
        """The Kimi token ``credential`` stands for."""
        if not is_pool_credential(credential):
            return credential
        account = self.store.get_account(credential[len(POOL_PREFIX) :])
        token = account and (account.refresh_token or account.access_token)
        if not token:
            raise AuthenticationFailed("the server-held Kimi account was removed from the pool")
        return token

    def chat(self, turn: ChatTurn) -> Iterator[Event]:
        return self.client.chat(replace(turn, credential=self.token_for(turn.credential)))

    def create_chat(self, credential: str, model: ModelSpec) -> str | None:
        return self.client.create_chat(self.token_for(credential), model)

    def delete_chat(self, credential: str, chat_id: str) -> None:
        self.client.delete_chat(self.token_for(credential), chat_id)

    def upload_file(
        self,
        credential: str,
        name: str,
        mime_type: str,
        body: BinaryIO,
        size: int,
        kind: str,
        chat_id: str | None = None,
    ) -> UploadedFile:
        return self.client.upload_file(
            self.token_for(credential), name, mime_type, body, size, kind, chat_id
        )

    def check_token(self, credential: str) -> bool:
        return self.client.check_token(self.token_for(credential))

    def close(self) -> None:
        self.client.close()
