"""``python -m doctor``: the same entry point as the ``trtllm-doctor`` console script."""

import sys

from doctor.cli import main

if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # one that arrived while runpy was still setting up, before main's handlers
        sys.stderr.write("trtllm-doctor: interrupted\n")
        sys.exit(130)
