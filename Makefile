# rwin — build, demo and test on a Debian machine with Go.
# `make demo` and `make test` install what they need (Debian packages via
# apt-get, Go modules via the module proxy) before they run.

GO      ?= go
SUDO    := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
# libpcap-dev: cgo headers for live capture and BPF filters.
BUILD_PKGS := libpcap-dev
# tests also replay captures through tshark, record in network namespaces
# (iproute2, iptables' TCPOPTSTRIP) and capture with tcpdump.
# chromium: the HTML report's browser test (headless).
TEST_PKGS  := libpcap-dev tshark tcpdump iptables iproute2 chromium
DEMO_CAPTURE ?= fixtures/captures/lab/rdp-ws-strip-syn/server.pcap

.PHONY: all build demo test check deps-build deps-test fixtures fuzz bench pgo uplot screenshots

all: build

# deps-%: install the Debian packages of that set that are missing.
deps-build deps-test: deps-%:
	@pkgs="$(if $(filter build,$*),$(BUILD_PKGS),$(TEST_PKGS))"; missing=""; \
	for p in $$pkgs; do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

build: deps-build
	$(GO) build -o rwin ./cmd/rwin

# The main job on a bundled capture.
demo: build
	./rwin read -v $(DEMO_CAPTURE)

# The full test suite: formatting, vet, then every test. Under CI=true the
# tests that need the corpus, root or namespaces run and must pass.
test: deps-test
	@bad=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$bad" ]; then echo "gofmt needed:"; echo "$$bad"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -count=1 ./...

# Re-record the lab's captures from real kernel TCP stacks into
# fixtures/captures/lab (root: network namespaces, iptables, tcpdump; about a
# minute). See fixtures/README.md.
fixtures: deps-test
	$(GO) run ./fixtures/lab -all -out fixtures/captures/lab

# The performance report quoted in README.md (about 6 minutes, most of it
# tshark): generates the benchmark and SYN-flood captures (reproducible,
# never committed) under BENCH_DIR, installs tshark and tcptrace if missing,
# and times rwin against them and against minimal gopacket-based parsers.
BENCH_DIR  ?= fixtures/bench/out
BENCH_PKGS := tshark tcptrace
bench: build
	@$(MAKE) --no-print-directory deps-test TEST_PKGS="$(BENCH_PKGS)"
	@mkdir -p $(BENCH_DIR)
	$(GO) build -o $(BENCH_DIR)/bench ./fixtures/bench
	$(BENCH_DIR)/bench -gen $(BENCH_DIR)/bench.pcap
	$(BENCH_DIR)/bench -gen-flood $(BENCH_DIR)/flood.pcap
	$(BENCH_DIR)/bench -run $(BENCH_DIR)/bench.pcap -flood $(BENCH_DIR)/flood.pcap -rwin ./rwin

# The CPU profile rwin is built with (profile-guided optimization: go build
# applies cmd/rwin/default.pgo on its own). It profiles BenchmarkRead, rwin
# read over a million packets of the benchmark capture's traffic; rerun it
# when the hot path changes, and commit the profile.
pgo: deps-build
	@mkdir -p $(BENCH_DIR)
	$(GO) test ./cmd/rwin -run '^$$' -bench '^BenchmarkRead$$' -benchtime 20x \
		-cpuprofile cmd/rwin/default.pgo -o $(BENCH_DIR)/rwin.test

# The charting library the HTML report embeds (cmd/rwin/report/uplot):
# uPlot, pinned, from the npm registry with its licence. Bump UPLOT_VERSION
# and run this to refresh it.
UPLOT_VERSION ?= 1.6.32
UPLOT_DIR     := cmd/rwin/report/uplot
uplot:
	@tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent uplot@$(UPLOT_VERSION) >/dev/null && \
	tar xzf uplot-$(UPLOT_VERSION).tgz package/LICENSE package/dist/uPlot.iife.min.js package/dist/uPlot.min.css && \
	cd - >/dev/null && cp $$tmp/package/LICENSE $$tmp/package/dist/uPlot.iife.min.js $$tmp/package/dist/uPlot.min.css $(UPLOT_DIR)/ && \
	echo $(UPLOT_VERSION) > $(UPLOT_DIR)/VERSION && rm -rf $$tmp

# The report screenshots in README.md's "Report" section, taken by headless
# Chromium from the reports of two lab recordings.
SHOT_DIR   := docs/report
SHOT_FLAGS := --headless --no-sandbox --disable-gpu --disable-background-networking \
	--disable-component-update --disable-sync --no-first-run --hide-scrollbars
screenshots: build
	@$(MAKE) --no-print-directory deps-test TEST_PKGS=chromium
	@mkdir -p $(SHOT_DIR)
	@tmp=$$(mktemp -d) && \
	for s in rdp-fw-unscaled-window/server small-rcvbuf/server; do \
		n=$$(dirname $$s) && \
		./rwin read --format html -o $$tmp/$$n.html fixtures/captures/lab/$$s.pcap && \
		chromium $(SHOT_FLAGS) --user-data-dir=$$tmp/profile --window-size=1100,1900 \
			--screenshot=$(SHOT_DIR)/$$n.png file://$$tmp/$$n.html 2>/dev/null || exit 1; \
	done; rm -rf $$tmp
