"""seqtune's benchmarks: ``python -m benchmarks [SECTION ...]``.

Each section is one module with ``add_arguments(parser)`` and
``run(args, ctx) -> list[Figure]``; ``__main__`` runs the chosen ones in
order, prints every figure against its target and writes ``BENCHMARKS.md``.
"""
