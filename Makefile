# kg — the two commands: `make demo` (run the system) and `make test` (run every test).
.PHONY: demo up down status test bench bench-scale build chaos

demo:
	@deploy/local/stack.sh demo

up:
	@deploy/local/stack.sh up

down:
	@deploy/local/stack.sh down

status:
	@deploy/local/stack.sh status

build:
	swift build

test:
	@scripts/test.sh

bench:
	@scripts/bench.sh

# The "many records" pair alone, its large size at 10 M concepts (about 7 GB of backup; hours on 2 cores).
bench-scale:
	@BENCH_RECORDS_ONLY=1 BENCH_RECORDS_LARGE=$${BENCH_RECORDS_LARGE:-10000000} scripts/bench.sh

# The chaos run alone, longer than in `make test` (CHAOS_SECONDS, default 600; CHAOS_SEED replays a run).
chaos:
	@KG_CHAOS_SECONDS=$${CHAOS_SECONDS:-600} KG_CHAOS_SEED=$${CHAOS_SEED:-} scripts/test.sh --filter ChaosTests
