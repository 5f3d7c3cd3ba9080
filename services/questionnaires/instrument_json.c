/*
 * Instrument data files: JSON read with jansson into an Instrument message, then compiled by
 * the same validator as instruments written through the API. Keys are strict (an unknown key
 * is an error, so that a typo does not silently drop a rule), and every error names the file
 * and the part of it that is wrong.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "boussole/arena.h"
#include "boussole/err.h"
#include "instrument.h"

typedef struct jctx {
    bsl_arena *a;
    const char *path;
    char *err;
    size_t errlen;
    json_t *presets; /* borrowed: the file's "likert_presets" object, or NULL */
} jctx;

static int jfail(jctx *c, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int jfail(jctx *c, const char *where, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s: %s: %s", c->path, where, why);
    return BSL_EINVAL;
}

/* Refuses keys outside `allowed` (NULL-terminated). */
static int strict_keys(jctx *c, json_t *obj, const char *where, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool ok = false;
        for (size_t i = 0; allowed[i] != NULL && !ok; i++) {
            ok = strcmp(allowed[i], key) == 0;
        }
        if (!ok) {
            return jfail(c, where, "unknown key \"%s\"", key);
        }
    }
    return BSL_OK;
}

/* A string member: *out set (arena copy), "" when absent and optional. */
static int jstr(jctx *c, json_t *obj, const char *key, bool required, const char *where, char **out)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        if (required) {
            return jfail(c, where, "\"%s\" is missing", key);
        }
        *out = "";
        return BSL_OK;
    }
    if (!json_is_string(v)) {
        return jfail(c, where, "\"%s\" must be a string", key);
    }
    *out = bsl_arena_strdup(c->a, json_string_value(v));
    return *out ? BSL_OK : BSL_ENOMEM;
}

static int jint(jctx *c, json_t *obj, const char *key, long long def, const char *where,
                long long *out)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        *out = def;
        return BSL_OK;
    }
    if (!json_is_integer(v)) {
        return jfail(c, where, "\"%s\" must be an integer", key);
    }
    *out = json_integer_value(v);
    if (*out < -1000000000LL || *out > 1000000000LL) {
        return jfail(c, where, "\"%s\" is out of range", key);
    }
    return BSL_OK;
}

static int jnum(jctx *c, json_t *obj, const char *key, double def, const char *where, double *out)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        *out = def;
        return BSL_OK;
    }
    if (!json_is_number(v)) {
        return jfail(c, where, "\"%s\" must be a number", key);
    }
    *out = json_number_value(v);
    return BSL_OK;
}

static int jbool(jctx *c, json_t *obj, const char *key, bool def, const char *where, bool *out)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        *out = def;
        return BSL_OK;
    }
    if (!json_is_boolean(v)) {
        return jfail(c, where, "\"%s\" must be true or false", key);
    }
    *out = json_is_true(v);
    return BSL_OK;
}

/* An array of strings into (*out, *n). */
static int jstrs(jctx *c, json_t *obj, const char *key, const char *where, char ***out, size_t *n)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    *n = 0;
    if (v == NULL) {
        return BSL_OK;
    }
    if (!json_is_array(v)) {
        return jfail(c, where, "\"%s\" must be an array of strings", key);
    }
    size_t len = json_array_size(v);
    *out = bsl_arena_calloc(c->a, len ? len : 1, sizeof(char *));
    if (*out == NULL) {
        return BSL_ENOMEM;
    }
    for (size_t i = 0; i < len; i++) {
        json_t *s = json_array_get(v, i);
        if (!json_is_string(s)) {
            return jfail(c, where, "\"%s\"[%zu] must be a string", key, i);
        }
        (*out)[i] = bsl_arena_strdup(c->a, json_string_value(s));
        if ((*out)[i] == NULL) {
            return BSL_ENOMEM;
        }
    }
    *n = len;
    return BSL_OK;
}

/* The array member `key` (required): its size in *n. */
static json_t *jarray(jctx *c, json_t *obj, const char *key, const char *where, size_t *n, int *rv)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || !json_is_array(v)) {
        *rv = jfail(c, where, "\"%s\" must be an array", key);
        return NULL;
    }
    *n = json_array_size(v);
    *rv = BSL_OK;
    return v;
}

