"""Parameter FL with parameter isolation (FedPIT): a global LoRA adapter averaged, a local one kept.

Every client holds two rank-``r`` LoRA adapters on the attention projections
of one frozen base model: ``global`` and ``local``. Each round it loads the
server's global adapter, trains both adapters together on its own member
episodes (causal-LM loss on the tool call after the request, in the prompt
format the agent scores tool names with), and sends only the global adapter,
serialised with safetensors in ``wire_dtype``; the server averages the
updates by FedAvg, weighted by each client's number of examples, and sends the
average back. The local adapter never leaves the client. In FedPIT proper the
global parameters train on synthetic data; here both train on the members,
the worst case for what an update leaks.

torch, peft and safetensors are imported inside functions, so importing this
module (and ``fical_secure``) stays cheap.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from fical_secure.errors import ConfigError, GenerationError
from fical_secure.llm.routing import text_logprobs
from fical_secure.llm.transformers_backend import TransformersLLM
from fical_secure.tlu.prompt import SYSTEM, plain_message

if TYPE_CHECKING:
    import torch

    from fical_secure.data.schema import Episode, HospitalData
    from fical_secure.llm.base import LLM
    from fical_secure.llm.transformers_backend import TransformersLLM

GLOBAL, LOCAL = "global", "local"
State = dict[str, "torch.Tensor"]  # adapter tensor name (adapter name removed) -> float32 tensor
Pair = tuple[str, str]  # (raw scoring context, target text)


@dataclass(frozen=True)
class ParameterFLConfig:
    """LoRA shape, schedule and wire format of one parameter-FL run (CPU, float32 training)."""

    rank: int = 8
    alpha: int = 16
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    rounds: int = 2
    epochs: int = 1
    batch_size: int = 4
    lr: float = 2e-3
    seed: int = 0
    wire_dtype: str = "bfloat16"  # what a client sends; the convention of communication.py

    def __post_init__(self) -> None:
        if min(self.rank, self.alpha, self.rounds, self.epochs, self.batch_size) < 1:
            raise ConfigError("parameter FL: rank, alpha, rounds, epochs, batch size must be >= 1")
        if not self.lr > 0 or self.wire_dtype not in ("float32", "bfloat16", "float16"):
            raise ConfigError("parameter FL: lr > 0 and wire_dtype float32, bfloat16 or float16")


@dataclass
class ParameterFLRun:
    """What the run produced: the server's view (every update, per round) and the clients' own."""

    global_state: State  # the final FedAvg average
    sent: list[dict[str, bytes]]  # per round: client -> the serialised global adapter it sent
    local: dict[str, State]  # per client: its local adapter (never sent)
    examples: dict[str, int]  # FedAvg weights
    train_loss: dict[str, list[float]] = field(default_factory=dict)  # per client: mean per round
    broadcast_bytes: list[int] = field(default_factory=list)  # per round: the average sent back
    seconds: float = 0.0

    def bytes_per_client_round(self) -> dict[str, list[int]]:
        """Client -> bytes of each round's upload."""
        return {c: [len(r[c]) for r in self.sent] for c in self.examples}


def training_pairs(llm: LLM, episodes: Sequence[Episode]) -> list[Pair]:
    """(context, target) per episode: the agent's tool-choice prompt, then the rendered call."""
    return [
        (llm.chat_prompt(plain_message(e.request), system=SYSTEM), e.call.render())
        for e in episodes
    ]


def with_adapters(llm: LLM, config: ParameterFLConfig) -> TransformersLLM:
    """A copy of ``llm``'s model with fresh ``global`` and ``local`` adapters (``llm`` untouched).

    Both adapters start from seeded initialisations (B = 0, so the copy scores
    like the base model), and both are active.

    Raises:
        ConfigError: ``llm`` is not a transformers model, or has none of the target modules.
    """
    import torch
    from peft import LoraConfig, get_peft_model

    if not isinstance(llm, TransformersLLM):
        raise ConfigError("parameter FL needs a transformers model (load_llm), not a stand-in")
    lora = LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha,
        lora_dropout=0.0,
        target_modules=list(config.target_modules),
        bias="none",
    )
    torch.manual_seed(config.seed)
    base = copy.deepcopy(llm.model).float()
    try:
        model = get_peft_model(base, lora, adapter_name=GLOBAL)
        model.add_adapter(LOCAL, lora)
    except ValueError as exc:  # peft: no target module found
        raise ConfigError(f"parameter FL cannot attach LoRA to {llm.name}: {exc}") from exc
    cast(Any, model).base_model.set_adapter([GLOBAL, LOCAL])
    return TransformersLLM(model, llm.tokenizer, name=f"{llm.name}+lora", max_batch_size=16)


def _params(adapted: TransformersLLM, adapter: str) -> dict[str, torch.nn.Parameter]:
    tag = f".{adapter}."
    return {
        n.replace(tag, "."): p
        for n, p in adapted.model.named_parameters()
        if tag in n and "lora_" in n
    }


def get_state(adapted: TransformersLLM, adapter: str) -> State:
    """A detached float32 copy of ``adapter``'s tensors, keyed without the adapter's name."""
    return {k: p.detach().float().clone() for k, p in sorted(_params(adapted, adapter).items())}


def set_state(adapted: TransformersLLM, adapter: str, state: State) -> None:
    """Load ``state`` into ``adapter``.

    Raises:
        ConfigError: the tensor names or shapes are not the adapter's.
    """
    import torch

    params = _params(adapted, adapter)
    if set(params) != set(state) or any(params[k].shape != v.shape for k, v in state.items()):
        raise ConfigError(f"the {adapter} adapter state does not fit the model's LoRA layers")
    with torch.no_grad():
        for key, tensor in state.items():
            params[key].copy_(tensor)


