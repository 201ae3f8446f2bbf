"""Best-of-N with an outcome reward model: N answers per prompt, the reward model keeps one.

`bolt-eval run --best-of N --reward SPEC` asks the candidate for N answers per prompt in
one generation call (`n=N`), scores each answer's external solution (thoughts split with
the run's preset) with an outcome reward model of the training package (SPEC is a YAML
list of reward components, the `reward` section of a recipe: classifier, judge, verifier,
format; bolt_eval/training/rewards/), keeps the highest (ties: the first) and scores that
one as the task always does. It is the baseline of issue 19: does long-CoT training (BOLT,
Pang et al., arXiv 2502.03860) beat sampling N answers from the original model and letting
the ORM BOLT trains with pick one?

What a run keeps:
  samples.jsonl          all N outputs of every sample, each with the task's score
  best_of.jsonl          per sample, the N rewards and the index kept (rewritten whole)
  <out>/rewards.sqlite   rewards by content (reward spec, prompt, response, reference), so a
                         re-run, or another run over the same answers, never scores twice
Samples are pooled by their generation settings without n (`pool`): a run with N copies
the first N answers of each sample from a run of the same pool with at least N, so
`--best-of 4` after `--best-of 16` generates nothing and its answers are the 16's first 4.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bolt_eval.jsonl import read_jsonl
from bolt_eval.store import Store, config_hash, read_manifest, write_atomic
from bolt_eval.types import Sample, UserError

DEFAULT_TEMPERATURE = 1.0  # BOLT samples the answers its ORM scores at temperature 1.0, top_p 1.0 (stage 3)
CHUNK = 64  # answers scored between two writes of the reward cache


@dataclass(frozen=True)
class BestOf:
    """N answers per prompt; `reward` (a training.rewards.RewardModel, built but not loaded)
    keeps one. `spec` names where the reward came from (the --reward file)."""

    n: int
    reward: Any
    spec: str = "python"

    @functools.cached_property
    def sha256(self) -> str:
        return config_hash(self.reward.describe())


@dataclass
class Choice:
    """One run's picks: each sample's record cut to the output kept, and the summary block."""

    picked: dict[str, dict[str, Any]]
    summary: dict[str, Any]


def add_arguments(parser: Any) -> None:
    g = parser.add_argument_group("Best-of-N (an outcome reward model keeps one of N answers)")
    g.add_argument("--best-of", type=int, metavar="N",
                   help=f"sample N answers per prompt in one call and keep the one --reward scores highest (ties: the "
                        f"first); the label gets -boN; temperature defaults to {DEFAULT_TEMPERATURE}")
    g.add_argument("--reward", metavar="SPEC", help="reward spec file: a YAML list of reward components, as a recipe's "
                                                    "reward section, e.g. training/rewards/verifier.yaml")


def from_args(args: Any, sampling: dict[str, Any]) -> BestOf | None:
    """The Best-of-N the flags ask for; sets the sampling temperature when none was given."""
    if args.best_of is None:
        if args.reward:
            raise UserError("--reward picks among the answers of --best-of N; add --best-of N")
        return None
    if args.best_of < 1:
        raise UserError(f"--best-of must be at least 1, got {args.best_of}")
    if not args.reward:
        raise UserError("--best-of N needs --reward SPEC, the reward model that picks, e.g. --reward "
                        "training/rewards/verifier.yaml (exactly scored tasks) or training/rewards/armorm.yaml")
    if args.n != 1:
        raise UserError(f"--best-of {args.best_of} samples its answers itself; drop --n {args.n}")
    sampling.setdefault("temperature", DEFAULT_TEMPERATURE)
    return BestOf(args.best_of, load_reward(args.reward, args.thoughts, args.out), args.reward)


def load_reward(path: str, thoughts: str, out: str) -> Any:
    """A reward spec file as the training package's RewardModel (nothing loaded yet). A judge
    component keeps its judgments in `<out>/judgments.sqlite`, the run store's ledger."""
    from pydantic import TypeAdapter, ValidationError

    from bolt_eval.training.recipe import Recipe, RewardComponent, resolve_path
    from bolt_eval.training.recipe_file import line_of, read_yaml
    from bolt_eval.training.rewards import build_reward

    p = resolve_path(path)
    if not p.is_file():
        raise UserError(f"--reward {path}: no such file; give a reward spec such as training/rewards/verifier.yaml")
    text, data = read_yaml(p)
    if not isinstance(data, list) or not data:
        raise UserError(f"{p}: a reward spec is a YAML list of components ('- kind: classifier | judge | verifier | "
                        "format'), written as a recipe's reward section")
    try:
        components = TypeAdapter(list[RewardComponent]).validate_python(data)
    except ValidationError as err:
        lines = [f"{p}: invalid reward spec:"]
        for e in err.errors():
            loc = [str(x) for x in e["loc"]]
            where = f"line {line}, " if (line := line_of(text, loc)) else ""
            lines.append(f"  {where}component {loc[0]}, key '{'.'.join(loc[1:]) or '-'}': {e['msg']}")
        raise UserError("\n".join(lines)) from err
    recipe = Recipe(name="best-of", output_dir=out, model="none", thoughts=thoughts, reward=components)
    recipe.source = str(p)
    return build_reward(recipe)


