/*
 * Virtio hetero-balloon PCI device
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/virtio/virtio-pci.h"
#include "hw/virtio/virtio-hballoon.h"
#include "qapi/error.h"

#define TYPE_VIRTIO_HBALLOON_PCI "virtio-hballoon-pci-base"
OBJECT_DECLARE_SIMPLE_TYPE(VirtIOHBalloonPCI, VIRTIO_HBALLOON_PCI)

struct VirtIOHBalloonPCI {
    VirtIOPCIProxy parent_obj;
    VirtIOHBalloon vdev;
};

static void virtio_hballoon_pci_realize(VirtIOPCIProxy *vpci_dev,
                                        Error **errp)
{
    VirtIOHBalloonPCI *dev = VIRTIO_HBALLOON_PCI(vpci_dev);
    DeviceState *vdev = DEVICE(&dev->vdev);

    /* A new device: modern virtio only, no legacy layout to keep. */
    virtio_pci_force_virtio_1(vpci_dev);
    if (vpci_dev->nvectors == DEV_NVECTORS_UNSPECIFIED) {
        vpci_dev->nvectors = VIRTIO_HBALLOON_VQ_NUM + 1;
    }
    qdev_realize(vdev, BUS(&vpci_dev->bus), errp);
}

static void virtio_hballoon_pci_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    VirtioPCIClass *k = VIRTIO_PCI_CLASS(klass);
    PCIDeviceClass *pcidev_k = PCI_DEVICE_CLASS(klass);

    k->realize = virtio_hballoon_pci_realize;
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    pcidev_k->revision = VIRTIO_PCI_ABI_VERSION;
    pcidev_k->class_id = PCI_CLASS_OTHERS;
}

static void virtio_hballoon_pci_instance_init(Object *obj)
{
    VirtIOHBalloonPCI *dev = VIRTIO_HBALLOON_PCI(obj);

    virtio_instance_init_common(obj, &dev->vdev, sizeof(dev->vdev),
                                TYPE_VIRTIO_HBALLOON);
    object_property_add_alias(obj, "stats-interval", OBJECT(&dev->vdev),
                              "stats-interval");
}

static const VirtioPCIDeviceTypeInfo virtio_hballoon_pci_info = {
    .base_name = TYPE_VIRTIO_HBALLOON_PCI,
    .generic_name = "virtio-hballoon-pci",
    .instance_size = sizeof(VirtIOHBalloonPCI),
    .instance_init = virtio_hballoon_pci_instance_init,
    .class_init = virtio_hballoon_pci_class_init,
};

static void virtio_hballoon_pci_register(void)
{
    virtio_pci_types_register(&virtio_hballoon_pci_info);
}

type_init(virtio_hballoon_pci_register)
