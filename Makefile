# rwin — build, demo and test on a Debian machine with Go.
# `make demo` and `make test` install what they need (Debian packages via
# apt-get, Go modules via the module proxy) before they run.

GO      ?= go
SUDO    := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
# libpcap-dev: cgo headers for live capture and BPF filters.
BUILD_PKGS := libpcap-dev
# tests also replay captures through tshark (and editcap, its companion, for
# Network Monitor files), record in network namespaces (iproute2, iptables'
# TCPOPTSTRIP), capture with tcpdump, and run the Windows build under Wine
# (wine64; mingw-w64 builds the bcryptprimitives.dll Wine 8 lacks); a real
# Prometheus scrapes rwin live --metrics, promtool checks the exposition
# and the example alert rules (prometheus), and systemd-analyze verifies
# the example unit (systemd); logrotate reads the example rotation; headless
# Chromium loads the HTML report (chromium).
TEST_PKGS  := libpcap-dev tshark tcpdump iptables iproute2 wine64 gcc-mingw-w64-x86-64-win32 \
	prometheus systemd logrotate chromium
DEMO_CAPTURE ?= fixtures/captures/lab/rdp-ws-strip-syn/server.pcap

# Release targets: built without cgo; on Windows live capture and BPF
# filters load Npcap's wpcap.dll at run time. Without cgo, Linux and macOS
# builds load libpcap at run time (purego) for BPF filters on files, which
# links the Linux binary against glibc; live capture there needs
# `make build`.
DIST_TARGETS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
DIST_DIR     ?= dist
VERSION      ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# The packages rwin ships; the lab under fixtures/ is Linux-only.
SHIPPED_PKGS := ./cmd/... ./capture/... ./analyze/... ./rules/...

.PHONY: all build install demo test check cross dist deps-build deps-test fixtures fuzz bench pgo soak stress uplot screenshots

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

# Installs the libpcap build of rwin as $(DESTDIR)$(PREFIX)/bin/rwin, so
# the README's `rwin …` command lines work as written. DESTDIR stages the
# install for a package (make install DESTDIR=pkgroot PREFIX=/usr).
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
install: build
	install -d "$(DESTDIR)$(BINDIR)"
	install -m 0755 rwin "$(DESTDIR)$(BINDIR)/rwin"

# The main job on a bundled capture.
demo: build
	./rwin read -v $(DEMO_CAPTURE)

# The full test suite: formatting, vet, go.mod and go.sum tidy (go mod
# tidy -diff prints what tidying would change and fails), then every
# test. Under CI=true the
# tests that need the corpus, root or namespaces run and must pass. The
# filter tests run again without cgo: libpcap loaded at run time must
# select the same packets.
test: deps-test
	@bad=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$bad" ]; then echo "gofmt needed:"; echo "$$bad"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff
	@$(MAKE) --no-print-directory cross
	$(GO) test -count=1 ./...
	CGO_ENABLED=0 $(GO) test -count=1 -run Filter ./capture
	@# The analyzer's pipeline and shards and the diff's passes run on
	@# several goroutines: their tests run again under the race detector.
	$(GO) test -race -count=1 ./analyze/...

# Every release target builds, and go vet passes for each GOOS (also on
# the tests), without cgo. The linux/amd64 vet also checks the cgo-free
# variant of the capture package.
cross:
	@for t in $(DIST_TARGETS); do os=$${t%/*}; arch=$${t#*/}; \
		echo "cross: $$t"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -o /dev/null ./cmd/rwin || exit 1; \
		if [ "$$arch" = amd64 ]; then CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) vet $(SHIPPED_PKGS) || exit 1; fi; \
	done

