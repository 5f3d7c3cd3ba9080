/*
 * A per-call bump arena, after h2o's h2o_mem_pool_t: everything a call allocates (its unpacked
 * request, its reply, the strings in between) goes in one arena, freed in one call when the
 * call ends. It plugs into protobuf-c as a ProtobufCAllocator whose free is a no-op.
 *
 * An arena belongs to one thread at a time.
 */
#ifndef BOUSSOLE_ARENA_H
#define BOUSSOLE_ARENA_H

#include <stdarg.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

typedef struct bsl_arena bsl_arena;

/* A new arena; NULL when out of memory. */
bsl_arena *bsl_arena_create(void);

/* Frees the arena and everything allocated from it. NULL is accepted. */
void bsl_arena_free(bsl_arena *a);

/* size bytes aligned for any type, or NULL when out of memory. Memory is not zeroed. */
void *bsl_arena_alloc(bsl_arena *a, size_t size);

/* Zeroed memory for n objects of size bytes, or NULL (overflow or out of memory). */
void *bsl_arena_calloc(bsl_arena *a, size_t n, size_t size);

char *bsl_arena_strdup(bsl_arena *a, const char *s);
char *bsl_arena_strndup(bsl_arena *a, const char *s, size_t n);
char *bsl_arena_printf(bsl_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *bsl_arena_vprintf(bsl_arena *a, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Bytes handed out so far. */
size_t bsl_arena_used(const bsl_arena *a);

/* The arena as a protobuf-c allocator (valid as long as the arena). */
ProtobufCAllocator *bsl_arena_allocator(bsl_arena *a);

#endif /* BOUSSOLE_ARENA_H */
