/* The stored synthesis: the header hash, revision metadata, sealing and opening, and the
 * Synthesis message built from them. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "boussole/err.h"
#include "boussole/pbutil.h"
#include "syntheses.h"

bool syn_parse_u64(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 19) {
        return false;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

int64_t syn_str_i64(const char *s)
{
    return s == NULL ? 0 : strtoll(s, NULL, 10);
}

void syn_ad(char *out, size_t cap, const char *bilan_id, const char *what)
{
    snprintf(out, cap, "%s/syntheses/%s", bilan_id, what);
}

/* ---- the header -------------------------------------------------------------------------- */

static uint64_t u64_of(const redisReply *v)
{
    uint64_t x = 0;
    return syn_parse_u64(v->str, v->len, &x) ? x : 0;
}

bool syn_header_parse(bsl_arena *a, const redisReply *hash, syn_header *h)
{
    memset(h, 0, sizeof(*h));
    h->id = h->beneficiary = h->counselor = h->organisation = "";
    for (unsigned k = 0; k <= SYN_MAX_VERSIONS; k++) {
        h->versions[k].approved_by = "";
        h->versions[k].corrected_by = "";
    }
    if (hash == NULL || hash->type != REDIS_REPLY_ARRAY || hash->elements < 2 ||
        hash->elements % 2 != 0) {
        return false;
    }
    for (size_t i = 0; i + 1 < hash->elements; i += 2) {
        const redisReply *k = hash->element[i], *v = hash->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
            return false;
        }
        const char *name = k->str;
        if (strcmp(name, "id") == 0) {
            h->id = bsl_arena_strndup(a, v->str, v->len);
        } else if (strcmp(name, "beneficiary") == 0) {
            h->beneficiary = bsl_arena_strndup(a, v->str, v->len);
        } else if (strcmp(name, "counselor") == 0) {
            h->counselor = bsl_arena_strndup(a, v->str, v->len);
        } else if (strcmp(name, "organisation") == 0) {
            h->organisation = bsl_arena_strndup(a, v->str, v->len);
        } else if (strcmp(name, "version") == 0) {
            h->version = (uint32_t)u64_of(v);
        } else if (strcmp(name, "status") == 0) {
            h->status = (int)u64_of(v);
        } else if (strcmp(name, "revision") == 0) {
            h->revision = u64_of(v);
        } else if (strcmp(name, "latest_final") == 0) {
            h->latest_final = (uint32_t)u64_of(v);
        } else if (strcmp(name, "create_ms") == 0) {
            h->create_ms = (int64_t)u64_of(v);
        } else if (strcmp(name, "update_ms") == 0) {
            h->update_ms = (int64_t)u64_of(v);
        } else if (strcmp(name, "ncomments") == 0) {
            h->n_comments = (uint32_t)u64_of(v);
        } else if (name[0] == 'v' && name[1] >= '0' && name[1] <= '9') {
            char *colon = strchr(name, ':');
            uint64_t ver = 0;
            if (colon == NULL || !syn_parse_u64(name + 1, (size_t)(colon - name - 1), &ver) ||
                ver < 1 || ver > SYN_MAX_VERSIONS) {
                continue;
            }
            syn_version_facts *f = &h->versions[ver];
            const char *what = colon + 1;
            if (strcmp(what, "first") == 0) {
                f->first_rev = u64_of(v);
            } else if (strcmp(what, "sub") == 0) {
                f->submitted_rev = u64_of(v);
            } else if (strcmp(what, "sub_ms") == 0) {
                f->submit_ms = (int64_t)u64_of(v);
            } else if (strcmp(what, "final") == 0) {
                f->final_rev = u64_of(v);
            } else if (strcmp(what, "final_ms") == 0) {
                f->final_ms = (int64_t)u64_of(v);
            } else if (strcmp(what, "approved_by") == 0) {
                f->approved_by = bsl_arena_strndup(a, v->str, v->len);
            } else if (strcmp(what, "corrected_by") == 0) {
                f->corrected_by = bsl_arena_strndup(a, v->str, v->len);
            } else if (strcmp(what, "reason") == 0) {
                unsigned char *r = bsl_arena_alloc(a, v->len ? v->len : 1);
                if (r != NULL) {
                    memcpy(r, v->str, v->len);
                    f->reason_sealed = r;
                    f->reason_len = v->len;
                }
            }
        }
    }
    if (!bsl_id_valid(h->id) || h->version < 1 || h->version > SYN_MAX_VERSIONS ||
        h->status < SYN_DRAFT || h->status > SYN_FINAL || h->revision < 1 ||
        h->latest_final > h->version) {
        return false;
    }
    return true;
}

