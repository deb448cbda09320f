# kg — the two commands: `make demo` (run the system) and `make test` (run every test).
.PHONY: demo up down status test lint bench bench-scale build chaos cluster

# `make up BROKER_NODES=3`: the local stack on a 3-node RabbitMQ cluster (quorum job queue).
BROKER_NODES ?= 1

demo:
	@deploy/local/stack.sh demo

up:
	@KG_BROKER_NODES=$(BROKER_NODES) deploy/local/stack.sh up

down:
	@deploy/local/stack.sh down

status:
	@deploy/local/stack.sh status

build:
	swift build

test:
	@scripts/test.sh

# `swift format lint --strict` over Package.swift, Sources and Tests (the first step of
# `make test`); `scripts/lint.sh --fix` formats them.
lint:
	@scripts/lint.sh

bench:
	@scripts/bench.sh

# The "many records" pair alone, its large size at 10 M concepts (a 15.5 GB backup, ~70 GB of disk,
# about two hours on 2 cores); restores go onto an emptied graph, and only the small size restores the
# data-first file (docs/BENCHMARKS.md "10 M concepts").
bench-scale:
	@BENCH_RECORDS_ONLY=1 BENCH_RECORDS_LARGE=$${BENCH_RECORDS_LARGE:-10000000} BENCH_RECORDS_DATAFIRST_RESTORE=$${BENCH_RECORDS_DATAFIRST_RESTORE:-small} BENCH_RECORDS_RESTORE_ONTO=$${BENCH_RECORDS_RESTORE_ONTO:-empty} scripts/bench.sh

# The chaos run alone, longer than in `make test` (CHAOS_SECONDS, default 600; CHAOS_SEED replays a run).
chaos:
	@KG_CHAOS_SECONDS=$${CHAOS_SECONDS:-600} KG_CHAOS_SEED=$${CHAOS_SEED:-} scripts/test.sh --filter ChaosTests

# The cluster tests that kill RabbitMQ nodes under queued jobs, restart all three and take the
# majority away (`make test` runs only the compact one: starting Erlang nodes takes a while).
cluster:
	@KG_CLUSTER_TESTS=1 scripts/test.sh --filter ClusterTests
