# SPDX-License-Identifier: GPL-2.0
# hetero-tiering: tiered memory for virtual machines.
#
#   make demo      install what is missing, build, boot the two-tier guest
#   make check     build what is stale and run every test suite
#   make vm        boot the guest with a shell on the console
#   make series    export the Linux and QEMU series (git format-patch)
#   make bench     run the benchmarks (FIG=n for one) into results/<date>/
#
# Knobs: CACHE=dir (sources, build trees, ccache; default ~/.cache/hetero-tiering)
#        KCONFIG=default|debug  FMEM=1G SMEM=2G CPUS=2 ACCEL=tcg|kvm
#        SUITES="kunit topology ..." (make check)  O=dir (make series)

ifdef CACHE
export HT_CACHE := $(abspath $(CACHE))
endif
KCONFIG ?= default
export HT_KCONFIG := $(KCONFIG)
FMEM ?= 1G
SMEM ?= 2G
CPUS ?= 2
ACCEL ?= tcg
VM_ARGS = --fmem $(FMEM) --smem $(SMEM) --cpus $(CPUS) --accel $(ACCEL)

all: kernel qemu initramfs

deps:
	@scripts/deps.sh

sources: deps
	@scripts/fetch-sources.sh

kernel: deps
	@scripts/build-kernel.sh

qemu: deps
	@scripts/build-qemu.sh

guest-tools initramfs: deps
	@scripts/mkinitramfs.sh

check: all
	@tests/run.py $(SUITES)

demo: all
	@FMEM=$(FMEM) SMEM=$(SMEM) CPUS=$(CPUS) ACCEL=$(ACCEL) scripts/demo.py

vm: all
	@scripts/run-vm $(VM_ARGS) --run shell

series: deps
	@scripts/series.sh $(O)

bench: all
	@FIG=$(FIG) scripts/bench/run.py

clean:
	rm -rf "$${HT_CACHE:-$${XDG_CACHE_HOME:-$$HOME/.cache}/hetero-tiering}/out"

.PHONY: all deps sources kernel qemu guest-tools initramfs check demo vm series bench clean
