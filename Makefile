# fedscore developer targets. `make test` is the test command CI runs.
.PHONY: test race fuzz bench proto sandbox console console-assets browser-deps screenshots image

test:
	go test -count=1 -timeout 15m ./...

race:
	go test -race -count=1 -timeout 20m ./...

# Short fuzzing runs of every decoder.
fuzz:
	go test -run '^$$' -fuzz FuzzUnmarshalCiphertext -fuzztime 30s -fuzzminimizetime 0 ./crypto/
	go test -run '^$$' -fuzz '^FuzzReadCSV$$' -fuzztime 30s ./dataset/
	go test -run '^$$' -fuzz '^FuzzReadCSVGB18030$$' -fuzztime 30s ./dataset/
	go test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./query/
	go test -run '^$$' -fuzz FuzzParseIdentity -fuzztime 30s ./pki/
	go test -run '^$$' -fuzz FuzzVerify -fuzztime 30s ./audit/
	go test -run '^$$' -fuzz FuzzDecodeModel -fuzztime 30s ./scoring/
	go test -run '^$$' -fuzz FuzzUnmarshalThresholdShare -fuzztime 30s -fuzzminimizetime 0 ./crypto/
	go test -run '^$$' -fuzz FuzzDecodeMark -fuzztime 30s ./policy/
	go test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 30s ./psi/wire/
	go test -run '^$$' -fuzz '^FuzzDecodeRelease$$' -fuzztime 30s ./psi/wire/
	go test -run '^$$' -fuzz '^FuzzDecodeStart$$' -fuzztime 30s ./psi/wire/
	go test -run '^$$' -fuzz '^FuzzRelayRoute$$' -fuzztime 30s ./psi/
	go test -run '^$$' -fuzz '^FuzzNormalize$$' -fuzztime 30s ./psi/ident/

bench:
	go test -run '^$$' -bench . -benchtime 20x -count 5 ./crypto/ ./node/aggregate/

proto:
	./scripts/gen-proto.sh

sandbox:
	go run ./cmd/fedscore sandbox

# The web console against a sandbox federation.
console:
	go run ./cmd/fedscore sandbox --console

# Re-vendor the console's pinned ECharts build (CI checks it is current).
console-assets:
	./scripts/console-assets.sh

# Chromium and CJK fonts for the console's browser tests.
browser-deps:
	./scripts/browser-deps.sh

# Refresh the console screenshots in docs/console from the browser test.
screenshots: browser-deps
	FEDSCORE_BROWSER_TESTS=1 FEDSCORE_SCREENSHOT_DIR=$(CURDIR)/docs/console go test -count=1 -run TestConsoleInBrowser ./console/
# The OCI image of the static binary, built without a container daemon
# (deploy/image): reproducible, non-root, an OCI layout archive.
image:
	go run ./deploy/image -o fedscore-image.tar
