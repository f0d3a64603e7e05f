# qsnapfs — see README.md. `make setup` once on a fresh Debian machine, then `make test`.

MVN ?= mvn -B -ntp
APT_PACKAGES = qemu-utils fuse3 libfuse2 fio bc e2fsprogs util-linux python3 libnbd-bin qemu-system-common qemu-system-x86 attr openjdk-17-jdk-headless maven

.PHONY: setup deps build test unit-test native-test bench clean

setup: deps build

# Installs only what is missing, so a second run is quick and needs no network.
deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	else echo "system packages present"; fi

# Leaves target/qsnapfs, a launcher over the self-contained target/qsnapfs.jar, and the
# class-data archive target/qsnapfs.jsa that makes it start faster (optional).
build:
	$(MVN) -q -DskipTests package
	install -m 0755 src/main/sh/qsnapfs target/qsnapfs
	@src/main/sh/train-cds || echo "note: no class-data archive made; qsnapfs works, it just starts a little slower"

test: build unit-test native-test

unit-test:
	$(MVN) test

native-test:
	native-tests/run-all

bench: build
	native-tests/bench/run-all

clean:
	$(MVN) -q clean
