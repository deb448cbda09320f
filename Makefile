# kg — the two commands: `make demo` (run the system) and `make test` (run every test).
.PHONY: demo up down status test bench build chaos

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

# The chaos run alone, longer than in `make test` (CHAOS_SECONDS, default 600; CHAOS_SEED replays a run).
chaos:
	@KG_CHAOS_SECONDS=$${CHAOS_SECONDS:-600} KG_CHAOS_SEED=$${CHAOS_SEED:-} scripts/test.sh --filter ChaosTests