static int parse_sections(jctx *c, json_t *root, Boussole__V1__Instrument *ins)
{
    int rv;
    size_t n;
    json_t *arr = jarray(c, root, "sections", "instrument", &n, &rv);
    if (arr == NULL) {
        return rv;
    }
    ins->sections = bsl_arena_calloc(c->a, n ? n : 1, sizeof(*ins->sections));
    if (ins->sections == NULL) {
        return BSL_ENOMEM;
    }
    static const char *const keys[] = { "id", "title", "instructions", NULL };
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        char where[64];
        snprintf(where, sizeof(where), "sections[%zu]", i);
        if (!json_is_object(o)) {
            return jfail(c, where, "must be an object");
        }
        Boussole__V1__Section *s = bsl_arena_alloc(c->a, sizeof(*s));
        if (s == NULL) {
            return BSL_ENOMEM;
        }
        boussole__v1__section__init(s);
        if ((rv = strict_keys(c, o, where, keys)) != BSL_OK ||
            (rv = jstr(c, o, "id", true, where, &s->id)) != BSL_OK ||
            (rv = jstr(c, o, "title", true, where, &s->title)) != BSL_OK ||
            (rv = jstr(c, o, "instructions", false, where, &s->instructions)) != BSL_OK) {
            return rv;
        }
        ins->sections[ins->n_sections++] = s;
    }
    return BSL_OK;
}

static int parse_scales(jctx *c, json_t *root, Boussole__V1__Instrument *ins)
{
    json_t *arr = json_object_get(root, "scales");
    if (arr == NULL) {
        return BSL_OK;
    }
    if (!json_is_array(arr)) {
        return jfail(c, "instrument", "\"scales\" must be an array");
    }
    size_t n = json_array_size(arr);
    ins->scales = bsl_arena_calloc(c->a, n ? n : 1, sizeof(*ins->scales));
    if (ins->scales == NULL) {
        return BSL_ENOMEM;
    }
    static const char *const keys[] = { "id", "name", "description", "interpretation", NULL };
    static const char *const band_keys[] = { "from", "text", NULL };
    int rv;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        char where[96];
        snprintf(where, sizeof(where), "scales[%zu]", i);
        if (!json_is_object(o)) {
            return jfail(c, where, "must be an object");
        }
        Boussole__V1__Scale *s = bsl_arena_alloc(c->a, sizeof(*s));
        if (s == NULL) {
            return BSL_ENOMEM;
        }
        boussole__v1__scale__init(s);
        if ((rv = strict_keys(c, o, where, keys)) != BSL_OK ||
            (rv = jstr(c, o, "id", true, where, &s->id)) != BSL_OK ||
            (rv = jstr(c, o, "name", true, where, &s->name)) != BSL_OK ||
            (rv = jstr(c, o, "description", false, where, &s->description)) != BSL_OK) {
            return rv;
        }
        snprintf(where, sizeof(where), "scales[%zu] (%.40s)", i, s->id);
        json_t *bands = json_object_get(o, "interpretation");
        if (bands != NULL) {
            if (!json_is_array(bands)) {
                return jfail(c, where, "\"interpretation\" must be an array");
            }
            size_t nb = json_array_size(bands);
            s->interpretation = bsl_arena_calloc(c->a, nb ? nb : 1, sizeof(*s->interpretation));
            if (s->interpretation == NULL) {
                return BSL_ENOMEM;
            }
            for (size_t b = 0; b < nb; b++) {
                json_t *bo = json_array_get(bands, b);
                char bwhere[160]; /* where (< 112) + " interpretation[<20 digits>]" */
                snprintf(bwhere, sizeof(bwhere), "%s interpretation[%zu]", where, b);
                if (!json_is_object(bo)) {
                    return jfail(c, bwhere, "must be an object");
                }
                Boussole__V1__InterpretationBand *band = bsl_arena_alloc(c->a, sizeof(*band));
                if (band == NULL) {
                    return BSL_ENOMEM;
                }
                boussole__v1__interpretation_band__init(band);
                if ((rv = strict_keys(c, bo, bwhere, band_keys)) != BSL_OK ||
                    (rv = jnum(c, bo, "from", 0, bwhere, &band->from)) != BSL_OK ||
                    (rv = jstr(c, bo, "text", true, bwhere, &band->text)) != BSL_OK) {
                    return rv;
                }
                s->interpretation[s->n_interpretation++] = band;
            }
        }
        ins->scales[ins->n_scales++] = s;
    }
    return BSL_OK;
}

