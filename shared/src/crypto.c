#include "boussole/crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "boussole/err.h"

#define MAX_MASTER_KEYS 8
#define CACHE_SLOTS     512
#define SEAL_VERSION    0x01
#define WRAP_VERSION    'K'
#define NONCE_BYTES     crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES       crypto_aead_xchacha20poly1305_ietf_ABYTES

typedef struct master_key {
    char id[16];
    unsigned char *key; /* sodium_malloc'd, 32 bytes */
} master_key;

typedef struct cache_entry {
    char name[BSL_SCOPE_NAME_MAX];
    ev_tstamp expires;
    bsl_dek dek;
} cache_entry;

struct bsl_keyring {
    struct ev_loop *loop;
    bsl_redis *keystore;
    master_key keys[MAX_MASTER_KEYS];
    size_t n_keys;
    double cache_ttl;
    cache_entry *cache; /* sodium_malloc'd: guarded pages, never swapped when mlock works */
};

typedef struct dek_op {
    bsl_keyring *kr;
    bsl_dek_cb cb;
    void *arg;
    char bilan[64];
    char scope[32];
    char name[BSL_SCOPE_NAME_MAX];
    bool create;
    uint32_t timeout_ms;
    ev_timer later; /* for answers that need no Redis */
    int err;
    bsl_dek dek;
    unsigned char *wrapped; /* what SET NX stored, while waiting for its answer */
    size_t wrapped_len;
} dek_op;

/* ---- master keys -------------------------------------------------------------------- */

static int add_key(bsl_keyring *kr, const char *item, size_t len, char *errbuf, size_t errlen)
{
    while (len > 0 && (item[0] == ' ' || item[0] == '\n' || item[0] == '\r' || item[0] == '\t')) {
        item++, len--;
    }
    while (len > 0 && (item[len - 1] == ' ' || item[len - 1] == '\n' || item[len - 1] == '\r' ||
                       item[len - 1] == '\t')) {
        len--;
    }
    if (len == 0) {
        return BSL_OK;
    }
    const char *colon = memchr(item, ':', len);
    size_t idlen = colon ? (size_t)(colon - item) : 0;
    if (colon == NULL || idlen == 0 || idlen >= sizeof(kr->keys[0].id)) {
        snprintf(errbuf, errlen, "master key: expected id:base64key");
        return BSL_EINVAL;
    }
    for (size_t i = 0; i < idlen; i++) {
        char c = item[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-')) {
            snprintf(errbuf, errlen, "master key: the id must be [A-Za-z0-9_-]");
            return BSL_EINVAL;
        }
    }
    if (kr->n_keys == MAX_MASTER_KEYS) {
        snprintf(errbuf, errlen, "master key: at most %d keys", MAX_MASTER_KEYS);
        return BSL_EINVAL;
    }
    master_key *mk = &kr->keys[kr->n_keys];
    memcpy(mk->id, item, idlen);
    mk->id[idlen] = '\0';
    mk->key = sodium_malloc(BSL_DEK_BYTES);
    if (mk->key == NULL) {
        return BSL_ENOMEM;
    }
    size_t bin_len = 0;
    const char *b64 = colon + 1;
    size_t b64_len = len - idlen - 1;
    if (sodium_base642bin(mk->key, BSL_DEK_BYTES, b64, b64_len, NULL, &bin_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        bin_len != BSL_DEK_BYTES) {
        sodium_free(mk->key);
        mk->key = NULL;
        /* The key itself is not echoed. */
        snprintf(errbuf, errlen, "master key '%s': not the base64 of 32 bytes", mk->id);
        return BSL_EINVAL;
    }
    kr->n_keys++;
    return BSL_OK;
}

static int parse_keys(bsl_keyring *kr, const char *spec, char *errbuf, size_t errlen)
{
    char *text = NULL;
    if (spec != NULL && spec[0] == '@') {
        FILE *f = fopen(spec + 1, "r");
        if (f == NULL) {
            snprintf(errbuf, errlen, "master key file %s cannot be read", spec + 1);
            return BSL_EINVAL;
        }
        text = sodium_malloc(4096);
        size_t n = text ? fread(text, 1, 4095, f) : 0;
        fclose(f);
        if (text == NULL) {
            return BSL_ENOMEM;
        }
        text[n] = '\0';
        spec = text;
    }
    int rv = BSL_OK;
    const char *p = spec ? spec : "";
    while (rv == BSL_OK && *p != '\0') {
        size_t len = strcspn(p, ",\n");
        rv = add_key(kr, p, len, errbuf, errlen);
        p += len;
        if (*p != '\0') {
            p++;
        }
    }
    if (text != NULL) {
        sodium_free(text); /* zeroes it */
    }
    if (rv == BSL_OK && kr->n_keys == 0) {
        snprintf(errbuf, errlen, "no master key configured (--master-keys or BSL_MASTER_KEYS)");
        rv = BSL_EINVAL;
    }
    return rv;
}

int bsl_keyring_create(bsl_keyring **out, struct ev_loop *loop, const char *spec,
                       bsl_redis *keystore, uint32_t cache_ttl_ms, char *errbuf, size_t errlen)
{
    bsl_keyring *kr = calloc(1, sizeof(*kr));
    if (kr == NULL) {
        return BSL_ENOMEM;
    }
    kr->loop = loop;
    kr->keystore = keystore;
    kr->cache_ttl = cache_ttl_ms / 1e3;
    int rv = parse_keys(kr, spec, errbuf, errlen);
    if (rv == BSL_OK && cache_ttl_ms > 0) {
        kr->cache = sodium_malloc(CACHE_SLOTS * sizeof(cache_entry));
        if (kr->cache == NULL) {
            rv = BSL_ENOMEM;
        } else {
            sodium_memzero(kr->cache, CACHE_SLOTS * sizeof(cache_entry));
        }
    }
    if (rv != BSL_OK) {
        bsl_keyring_free(kr);
        return rv;
    }
    *out = kr;
    return BSL_OK;
}

void bsl_keyring_free(bsl_keyring *kr)
{
    if (kr == NULL) {
        return;
    }
    for (size_t i = 0; i < kr->n_keys; i++) {
        sodium_free(kr->keys[i].key);
    }
    if (kr->cache != NULL) {
        sodium_free(kr->cache);
    }
    free(kr);
}

void bsl_keyring_derive(const bsl_keyring *kr, uint64_t subkey_id, const char context[8],
                        unsigned char out[BSL_DEK_BYTES])
{
    crypto_kdf_derive_from_key(out, BSL_DEK_BYTES, subkey_id, context, kr->keys[0].key);
}

static const master_key *find_master(const bsl_keyring *kr, const char *id, size_t len)
{
    for (size_t i = 0; i < kr->n_keys; i++) {
        if (strlen(kr->keys[i].id) == len && memcmp(kr->keys[i].id, id, len) == 0) {
            return &kr->keys[i];
        }
    }
    return NULL;
}

/* ---- cache -------------------------------------------------------------------------- */

static size_t slot_of(const char *name)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *name != '\0'; name++) {
        h = (h ^ (unsigned char)*name) * 1099511628211ULL;
    }
    return (size_t)(h % CACHE_SLOTS);
}

