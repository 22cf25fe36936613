/*
 * split_reader.h - one reader shared by several sources, one per topic.
 *
 * A join's two inputs come through two repartition topics whose partition
 * p holds the same keys. Read by two consumers, one rebalance reaches them
 * at different moments, and the join would forget or restore partition p's
 * keys while one of its inputs still (or already) feeds it. As a Kafka
 * Streams task does, one consumer reads both topics, so partition p of
 * both moves in one rebalance: that consumer is the reader split here into
 * views, view i handing out the records of topics[i] to the source of that
 * input (docs/scale-out.md, "Joins").
 *
 * Batches. Only view 0 fetches from the shared reader, and only when every
 * view has handed out its part of the previous batch; its records are
 * parted by topic and each view hands out its part at its next call. The
 * run loop polls every source once per round in order and view 0's source
 * comes first, so at the end of a round every record fetched is handed out
 * and processed: positions, commits and checkpoints between rounds stay
 * exact. A view's position() still accounts for records not yet handed
 * out, and commits wait while any are. A bounded run's input may end
 * sooner on one side (every upstream task of its repartition topic
 * ended): that source says so (rn_reader_t.ended) and polls no more, so
 * the next view fetches and commits from then on, and records of the
 * ended topic (marks only) are dropped.
 *
 * Hooks. What the pipeline sets on the views (sync_outputs, the checkpoint
 * hooks, commit_limit, resumed, txn, ckpt_name) reaches the shared reader
 * before each call into it; the calls that name a topic go to that topic's
 * view, the others to view 0's settings. assignment() lists the view's
 * topic only; commit() of view 0 commits for all (the others do nothing).
 * A view's `under` is the shared reader (for the pipeline's transaction
 * and checkpoints, which must see the one consumer). The shared reader is
 * closed with the last view.
 */
#ifndef RN_SPLIT_READER_H
#define RN_SPLIT_READER_H

#include "op/io.h"

/* Splits under (which must hand out records with topic set) into n views;
 * views[i] hands out the records of topics[i]. On RN_OK the views own
 * under (it is closed with the last of them); on RN_ERR_NOMEM nothing was
 * taken and under is still the caller's. */
rn_err_t rn_reader_split(rn_reader_t *under, const char *const *topics, int n, rn_reader_t **views /* out: n */);

#endif