static int parse_kind(const char *s)
{
    static const char *const names[] = { "",        "likert",  "single_choice", "multiple_choice",
                                         "ranking", "numeric", "free_text" };
    for (int i = 1; i < 7; i++) {
        if (strcmp(names[i], s) == 0) {
            return i;
        }
    }
    return 0;
}

/* "likert": "<preset name>" fills the scale from the file's likert_presets. */
static int apply_preset(jctx *c, json_t *o, const char *where, Boussole__V1__Item *it)
{
    json_t *name = json_object_get(o, "likert");
    if (name == NULL) {
        return BSL_OK;
    }
    if (!json_is_string(name)) {
        return jfail(c, where, "\"likert\" must name one of the likert_presets");
    }
    json_t *p = c->presets ? json_object_get(c->presets, json_string_value(name)) : NULL;
    if (p == NULL || !json_is_object(p)) {
        return jfail(c, where, "likert preset \"%s\" is not defined", json_string_value(name));
    }
    static const char *const keys[] = { "min", "max", "labels", NULL };
    char pwhere[160];
    snprintf(pwhere, sizeof(pwhere), "likert_presets.%s", json_string_value(name));
    long long min, max;
    int rv;
    if ((rv = strict_keys(c, p, pwhere, keys)) != BSL_OK ||
        (rv = jint(c, p, "min", 1, pwhere, &min)) != BSL_OK ||
        (rv = jint(c, p, "max", 5, pwhere, &max)) != BSL_OK ||
        (rv = jstrs(c, p, "labels", pwhere, &it->likert_labels, &it->n_likert_labels)) != BSL_OK) {
        return rv;
    }
    it->likert_min = (int32_t)min;
    it->likert_max = (int32_t)max;
    return BSL_OK;
}

static int parse_choices(jctx *c, json_t *o, const char *where, Boussole__V1__Item *it)
{
    json_t *arr = json_object_get(o, "choices");
    if (arr == NULL) {
        return BSL_OK;
    }
    if (!json_is_array(arr)) {
        return jfail(c, where, "\"choices\" must be an array");
    }
    size_t n = json_array_size(arr);
    it->choices = bsl_arena_calloc(c->a, n ? n : 1, sizeof(*it->choices));
    if (it->choices == NULL) {
        return BSL_ENOMEM;
    }
    static const char *const keys[] = { "value", "label", "score", "scales", NULL };
    for (size_t i = 0; i < n; i++) {
        json_t *co = json_array_get(arr, i);
        char cwhere[128];
        snprintf(cwhere, sizeof(cwhere), "%s choices[%zu]", where, i);
        if (!json_is_object(co)) {
            return jfail(c, cwhere, "must be an object");
        }
        Boussole__V1__Choice *ch = bsl_arena_alloc(c->a, sizeof(*ch));
        if (ch == NULL) {
            return BSL_ENOMEM;
        }
        boussole__v1__choice__init(ch);
        long long score = 0;
        int rv;
        if ((rv = strict_keys(c, co, cwhere, keys)) != BSL_OK ||
            (rv = jstr(c, co, "value", true, cwhere, &ch->value)) != BSL_OK ||
            (rv = jstr(c, co, "label", true, cwhere, &ch->label)) != BSL_OK ||
            (rv = jint(c, co, "score", 0, cwhere, &score)) != BSL_OK ||
            (rv = jstrs(c, co, "scales", cwhere, &ch->scales, &ch->n_scales)) != BSL_OK) {
            return rv;
        }
        if (score < -100 || score > 100) {
            return jfail(c, cwhere, "\"score\" must be -100 to 100");
        }
        ch->score = (int32_t)score;
        it->choices[it->n_choices++] = ch;
    }
    return BSL_OK;
}