def activate(adapted: TransformersLLM, adapters: Sequence[str]) -> None:
    """Make ``adapters`` the active ones (the others are skipped in every forward pass)."""
    adapted.model.base_model.set_adapter(list(adapters))


def serialize(state: State, wire_dtype: str = "bfloat16") -> bytes:
    """The bytes a client sends: ``state`` as safetensors in ``wire_dtype``."""
    import torch
    from safetensors.torch import save

    dtype = getattr(torch, wire_dtype)
    return bytes(save({k: v.to(dtype).contiguous() for k, v in state.items()}))


def deserialize(payload: bytes) -> State:
    """What the server reads from a client's upload, as float32.

    Raises:
        ConfigError: the bytes are not a safetensors file.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        return {k: v.float() for k, v in sorted(load(payload).items())}
    except (SafetensorError, ValueError) as exc:
        raise ConfigError(f"an adapter upload is not a safetensors file: {exc}") from exc


def fedavg(states: Sequence[State], weights: Sequence[int]) -> State:
    """Weighted mean of adapter states (float64 sums, float32 result).

    Raises:
        ConfigError: no states, non-positive weights, or states of different tensors.
    """
    import torch

    if not states or len(states) != len(weights) or min(weights) <= 0:
        raise ConfigError("FedAvg needs one positive weight per adapter state")
    keys = set(states[0])
    if any(set(s) != keys for s in states):
        raise ConfigError("FedAvg over adapter states with different tensors")
    total = float(sum(weights))
    out: State = {}
    for key in sorted(keys):
        acc = torch.zeros_like(states[0][key], dtype=torch.float64)
        for state, weight in zip(states, weights, strict=True):
            acc += state[key].double() * weight
        out[key] = (acc / total).float()
    return out


def _batch_loss(adapted: TransformersLLM, batch: Sequence[Pair]) -> torch.Tensor:
    """Mean token cross-entropy of the targets after their contexts (tokenised as ``score``)."""
    import torch

    rows, n_text = [], []
    for context, target in batch:
        ids = adapted.encode(target)
        rows.append(adapted._context_ids(context, len(ids)) + ids)
        n_text.append(len(ids))
    picked = text_logprobs(adapted.model, rows, n_text, adapted._pad_id, adapted.device)
    width = picked.shape[1]
    on_text = torch.arange(width).unsqueeze(0) >= (width - torch.tensor(n_text)).unsqueeze(1)
    return -(picked * on_text.to(picked.device)).sum() / on_text.sum()


def train_local(
    adapted: TransformersLLM, pairs: Sequence[Pair], config: ParameterFLConfig, seed: int
) -> float:
    """``config.epochs`` of AdamW on every active adapter over ``pairs``; the mean batch loss.

    Raises:
        GenerationError: the backend failed.
    """
    import torch

    trainable = [p for p in adapted.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=0.0)
    generator = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    adapted.model.train()
    try:
        for _ in range(config.epochs):
            order = torch.randperm(len(pairs), generator=generator).tolist()
            for start in range(0, len(order), config.batch_size):
                batch = [pairs[i] for i in order[start : start + config.batch_size]]
                loss = _batch_loss(adapted, batch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
                losses.append(float(loss.detach()))
    except (RuntimeError, ValueError, IndexError) as exc:
        raise GenerationError(f"LoRA training of {adapted.name} failed: {exc}") from exc
    finally:
        adapted.model.eval()
    return sum(losses) / len(losses) if losses else float("nan")


def run_parameter_fl(
    hospitals: Sequence[HospitalData],
    adapted: TransformersLLM,
    config: ParameterFLConfig,
    *,
    on_client: Callable[[int, str, float], Any] | None = None,
) -> ParameterFLRun:
    """``config.rounds`` rounds of parameter-isolated FedAvg over ``hospitals``' members.

    ``adapted`` is :func:`with_adapters`' model; it ends holding the last
    client's adapters. ``on_client(round, client, loss)`` is called after each
    client's local training (progress).

    Raises:
        ConfigError: a client has no member episodes.
        GenerationError: training failed.
    """
    start = time.perf_counter()
    pairs = {h.hospital_id: training_pairs(adapted, h.members) for h in hospitals}
    if any(not p for p in pairs.values()):
        raise ConfigError("parameter FL: every client needs member episodes to train on")
    examples = {cid: len(p) for cid, p in pairs.items()}
    initial_local = get_state(adapted, LOCAL)
    local = {cid: {k: v.clone() for k, v in initial_local.items()} for cid in pairs}
    server = get_state(adapted, GLOBAL)
    run = ParameterFLRun(server, [], local, examples, {cid: [] for cid in pairs})
    activate(adapted, [GLOBAL, LOCAL])
    for rnd in range(config.rounds):
        uploads: dict[str, bytes] = {}
        for index, (cid, data) in enumerate(pairs.items()):
            set_state(adapted, GLOBAL, server)  # what the server sent back last round
            set_state(adapted, LOCAL, local[cid])
            loss = train_local(adapted, data, config, seed=config.seed + 1000 * rnd + index)
            local[cid] = get_state(adapted, LOCAL)
            uploads[cid] = serialize(get_state(adapted, GLOBAL), config.wire_dtype)
            run.train_loss[cid].append(round(loss, 4))
            if on_client is not None:
                on_client(rnd, cid, loss)
        run.sent.append(uploads)
        average = fedavg([deserialize(uploads[cid]) for cid in pairs], list(examples.values()))
        broadcast = serialize(average, config.wire_dtype)  # the same wire format back
        run.broadcast_bytes.append(len(broadcast))
        server = deserialize(broadcast)
    run.global_state, run.local = server, local
    run.seconds = round(time.perf_counter() - start, 1)
    return run