def resolve(cfg: Any) -> Any:
    """The EvalConfig a Best-of-N evaluation runs: n = N, the label suffixed -boN (unless it
    already is). Greedy decoding with N > 1 is refused: it would give one answer N times."""
    bo = cfg.best_of
    if bo is None:
        return cfg
    s = cfg.sampling
    if bo.n > 1 and s.temperature <= 0:
        raise UserError(f"--best-of {bo.n} at temperature {s.temperature}: greedy decoding gives the same answer "
                        f"{bo.n} times; sample with --temperature > 0 (Best-of-N's default is {DEFAULT_TEMPERATURE})")
    if s.n not in (1, bo.n):
        raise UserError(f"--best-of {bo.n} with sampling n={s.n}: Best-of-N sets n itself; leave n at 1")
    suffix = f"-bo{bo.n}"
    label = (cfg.label or cfg.backend.model).rstrip("/")
    return replace(cfg, sampling=s.with_(n=bo.n), label=label if label.endswith(suffix) else label + suffix)


def run_config(bo: BestOf, generation: dict[str, Any], samples: list[Sample]) -> dict[str, Any]:
    """config["best_of"] of a run whose generation settings are `generation`: N, the reward
    (its description and hash), and the pool: the generation settings without n."""
    if any(len(s.turns) > 1 for s in samples):
        raise UserError(f"--best-of: task {generation['task']} has multi-turn samples and Best-of-N keeps single "
                        "answers; select single-turn tasks")
    pool = dict(generation, sampling={k: v for k, v in generation["sampling"].items() if k != "n"})
    return {"n": bo.n, "reward_sha256": bo.sha256, "reward": bo.reward.describe(), "pool": config_hash(pool)}


def reuse_samples(store: Store, run: Any, manifest: dict[str, Any]) -> int:
    """Seed an empty Best-of-N run with the first N answers of each sample of the run of the
    same pool with at least N answers that holds the most samples. Returns how many."""
    mine = manifest["config"]["best_of"]
    if run.records:
        return 0
    donor: tuple[Path, dict[str, Any]] | None = None
    for folder in sorted(p.parent for p in store.root.glob("*/manifest.json")):
        if folder.resolve() == run.dir:
            continue
        try:
            other = (read_manifest(folder) or {}).get("config", {}).get("best_of") or {}
        except UserError:
            continue  # a broken neighbour is not this run's problem
        if other.get("pool") == mine["pool"] and other.get("n", 0) >= mine["n"]:
            records = store.peek(folder.name)
            if records and (donor is None or len(records) > len(donor[1])):
                donor = (folder, records)
    if donor is None:
        return 0
    for record in donor[1].values():
        run.append({**record, "outputs": record["outputs"][:mine["n"]]})
    print(f"bolt-eval: reusing the first {mine['n']} answers of {len(donor[1])} samples from {donor[0].name}",
          file=sys.stderr)
    return len(donor[1])


def choose_all(plans: list[Any], runs: list[Any], cfg: Any) -> None:
    """Score every answer with the reward model (cached) and set each plan's `choice`."""
    bo = cfg.best_of
    cache = RewardCache(Path(cfg.out) / "rewards.sqlite")
    try:
        for p, run in zip(plans, runs):
            p.choice = choose(run, p.task, [s for s in p.samples if s.id in run.records], bo, cache, cfg.progress)
    finally:
        cache.close()
        bo.reward.close()  # free a classifier before a local judge loads