static const bsl_dek *cache_get(bsl_keyring *kr, const char *name)
{
    if (kr->cache == NULL) {
        return NULL;
    }
    cache_entry *e = &kr->cache[slot_of(name)];
    if (strcmp(e->name, name) == 0 && e->expires > ev_now(kr->loop)) {
        return &e->dek;
    }
    return NULL;
}

static void cache_put(bsl_keyring *kr, const char *name, const bsl_dek *dek)
{
    if (kr->cache == NULL) {
        return;
    }
    cache_entry *e = &kr->cache[slot_of(name)];
    sodium_memzero(e, sizeof(*e));
    snprintf(e->name, sizeof(e->name), "%s", name);
    e->expires = ev_now(kr->loop) + kr->cache_ttl;
    e->dek = *dek;
}

void bsl_dek_forget(bsl_keyring *kr, const char *bilan_id, const char *scope)
{
    char name[BSL_SCOPE_NAME_MAX];
    bsl_dek_key(name, sizeof(name), bilan_id, scope);
    if (kr->cache != NULL) {
        cache_entry *e = &kr->cache[slot_of(name)];
        if (strcmp(e->name, name) == 0) {
            sodium_memzero(e, sizeof(*e));
        }
    }
}

void bsl_dek_key(char *out, size_t cap, const char *bilan_id, const char *scope)
{
    snprintf(out, cap, "dek:{%s}:%s", bilan_id, scope);
}

/* ---- wrapping ----------------------------------------------------------------------- */

