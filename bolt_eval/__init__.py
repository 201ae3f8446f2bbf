"""bolt-eval: an evaluation harness for long chain-of-thought models.

Kept import-free on purpose: `bolt-eval --help` must not pay for torch.
"""

__version__ = "0.1.0"