/* ---- revision metadata ------------------------------------------------------------------- */

bool syn_rev_meta_parse(const char *s, size_t len, syn_rev_meta *m)
{
    memset(m, 0, sizeof(*m));
    char buf[320];
    if (s == NULL || len == 0 || len >= sizeof(buf)) {
        return false;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *parts[6];
    char *p = buf;
    for (int i = 0; i < 6; i++) {
        parts[i] = p;
        char *bar = strchr(p, '|');
        if (i < 5) {
            if (bar == NULL) {
                return false;
            }
            *bar = '\0';
            p = bar + 1;
        }
    }
    m->version = (uint32_t)strtoul(parts[0], NULL, 10);
    m->ms = strtoll(parts[1], NULL, 10);
    m->role = atoi(parts[2]);
    m->kind = atoi(parts[3]);
    m->changed = (syn_mask)strtoul(parts[4], NULL, 10);
    snprintf(m->author, sizeof(m->author), "%s", parts[5]);
    return m->version >= 1;
}

void syn_rev_meta_format(char *out, size_t cap, const syn_rev_meta *m)
{
    snprintf(out, cap, "%u|%lld|%d|%d|%u|%s", m->version, (long long)m->ms, m->role, m->kind,
             (unsigned)m->changed, m->author);
}

/* ---- sealing ----------------------------------------------------------------------------- */

unsigned char *syn_seal_message(bsl_arena *a, const bsl_dek *dek, const char *ad,
                                const ProtobufCMessage *msg, size_t *out_len)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *plain = bsl_arena_alloc(a, n ? n : 1);
    unsigned char *out = bsl_arena_alloc(a, bsl_seal_size(n));
    if (plain == NULL || out == NULL) {
        return NULL;
    }
    protobuf_c_message_pack(msg, plain);
    bsl_seal(dek, ad, plain, n, out);
    sodium_memzero(plain, n);
    *out_len = bsl_seal_size(n);
    return out;
}

unsigned char *syn_seal_text(bsl_arena *a, const bsl_dek *dek, const char *ad, const char *text,
                             size_t *out_len)
{
    size_t n = strlen(text);
    unsigned char *out = bsl_arena_alloc(a, bsl_seal_size(n));
    if (out == NULL) {
        return NULL;
    }
    bsl_seal(dek, ad, text, n, out);
    *out_len = bsl_seal_size(n);
    return out;
}

char *syn_open_text(bsl_arena *a, const bsl_dek *dek, const char *ad, const unsigned char *sealed,
                    size_t len)
{
    if (len < BSL_SEAL_OVERHEAD) {
        return NULL;
    }
    char *out = bsl_arena_alloc(a, len - BSL_SEAL_OVERHEAD + 1);
    size_t n = 0;
    if (out == NULL || bsl_open(dek, ad, sealed, len, out, &n) != BSL_OK) {
        return NULL;
    }
    return out;
}

ProtobufCMessage *syn_open_message(bsl_arena *a, const bsl_dek *dek, const char *ad,
                                   const ProtobufCMessageDescriptor *desc,
                                   const unsigned char *sealed, size_t len)
{
    if (len < BSL_SEAL_OVERHEAD) {
        return NULL;
    }
    char *plain = bsl_arena_alloc(a, len - BSL_SEAL_OVERHEAD + 1);
    size_t n = 0;
    if (plain == NULL || bsl_open(dek, ad, sealed, len, plain, &n) != BSL_OK) {
        return NULL;
    }
    ProtobufCMessage *m =
        protobuf_c_message_unpack(desc, bsl_arena_allocator(a), n, (const uint8_t *)plain);
    sodium_memzero(plain, n);
    return m;
}

