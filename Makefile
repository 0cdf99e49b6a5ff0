# Conveniences over dev.py (which needs nothing but Python). `make bench ARGS="--quick --json"`
.PHONY: run test lint fix eval bench
run:
	python3 dev.py run
test:
	python3 dev.py test
lint:
	python3 dev.py lint
fix:
	python3 dev.py fix
eval:
	python3 dev.py eval
bench:
	python3 dev.py bench $(ARGS)
