#!/usr/bin/env python3
"""Validate rules/vocab/*.toml files: schema, regexes, examples, cause ids (for rule authors).

    python3 tools/check_vocab.py rules/vocab/cuda-runtime.toml [more files]
    python3 tools/check_vocab.py            # every file in rules/vocab/

Exit 0 when every file is valid, 1 otherwise (one line per problem). It runs the package's own
validation (doctor.explain.vocab.parse_vocabulary), the same that explain applies when it loads them.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from doctor.explain.vocab import parse_vocabulary  # noqa: E402
from doctor.kb import KB, tomllib  # noqa: E402


def main(argv: list[str]) -> int:
    files = [Path(a) for a in argv] or sorted((ROOT / "rules" / "vocab").glob("*.toml"))
    causes = set(KB(ROOT / "rules").causes)
    bad = 0
    for f in files:
        errors: list[str] = []
        try:
            data = tomllib.loads(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            errors.append(f"{f}: cannot parse: {exc}")
        else:
            parse_vocabulary(data, f, causes, errors)
        for e in errors:
            print(e)
        bad += bool(errors)
        if not errors:
            print(f"{f}: ok")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
