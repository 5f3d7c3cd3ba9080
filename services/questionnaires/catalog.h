/*
 * The instruments the service knows: the built-ins, loaded from data files at start-up and
 * kept for the life of the process, and a bounded cache of the versions of counselors'
 * instruments read from Redis (a version never changes, so caching it is always correct, on
 * any replica).
 */
#ifndef QN_CATALOG_H
#define QN_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "instrument.h"

#define QN_CACHE_SLOTS 128

typedef struct qn_catalog {
    qn_instrument **builtins; /* sorted by id, then version */
    size_t n_builtins;
    qn_instrument *cache[QN_CACHE_SLOTS]; /* one reference each */
    size_t cache_next;                    /* the slot the next insertion replaces */
} qn_catalog;

/*
 * Loads every "*.json" of <dir>/instruments (in name order). A file that does not load stops
 * the load: BSL_EINVAL with the file and the part that is wrong in errbuf. Built-in ids are
 * short names, never of the shape of generated ids, and (id, version) pairs are unique.
 */
int qn_catalog_load(const char *dir, qn_catalog **out, char *errbuf, size_t errlen);
void qn_catalog_free(qn_catalog *cat);

/* A built-in by id and version (0: the latest), borrowed (built-ins live as long as the
 * catalogue); NULL when there is none. */
qn_instrument *qn_catalog_builtin(const qn_catalog *cat, const char *id, uint32_t version);

/* True when `id` names a built-in instrument. */
int qn_catalog_is_builtin(const qn_catalog *cat, const char *id);

/* A cached version of a counselor's instrument with a new reference, or NULL. */
qn_instrument *qn_catalog_cached(qn_catalog *cat, const char *id, uint32_t version);

/* Adds a compiled version to the cache; the cache takes its own reference. */
void qn_catalog_put(qn_catalog *cat, qn_instrument *ins);

#endif
