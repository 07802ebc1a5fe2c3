/*
 * QMP commands of virtio-hballoon when it is not built in
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-hballoon.h"

void qmp_hballoon_set_size(uint32_t node, uint64_t size, Error **errp)
{
    error_setg(errp, "virtio-hballoon is not built into this QEMU");
}

HBalloonNodeInfoList *qmp_query_hballoon(Error **errp)
{
    error_setg(errp, "virtio-hballoon is not built into this QEMU");
    return NULL;
}

HBalloonExchangeInfo *qmp_query_hballoon_exchange(Error **errp)
{
    error_setg(errp, "virtio-hballoon is not built into this QEMU");
    return NULL;
}
