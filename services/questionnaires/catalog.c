/* The built-in instruments and the cache of counselors' instrument versions. */
#include "catalog.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boussole/err.h"
#include "boussole/id.h"

#define QN_MAX_BUILTIN_FILES 64

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_builtin(const void *a, const void *b)
{
    const qn_instrument *x = *(qn_instrument *const *)a, *y = *(qn_instrument *const *)b;
    int c = strcmp(x->def->id, y->def->id);
    if (c != 0) {
        return c;
    }
    return (x->def->version > y->def->version) - (x->def->version < y->def->version);
}

void qn_catalog_free(qn_catalog *cat)
{
    if (cat == NULL) {
        return;
    }
    for (size_t i = 0; i < cat->n_builtins; i++) {
        qn_instrument_unref(cat->builtins[i]);
    }
    free(cat->builtins);
    for (size_t i = 0; i < QN_CACHE_SLOTS; i++) {
        qn_instrument_unref(cat->cache[i]);
    }
    free(cat);
}

int qn_catalog_load(const char *dir, qn_catalog **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    char path[1024];
    snprintf(path, sizeof(path), "%s/instruments", dir);
    DIR *d = opendir(path);
    if (d == NULL) {
        snprintf(errbuf, errlen, "%s: cannot open the instruments directory", path);
        return BSL_EIO;
    }
    char *names[QN_MAX_BUILTIN_FILES];
    size_t n = 0;
    int rv = BSL_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || e->d_name[0] == '.' || strcmp(e->d_name + len - 5, ".json") != 0) {
            continue;
        }
        if (n == QN_MAX_BUILTIN_FILES) {
            snprintf(errbuf, errlen, "%s: more than %d instrument files", path,
                     QN_MAX_BUILTIN_FILES);
            rv = BSL_EINVAL;
            break;
        }
        if ((names[n] = strdup(e->d_name)) == NULL) {
            rv = BSL_ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof(char *), cmp_name);
    qn_catalog *cat = calloc(1, sizeof(*cat));
    if (cat == NULL || (cat->builtins = calloc(n ? n : 1, sizeof(qn_instrument *))) == NULL) {
        rv = BSL_ENOMEM;
    }
    for (size_t i = 0; rv == BSL_OK && i < n; i++) {
        char file[1400];
        snprintf(file, sizeof(file), "%s/%s", path, names[i]);
        qn_instrument *ins;
        rv = qn_instrument_load_json(file, &ins, errbuf, errlen);
        if (rv != BSL_OK) {
            break;
        }
        if (bsl_id_valid(ins->def->id)) {
            snprintf(errbuf, errlen, "%s: id: a built-in id must not look like a generated id",
                     file);
            qn_instrument_unref(ins);
            rv = BSL_EINVAL;
            break;
        }
        for (size_t k = 0; k < cat->n_builtins; k++) {
            if (strcmp(cat->builtins[k]->def->id, ins->def->id) == 0 &&
                cat->builtins[k]->def->version == ins->def->version) {
                snprintf(errbuf, errlen, "%s: id: \"%s\" version %u is defined twice", file,
                         ins->def->id, ins->def->version);
                qn_instrument_unref(ins);
                rv = BSL_EINVAL;
                break;
            }
        }
        if (rv == BSL_OK) {
            cat->builtins[cat->n_builtins++] = ins;
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    if (rv == BSL_OK && cat->n_builtins == 0) {
        snprintf(errbuf, errlen, "%s: no instrument file (*.json)", path);
        rv = BSL_EINVAL;
    }
    if (rv != BSL_OK) {
        if (rv == BSL_ENOMEM) {
            snprintf(errbuf, errlen, "loading instruments: out of memory");
        }
        qn_catalog_free(cat);
        return rv;
    }
    qsort(cat->builtins, cat->n_builtins, sizeof(qn_instrument *), cmp_builtin);
    *out = cat;
    return BSL_OK;
}

qn_instrument *qn_catalog_builtin(const qn_catalog *cat, const char *id, uint32_t version)
{
    qn_instrument *found = NULL;
    for (size_t i = 0; i < cat->n_builtins; i++) {
        qn_instrument *ins = cat->builtins[i];
        if (strcmp(ins->def->id, id) == 0 && (version == 0 || ins->def->version == version)) {
            found = ins; /* sorted by version: the last match is the latest */
        }
    }
    return found;
}

int qn_catalog_is_builtin(const qn_catalog *cat, const char *id)
{
    return qn_catalog_builtin(cat, id, 0) != NULL;
}

qn_instrument *qn_catalog_cached(qn_catalog *cat, const char *id, uint32_t version)
{
    for (size_t i = 0; i < QN_CACHE_SLOTS; i++) {
        qn_instrument *ins = cat->cache[i];
        if (ins != NULL && ins->def->version == version && strcmp(ins->def->id, id) == 0) {
            qn_instrument_ref(ins);
            return ins;
        }
    }
    return NULL;
}

void qn_catalog_put(qn_catalog *cat, qn_instrument *ins)
{
    for (size_t i = 0; i < QN_CACHE_SLOTS; i++) {
        if (cat->cache[i] == ins) {
            return;
        }
    }
    qn_instrument_ref(ins);
    /* Round-robin replacement: calls holding the evicted version keep their own reference. */
    qn_instrument_unref(cat->cache[cat->cache_next]);
    cat->cache[cat->cache_next] = ins;
    cat->cache_next = (cat->cache_next + 1) % QN_CACHE_SLOTS;
}
