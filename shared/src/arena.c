#include "boussole/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first chunk is inline-sized for a typical call (an envelope and a small message); later
 * chunks double, and an allocation larger than a chunk gets a chunk of its own. */
#define FIRST_CHUNK 4096
#define ALIGN       16

typedef struct chunk {
    struct chunk *next;
    size_t size;
    size_t used;
    _Alignas(ALIGN) unsigned char data[];
} chunk;

struct bsl_arena {
    chunk *head;
    size_t total;
    ProtobufCAllocator pbc;
};

static void *pbc_alloc(void *data, size_t size)
{
    return bsl_arena_alloc(data, size);
}

static void pbc_free(void *data, void *ptr)
{
    (void)data;
    (void)ptr; /* freed with the arena */
}

bsl_arena *bsl_arena_create(void)
{
    bsl_arena *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return NULL;
    }
    a->pbc.alloc = pbc_alloc;
    a->pbc.free = pbc_free;
    a->pbc.allocator_data = a;
    return a;
}

void bsl_arena_free(bsl_arena *a)
{
    if (a == NULL) {
        return;
    }
    chunk *c = a->head;
    while (c != NULL) {
        chunk *next = c->next;
        free(c);
        c = next;
    }
    free(a);
}

void *bsl_arena_alloc(bsl_arena *a, size_t size)
{
    if (size == 0) {
        size = 1;
    }
    if (size > SIZE_MAX / 2) {
        return NULL;
    }
    size_t need = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    chunk *c = a->head;
    if (c == NULL || c->size - c->used < need) {
        size_t csize = c == NULL ? FIRST_CHUNK : c->size * 2;
        if (csize < need) {
            csize = need;
        }
        chunk *n = malloc(sizeof(chunk) + csize);
        if (n == NULL) {
            return NULL;
        }
        n->size = csize;
        n->used = 0;
        /* A chunk made for one big allocation goes behind the current one, so the current
         * one's free space stays usable. */
        if (c != NULL && csize == need && c->size - c->used > 256) {
            n->next = c->next;
            c->next = n;
        } else {
            n->next = c;
            a->head = n;
        }
        c = n;
    }
    void *p = c->data + c->used;
    c->used += need;
    a->total += need;
    return p;
}

void *bsl_arena_calloc(bsl_arena *a, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size) {
        return NULL;
    }
    void *p = bsl_arena_alloc(a, n * size);
    if (p != NULL) {
        memset(p, 0, n * size);
    }
    return p;
}

char *bsl_arena_strndup(bsl_arena *a, const char *s, size_t n)
{
    char *d = bsl_arena_alloc(a, n + 1);
    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

char *bsl_arena_strdup(bsl_arena *a, const char *s)
{
    return bsl_arena_strndup(a, s, strlen(s));
}

char *bsl_arena_vprintf(bsl_arena *a, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0) {
        return NULL;
    }
    char *d = bsl_arena_alloc(a, (size_t)n + 1);
    if (d != NULL) {
        vsnprintf(d, (size_t)n + 1, fmt, ap);
    }
    return d;
}

char *bsl_arena_printf(bsl_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *d = bsl_arena_vprintf(a, fmt, ap);
    va_end(ap);
    return d;
}

size_t bsl_arena_used(const bsl_arena *a)
{
    return a->total;
}

ProtobufCAllocator *bsl_arena_allocator(bsl_arena *a)
{
    return &a->pbc;
}