def choose(run: Any, task: Any, samples: list[Sample], bo: BestOf, cache: RewardCache, progress: bool) -> Choice:
    """Each sample's answer with the highest reward (the first of equals), written to
    best_of.jsonl with all N rewards; the summary block with oracle pass@k."""
    from bolt_eval.passk import oracle_pass_at_k
    from bolt_eval.training.rewards import RewardItem

    records = [run.records[s.id] for s in samples]
    rows = _reference_rows(task) if any(c.kind == "verifier" for c in bo.reward.components) else {}
    items, keys = [], []
    for r in records:
        for k, o in enumerate(r["outputs"]):
            t = o["turns"][-1]
            ref = {"task": task.name, "row": rows[r["id"]]} if rows else None
            items.append(RewardItem(f"{r['id']}#{k}", t["prompt"], t["response"], t["finish_reason"], ref))
            keys.append(_key([bo.sha256, t["prompt"], t["response"], t["finish_reason"], ref]))
    rewards = cache.get(keys)
    todo = [i for i, key in enumerate(keys) if key not in rewards]
    if todo:
        _score(todo, items, keys, rewards, bo, cache, f"{task.name} reward", progress)
    lines, picked, failed = [], {}, []
    at = 0
    for r in records:
        got = [rewards[keys[at + k]] for k in range(len(r["outputs"]))]
        at += len(r["outputs"])
        values = [g["value"] for g in got]
        scored = [k for k, v in enumerate(values) if v is not None]
        if not scored:
            failed.append(f"{r['id']}: {got[0]['error']}")
            continue
        pick = max(scored, key=lambda k: values[k])  # max keeps the first of equal values
        picked[r["id"]] = {**r, "outputs": [r["outputs"][pick]]}
        lines.append({"id": r["id"], "pick": pick, "rewards": values,
                      **({"errors": {str(k): g["error"] for k, g in enumerate(got) if g["error"]}} if len(scored) < len(got) else {})})
    if failed:
        raise UserError(f"{task.name}: the reward model scored none of the {bo.n} answers of {len(failed)} samples, first "
                        f"{failed[0]}. Rewards that worked are cached in {cache.path}; fix the reward and re-run the same "
                        "command (no answer is generated again)")
    write_atomic(run.dir / "best_of.jsonl", "".join(json.dumps(x, sort_keys=True) + "\n" for x in lines))
    summary: dict[str, Any] = {
        "n": bo.n, "reward_sha256": bo.sha256, "reward_spec": bo.spec,
        "reward_failures": sum(len(x.get("errors", {})) for x in lines),
        "picked_reward_mean": round(sum(x["rewards"][x["pick"]] for x in lines) / len(lines), 6) if lines else None,
    }
    if (pk := oracle_pass_at_k(task.name, records)) is not None:
        summary["oracle_pass_at_k"] = pk
    return Choice(picked, summary)


def _score(todo: list[int], items: list[Any], keys: list[str], rewards: dict[str, Any], bo: BestOf,
           cache: RewardCache, desc: str, progress: bool) -> None:
    """Score the answers not in the cache, CHUNK at a time, each chunk's values cached as it ends."""
    from bolt_eval.progress import progress_bar

    bo.reward.preflight()
    bar = progress_bar(len(todo), desc, progress, "answer")
    for start in range(0, len(todo), CHUNK):
        idx = todo[start:start + CHUNK]
        for i, got in zip(idx, bo.reward.score([items[i] for i in idx])):
            rewards[keys[i]] = got.to_dict()
        cache.put({keys[i]: rewards[keys[i]] for i in idx if rewards[keys[i]]["value"] is not None})
        bar.update(len(idx))
    bar.close()


def _reference_rows(task: Any) -> dict[str, dict[str, Any]]:
    """The task's rows by sample id, as the verifier reward reads them ({"task", "row"})."""
    rows = read_jsonl(task.data) if task.data else task.official_rows()[0]
    return {task.to_sample(row, place).id: row for place, row in rows}


def _key(parts: list[Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class RewardCache:
    """Rewards by content key in one SQLite file beside the judgment ledger. Only rewards
    with a value are kept: a failure is asked again on the next run, never read back as one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path, timeout=60)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS rewards (key TEXT PRIMARY KEY, reward TEXT NOT NULL)")

    def get(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            query = f"SELECT key, reward FROM rewards WHERE key IN ({','.join('?' * len(chunk))})"
            out.update((k, json.loads(v)) for k, v in self.db.execute(query, chunk))
        return out

    def put(self, rewards: dict[str, dict[str, Any]]) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO rewards VALUES (?, ?)",
                                [(k, json.dumps(v, sort_keys=True)) for k, v in rewards.items()])

    def close(self) -> None:
        self.db.close()


def pass_table(results: list[Any]) -> str:
    """The Best-of-N block of each run: the answer kept, and oracle pass@k where the task is exact."""
    lines = []
    for r in results:
        bo = r.summary.get("best_of")
        if not bo:
            continue
        h = r.summary["headline"]
        value = f"{100 * h['mean']:.1f}%" if h.get("unit") == "%" else f"{h['mean']:.2f}"
        line = f"{r.manifest['label']} on {r.task}: Best-of-{bo['n']} by reward {bo['reward_sha256'][:12]}: {h['metric']} {value}"
        if pk := bo.get("oracle_pass_at_k"):
            line += "; oracle " + ", ".join(f"pass@{k} {100 * e['mean']:.1f} [{100 * e['lo']:.1f}, {100 * e['hi']:.1f}]"
                                            for k, e in pk["k"].items())
            line += f" ({pk['correct_field']}, unbiased estimator of Chen et al. 2021)"
        lines.append(line)
    return "\n".join(lines)
