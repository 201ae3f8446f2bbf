import time

import pytest
from openai_server import Fault, LoopbackServer

from bolt_eval.backends.base import BackendSpec, build_backend
from bolt_eval.types import Request, SamplingParams, UserError


def echo(body):
    return "reply to: " + body["messages"][-1]["content"]


def reqs(k, **params):
    return [Request(str(i), 0, ({"role": "user", "content": f"q{i}"},), SamplingParams(**params)) for i in range(k)]


def backend(server, **kw):
    return build_backend(BackendSpec("openai", "judge-x", base_url=server.base_url, max_retries=3, **kw))


def generate(server, requests, **kw):
    with backend(server, **kw) as b:
        return b.generate(requests)


def test_completions_tokens_and_order():
    with LoopbackServer(echo) as server:
        out = generate(server, reqs(5))
    assert [cs[0].text for cs in out] == [f"reply to: q{i}" for i in range(5)]
    assert out[0][0].prompt_tokens == 1 and out[0][0].completion_tokens == 3
    assert server.requests[0]["model"] == "judge-x" and server.requests[0]["max_tokens"] == 512


def test_n_samples_use_distinct_seeds():
    with LoopbackServer(echo) as server:
        out = generate(server, reqs(1, n=3, seed=10))
    assert len(out[0]) == 3 and sorted(r["seed"] for r in server.requests) == [10, 11, 12]


def test_retry_after_is_honoured_then_succeeds():
    with LoopbackServer(echo) as server:
        server.faults = [Fault(429, {"Retry-After": "1"}), Fault(500)]
        t0 = time.perf_counter()
        out = generate(server, reqs(1))
        elapsed = time.perf_counter() - t0
    assert out[0][0].text == "reply to: q0" and len(server.requests) == 3
    assert elapsed >= 1.0  # waited the server's Retry-After before the second try


def test_exhausted_retries_return_a_failure_not_an_answer():
    with LoopbackServer(echo) as server:
        server.faults = [Fault(503)] * 4
        out = generate(server, reqs(1))
    c = out[0][0]
    assert c.finish_reason == "error" and c.text == "" and c.error.startswith("InternalServerError")


def test_concurrency_is_bounded():
    with LoopbackServer(echo, latency_s=0.05) as server:
        generate(server, reqs(20), concurrency=4)
    assert server.max_in_flight == 4


def test_key_comes_from_the_named_environment_variable(monkeypatch):
    monkeypatch.setenv("MY_JUDGE_KEY", "sk-sentinel-123")
    with LoopbackServer(echo) as server:
        with backend(server, api_key_env="MY_JUDGE_KEY") as b:
            b.generate(reqs(1))
    assert server.auth_headers == ["Bearer sk-sentinel-123"]
    assert "sk-sentinel" not in repr(b.describe())


def test_missing_key_for_the_official_endpoint(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(UserError, match="set the environment variable OPENAI_API_KEY"):
        build_backend(BackendSpec("openai", "gpt-4o"))


def test_unreachable_endpoint_says_so():
    with build_backend(BackendSpec("openai", "m", base_url="http://127.0.0.1:9/v1", max_retries=0, timeout_s=2)) as b:
        with pytest.raises(UserError, match="is unreachable"):
            b.generate(reqs(2))


def test_the_environment_names_the_endpoint_organisation_and_project(monkeypatch):
    """What the SDK read from the environment, the backend's own HTTP client reads too."""
    with LoopbackServer(echo) as server:
        for name, value in (("OPENAI_API_KEY", "sk-env-key"), ("OPENAI_BASE_URL", server.base_url + "/"),
                            ("OPENAI_ORG_ID", "org-7"), ("OPENAI_PROJECT_ID", "proj-9")):
            monkeypatch.setenv(name, value)
        with build_backend(BackendSpec("openai", "m")) as b:
            assert b.describe()["base_url"] == server.base_url
            [[c]] = b.generate(reqs(1))
    assert c.text == "reply to: q0"
    sent = server.headers[0]
    assert (sent["authorization"], sent["openai-organization"], sent["openai-project"]) == (
        "Bearer sk-env-key", "org-7", "proj-9")
    assert sent["content-type"] == "application/json" and sent["user-agent"].startswith("bolt-eval/")


def slow_echo(body):
    """Answers take 0.3 s while faults come back at once: the client learns of a 429 well
    before the other requests of its wave end, however loaded the machine."""
    time.sleep(0.3)
    return echo(body)


def test_a_429_pauses_every_request_not_just_its_own():
    with LoopbackServer(slow_echo) as server:
        server.faults = [Fault(429, {"Retry-After": "1"})]
        out = generate(server, reqs(8), concurrency=4)
    assert [cs[0].text for cs in out] == [f"reply to: q{i}" for i in range(8)]
    t429 = server.arrivals[0]  # the first arrival got the 429
    after = [t - t429 for t in server.arrivals[1:]]
    # at most the 3 others of the first wave (already past the gate) arrive during the pause;
    # the retry and the 4 still waiting come after the server's Retry-After
    assert sum(a < 0.95 for a in after) <= 3 and sum(a >= 0.95 for a in after) >= 5
    assert len(server.requests) == 9


def test_malformed_body_and_timeout_are_retried():
    with LoopbackServer(echo) as server:
        server.faults = [Fault(200, body="{not json"), Fault(200, delay_s=1.5)]
        out = generate(server, reqs(1), timeout_s=1.0)
    assert out[0][0].text == "reply to: q0" and len(server.requests) == 3
