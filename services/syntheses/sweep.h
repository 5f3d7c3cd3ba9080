/* The retention sweep (sweep.c). */
#ifndef SYNTHESES_SWEEP_H
#define SYNTHESES_SWEEP_H

#include "handlers.h"
#include "syntheses.h"

/* Creates the sweeper; with interval_ms > 0 a sweep starts every interval_ms (the first one
 * interval_ms after start-up). Sweeps can also be run by RunRetentionSweep. */
int syn_sweeper_create(syn_sweeper **out, syn_app *app, uint32_t interval_ms);

/* Stops the timer and frees (a sweep in progress ends at its next callback, then frees). */
void syn_sweeper_free(syn_sweeper *s);

bool syn_sweeper_running(const syn_sweeper *s);

#endif
