"""Register the enrolled SuperNodes' authentication keys with a running SuperLink.

One Control API client for all keys (``flwr supernode register`` starts a
new CLI process per key). Uses flwr 1.41's Control API client, the one its
CLI uses; the version is pinned in the ``flower`` extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fical_secure.crypto.transport_keys import supernode_public_key_pem
from fical_secure.errors import FlowerProcessError


def register_supernodes(
    address: str, root_certificate: Path | None, keys: Sequence[Path]
) -> list[int]:
    """Register each OpenSSH public key file; the node ids the SuperLink assigned.

    Raises:
        FlowerProcessError: the SuperLink refused or could not be reached.
        KeyMisuseError: a key file is not a NIST-curve OpenSSH public key.
    """
    from flwr.cli.typing import SuperLinkConnection
    from flwr.cli.utils import init_http_client_from_connection
    from flwr.proto.control_pb2 import RegisterNodeRequest

    connection = SuperLinkConnection(
        name="fical",
        address=address,
        root_certificates=None if root_certificate is None else str(root_certificate),
        insecure=root_certificate is None,
    )
    client = init_http_client_from_connection(connection)
    node_ids: list[int] = []
    try:
        for path in keys:
            request = RegisterNodeRequest(
                public_key=supernode_public_key_pem(path.read_bytes()), name=path.stem
            )
            try:
                response = client.RegisterNode(request=request)
            except Exception as exc:  # the client raises its own HTTP/RPC errors
                raise FlowerProcessError(
                    f"the SuperLink at {address} refused to register {path}: {exc}"
                ) from None
            if not response.node_id:
                raise FlowerProcessError(f"the SuperLink did not register {path}")
            node_ids.append(int(response.node_id))
    finally:
        client.close()
    return node_ids
