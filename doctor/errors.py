"""Exit codes and the exception types that mean "the user gave us bad input" (or nowhere to write)."""

OK = 0
FINDINGS = 1  # at least one finding at or above the failing severity
USAGE = 2  # bad arguments or unreadable/corrupt input
INTERNAL = 3  # a bug in trtllm-doctor
INTERRUPTED = 130  # SIGINT (Ctrl-C)
TERMINATED = 143  # SIGTERM (Slurm scancel, Kubernetes), as a shell reports a process killed by it

ISSUES_URL = "https://github.com/trtllm-doctor/trtllm-doctor/issues"


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


class OutputError(UsageError):
    """The report cannot be written (stdout closed, full disk): one line, exit code 2."""


class PipeClosed(Exception):
    """stdout's reader went away (``| head``): not an error of ours; the run ends quietly, exit 0."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would raise KeyboardInterrupt, so that the same cleanup runs
    (self-test tiers killed with their process groups, temporary directories removed); exit 143."""
