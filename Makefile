.PHONY: run test bench

# Install everything and run web + worker + demo project (see README).
run:
	scripts/run.sh

# Install test needs and run the whole test suite.
test:
	scripts/test.sh

bench:
	.venv/bin/python bench/save_throughput.py
