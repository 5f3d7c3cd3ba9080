#include "redisreply.h"

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define SLAB_BYTES (16 * 1024)
#define ALIGN      alignof(max_align_t)

typedef struct chunk {
    struct chunk *next;
    size_t cap, used;
    alignas(max_align_t) unsigned char data[];
} chunk;

struct bsl_reply_slab {
    redisReplyObjectFunctions fns; /* what the readers call */
    chunk *base;                   /* kept from reply to reply */
    chunk *extra;                  /* for replies larger than base: released with their root */
    const void *root;              /* the reply being built or delivered, NULL when none */
};

/* Every object starts with this, so that freeObject (given the object alone) finds its slab
 * and knows whether it is a root. */
typedef struct head {
    bsl_reply_slab *slab;
    bool root;
} head;
#define HEAD_BYTES ((sizeof(head) + ALIGN - 1) / ALIGN * ALIGN)

static void *slab_alloc(bsl_reply_slab *s, size_t n)
{
    n = (n + ALIGN - 1) / ALIGN * ALIGN;
    chunk *c = s->base;
    if (c->cap - c->used < n) {
        c = s->extra;
        if (c == NULL || c->cap - c->used < n) {
            size_t cap = n > SLAB_BYTES ? n : SLAB_BYTES;
            c = malloc(sizeof(*c) + cap);
            if (c == NULL) {
                return NULL; /* hiredis reports it as out of memory */
            }
            c->cap = cap;
            c->used = 0;
            c->next = s->extra;
            s->extra = c;
        }
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

static void slab_reset(bsl_reply_slab *s)
{
    while (s->extra != NULL) {
        chunk *c = s->extra;
        s->extra = c->next;
        free(c);
    }
    s->base->used = 0;
    s->root = NULL;
}

/* A reply object (plus `extra` bytes after it) linked into its parent array, as hiredis's own
 * functions do. */
static redisReply *new_object(const redisReadTask *task, int type, size_t extra)
{
    bsl_reply_slab *s = task->privdata;
    unsigned char *p = slab_alloc(s, HEAD_BYTES + sizeof(redisReply) + extra);
    if (p == NULL) {
        return NULL;
    }
    head *h = (head *)(void *)p;
    h->slab = s;
    h->root = task->parent == NULL;
    redisReply *r = (redisReply *)(void *)(p + HEAD_BYTES);
    memset(r, 0, sizeof(*r));
    r->type = type;
    if (task->parent != NULL) {
        redisReply *parent = task->parent->obj;
        parent->element[task->idx] = r;
    } else {
        s->root = r;
    }
    return r;
}

static void *create_string(const redisReadTask *task, char *str, size_t len)
{
    redisReply *r = new_object(task, task->type, len + 1);
    if (r == NULL) {
        return NULL;
    }
    r->str = (char *)(r + 1);
    memcpy(r->str, str, len);
    r->str[len] = '\0';
    r->len = len;
    return r;
}

static void *create_array(const redisReadTask *task, int elements)
{
    size_t n = elements > 0 ? (size_t)elements : 0;
    redisReply *r = new_object(task, REDIS_REPLY_ARRAY, n * sizeof(redisReply *));
    if (r == NULL) {
        return NULL;
    }
    r->elements = n;
    if (n > 0) {
        r->element = (redisReply **)(void *)(r + 1);
        memset(r->element, 0, n * sizeof(redisReply *));
    }
    return r;
}

static void *create_integer(const redisReadTask *task, long long value)
{
    redisReply *r = new_object(task, REDIS_REPLY_INTEGER, 0);
    if (r != NULL) {
        r->integer = value;
    }
    return r;
}

static void *create_nil(const redisReadTask *task)
{
    return new_object(task, REDIS_REPLY_NIL, 0);
}

static void free_object(void *obj)
{
    if (obj == NULL) {
        return;
    }
    head *h = (head *)(void *)((unsigned char *)obj - HEAD_BYTES);
    /* Only the root of the current reply frees anything (all of it): hiredis never frees a
     * child alone. */
    if (h->root && h->slab->root == obj) {
        slab_reset(h->slab);
    }
}

bsl_reply_slab *bsl_reply_slab_create(void)
{
    bsl_reply_slab *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    s->base = malloc(sizeof(chunk) + SLAB_BYTES);
    if (s->base == NULL) {
        free(s);
        return NULL;
    }
    s->base->next = NULL;
    s->base->cap = SLAB_BYTES;
    s->base->used = 0;
    s->fns = (redisReplyObjectFunctions){ create_string, create_array, create_integer, create_nil,
                                          free_object };
    return s;
}

void bsl_reply_slab_free(bsl_reply_slab *s)
{
    if (s == NULL) {
        return;
    }
    slab_reset(s);
    free(s->base);
    free(s);
}

void bsl_reply_slab_attach(bsl_reply_slab *s, redisReader *reader)
{
    reader->fn = &s->fns;
    reader->privdata = s;
}

void bsl_reply_slab_detach(redisReader *reader)
{
    reader->reply = NULL;
}