/* K | idlen | id | dek id (8) | nonce (24) | key sealed (32 + 16) */
static size_t wrap(const bsl_keyring *kr, const master_key *mk, const char *name,
                   const bsl_dek *dek, unsigned char *out)
{
    size_t idlen = strlen(mk->id);
    size_t p = 0;
    out[p++] = WRAP_VERSION;
    out[p++] = (unsigned char)idlen;
    memcpy(out + p, mk->id, idlen);
    p += idlen;
    memcpy(out + p, dek->id, BSL_DEK_ID_BYTES);
    p += BSL_DEK_ID_BYTES;
    unsigned char *nonce = out + p;
    randombytes_buf(nonce, NONCE_BYTES);
    p += NONCE_BYTES;
    unsigned long long clen;
    /* The keystore key name and the DEK id are authenticated: a wrapped key moved to another
     * bilan does not unwrap. */
    char ad[BSL_SCOPE_NAME_MAX + 32];
    size_t adlen = (size_t)snprintf(ad, sizeof(ad), "%s|", name);
    memcpy(ad + adlen, dek->id, BSL_DEK_ID_BYTES);
    adlen += BSL_DEK_ID_BYTES;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + p, &clen, dek->key, BSL_DEK_BYTES,
                                               (unsigned char *)ad, adlen, NULL, nonce, mk->key);
    (void)kr;
    return p + (size_t)clen;
}

static int unwrap(const bsl_keyring *kr, const char *name, const unsigned char *in, size_t len,
                  bsl_dek *dek, const master_key **used)
{
    if (len < 2 || in[0] != WRAP_VERSION) {
        return BSL_ECRYPTO;
    }
    size_t idlen = in[1];
    size_t need = 2 + idlen + BSL_DEK_ID_BYTES + NONCE_BYTES + BSL_DEK_BYTES + TAG_BYTES;
    if (len != need) {
        return BSL_ECRYPTO;
    }
    const master_key *mk = find_master(kr, (const char *)in + 2, idlen);
    if (mk == NULL) {
        return BSL_ECRYPTO;
    }
    const unsigned char *dek_id = in + 2 + idlen;
    const unsigned char *nonce = dek_id + BSL_DEK_ID_BYTES;
    const unsigned char *ct = nonce + NONCE_BYTES;
    char ad[BSL_SCOPE_NAME_MAX + 32];
    size_t adlen = (size_t)snprintf(ad, sizeof(ad), "%s|", name);
    memcpy(ad + adlen, dek_id, BSL_DEK_ID_BYTES);
    adlen += BSL_DEK_ID_BYTES;
    unsigned long long mlen;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(dek->key, &mlen, NULL, ct,
                                                   BSL_DEK_BYTES + TAG_BYTES, (unsigned char *)ad,
                                                   adlen, nonce, mk->key) != 0 ||
        mlen != BSL_DEK_BYTES) {
        sodium_memzero(dek, sizeof(*dek));
        return BSL_ECRYPTO;
    }
    memcpy(dek->id, dek_id, BSL_DEK_ID_BYTES);
    *used = mk;
    return BSL_OK;
}

/* ---- bsl_dek_get -------------------------------------------------------------------- */

static void op_free(dek_op *op)
{
    free(op->wrapped);
    sodium_memzero(op, sizeof(*op));
    free(op);
}

static void op_answer(dek_op *op, int err)
{
    op->cb(err, err == BSL_OK ? &op->dek : NULL, op->arg);
    op_free(op);
}

static void on_later(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    dek_op *op = w->data;
    op_answer(op, op->err);
}

static void answer_later(dek_op *op, int err)
{
    op->err = err;
    ev_timer_init(&op->later, on_later, 0., 0.);
    op->later.data = op;
    ev_timer_start(op->kr->loop, &op->later);
}

static void on_get(const redisReply *reply, int err, void *arg);

static void on_set_nx(const redisReply *reply, int err, void *arg)
{
    dek_op *op = arg;
    if (err != BSL_OK) {
        op_answer(op, err);
        return;
    }
    if (reply->type == REDIS_REPLY_NIL) {
        /* Another process made the key first: use theirs. */
        sodium_memzero(&op->dek, sizeof(op->dek));
        op->create = false;
        if (bsl_redis_command(op->kr->keystore, op->timeout_ms, on_get, op, "GET %s", op->name) !=
            BSL_OK) {
            op_answer(op, BSL_ENOMEM);
        }
        return;
    }
    if (reply->type != REDIS_REPLY_STATUS) {
        op_answer(op, BSL_EIO);
        return;
    }
    cache_put(op->kr, op->name, &op->dek);
    op_answer(op, BSL_OK);
}

