/*
 * Configuration: every option of a binary is a row of a table; its value comes from the
 * command line (--name=value or --name value), else the environment (BSL_NAME, upper case,
 * dashes as underscores), else the default. --help prints the table.
 */
#ifndef BOUSSOLE_CONFIG_H
#define BOUSSOLE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef struct bsl_option {
    const char *name;  /* "redis-url" */
    const char *def;   /* default value; NULL for none */
    const char *help;  /* one line */
    const char *value; /* filled by bsl_options_parse; borrowed from argv, environ or def */
} bsl_option;

/*
 * Fills opts[i].value. Returns BSL_OK, BSL_EHELP when --help was given (the help is printed on
 * stdout), or BSL_EINVAL with a message in errbuf for an unknown flag or a missing value.
 */
int bsl_options_parse(bsl_option *opts, size_t n, const char *prog, const char *about, int argc,
                      char **argv, char *errbuf, size_t errlen);

/* The value of an option, or NULL if it has none. Aborts on a name not in the table: that is
 * a programming error, not an input error. */
const char *bsl_option_get(const bsl_option *opts, size_t n, const char *name);

/* The value as an unsigned integer in [min, max]; BSL_EINVAL with a message otherwise. */
int bsl_option_u32(const bsl_option *opts, size_t n, const char *name, uint32_t min, uint32_t max,
                   uint32_t *out, char *errbuf, size_t errlen);

#endif /* BOUSSOLE_CONFIG_H */
