/* Erasing this service's data of a bilan, and destruction records (erase.c). */
#ifndef SYNTHESES_ERASE_H
#define SYNTHESES_ERASE_H

#include "syntheses.h"

#define SYN_REASON_TEXT_MAX 200 /* the reason of a destruction record */

/* Called once, on the loop: err BSL_OK with what went, or the error of the step that failed
 * (the steps before it stay done; repeating the erasure finishes it). */
typedef void (*syn_erase_cb)(int err, uint32_t keys_deleted, bool key_destroyed, void *arg);

/* Erases the bilan's syntheses data and records the destruction. bilan_id must be valid.
 * Returns BSL_OK (cb will be called) or an error (it will not). */
int syn_erase_local(syn_app *app, const char *bilan_id, const char *reason, uint32_t timeout_ms,
                    syn_erase_cb cb, void *arg);

/* Appends a destruction record to the destruction stream. */
int syn_destruction_record(syn_app *app, const char *bilan_id, const char *organisation,
                           const char *service, const char *reason, uint32_t keys_deleted,
                           bool key_destroyed, uint32_t timeout_ms, bsl_redis_cb cb, void *arg);

#endif
