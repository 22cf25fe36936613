/*
 * gen.h - realistic, deterministic test data for the five scenarios.
 *
 * A generator yields records of one scenario (s1..s5, see SCENARIOS.md, or
 * "nexmark": the benchmark's persons, auctions and bids) as
 * JSON lines, each tagged with the topic it belongs to, in the order a
 * producer would send them (so out-of-order and late records appear in the
 * stream as they would in Kafka). The same seed and options always yield
 * the same bytes. `runnel gen` writes them to <out>/<topic>.jsonl; the
 * 'datagen' connector feeds them straight into a pipeline.
 */
#ifndef RN_GEN_H
#define RN_GEN_H

#include <stdint.h>

#include "core/buf.h"
#include "runnel.h"

#define RN_GEN_MAX_TOPICS 3 /* nexmark: person, auction, bid */

typedef struct rn_gen_opts {
    uint64_t seed;          /* PRNG seed (default 1) */
    int64_t count;          /* records of the scenario's main topic; <0 = unbounded */
    double out_of_order;    /* fraction of events delayed behind later ones (default 0.1) */
    double late_fraction;   /* s5: fraction of purchases > 5 s late (default 0.2) */
    int64_t start_ms;       /* event time of the first record (default 2024-05-01T10:00:00Z) */
    double event_rate;      /* nexmark: events per second of event time (default 10000) */
} rn_gen_opts_t;

/* Fills opts with the defaults listed above. */
void rn_gen_opts_default(rn_gen_opts_t *opts);

typedef struct rn_gen rn_gen_t;

/* Creates a generator for scenario "s1".."s5" or "nexmark" (whose count
 * is of all its events, not of one topic). Returns NULL and fills
 * errbuf for an unknown scenario or on OOM. */
rn_gen_t *rn_gen_new(const char *scenario, const rn_gen_opts_t *opts, char *errbuf,
                     size_t errbuf_size);
void rn_gen_free(rn_gen_t *g);
/* Topics this scenario writes, e.g. s5: "user-events", "purchases"
 * (at most RN_GEN_MAX_TOPICS). Side
 * tables (s4's subscribers_restaurants) are topics too. */
int rn_gen_ntopics(const rn_gen_t *g);
const char *rn_gen_topic(const rn_gen_t *g, int i);
/* Appends the next record's JSON object (no newline) to line and stores
 * its topic index in *topic. Returns RN_OK, RN_ERR_EOF after the last
 * record, or RN_ERR_NOMEM. */
rn_err_t rn_gen_next(rn_gen_t *g, int *topic /* out */, rn_buf_t *line /* out */);

#endif
