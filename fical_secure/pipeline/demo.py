"""The demo round: every stage in order, on the embedded defaults, writing ``round.json``."""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping

from fical_secure.atomic import write_json_atomic, write_text_atomic
from fical_secure.jsontypes import JsonObject, as_list, at
from fical_secure.pipeline.client import client_stages
from fical_secure.pipeline.runner import Stage, run_stages
from fical_secure.pipeline.server import AggregateStage
from fical_secure.pipeline.stages import (
    DataStage,
    EachClient,
    ModelCheckStage,
    ModelStage,
    OnServer,
    TLUStage,
)
from fical_secure.pipeline.state import RoundSettings, RoundState
from fical_secure.pipeline.transport import (
    DeliverStage,
    PlainTransportStage,
    SealedTransportStage,
    SecAggTransportStage,
)


def build_stages(settings: RoundSettings) -> list[Stage[RoundState]]:
    """Stages of one round: the client pipeline on every hospital, the transport, the server's."""

    per_client = client_stages(settings.client_settings(), ground_truth=True)
    stages: list[Stage[RoundState]] = [DataStage(), ModelStage()]
    stages += [EachClient(stage) for stage in per_client]
    if not settings.seal:
        stages.append(PlainTransportStage())
    elif settings.mode == "secagg":
        stages.append(SecAggTransportStage())
    else:
        stages.append(SealedTransportStage())
    stages += [OnServer(AggregateStage()), DeliverStage(), TLUStage()]
    if settings.model_check:
        stages.append(ModelCheckStage())
    return stages


def run_demo(settings: RoundSettings) -> JsonObject:
    """Run one full round and write ``settings.out/round.json``; returns the report."""
    for stale in ("server", "keys", "clients", "released"):  # a demo starts a fresh federation
        shutil.rmtree(settings.out / stale, ignore_errors=True)
    settings.out.mkdir(parents=True, exist_ok=True)
    state = RoundState(settings=settings)
    start = time.perf_counter()
    run_stages(state, build_stages(settings))
    report = dict(state.report)
    report["mode"] = settings.mode if settings.seal else "plain"
    report["seconds"] = {**state.seconds, "total": round(time.perf_counter() - start, 3)}
    report["settings"] = {
        "data": str(settings.data) if settings.data is not None else None,
        "clients": report.get("clients", settings.clients),
        "seed": settings.seed,
        "use_model": settings.use_model,
        "kcg_min_support": settings.kcg_min_support,
        "scrub": settings.scrub,
        "audit": settings.audit,
        "seal": settings.seal,
        "mode": settings.mode,
        "dedupe_threshold": settings.dedupe_threshold,
        "min_support": settings.min_support,
        "top_k": settings.top_k,
        "profile": settings.profile,
    }
    released = settings.out / "released"  # what each client sent, for `fical-secure audit`
    released.mkdir(exist_ok=True)
    for client_id, comp in state.released.items():
        write_text_atomic(released / f"{client_id}.json", comp.to_json())
    if state.global_compendium is not None:
        write_text_atomic(
            settings.out / "global_compendium.json", state.global_compendium.to_json()
        )
    write_json_atomic(settings.out / "round.json", report)
    return report


def summary(report: JsonObject) -> str:
    """A short human summary of a round report: the ablation rows and the stage times."""
    run = report.get("settings")
    profile = at(run, "profile") if at(run, "audit") else "none (no audit)"
    lines = [
        f"FICAL round: {report.get('clients')} clients, model {report.get('model')}, "
        f"release profile {profile}",
        f"  compendium entries per client: {report.get('compendium_entries')}",
        f"  global entries: {report.get('global_entries')}, "
        f"communication bytes: {report.get('communication_bytes_total')}",
    ]
    ablation = report.get("ablation")
    for cond in as_list(at(ablation, "conditions")):
        m = at(ablation, "overall", str(cond))
        lines.append(
            f"  {cond}: tool {at(m, 'tool_accuracy', 'mean')}, "
            f"args {at(m, 'argument_accuracy', 'mean')}, "
            f"end-to-end {at(m, 'end_to_end_success', 'mean')} "
            f"{at(m, 'end_to_end_success', 'ci95')}"
        )
    seconds = report.get("seconds")
    stages = seconds.items() if isinstance(seconds, Mapping) else ()
    lines.append("  seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in stages))
    return "\n".join(lines)
