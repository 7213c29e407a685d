// SPDX-License-Identifier: GPL-2.0
#include <string.h>

#include "mmio_bus.h"

int mmio_bus_register(struct mmio_bus *bus, struct mmio_dev *dev, struct lkvm_err *e)
{
	unsigned int i;

	if (!dev->size || dev->base + dev->size < dev->base)
		return err_set(e, "MMIO range of %s at 0x%llx is invalid", dev->dt.name,
			       (unsigned long long)dev->base);
	if (bus->nr >= MMIO_BUS_MAX_DEVS)
		return err_set(e, "too many MMIO devices (max %d)", MMIO_BUS_MAX_DEVS);
	for (i = 0; i < bus->nr; i++) {
		const struct mmio_dev *o = bus->devs[i];

		if (dev->base < o->base + o->size && o->base < dev->base + dev->size)
			return err_set(e, "MMIO range of %s at 0x%llx overlaps %s at 0x%llx",
				       dev->dt.name, (unsigned long long)dev->base, o->dt.name,
				       (unsigned long long)o->base);
	}
	bus->devs[bus->nr++] = dev;
	return 0;
}

struct mmio_dev *mmio_bus_find(const struct mmio_bus *bus, uint64_t addr, unsigned int len)
{
	unsigned int i;

	for (i = 0; i < bus->nr; i++) {
		struct mmio_dev *d = bus->devs[i];

		if (addr >= d->base && addr - d->base < d->size && len <= d->size - (addr - d->base))
			return d;
	}
	return NULL;
}

bool mmio_bus_access(const struct mmio_bus *bus, struct vcpu *vcpu, uint64_t addr, uint8_t *data,
		     unsigned int len, bool is_write)
{
	struct mmio_dev *d = mmio_bus_find(bus, addr, len);

	if (!d) {
		if (!is_write)
			memset(data, 0, len);
		return false;
	}
	if (is_write) {
		if (d->ops->write)
			d->ops->write(d, vcpu, addr - d->base, data, len);
	} else {
		memset(data, 0, len);
		if (d->ops->read)
			d->ops->read(d, vcpu, addr - d->base, data, len);
	}
	return true;
}
