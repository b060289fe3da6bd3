# berth — see README.md. `make demo` sets up and runs the main job; `make test` runs every test tier.
GO      ?= go
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)
VERSION ?= 0.1.0-dev
COMMIT  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null)
LDFLAGS := -X github.com/berth/berth/internal/version.Version=$(VERSION) -X github.com/berth/berth/internal/version.Commit=$(COMMIT)
ROOTFS  := bin/busybox-rootfs.tar
# Packages whose tests run in parallel; root tests share the kernel, keep it modest.
TESTFLAGS ?= -count=1 -timeout 45m -p 2

.PHONY: all build deps rootfs test test-unit demo bench clean FORCE
all: build

build: bin/berth bin/berth-runtime bin/berth-monitor

# Static like berth-runtime (cgo for nsenter; pure-Go net and user lookups):
# every command, `berth run` included, skips the dynamic loader's start-up
# (docs/engine.md, Performance).
bin/berth: FORCE
	rm -f $@
	$(GO) build -tags netgo,osusergo -ldflags "$(LDFLAGS) -linkmode external -extldflags -static" -o $@ ./cmd/berth

# The runtime is its own lean binary (cmd/berth-runtime): runtime invocations
# and container inits skip the start-up of the whole of berth. It is linked
# statically (cgo for nsenter; pure-Go net and user lookups), so neither
# pays for the dynamic loader (docs/runtime.md, Performance).
bin/berth-runtime: FORCE
	rm -f $@
	$(GO) build -tags netgo,osusergo -ldflags "$(LDFLAGS) -linkmode external -extldflags -static" -o $@ ./cmd/berth-runtime

# The lean keeper of one running container (cmd/berth-monitor), started by berth.
# Pure Go and static: it lives as long as its container, so every page counts
# (namespace joins happen in the cgo berth-runtime it runs as the init).
bin/berth-monitor: FORCE
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $@ ./cmd/berth-monitor

deps:
	scripts/deps.sh

rootfs: $(ROOTFS)
$(ROOTFS): scripts/mkrootfs.sh
	scripts/mkrootfs.sh $@

# Every tier: unit tests always; root/kernel tests and end-to-end tests run as
# root (CI is root) and skip with a reason otherwise.
test: deps build rootfs
	BERTH_BIN=$(CURDIR)/bin/berth BERTH_ROOTFS_TAR=$(CURDIR)/$(ROOTFS) \
		gotestsum --format pkgname-and-test-fails -- $(TESTFLAGS) ./...

# Unit tests only: no root, no kernel features, no built binary.
test-unit:
	BERTH_UNIT_ONLY=1 $(GO) test -count=1 ./...

demo: deps build rootfs
	scripts/demo.sh

bench: deps build rootfs
	bench/run-all.sh

clean:
	rm -rf bin