static int parse_item(jctx *c, json_t *o, size_t i, Boussole__V1__Item **out)
{
    char where[96];
    snprintf(where, sizeof(where), "items[%zu]", i);
    if (!json_is_object(o)) {
        return jfail(c, where, "must be an object");
    }
    json_t *idv = json_object_get(o, "id");
    if (json_is_string(idv)) {
        snprintf(where, sizeof(where), "items[%zu] (%.40s)", i, json_string_value(idv));
    }
    static const char *const keys[] = { "id",
                                        "section",
                                        "kind",
                                        "text",
                                        "required",
                                        "scales",
                                        "reverse",
                                        "likert",
                                        "likert_min",
                                        "likert_max",
                                        "likert_labels",
                                        "choices",
                                        "min_selected",
                                        "max_selected",
                                        "numeric_min",
                                        "numeric_max",
                                        "integer_only",
                                        "max_length",
                                        NULL };
    Boussole__V1__Item *it = bsl_arena_alloc(c->a, sizeof(*it));
    if (it == NULL) {
        return BSL_ENOMEM;
    }
    boussole__v1__item__init(it);
    char *kind = NULL;
    bool required = true, reverse = false, integer_only = false;
    long long lmin, lmax, min_sel, max_sel, max_len;
    int rv;
    if ((rv = strict_keys(c, o, where, keys)) != BSL_OK ||
        (rv = jstr(c, o, "id", true, where, &it->id)) != BSL_OK ||
        (rv = jstr(c, o, "section", true, where, &it->section_id)) != BSL_OK ||
        (rv = jstr(c, o, "kind", true, where, &kind)) != BSL_OK ||
        (rv = jstr(c, o, "text", true, where, &it->text)) != BSL_OK ||
        (rv = jbool(c, o, "required", true, where, &required)) != BSL_OK ||
        (rv = jbool(c, o, "reverse", false, where, &reverse)) != BSL_OK ||
        (rv = jbool(c, o, "integer_only", false, where, &integer_only)) != BSL_OK ||
        (rv = jstrs(c, o, "scales", where, &it->scales, &it->n_scales)) != BSL_OK ||
        (rv = apply_preset(c, o, where, it)) != BSL_OK ||
        (rv = jint(c, o, "likert_min", it->likert_min, where, &lmin)) != BSL_OK ||
        (rv = jint(c, o, "likert_max", it->likert_max, where, &lmax)) != BSL_OK ||
        (rv = jint(c, o, "min_selected", 0, where, &min_sel)) != BSL_OK ||
        (rv = jint(c, o, "max_selected", 0, where, &max_sel)) != BSL_OK ||
        (rv = jint(c, o, "max_length", 0, where, &max_len)) != BSL_OK ||
        (rv = jnum(c, o, "numeric_min", 0, where, &it->numeric_min)) != BSL_OK ||
        (rv = jnum(c, o, "numeric_max", 0, where, &it->numeric_max)) != BSL_OK ||
        (rv = parse_choices(c, o, where, it)) != BSL_OK) {
        return rv;
    }
    if (json_object_get(o, "likert_labels") != NULL &&
        (rv = jstrs(c, o, "likert_labels", where, &it->likert_labels, &it->n_likert_labels)) !=
            BSL_OK) {
        return rv;
    }
    it->kind = (Boussole__V1__ItemKind)parse_kind(kind);
    if (it->kind == 0) {
        return jfail(c, where,
                     "\"kind\" must be likert, single_choice, multiple_choice, "
                     "ranking, numeric or free_text");
    }
    if (min_sel < 0 || max_sel < 0 || max_len < 0) {
        return jfail(c, where, "min_selected, max_selected and max_length are not negative");
    }
    it->required = required;
    it->reverse_keyed = reverse;
    it->integer_only = integer_only;
    it->likert_min = (int32_t)lmin;
    it->likert_max = (int32_t)lmax;
    it->min_selected = (uint32_t)min_sel;
    it->max_selected = (uint32_t)max_sel;
    it->max_length = (uint32_t)max_len;
    *out = it;
    return BSL_OK;
}

