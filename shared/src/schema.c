#include "boussole/schema.h"

#include <string.h>

const bsl_method_info *bsl_schema_method(const char *name, size_t len)
{
    /* Binary search over the generated table, sorted by full name. */
    size_t lo = 0, hi = bsl__schema_n_methods;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *m = bsl__schema_methods[mid].full_name;
        int c = strncmp(m, name, len);
        if (c == 0 && m[len] != '\0') {
            c = 1; /* m is longer: name sorts first */
        }
        if (c == 0) {
            return &bsl__schema_methods[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

const bsl_method_info *bsl_schema_method_of(const ProtobufCServiceDescriptor *service,
                                            unsigned index)
{
    const bsl_service_info *s = bsl_schema_service(service->name);
    if (s == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < s->n_methods; i++) {
        if (s->methods[i].index == index) {
            return &s->methods[i];
        }
    }
    return NULL;
}

const bsl_service_info *bsl_schema_services(size_t *n)
{
    *n = bsl__schema_n_services;
    return bsl__schema_services;
}

const bsl_service_info *bsl_schema_service(const char *name)
{
    for (size_t i = 0; i < bsl__schema_n_services; i++) {
        if (strcmp(bsl__schema_services[i].name, name) == 0) {
            return &bsl__schema_services[i];
        }
    }
    return NULL;
}

const char *bsl_schema_comment(const char *full_name)
{
    size_t lo = 0, hi = bsl__schema_n_comments;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(bsl__schema_comments[mid].name, full_name);
        if (c == 0) {
            return bsl__schema_comments[mid].text;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}