# Release archives under DIST_DIR: per target rwin-VERSION-OS-ARCH.tar.gz
# (.zip for Windows) holding the binary, README.md and LICENSE (when the
# repository has one), and SHA256SUMS over the archives. A Makefile rather
# than goreleaser: one binary, six targets, no cgo, and nothing to install
# beyond Go, tar and zip.
dist:
	@command -v zip >/dev/null || $(MAKE) --no-print-directory deps-test TEST_PKGS=zip
	@rm -rf $(DIST_DIR) && mkdir -p $(DIST_DIR)
	@for t in $(DIST_TARGETS); do os=$${t%/*}; arch=$${t#*/}; \
		name=rwin-$(VERSION)-$$os-$$arch; dir=$(DIST_DIR)/$$name; exe=rwin; \
		[ $$os = windows ] && exe=rwin.exe; \
		mkdir -p $$dir && cp README.md $$dir/ && { [ ! -f LICENSE ] || cp LICENSE $$dir/; }; \
		echo "dist: $$name"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "-s -w" -o $$dir/$$exe ./cmd/rwin || exit 1; \
		if [ $$os = windows ]; then (cd $(DIST_DIR) && zip -qr $$name.zip $$name); \
		else tar -C $(DIST_DIR) -czf $(DIST_DIR)/$$name.tar.gz $$name; fi; \
		rm -rf $$dir; \
	done
	@cd $(DIST_DIR) && sha256sum rwin-* > SHA256SUMS && cat SHA256SUMS

# Re-record the lab's captures from real kernel TCP stacks into
# fixtures/captures/lab (root: network namespaces, iptables, tcpdump; about a
# minute). See fixtures/README.md.
fixtures: deps-test
	$(GO) run ./fixtures/lab -all -out fixtures/captures/lab

# The performance report quoted in README.md (about 6 minutes, most of it
# tshark): generates the benchmark and SYN-flood captures (reproducible,
# never committed) under BENCH_DIR, and a second capture of the benchmark
# traffic past a NAT for rwin diff; installs tshark and tcptrace if
# missing, and times rwin against them and against minimal gopacket-based
# parsers, and rwin diff against rwin read on the pair.
#
# BEFORE_REV=<git revision> (or BEFORE=<rwin binary>) also times rwin as
# built from that revision against this build, in turns on the same
# capture, and says whether their outputs are the same: a change's cost
# as ratios of one run.
BENCH_DIR  ?= fixtures/bench/out
BENCH_PKGS := tshark tcptrace
ifneq ($(BEFORE_REV),)
BEFORE ?= $(BENCH_DIR)/rwin-$(BEFORE_REV)
endif
bench: build $(BEFORE)
	@$(MAKE) --no-print-directory deps-test TEST_PKGS="$(BENCH_PKGS)"
	@mkdir -p $(BENCH_DIR)
	$(GO) build -o $(BENCH_DIR)/bench ./fixtures/bench
	$(BENCH_DIR)/bench -gen $(BENCH_DIR)/bench.pcap
	$(BENCH_DIR)/bench -gen-pair $(BENCH_DIR)/bench-b.pcap
	$(BENCH_DIR)/bench -gen-flood $(BENCH_DIR)/flood.pcap
	$(BENCH_DIR)/bench -run $(BENCH_DIR)/bench.pcap -pair $(BENCH_DIR)/bench-b.pcap -flood $(BENCH_DIR)/flood.pcap -rwin ./rwin \
		$(if $(BEFORE),-before $(BEFORE))

# rwin as built from an earlier revision, for make bench BEFORE_REV=….
$(BENCH_DIR)/rwin-%:
	@mkdir -p $(BENCH_DIR)
	rm -rf $(BENCH_DIR)/src-$*
	mkdir -p $(BENCH_DIR)/src-$* && git archive $* | tar -x -C $(BENCH_DIR)/src-$*
	cd $(BENCH_DIR)/src-$* && $(GO) build -o $(CURDIR)/$@ ./cmd/rwin
	rm -rf $(BENCH_DIR)/src-$*

