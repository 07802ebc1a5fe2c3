# SPDX-License-Identifier: GPL-2.0-or-later
# Devices of the hetero-tiering QEMU build (--with-devices-x86_64=hetero-tiering).
# q35 provides ACPI HMAT for the two-tier guest; i440fx is the default
# machine that the generic qtests use.
CONFIG_Q35=y
CONFIG_I440FX=y
CONFIG_SERIAL_ISA=y
CONFIG_ISA_DEBUG=y
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_SERIAL=y
CONFIG_VIRTIO_BALLOON=y
CONFIG_VIRTIO_MEM=y
CONFIG_VIRTIO_HBALLOON=y
