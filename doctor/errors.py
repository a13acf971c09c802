"""Exit codes and the one exception type that means "the user gave us bad input"."""

OK = 0
FINDINGS = 1  # at least one finding at or above the failing severity
USAGE = 2  # bad arguments or unreadable/corrupt input
INTERNAL = 3  # a bug in trtllm-doctor
INTERRUPTED = 130

ISSUES_URL = "https://github.com/trtllm-doctor/trtllm-doctor/issues"


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""
