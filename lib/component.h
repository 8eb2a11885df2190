/* SPDX-License-Identifier: MIT */
#ifndef CW_COMPONENT_H
#define CW_COMPONENT_H

#include <stdbool.h>

/*
 * A component is the loaded object (executable or shared object) that
 * holds a call site. Two components that consume the same child are told
 * apart by it. Async-signal-safe: the objects are read from
 * /proc/self/maps with plain reads, never from the loader (dladdr and
 * dl_iterate_phdr take its lock, which the interrupted code may hold).
 * Called with the table lock held, which guards the cache.
 *
 * A site that cannot be placed (NULL, or no mapping holds it) counts as
 * the same component as any other: the shim then keeps nothing extra.
 */
bool cw__same_component(const void *a, const void *b);

#endif