static int parse_root(jctx *c, json_t *root, Boussole__V1__Instrument *ins)
{
    static const char *const keys[] = { "id",       "version",     "language",     "purpose",
                                        "title",    "description", "instructions", "scoring",
                                        "sections", "scales",      "items",        "likert_presets",
                                        NULL };
    int rv;
    char *purpose = NULL;
    long long version = 0;
    if ((rv = strict_keys(c, root, "instrument", keys)) != BSL_OK ||
        (rv = jstr(c, root, "id", true, "instrument", &ins->id)) != BSL_OK ||
        (rv = jint(c, root, "version", 0, "instrument", &version)) != BSL_OK ||
        (rv = jstr(c, root, "language", true, "instrument", &ins->language)) != BSL_OK ||
        (rv = jstr(c, root, "purpose", true, "instrument", &purpose)) != BSL_OK ||
        (rv = jstr(c, root, "title", true, "instrument", &ins->title)) != BSL_OK ||
        (rv = jstr(c, root, "description", false, "instrument", &ins->description)) != BSL_OK ||
        (rv = jstr(c, root, "instructions", false, "instrument", &ins->instructions)) != BSL_OK) {
        return rv;
    }
    if (version < 1 || version > 1000000) {
        return jfail(c, "version", "must be 1 to 1000000");
    }
    ins->version = (uint32_t)version;
    ins->purpose = (Boussole__V1__InstrumentPurpose)qn_purpose_from_name(purpose);
    if (ins->purpose == 0) {
        return jfail(c, "purpose",
                     "must be interests, values, skills, relatives_feedback, "
                     "satisfaction or other");
    }
    json_t *scoring = json_object_get(root, "scoring");
    if (scoring != NULL) {
        static const char *const skeys[] = { "holland_code", NULL };
        if (!json_is_object(scoring)) {
            return jfail(c, "scoring", "must be an object");
        }
        ins->scoring = bsl_arena_alloc(c->a, sizeof(*ins->scoring));
        if (ins->scoring == NULL) {
            return BSL_ENOMEM;
        }
        boussole__v1__scoring_rules__init(ins->scoring);
        bool holland = false;
        if ((rv = strict_keys(c, scoring, "scoring", skeys)) != BSL_OK ||
            (rv = jbool(c, scoring, "holland_code", false, "scoring", &holland)) != BSL_OK) {
            return rv;
        }
        ins->scoring->holland_code = holland;
    }
    c->presets = json_object_get(root, "likert_presets");
    if (c->presets != NULL && !json_is_object(c->presets)) {
        return jfail(c, "likert_presets", "must be an object");
    }
    if ((rv = parse_sections(c, root, ins)) != BSL_OK ||
        (rv = parse_scales(c, root, ins)) != BSL_OK) {
        return rv;
    }
    size_t n;
    json_t *items = jarray(c, root, "items", "instrument", &n, &rv);
    if (items == NULL) {
        return rv;
    }
    ins->items = bsl_arena_calloc(c->a, n ? n : 1, sizeof(*ins->items));
    if (ins->items == NULL) {
        return BSL_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if ((rv = parse_item(c, json_array_get(items, i), i, &ins->items[i])) != BSL_OK) {
            return rv;
        }
        ins->n_items++;
    }
    ins->builtin = true;
    ins->status = BOUSSOLE__V1__INSTRUMENT_STATUS__INSTRUMENT_STATUS_ACTIVE;
    return BSL_OK;
}

int qn_instrument_load_json(const char *path, qn_instrument **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        snprintf(errbuf, errlen, "%s:%d:%d: not valid JSON: %s", path, jerr.line, jerr.column,
                 jerr.text);
        return BSL_EINVAL;
    }
    bsl_arena *a = bsl_arena_create();
    if (a == NULL) {
        json_decref(root);
        snprintf(errbuf, errlen, "%s: out of memory", path);
        return BSL_ENOMEM;
    }
    jctx c = { .a = a, .path = path, .err = errbuf, .errlen = errlen };
    Boussole__V1__Instrument ins = BOUSSOLE__V1__INSTRUMENT__INIT;
    int rv = json_is_object(root) ? parse_root(&c, root, &ins)
                                  : jfail(&c, "instrument", "the file must hold one object");
    if (rv == BSL_ENOMEM) {
        snprintf(errbuf, errlen, "%s: out of memory", path);
    }
    if (rv == BSL_OK) {
        size_t len = boussole__v1__instrument__get_packed_size(&ins);
        uint8_t *buf = bsl_arena_alloc(a, len ? len : 1);
        if (buf == NULL) {
            snprintf(errbuf, errlen, "%s: out of memory", path);
            rv = BSL_ENOMEM;
        } else {
            boussole__v1__instrument__pack(&ins, buf);
            char where[128], why[256];
            rv = qn_instrument_compile(buf, len, out, where, sizeof(where), why, sizeof(why));
            if (rv != BSL_OK) {
                snprintf(errbuf, errlen, "%s: %s: %s", path, where, why);
            }
        }
    }
    bsl_arena_free(a);
    json_decref(root);
    return rv;
}
