/*
 * QMP commands of virtio-hballoon when it is not built in
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
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
