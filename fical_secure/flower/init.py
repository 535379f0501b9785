"""A local test federation on disk: identities, signed roster, private CA, TLS, YAML, data.

Layout of ``DIR`` (what ``fical-secure federation init`` writes)::

    server/   private.key public.key roster.bin server.yaml supernodes/<id>.pub
              clients/<id>.public.key
    tls/      ca.pem ca.key superlink.pem superlink.key
    clients/<id>/  private.key public.key supernode.key supernode.pub
                   server.public.key roster.bin ca.pem hospital.yaml <id>.jsonl

Each ``clients/<id>`` folder is what the operator hands one hospital; its
``<id>.jsonl`` is synthetic episodes in the documented format, to be replaced
by the hospital's own. Everything is written in a temporary folder beside
``DIR`` and renamed into place at the end, so a failure leaves nothing
half-written. Private keys are 0600.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fical_secure.atomic import write_bytes_atomic, write_text_atomic
from fical_secure.crypto.keys import KeyBundle, Roster
from fical_secure.crypto.transport_keys import (
    new_ca,
    new_server_certificate,
    new_supernode_auth_key,
)
from fical_secure.data.function_spec import catalogue_to_json
from fical_secure.data.generator import generate_federation
from fical_secure.data.jsonl import dumps
from fical_secure.data.loader import episode_record
from fical_secure.errors import ConfigError

PRIVATE = 0o600


@dataclass(frozen=True)
class InitOptions:
    clients: int
    host: str = "127.0.0.1"
    port: int = 9093
    first_node_port: int = 9094
    min_clients: int | None = None  # None: every client
    episodes: int = 40  # member episodes per hospital (as many non-members)
    seed: int = 0
    mode: str = "sealed"  # or "secagg"


def init_federation(out: Path, options: InitOptions) -> Path:
    """Write a complete local federation to ``out`` (which must not exist or be empty).

    Raises:
        ConfigError: ``out`` is not empty, or an option is out of range.
    """
    if options.clients < 1 or options.episodes < 4:
        raise ConfigError("--clients must be >= 1 and --episodes >= 4")
    if options.mode not in ("sealed", "secagg"):
        raise ConfigError("--mode must be sealed or secagg")
    if options.mode == "secagg" and options.clients < 3:
        raise ConfigError("--mode secagg needs --clients 3 or more (the protocol's minimum)")
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"{out} is not empty; choose a new folder for the federation")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        _write(work, options)
        if out.exists():
            out.rmdir()
        work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return out


def _write(root: Path, o: InitOptions) -> None:
    federation_id = f"fed-{secrets.token_hex(4)}"
    ids = [f"h{i:02d}" for i in range(1, o.clients + 1)]
    server_dir, tls, clients_dir = root / "server", root / "tls", root / "clients"
    for folder in (server_dir / "supernodes", server_dir / "clients", tls, clients_dir):
        folder.mkdir(parents=True, mode=0o700)
    server = KeyBundle.generate()
    server.save(server_dir / "private.key")
    server.public.save(server_dir / "public.key")
    bundles = {cid: KeyBundle.generate() for cid in ids}
    roster = Roster.create(server.identity, [b.identity.public for b in bundles.values()], epoch=1)
    write_bytes_atomic(server_dir / "roster.bin", roster.encode())
    ca = new_ca(f"{federation_id} CA")
    link = new_server_certificate(ca, [o.host, "localhost"] if o.host != "localhost" else [o.host])
    write_bytes_atomic(tls / "ca.pem", ca.public)
    write_bytes_atomic(tls / "ca.key", ca.private, mode=PRIVATE)
    write_bytes_atomic(tls / "superlink.pem", link.public)
    write_bytes_atomic(tls / "superlink.key", link.private, mode=PRIVATE)
    data, catalogue = _synthetic_data(ids, o)
    for i, cid in enumerate(ids):
        folder = clients_dir / cid
        folder.mkdir(mode=0o700)
        bundles[cid].save(folder / "private.key")
        bundles[cid].public.save(folder / "public.key")
        bundles[cid].public.save(server_dir / "clients" / f"{cid}.public.key")
        auth = new_supernode_auth_key(f"{federation_id}/{cid}")
        write_bytes_atomic(folder / "supernode.key", auth.private, mode=PRIVATE)
        write_bytes_atomic(folder / "supernode.pub", auth.public)
        write_bytes_atomic(server_dir / "supernodes" / f"{cid}.pub", auth.public)
        shutil.copyfile(server_dir / "public.key", folder / "server.public.key")
        shutil.copyfile(server_dir / "roster.bin", folder / "roster.bin")
        shutil.copyfile(tls / "ca.pem", folder / "ca.pem")
        write_text_atomic(folder / f"{cid}.jsonl", data[cid])
        write_text_atomic(folder / "catalogue.json", catalogue)
        write_text_atomic(
            folder / "hospital.yaml",
            HOSPITAL_YAML.format(
                client_id=cid,
                federation_id=federation_id,
                address=f"{o.host}:{o.port}",
                node_port=o.first_node_port + i,
            ),
        )
    write_text_atomic(
        server_dir / "server.yaml",
        SERVER_YAML.format(
            federation_id=federation_id,
            host=o.host,
            port=o.port,
            min_clients=o.min_clients or o.clients,
            mode=o.mode,
            supernodes="".join(f"    - supernodes/{cid}.pub\n" for cid in ids),
        ),
    )


def _synthetic_data(ids: list[str], o: InitOptions) -> tuple[dict[str, str], str]:
    """Each hospital's synthetic episodes (members and non-members) as JSONL text, and the
    federation's tool catalogue as JSON function specs."""

    fed = generate_federation(
        len(ids),
        seed=o.seed,
        episodes_per_hospital=o.episodes,
        nonmembers_per_hospital=o.episodes,
        eval_per_tool=1,
    )
    out: dict[str, str] = {}
    for cid, hospital in zip(ids, fed.hospitals, strict=True):
        episodes = [*hospital.members, *hospital.nonmembers]
        out[cid] = "".join(dumps(episode_record(e)) + "\n" for e in episodes)
    return out, json.dumps(catalogue_to_json(fed.catalogue), indent=2) + "\n"


