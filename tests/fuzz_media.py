"""Seeded mutation fuzzing of the analysis of real media files (run by tests/test_fuzz.py in its own process).

Each mutation of a seed file (bytes flipped, a header field overwritten, cut short, a region zeroed or repeated)
is analysed by one Analyzer. The only acceptable outcomes are a schema-valid, NaN-free result or an InputError;
prints one JSON summary: outcome counts, failures, slowest file, peak memory.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import time
from pathlib import Path

import numpy as np

PYTHON_INTERNALS = re.compile(r"index out of range|has no attribute|NoneType|codec can't decode|Traceback|"
                              r"unsupported operand|not subscriptable|division by zero|object is not")
"""Phrases of Python's own exceptions: an error message showing one was not written for a person."""


def mutate(data: bytes, rng: np.random.Generator) -> tuple[str, bytes]:
    """One random mutation of ``data`` and its name."""
    buf = bytearray(data)
    kind = rng.choice(["flip", "header", "truncate", "zero", "repeat", "int"])
    if kind == "flip":
        for pos in rng.integers(0, len(buf), rng.integers(1, 32)):
            buf[pos] ^= 1 << int(rng.integers(0, 8))
    elif kind == "header":  # random bytes inside the first 256: sizes, rates, durations, codec ids
        for pos in rng.integers(0, min(256, len(buf)), rng.integers(1, 8)):
            buf[pos] = int(rng.integers(0, 256))
    elif kind == "int":  # an extreme 32-bit value where a header field may be
        pos = int(rng.integers(0, max(1, min(512, len(buf) - 4))))
        value = int(rng.choice([0, 1, 0x7FFFFFFF, 0xFFFFFFFF, 0x10000, 2**31 + 7]))
        buf[pos:pos + 4] = value.to_bytes(4, rng.choice(["little", "big"]))
    elif kind == "truncate":
        buf = buf[:int(rng.integers(1, len(buf)))]
    elif kind == "zero":
        start = int(rng.integers(0, len(buf)))
        buf[start:start + int(rng.integers(1, 4096))] = bytes(min(len(buf) - start, 4096))
    else:
        start = int(rng.integers(0, len(buf)))
        chunk = buf[start:start + int(rng.integers(1, 2048))]
        buf[start:start] = chunk * int(rng.integers(1, 8))
    return str(kind), bytes(buf)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("seeds", nargs="+", type=Path)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import jsonschema

    from emofuse.errors import InputError
    from emofuse.pipeline import Analyzer, AnalyzerConfig
    from emofuse.results import result_schema

    schema = result_schema()
    analyzer = Analyzer(AnalyzerConfig(detector="haar"))
    rng = np.random.default_rng(args.seed)
    originals = [(p.suffix, p.read_bytes()) for p in args.seeds]
    counts = {"result": 0, "input_error": 0}
    failures, slowest = [], (0.0, "")
    args.work.mkdir(parents=True, exist_ok=True)
    for i in range(args.count):
        suffix, data = originals[i % len(originals)]
        kind, mutated = mutate(data, rng)
        path = args.work / f"m{i:04d}_{kind}{suffix}"
        path.write_bytes(mutated)
        start = time.perf_counter()
        try:
            result = analyzer.analyze(path).to_dict()
            jsonschema.validate(json.loads(json.dumps(result, allow_nan=False)), schema)
            counts["result"] += 1
        except InputError as exc:
            counts["input_error"] += 1
            if PYTHON_INTERNALS.search(str(exc)):
                failures.append(f"{path.name}: message not in our words: {exc}")
        except Exception as exc:  # noqa: BLE001 - this is what the fuzzer looks for
            failures.append(f"{path.name}: {type(exc).__name__}: {str(exc)[:200]}")
        elapsed = time.perf_counter() - start
        slowest = max(slowest, (elapsed, path.name))
        path.unlink()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    json.dump({"counts": counts, "failures": failures, "slowest_s": slowest[0], "slowest": slowest[1],
               "peak_rss_mb": peak_mb}, sys.stdout)


if __name__ == "__main__":
    main()
