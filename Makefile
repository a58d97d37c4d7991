# Makefile: build, test and release fluxlit. The release binaries are static (CGO_ENABLED=0)
# so they run alone in a scratch container; the Containerfiles from "fluxlit build" copy
# dist/fluxlit-linux-$(TARGETARCH).

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# The platforms a release ships: the container and server targets.
RELEASE_ARCHES := amd64 arm64

.PHONY: build release test cross clean

# build: the binary for this machine, static.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o fluxlit .

# release: static Linux binaries in dist/ plus their SHA-256 sums.
release:
	mkdir -p dist
	for arch in $(RELEASE_ARCHES); do \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags "$(LDFLAGS)" \
			-o dist/fluxlit-linux-$$arch . || exit 1; \
	done
	cd dist && sha256sum $(addprefix fluxlit-linux-,$(RELEASE_ARCHES)) > sha256sums

# test: the README's test command (the race detector needs cgo, so CGO_ENABLED is not forced).
test:
	$(GO) test -race -count=1 -timeout 25m ./...

# cross: the platforms fluxlit must keep compiling on, vetted and built without cgo.
cross:
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 $(GO) vet ./...
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 $(GO) build -trimpath -o /dev/null .
	CGO_ENABLED=0 GOOS=darwin GOARCH=arm64 $(GO) vet ./...
	CGO_ENABLED=0 GOOS=darwin GOARCH=arm64 $(GO) build -trimpath -o /dev/null .

clean:
	rm -rf fluxlit dist
