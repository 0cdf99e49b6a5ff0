"""The benchmark: medians and percentiles of g21bot against baselines measured in the same
run. Run from the checkout's root: ``python3 dev.py bench [--quick] [--json] [--plot PATH]``
(or ``python -m bench``); not part of the installed package, and nothing here is a pytest
test.

Parts: ``answer_path`` (the answer path and the raw cost of its parts), ``peer`` (a plain
LangChain BM25 retriever on the same questions), ``scale`` (synthetic corpora, embedded
Chroma and a ``chroma run`` server, each size in a fresh process), ``throughput`` (the real
python-telegram-bot stack against the local Bot API stand-in), ``coldstart`` (process start
to the first answer). ``run`` puts them together."""
