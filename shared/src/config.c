#include "boussole/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boussole/err.h"

static void env_name(const char *name, char *out, size_t cap)
{
    size_t o = (size_t)snprintf(out, cap, "BSL_");
    for (; *name != '\0' && o + 1 < cap; name++) {
        out[o++] = *name == '-' ? '_' : (char)toupper((unsigned char)*name);
    }
    out[o] = '\0';
}

static void print_help(const bsl_option *opts, size_t n, const char *prog, const char *about)
{
    printf("Usage: %s [--option=value ...]\n\n%s\n\nOptions (flag, environment variable, "
           "default):\n",
           prog, about);
    for (size_t i = 0; i < n; i++) {
        char env[96];
        env_name(opts[i].name, env, sizeof(env));
        printf("  --%-24s %s\n  %-26s %s (default: %s)\n", opts[i].name, opts[i].help, "", env,
               opts[i].def && opts[i].def[0] ? opts[i].def : "none");
    }
    printf("  --%-24s %s\n", "help", "print this help and exit");
}

static bsl_option *find(bsl_option *opts, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0) {
            return &opts[i];
        }
    }
    return NULL;
}

int bsl_options_parse(bsl_option *opts, size_t n, const char *prog, const char *about, int argc,
                      char **argv, char *errbuf, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        char env[96];
        env_name(opts[i].name, env, sizeof(env));
        const char *v = getenv(env);
        opts[i].value = v != NULL ? v : opts[i].def;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_help(opts, n, prog, about);
            return BSL_EHELP;
        }
        if (strncmp(a, "--", 2) != 0) {
            snprintf(errbuf, errlen, "unexpected argument '%s' (see --help)", a);
            return BSL_EINVAL;
        }
        a += 2;
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        bsl_option *o = find(opts, n, a, len);
        if (o == NULL) {
            snprintf(errbuf, errlen, "unknown option '--%.*s' (see --help)", (int)len, a);
            return BSL_EINVAL;
        }
        if (eq != NULL) {
            o->value = eq + 1;
        } else if (i + 1 < argc) {
            o->value = argv[++i];
        } else {
            snprintf(errbuf, errlen, "option '--%s' needs a value", o->name);
            return BSL_EINVAL;
        }
    }
    return BSL_OK;
}

const char *bsl_option_get(const bsl_option *opts, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(opts[i].name, name) == 0) {
            return opts[i].value;
        }
    }
    fprintf(stderr, "bsl_option_get: no option named '%s'\n", name);
    abort();
}

int bsl_option_u32(const bsl_option *opts, size_t n, const char *name, uint32_t min, uint32_t max,
                   uint32_t *out, char *errbuf, size_t errlen)
{
    const char *v = bsl_option_get(opts, n, name);
    if (v == NULL || v[0] == '\0') {
        snprintf(errbuf, errlen, "option '--%s' needs a value", name);
        return BSL_EINVAL;
    }
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno != 0 || *end != '\0' || v[0] == '-' || x < min || x > max) {
        snprintf(errbuf, errlen, "option '--%s' must be an integer from %u to %u, not '%s'", name,
                 min, max, v);
        return BSL_EINVAL;
    }
    *out = (uint32_t)x;
    return BSL_OK;
}
