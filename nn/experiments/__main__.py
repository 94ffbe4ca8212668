"""``python -m nn.experiments NAME [--out DIR] [--quick] [--seed S] [--no-plot]``."""

from __future__ import annotations

import argparse
import os
import sys
import time

from . import NAMES, get
from ._common import single_threaded_blas


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nn.experiments",
        description="Run one of the lecture's experiments: print its table, save its plot.")
    parser.add_argument("name", choices=[*NAMES, "all"], help="the experiment (or all of them)")
    parser.add_argument("--out", default="experiments_out",
                        help="folder for the PNG plots (default: ./experiments_out)")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and budgets: each experiment in seconds")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw")
    parser.add_argument("--no-plot", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    names = NAMES if args.name == "all" else (args.name,)
    with single_threaded_blas():
        for name in names:
            _run_one(name, args)
    return 0


def _run_one(name: str, args: argparse.Namespace) -> None:
    """Run experiment `name`, print its report, save its plot under ``args.out``."""
    module = get(name)
    t0 = time.perf_counter()
    result = module.run(quick=args.quick, seed=args.seed)
    print(result.report())
    if not args.no_plot:
        path = module.plot(result, os.path.join(args.out, f"{name}.png"))
        print(f"plot: {path}")
    print(f"[{name}: {time.perf_counter() - t0:.1f} s]\n", flush=True)


if __name__ == "__main__":
    sys.exit(main())
