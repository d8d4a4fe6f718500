# fedscore developer targets. `make test` is the test command CI runs.
.PHONY: test race fuzz bench proto sandbox image

test:
	go test -count=1 -timeout 15m ./...

race:
	go test -race -count=1 -timeout 20m ./...

# Short fuzzing runs of every decoder.
fuzz:
	go test -run '^$$' -fuzz FuzzUnmarshalCiphertext -fuzztime 30s -fuzzminimizetime 0 ./crypto/
	go test -run '^$$' -fuzz FuzzReadCSV -fuzztime 30s ./node/dataset/
	go test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./internal/query/
	go test -run '^$$' -fuzz FuzzParseIdentity -fuzztime 30s ./internal/pki/
	go test -run '^$$' -fuzz FuzzVerify -fuzztime 30s ./internal/audit/
	go test -run '^$$' -fuzz FuzzDecodeModel -fuzztime 30s ./scoring/
	go test -run '^$$' -fuzz FuzzUnmarshalThresholdShare -fuzztime 30s -fuzzminimizetime 0 ./crypto/

bench:
	go test -run '^$$' -bench . -benchtime 20x -count 5 ./crypto/ ./internal/query/

proto:
	./scripts/gen-proto.sh

sandbox:
	go run ./cmd/fedscore sandbox

# The OCI image of the static binary, built without a container daemon
# (deploy/image): reproducible, non-root, an OCI layout archive.
image:
	go run ./deploy/image -o fedscore-image.tar
