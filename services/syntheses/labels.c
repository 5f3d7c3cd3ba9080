/* Loading the French wording from data/labels.fr.txt (see labels.h). */
#include "labels.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "boussole/err.h"
#include "boussole/pbcheck.h"

static const char *const keys[SYN_L_COUNT] = {
#define SYN_LABEL_KEY(name, key) key,
    SYN_LABEL_KEYS(SYN_LABEL_KEY)
#undef SYN_LABEL_KEY
};

#define LABEL_MAX 2000 /* bytes of one value */

struct syn_labels {
    char *text[SYN_L_COUNT];
};

void syn_labels_free(syn_labels *l)
{
    if (l == NULL) {
        return;
    }
    for (size_t i = 0; i < SYN_L_COUNT; i++) {
        free(l->text[i]);
    }
    free(l);
}

const char *syn_label_text(const syn_labels *l, syn_label which)
{
    if (l == NULL || which >= SYN_L_COUNT || l->text[which] == NULL) {
        return "";
    }
    return l->text[which];
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) {
        s[--n] = '\0';
    }
    return s;
}

/* "\n" becomes a line break, "\\" a backslash. */
static void unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r != '\0'; r++) {
        if (r[0] == '\\' && r[1] == 'n') {
            *w++ = '\n';
            r++;
        } else if (r[0] == '\\' && r[1] == '\\') {
            *w++ = '\\';
            r++;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

int syn_labels_load(syn_labels **out, const char *dir, char *errbuf, size_t errlen)
{
    *out = NULL;
    char path[1024];
    snprintf(path, sizeof(path), "%s/labels.fr.txt", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
        return BSL_EIO;
    }
    syn_labels *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        fclose(f);
        return BSL_ENOMEM;
    }
    char line[LABEL_MAX + 256];
    int lineno = 0, rv = BSL_OK;
    while (rv == BSL_OK && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
            snprintf(errbuf, errlen, "%s:%d: line too long", path, lineno);
            rv = BSL_EINVAL;
            break;
        }
        if (!bsl_utf8_valid(line, len)) {
            snprintf(errbuf, errlen, "%s:%d: not valid UTF-8", path, lineno);
            rv = BSL_EINVAL;
            break;
        }
        char *s = trim(line);
        if (s[0] == '\0' || s[0] == '#') {
            continue;
        }
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            snprintf(errbuf, errlen, "%s:%d: expected \"key = value\"", path, lineno);
            rv = BSL_EINVAL;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        size_t k = 0;
        while (k < SYN_L_COUNT && strcmp(keys[k], key) != 0) {
            k++;
        }
        if (k == SYN_L_COUNT) {
            snprintf(errbuf, errlen, "%s:%d: unknown key \"%.64s\"", path, lineno, key);
            rv = BSL_EINVAL;
        } else if (l->text[k] != NULL) {
            snprintf(errbuf, errlen, "%s:%d: \"%s\" given twice", path, lineno, keys[k]);
            rv = BSL_EINVAL;
        } else if (value[0] == '\0') {
            snprintf(errbuf, errlen, "%s:%d: \"%s\" is empty", path, lineno, keys[k]);
            rv = BSL_EINVAL;
        } else if ((l->text[k] = strdup(value)) == NULL) {
            rv = BSL_ENOMEM;
        } else {
            unescape(l->text[k]);
        }
    }
    fclose(f);
    for (size_t k = 0; rv == BSL_OK && k < SYN_L_COUNT; k++) {
        if (l->text[k] == NULL) {
            snprintf(errbuf, errlen, "%s: missing key \"%s\"", path, keys[k]);
            rv = BSL_EINVAL;
        }
    }
    if (rv != BSL_OK) {
        if (rv == BSL_ENOMEM) {
            snprintf(errbuf, errlen, "%s: out of memory", path);
        }
        syn_labels_free(l);
        return rv;
    }
    *out = l;
    return BSL_OK;
}

char *syn_fill(bsl_arena *a, const char *tmpl, const char *const *names, const char *const *values,
               size_t n)
{
    size_t cap = strlen(tmpl) + 1;
    for (size_t i = 0; i < n; i++) {
        /* Enough for every placeholder of this name to be replaced. */
        size_t uses = 0;
        char ph[64];
        snprintf(ph, sizeof(ph), "{%s}", names[i]);
        for (const char *p = strstr(tmpl, ph); p != NULL; p = strstr(p + 1, ph)) {
            uses++;
        }
        cap += uses * strlen(values[i] ? values[i] : "");
    }
    char *out = bsl_arena_alloc(a, cap);
    if (out == NULL) {
        return NULL;
    }
    size_t w = 0;
    for (const char *p = tmpl; *p != '\0';) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            size_t i = 0;
            for (; close != NULL && i < n; i++) {
                size_t nl = strlen(names[i]);
                if ((size_t)(close - p - 1) == nl && strncmp(p + 1, names[i], nl) == 0) {
                    break;
                }
            }
            if (close != NULL && i < n) {
                const char *v = values[i] ? values[i] : "";
                size_t vl = strlen(v);
                memcpy(out + w, v, vl);
                w += vl;
                p = close + 1;
                continue;
            }
        }
        out[w++] = *p++;
    }
    out[w] = '\0';
    return out;
}

char *syn_french_date(bsl_arena *a, const syn_labels *l, const char *iso)
{
    int y, m, d;
    char rest;
    if (iso == NULL || sscanf(iso, "%4d-%2d-%2d%c", &y, &m, &d, &rest) != 3 || m < 1 || m > 12 ||
        d < 1 || d > 31) {
        return bsl_arena_strdup(a, iso ? iso : "");
    }
    const char *month = syn_label_text(l, (syn_label)(SYN_L_MONTH_1 + m - 1));
    if (d == 1) {
        return bsl_arena_printf(a, "%s %s %d", syn_label_text(l, SYN_L_FIRST_OF_MONTH), month, y);
    }
    return bsl_arena_printf(a, "%d %s %d", d, month, y);
}

char *syn_french_date_ms(bsl_arena *a, const syn_labels *l, long long unix_ms)
{
    time_t t = (time_t)(unix_ms / 1000);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) {
        return bsl_arena_strdup(a, "");
    }
    char iso[48];
    snprintf(iso, sizeof(iso), "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    return syn_french_date(a, l, iso);
}
