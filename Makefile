# kg — the two commands: `make demo` (run the system) and `make test` (run every test).
.PHONY: demo up down status test bench build

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