Boussole__V1__SynthesisContent *syn_content_open(syn_ctx *ctx, uint64_t rev,
                                                 const redisReply *sealed)
{
    if (sealed == NULL || sealed->type != REDIS_REPLY_STRING) {
        return NULL;
    }
    char ad[128], what[48];
    snprintf(what, sizeof(what), "content/%llu", (unsigned long long)rev);
    syn_ad(ad, sizeof(ad), ctx->bilan.id, what);
    bsl_arena *a = bsl_call_arena(ctx->call);
    Boussole__V1__SynthesisContent *c = (Boussole__V1__SynthesisContent *)syn_open_message(
        a, &ctx->dek, ad, &boussole__v1__synthesis_content__descriptor,
        (const unsigned char *)sealed->str, sealed->len);
    if (c != NULL && c->cover == NULL) {
        c->cover = bsl_arena_alloc(a, sizeof(*c->cover));
        if (c->cover == NULL) {
            return NULL;
        }
        boussole__v1__synthesis_cover__init(c->cover);
    }
    return c;
}

/* ---- the Synthesis message --------------------------------------------------------------- */

Boussole__V1__Synthesis *syn_synthesis_build(syn_ctx *ctx, const syn_header *h, uint64_t rev,
                                             uint32_t rev_version,
                                             Boussole__V1__SynthesisContent *content)
{
    bsl_arena *a = bsl_call_arena(ctx->call);
    Boussole__V1__Synthesis *s = bsl_arena_alloc(a, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    boussole__v1__synthesis__init(s);
    s->id = (char *)h->id;
    /* Copies: the context may be reused for another bilan (export). */
    s->bilan_id = bsl_arena_strdup(a, ctx->bilan.id);
    s->beneficiary_id = bsl_arena_strdup(a, ctx->bilan.beneficiary);
    s->counselor_id = bsl_arena_strdup(a, ctx->bilan.counselor);
    s->organisation_id = bsl_arena_strdup(a, ctx->bilan.organisation);
    s->version = h->version;
    s->status = (Boussole__V1__SynthesisStatus)h->status;
    s->current_revision = h->revision;
    s->revision = rev;
    s->revision_version = rev_version;
    s->content = content;
    s->create_time = bsl_pb_timestamp(a, h->create_ms);
    s->update_time = bsl_pb_timestamp(a, h->update_ms);
    s->versions = bsl_arena_calloc(a, h->version, sizeof(*s->versions));
    if (s->versions == NULL || s->create_time == NULL || s->update_time == NULL ||
        s->bilan_id == NULL || s->beneficiary_id == NULL || s->counselor_id == NULL ||
        s->organisation_id == NULL) {
        return NULL;
    }
    for (uint32_t k = 1; k <= h->version; k++) {
        const syn_version_facts *f = &h->versions[k];
        Boussole__V1__SynthesisVersion *v = bsl_arena_alloc(a, sizeof(*v));
        if (v == NULL) {
            return NULL;
        }
        boussole__v1__synthesis_version__init(v);
        v->number = k;
        v->status = (Boussole__V1__SynthesisStatus)(k == h->version ? h->status : SYN_FINAL);
        v->first_revision = f->first_rev;
        v->submitted_revision = f->submitted_rev;
        if (f->submit_ms > 0) {
            v->submit_time = bsl_pb_timestamp(a, f->submit_ms);
        }
        v->final_revision = f->final_rev;
        if (f->final_ms > 0) {
            v->final_time = bsl_pb_timestamp(a, f->final_ms);
        }
        v->approved_by = (char *)f->approved_by;
        v->corrected_by = (char *)f->corrected_by;
        if (f->reason_sealed != NULL && ctx->have_dek) {
            char ad[128], what[48];
            snprintf(what, sizeof(what), "reason/%u", k);
            syn_ad(ad, sizeof(ad), ctx->bilan.id, what);
            char *r = syn_open_text(a, &ctx->dek, ad, f->reason_sealed, f->reason_len);
            v->correction_reason = r ? r : "";
        }
        s->versions[s->n_versions++] = v;
    }
    return s;
}
