"""Test sessions. `nox -s tests` is what CI and the README run."""

import nox

nox.options.sessions = ["tests"]
nox.options.default_venv_backend = "venv"


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite on the current Python (GPU tests skip without a GPU)."""
    session.install("-e", ".[test]")
    session.run("pytest", "-q", *session.posargs)


@nox.session(python=["3.10", "3.11", "3.12", "3.13"])
def tests_all(session: nox.Session) -> None:
    """The suite on every Python TensorRT-LLM users have (those present on this machine)."""
    session.install("-e", ".[test]")
    session.run("pytest", "-q", *session.posargs)
