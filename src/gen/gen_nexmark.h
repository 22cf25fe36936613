/*
 * gen_nexmark.h - the Nexmark event generator behind `runnel gen nexmark`
 * (private to src/gen: callers go through gen.h's rn_gen_* with the
 * scenario name "nexmark").
 *
 * Nexmark (the auction benchmark of Beam, Flink and the stream processing
 * literature) is a stream of events numbered 0, 1, 2, ...: of every 50,
 * one person, three auctions and 46 bids (event n is a person if n % 50 is
 * 0, an auction if it is 1..3, else a bid). Event n happens at
 * start + n / event_rate seconds (truncated to the millisecond), so all
 * three topics are in event-time order. Ids, sellers, bidders, prices,
 * channels and the padding field `extra` follow nexmark-flink's
 * NexmarkGenerator with its default configuration; docs/generator.md lists
 * the rules.
 */
#ifndef RN_GEN_NEXMARK_H
#define RN_GEN_NEXMARK_H

#include "core/buf.h"
#include "gen/gen.h"
#include "runnel.h"

#define RN_NEXMARK_NTOPICS 3 /* person, auction, bid */

typedef struct rn_nexmark rn_nexmark_t;

/* Topic names, in topic-index order: "person", "auction", "bid". */
extern const char *const rn_nexmark_topics[RN_NEXMARK_NTOPICS];

/* Creates a generator for opts (count: events of all three topics; seed;
 * start_ms; event_rate). Returns NULL on OOM. The caller frees it with
 * rn_nexmark_free. */
rn_nexmark_t *rn_nexmark_new(const rn_gen_opts_t *opts);
void rn_nexmark_free(rn_nexmark_t *nx);

/* Appends the next event's JSON object (no newline) to line and stores its
 * topic index in *topic. Returns RN_OK, RN_ERR_EOF after opts.count
 * events, or RN_ERR_NOMEM (line unchanged). */
rn_err_t rn_nexmark_next(rn_nexmark_t *nx, int *topic /* out */, rn_buf_t *line /* out */);

#endif