# rwin on multi-million-flow captures (not part of make test; a few
# minutes): generates a 3-million-SYN flood (STRESS_SYNS) and a smaller
# one to diff against itself under BENCH_DIR, runs read in every format
# and diff under /usr/bin/time, and fails when a peak RSS exceeds the
# bound README.md documents ("Reliability").
stress: build
	@$(MAKE) --no-print-directory deps-test TEST_PKGS=time
	@mkdir -p $(BENCH_DIR)
	$(GO) build -o $(BENCH_DIR)/bench ./fixtures/bench
	fixtures/bench/stress.sh ./rwin $(BENCH_DIR)/bench $(BENCH_DIR)/stress

# Every fuzz target for FUZZTIME each. The fuzzer minimizes each input
# that finds new code before going on; -fuzzminimizetime bounds that, or
# a target with kilobyte inputs spends its time minimizing.
FUZZTIME ?= 30s
fuzz: deps-build
	@for pkg in ./capture ./analyze ./analyze/pathdiff ./rules ./cmd/rwin ./cmd/rwin/report ./fixtures/lab; do \
		for t in $$($(GO) test $$pkg -list '^Fuzz' | grep '^Fuzz'); do \
			echo "== $$pkg $$t"; \
			$(GO) test $$pkg -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 100x || exit 1; \
		done; \
	done

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
# and rerun to refresh it.
UPLOT_VERSION ?= 1.6.32
UPLOT_DIR     := cmd/rwin/report/uplot
uplot:
	@tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent uplot@$(UPLOT_VERSION) >/dev/null && \
	tar xzf uplot-$(UPLOT_VERSION).tgz package/LICENSE package/dist/uPlot.iife.min.js package/dist/uPlot.min.css && \
	cd - >/dev/null && cp $$tmp/package/LICENSE $$tmp/package/dist/uPlot.iife.min.js $$tmp/package/dist/uPlot.min.css $(UPLOT_DIR)/ && \
	echo $(UPLOT_VERSION) > $(UPLOT_DIR)/VERSION && rm -rf $$tmp

# The report screenshots in README.md's "Report" section, taken by headless
# Chromium: rwin read's reports of two lab recordings, and rwin diff's of
# the RDP firewall recorded at both ends.
SHOT_DIR   := cmd/rwin/report/screenshots
SHOT_FLAGS := --headless --no-sandbox --disable-gpu --disable-background-networking \
	--disable-component-update --disable-sync --no-first-run --hide-scrollbars
screenshots: build
	@$(MAKE) --no-print-directory deps-test TEST_PKGS=chromium
	@mkdir -p $(SHOT_DIR)
	@tmp=$$(mktemp -d) && lab=fixtures/captures/lab && \
	for s in rdp-fw-unscaled-window/server small-rcvbuf/server; do \
		n=$$(dirname $$s) && \
		./rwin read --format html -o $$tmp/$$n.html $$lab/$$s.pcap && \
		chromium $(SHOT_FLAGS) --user-data-dir=$$tmp/profile --window-size=1100,1900 \
			--screenshot=$(SHOT_DIR)/$$n.png file://$$tmp/$$n.html 2>/dev/null || exit 1; \
	done && \
	./rwin diff --format html -o $$tmp/diff.html $$lab/rdp-fw-unscaled-window/client.pcap $$lab/rdp-fw-unscaled-window/server.pcap && \
	chromium $(SHOT_FLAGS) --user-data-dir=$$tmp/profile --window-size=1100,2600 \
		--screenshot=$(SHOT_DIR)/diff-rdp-fw-unscaled-window.png file://$$tmp/diff.html 2>/dev/null; \
	status=$$?; rm -rf $$tmp; exit $$status

# The long-running check of rwin live as a service (README: rwin live as a
# service): at least 10 minutes of sustained traffic through network
# namespaces, rwin live with -o, --metrics and -Z, the -o file rotated
# every minute; RSS, goroutines and open files sampled every 10 s must stay
# flat, and every flow must be in the files. Root; not part of make test.
SOAK_DURATION ?= 10m
soak: build
	@$(MAKE) --no-print-directory deps-test TEST_PKGS="iproute2 iptables"
	$(GO) run ./fixtures/soak -duration $(SOAK_DURATION) -rwin ./rwin