static void on_get(const redisReply *reply, int err, void *arg)
{
    dek_op *op = arg;
    bsl_keyring *kr = op->kr;
    if (err != BSL_OK) {
        op_answer(op, err);
        return;
    }
    if (reply->type == REDIS_REPLY_NIL) {
        if (!op->create) {
            op_answer(op, BSL_ENOTFOUND);
            return;
        }
        randombytes_buf(op->dek.key, BSL_DEK_BYTES);
        randombytes_buf(op->dek.id, BSL_DEK_ID_BYTES);
        op->wrapped = malloc(64 + BSL_DEK_BYTES + NONCE_BYTES + TAG_BYTES + BSL_DEK_ID_BYTES);
        if (op->wrapped == NULL) {
            op_answer(op, BSL_ENOMEM);
            return;
        }
        op->wrapped_len = wrap(kr, &kr->keys[0], op->name, &op->dek, op->wrapped);
        if (bsl_redis_command(kr->keystore, op->timeout_ms, on_set_nx, op, "SET %s %b NX", op->name,
                              op->wrapped, op->wrapped_len) != BSL_OK) {
            op_answer(op, BSL_ENOMEM);
        }
        return;
    }
    if (reply->type != REDIS_REPLY_STRING) {
        op_answer(op, BSL_EIO);
        return;
    }
    const master_key *used = NULL;
    int rv = unwrap(kr, op->name, (const unsigned char *)reply->str, reply->len, &op->dek, &used);
    if (rv != BSL_OK) {
        op_answer(op, rv);
        return;
    }
    if (used != &kr->keys[0]) {
        /* Wrapped by an older master key: wrap it again with the current one. If the key was
         * deleted meanwhile, XX keeps it deleted. */
        unsigned char buf[64 + BSL_DEK_BYTES + NONCE_BYTES + TAG_BYTES + BSL_DEK_ID_BYTES];
        size_t n = wrap(kr, &kr->keys[0], op->name, &op->dek, buf);
        bsl_redis_command(kr->keystore, op->timeout_ms, NULL, NULL, "SET %s %b XX", op->name, buf,
                          n);
    }
    cache_put(kr, op->name, &op->dek);
    op_answer(op, BSL_OK);
}

int bsl_dek_get(bsl_keyring *kr, const char *bilan_id, const char *scope, bool create,
                uint32_t timeout_ms, bsl_dek_cb cb, void *arg)
{
    if (strlen(bilan_id) >= 64 || strlen(scope) >= 32) {
        return BSL_EINVAL;
    }
    dek_op *op = calloc(1, sizeof(*op));
    if (op == NULL) {
        return BSL_ENOMEM;
    }
    op->kr = kr;
    op->cb = cb;
    op->arg = arg;
    op->create = create;
    op->timeout_ms = timeout_ms;
    snprintf(op->bilan, sizeof(op->bilan), "%s", bilan_id);
    snprintf(op->scope, sizeof(op->scope), "%s", scope);
    bsl_dek_key(op->name, sizeof(op->name), bilan_id, scope);
    const bsl_dek *hit = cache_get(kr, op->name);
    if (hit != NULL) {
        op->dek = *hit;
        answer_later(op, BSL_OK);
        return BSL_OK;
    }
    int rv = bsl_redis_command(kr->keystore, timeout_ms, on_get, op, "GET %s", op->name);
    if (rv != BSL_OK) {
        op_free(op);
    }
    return rv;
}

/* ---- sealing ------------------------------------------------------------------------ */

void bsl_seal(const bsl_dek *dek, const char *ad, const void *plain, size_t len, unsigned char *out)
{
    out[0] = SEAL_VERSION;
    memcpy(out + 1, dek->id, BSL_DEK_ID_BYTES);
    unsigned char *nonce = out + 1 + BSL_DEK_ID_BYTES;
    randombytes_buf(nonce, NONCE_BYTES);
    unsigned long long clen;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + 1 + BSL_DEK_ID_BYTES + NONCE_BYTES, &clen,
                                               plain, len, (const unsigned char *)ad, strlen(ad),
                                               NULL, nonce, dek->key);
}

int bsl_open(const bsl_dek *dek, const char *ad, const unsigned char *sealed, size_t len, char *out,
             size_t *out_len)
{
    if (len < BSL_SEAL_OVERHEAD || sealed[0] != SEAL_VERSION ||
        memcmp(sealed + 1, dek->id, BSL_DEK_ID_BYTES) != 0) {
        return BSL_ECRYPTO;
    }
    const unsigned char *nonce = sealed + 1 + BSL_DEK_ID_BYTES;
    const unsigned char *ct = nonce + NONCE_BYTES;
    unsigned long long mlen;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            (unsigned char *)out, &mlen, NULL, ct, len - 1 - BSL_DEK_ID_BYTES - NONCE_BYTES,
            (const unsigned char *)ad, strlen(ad), nonce, dek->key) != 0) {
        return BSL_ECRYPTO;
    }
    out[mlen] = '\0';
    *out_len = (size_t)mlen;
    return BSL_OK;
}