HOSPITAL_YAML = """\
# Hospital {client_id}: `fical-secure client --config hospital.yaml`
version: 1
client_id: {client_id}
federation_id: {federation_id}
data: {client_id}.jsonl            # your own episodes (docs/data-format.md)
catalogue: catalogue.json         # the federation's tools as JSON function specs (or: built-in)
model: packaged                   # or a local model folder / .gguf file
device: auto                      # auto | cpu | cuda
keys:
  private_key: private.key        # this hospital's identity (keep secret, 0600)
  server_public_key: server.public.key   # the pinned server key
  roster: roster.bin              # the server-signed list of enrolled hospitals
privacy:
  scrub: true
  audit_gate: true
  audit_profile: strict           # release profile: the round's gate and `fical-secure audit`
  audit_use_llm: true             # LLM membership signals (false: embedding + lexical only)
  audit_llm_records: 8
  audit_canaries: 1
  # known_identifiers: known.jsonl  # optional roster of {{"kind", "value"}} lines: patients,
  #                                 # staff, places the scrubber masks and KCG never mines
kcg:
  min_support: 2                  # distinct patients (subjects) each compendium claim needs
  paraphrase: false               # let the model paraphrase validated claims
superlink:
  address: {address}
  root_certificate: ca.pem        # the federation's private CA
  auth_private_key: supernode.key # SuperNode authentication (keep secret, 0600)
  node_port: {node_port}             # this SuperNode's local port
output: out                       # the verified global compendium lands here
"""

SERVER_YAML = """\
# Federation {federation_id}: `fical-secure server --config server.yaml`
version: 1
federation_id: {federation_id}
keys:
  private_key: private.key
  roster: roster.bin
  clients: clients                # <client_id>.public.key: who is who in the reports
superlink:
  host: {host}
  port: {port}
  certificate: ../tls/superlink.pem
  private_key: ../tls/superlink.key
  ca_certificate: ../tls/ca.pem
  supernode_public_keys:          # SuperNodes allowed to connect (authentication)
{supernodes}round:
  mode: {mode}                    # sealed: the server opens each compendium; secagg: SecAgg+,
                                  # the server learns only the multiset of entries (>= 3 clients)
  min_clients: {min_clients}
  wait_seconds: 300               # for the SuperNodes to connect
  stage_timeout_seconds: 3600     # for the replies of one stage (KCG, scrub, gate)
  secagg_stage_timeout_seconds: 300   # each secure-aggregation stage (secagg only)
  straggler_grace_seconds: 10    # once a quorum replied, the rest get at most
                                  # max(this, the time the quorum took): a dead SuperNode
                                  # costs seconds, not Flower's 60 s heartbeat patience
aggregate:
  dedupe_threshold: 0.9
  min_support: 1                  # secagg: k >= 2 reveals only entries k hospitals hold
  expected_distinct: 1024         # secagg at k >= 2: distinct entries expected in a round
                                  # (sizes the count pass; too low loses entries, never leaks)
output: out                       # signed global compendium and round.json
"""
