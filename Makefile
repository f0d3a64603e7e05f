# qsnapfs — see README.md. `make setup` once on a fresh Debian machine, then `make test`;
# `make install` (PREFIX=/usr/local, DESTDIR honoured) after `make build`.

MVN ?= mvn -B -ntp
APT_PACKAGES = qemu-utils fuse3 libfuse2 fio bc e2fsprogs util-linux python3 libnbd-bin qemu-system-common qemu-system-x86 attr openjdk-17-jdk-headless maven asciidoctor man-db systemd

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR = $(PREFIX)/bin
LIBDIR = $(PREFIX)/lib/qsnapfs
MAN1DIR = $(PREFIX)/share/man/man1
COMPLETIONDIR = $(PREFIX)/share/bash-completion/completions

.PHONY: setup deps build man test unit-test native-test bench install uninstall clean

setup: deps build

# Installs only what is missing, so a second run is quick and needs no network.
deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	else echo "system packages present"; fi

# Leaves target/qsnapfs, a launcher over the self-contained target/qsnapfs.jar; the man pages
# (target/man/man1) and the bash completion script (target/qsnapfs.bash-completion), generated from
# the commands' picocli model; and the class-data archive target/qsnapfs.jsa that makes it start
# faster (optional).
build:
	rm -rf target/man
	$(MVN) -q -DskipTests package
	install -m 0755 src/main/sh/qsnapfs target/qsnapfs
	$(MAKE) --no-print-directory man
	@src/main/sh/train-cds || echo "note: no class-data archive made; qsnapfs works, it just starts a little slower"

# The AsciiDoc man pages that the package phase generates (target/man/adoc), as roff.
man:
	@command -v asciidoctor >/dev/null || { echo "asciidoctor is missing: run make setup"; exit 1; }
	@[ -f target/man/adoc/qsnapfs.adoc ] || { echo "target/man/adoc has no man pages: run make build"; exit 1; }
	asciidoctor -b manpage -a mansource="$$(java -jar target/qsnapfs.jar --version)" -a manmanual="qsnapfs Manual" \
	    -D target/man/man1 target/man/adoc/*.adoc

test: build unit-test native-test

unit-test:
	$(MVN) test

native-test:
	native-tests/run-all

bench: build
	native-tests/bench/run-all

# What `make build` made, under $(DESTDIR)$(PREFIX). The launcher finds its jar in ../lib/qsnapfs.
# The class-data archive is valid only for the jar at the path it is dumped with, so it is dumped
# here for the installed jar; under a DESTDIR (a package being staged) that path is not the final
# one, and $(LIBDIR)/dump-cds is left to run on the target system.
install:
	@[ -f target/qsnapfs.jar ] && [ -f target/man/man1/qsnapfs.1 ] && [ -f target/qsnapfs.bash-completion ] \
	  || { echo "nothing to install: run make build first"; exit 1; }
	install -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(LIBDIR)" "$(DESTDIR)$(MAN1DIR)" "$(DESTDIR)$(COMPLETIONDIR)"
	install -m 0755 src/main/sh/qsnapfs "$(DESTDIR)$(BINDIR)/qsnapfs"
	install -m 0644 target/qsnapfs.jar "$(DESTDIR)$(LIBDIR)/qsnapfs.jar"
	install -m 0755 src/main/sh/dump-cds "$(DESTDIR)$(LIBDIR)/dump-cds"
	if [ -f target/qsnapfs.classlist ]; then install -m 0644 target/qsnapfs.classlist "$(DESTDIR)$(LIBDIR)/"; fi
	install -m 0644 target/man/man1/*.1 "$(DESTDIR)$(MAN1DIR)/"
	install -m 0644 target/qsnapfs.bash-completion "$(DESTDIR)$(COMPLETIONDIR)/qsnapfs"
	@if [ -n "$(DESTDIR)" ]; then \
	  echo "note: run $(LIBDIR)/dump-cds on the target system for a faster start (the archive is tied to the jar's path)"; \
	elif [ -f "$(LIBDIR)/qsnapfs.classlist" ]; then \
	  "$(LIBDIR)/dump-cds" || echo "note: no class-data archive made; qsnapfs works, it just starts a little slower"; \
	fi

uninstall:
	rm -f "$(DESTDIR)$(BINDIR)/qsnapfs"
	rm -f "$(DESTDIR)$(LIBDIR)/qsnapfs.jar" "$(DESTDIR)$(LIBDIR)/qsnapfs.jsa" "$(DESTDIR)$(LIBDIR)/qsnapfs.classlist" \
	    "$(DESTDIR)$(LIBDIR)/dump-cds"
	rm -f "$(DESTDIR)$(LIBDIR)"/.qsnapfs.jsa.*
	if [ -d "$(DESTDIR)$(LIBDIR)" ]; then rmdir "$(DESTDIR)$(LIBDIR)" || echo "note: $(DESTDIR)$(LIBDIR) kept: it holds files that make install did not put there"; fi
	rm -f "$(DESTDIR)$(MAN1DIR)/qsnapfs.1" "$(DESTDIR)$(MAN1DIR)"/qsnapfs-*.1
	rm -f "$(DESTDIR)$(COMPLETIONDIR)/qsnapfs"

clean:
	$(MVN) -q clean
