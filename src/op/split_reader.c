/*
 * split_reader.c - one reader shared by several sources, one per topic
 * (the design in split_reader.h).
 *
 * Each view keeps its part of the last batch as record structs whose bytes
 * stay in the shared reader's buffers, valid until its next call, which
 * only comes once every part is handed out.
 */
#include "op/split_reader.h"

#include <stdio.h>
#include <string.h>

#include "core/mem.h"

typedef struct split split_t;

typedef struct split_view {
    rn_reader_t base;           /* the interface (first: cast to it) */
    split_t *s;
    int idx;                    /* 0: the view that fetches */
    char *topic;                /* the topic it hands out (owned) */
    rn_record_t *part;          /* its part of the last batch */
    int npart, at;              /* records in part / handed out */
    bool closed;
    bool ended;                 /* its source read its end and polls no more */
} split_view_t;

struct split {
    rn_reader_t *under;         /* the shared reader (owned) */
    split_view_t **views;
    int n;
    int open;                   /* views not closed yet */
    bool eof;                   /* under said end of input */
    rn_record_t *batch;         /* the last batch fetched */
    int cap;                    /* room in batch and in every part */
    const char **atopics;       /* scratch for assignment() */
    int32_t *aparts;
    int acap;
};

static bool split_pending(const split_t *s)
{
    for (int i = 0; i < s->n; i++)
        if (s->views[i]->at < s->views[i]->npart) return true;
    return false;
}

/* The view that fetches and commits: the first whose source still polls
 * (view 0 until its source ended; any view once all have). */
static split_view_t *split_fetcher(const split_t *s)
{
    for (int i = 0; i < s->n; i++)
        if (!s->views[i]->ended) return s->views[i];
    return s->views[0];
}

static split_view_t *split_view_of(split_t *s, const char *topic)
{
    for (int i = 0; topic && i < s->n; i++)
        if (!strcmp(s->views[i]->topic, topic)) return s->views[i];
    return NULL;
}

/* ---- the hooks of the shared reader: to the view of the topic, or view 0 */

static rn_err_t split_take(void *opaque, char *name, size_t size, char *errbuf, size_t errbuf_size)
{
    split_t *s = opaque;
    rn_reader_t *v = &s->views[0]->base;
    rn_err_t err = v->ckpt_take(v->ckpt_opaque, name, size, errbuf, errbuf_size);
    if (err == RN_OK) snprintf(s->under->ckpt_name, sizeof s->under->ckpt_name, "%s", v->ckpt_name);
    return err;
}

static rn_err_t split_restore(void *opaque, rn_reader_t *r, const char *topic, int32_t partition, const char *ckpt,
                              int64_t *offset, char *errbuf, size_t errbuf_size)
{
    (void)r;
    split_view_t *v = split_view_of(opaque, topic);
    if (!v || !v->base.ckpt_restore) return RN_OK;
    return v->base.ckpt_restore(v->base.ckpt_opaque, &v->base, topic, partition, ckpt, offset, errbuf, errbuf_size);
}

static int64_t split_limit(void *opaque, const char *topic, int32_t partition)
{
    split_view_t *v = split_view_of(opaque, topic);
    if (!v || !v->base.commit_limit) return INT64_MAX;
    return v->base.commit_limit(v->base.limit_opaque, topic, partition);
}

static void split_resumed(void *opaque, const char *what)
{
    split_t *s = opaque;
    for (int i = 0; i < s->n; i++) {
        rn_reader_t *v = &s->views[i]->base;
        if (v->resumed) v->resumed(v->resumed_opaque, what);
    }
}

/* Brings what the pipeline set on the views to the shared reader. */
static void split_sync_hooks(split_t *s)
{
    rn_reader_t *u = s->under, *v0 = &s->views[0]->base;
    bool restore = false, limit = false, resumed = false;
    for (int i = 0; i < s->n; i++) {
        restore |= s->views[i]->base.ckpt_restore != NULL;
        limit |= s->views[i]->base.commit_limit != NULL;
        resumed |= s->views[i]->base.resumed != NULL;
    }
    u->sync_outputs = v0->sync_outputs;
    u->sync_opaque = v0->sync_opaque;
    u->ckpt_take = v0->ckpt_take ? split_take : NULL;
    u->ckpt_restore = restore ? split_restore : NULL;
    u->ckpt_opaque = s;
    u->commit_limit = limit ? split_limit : NULL;
    u->limit_opaque = s;
    u->resumed = resumed ? split_resumed : NULL;
    u->resumed_opaque = s;
    u->txn = v0->txn;
    memcpy(u->ckpt_name, v0->ckpt_name, sizeof u->ckpt_name);
}

/* ---- the views ------------------------------------------------------------ */

/* Fetches the next batch from the shared reader and parts it by topic. */
static rn_err_t split_fetch(split_t *s, int max, int wait_ms, char *errbuf, size_t errbuf_size)
{
    if (!s->batch) {
        s->cap = max > 0 ? max : 1;
        if (!(s->batch = rn_calloc((size_t)s->cap, sizeof *s->batch))) return RN_ERR_NOMEM;
        for (int i = 0; i < s->n; i++)
            if (!(s->views[i]->part = rn_calloc((size_t)s->cap, sizeof *s->views[i]->part))) return RN_ERR_NOMEM;
    }
    for (int i = 0; i < s->n; i++) s->views[i]->npart = s->views[i]->at = 0;
    split_sync_hooks(s);
    s->under->wait_ms = wait_ms;
    int got = 0;
    bool eof = false;
    rn_err_t err = s->under->next(s->under, s->batch, s->cap, &got, &eof, errbuf, errbuf_size);
    if (err != RN_OK) return err;
    s->eof = eof;
    for (int i = 0; i < got; i++) {
        split_view_t *v = split_view_of(s, s->batch[i].topic);
        if (!v) {
            snprintf(errbuf, errbuf_size, "%s: a record of topic '%s', which no input of the join reads",
                     s->under->where, s->batch[i].topic ? s->batch[i].topic : "(none)");
            return RN_ERR_FATAL;
        }
        if (v->ended) continue; /* its source polls no more: nothing it needs (marks after its end) */
        v->part[v->npart++] = s->batch[i];
    }
    return RN_OK;
}

static rn_err_t view_next(rn_reader_t *r, rn_record_t *recs, int max, int *n, bool *eof, char *errbuf,
                          size_t errbuf_size)
{
    split_view_t *v = (split_view_t *)r;
    split_t *s = v->s;
    *n = 0;
    *eof = false;
    if (v == split_fetcher(s) && !split_pending(s) && !s->eof) {
        rn_err_t err = split_fetch(s, max, r->wait_ms, errbuf, errbuf_size);
        if (err != RN_OK) return err;
    }
    int k = v->npart - v->at;
    if (k > max) k = max;
    if (k > 0) memcpy(recs, v->part + v->at, sizeof *recs * (size_t)k);
    v->at += k;
    *n = k;
    *eof = s->eof && v->at == v->npart;
    r->assignment_version = s->under->assignment_version;
    return RN_OK;
}

static rn_err_t view_commit(rn_reader_t *r, bool final, char *errbuf, size_t errbuf_size)
{
    split_view_t *v = (split_view_t *)r;
    split_t *s = v->s;
    /* one commit covers every view; none while a part is not handed out
     * (its records would count as processed: they are read again instead) */
    if (v != split_fetcher(s) || !s->under->commit || split_pending(s)) return RN_OK;
    split_sync_hooks(s);
    return s->under->commit(s->under, final, errbuf, errbuf_size);
}

/* rn_reader_t.ended: the view's records are no longer wanted; the next
 * view fetches from now on. */
static void view_ended(rn_reader_t *r)
{
    split_view_t *v = (split_view_t *)r;
    v->ended = true;
    v->at = v->npart; /* dropped: its source will not ask for them */
}

static rn_err_t view_dead_letter(rn_reader_t *r, const rn_record_t *rec, const char *error, char *errbuf,
                                 size_t errbuf_size)
{
    split_t *s = ((split_view_t *)r)->s;
    return s->under->dead_letter(s->under, rec, error, errbuf, errbuf_size);
}

static int view_assignment(rn_reader_t *r, const char **topics, int32_t *partitions, int max)
{
    split_view_t *v = (split_view_t *)r;
    split_t *s = v->s;
    int all = s->under->assignment(s->under, NULL, NULL, 0);
    if (all > s->acap) {
        const char **t = rn_realloc(s->atopics, sizeof *t * (size_t)all);
        if (t) s->atopics = t;
        int32_t *p = t ? rn_realloc(s->aparts, sizeof *p * (size_t)all) : NULL;
        if (p) s->aparts = p;
        if (!t || !p) return 0; /* out of memory: as if nothing were owned */
        s->acap = all;
    }
    all = s->under->assignment(s->under, s->atopics, s->aparts, s->acap);
    if (all > s->acap) all = s->acap;
    int n = 0;
    for (int i = 0; i < all; i++) {
        if (strcmp(s->atopics[i], v->topic)) continue;
        if (n < max) {
            topics[n] = s->atopics[i];
            partitions[n] = s->aparts[i];
        }
        n++;
    }
    return n;
}

static int64_t view_position(rn_reader_t *r, const char *topic, int32_t partition)
{
    split_view_t *v = (split_view_t *)r;
    for (int i = v->at; i < v->npart; i++) /* not handed out yet: read from there */
        if (v->part[i].partition == partition && !strcmp(v->part[i].topic, topic)) return v->part[i].position;
    return v->s->under->position(v->s->under, topic, partition);
}

static int64_t view_lag(rn_reader_t *r, const char *topic, int32_t partition)
{
    split_t *s = ((split_view_t *)r)->s;
    return s->under->lag(s->under, topic, partition);
}

static void view_pause(rn_reader_t *r, const char *topic, int32_t partition, bool pause)
{
    split_t *s = ((split_view_t *)r)->s;
    s->under->pause(s->under, topic, partition, pause);
}

static bool view_at_end(rn_reader_t *r, const char *topic, int32_t partition)
{
    split_t *s = ((split_view_t *)r)->s;
    return s->under->at_end(s->under, topic, partition);
}

static void split_free(split_t *s)
{
    for (int i = 0; i < s->n; i++) {
        if (!s->views[i]) continue;
        rn_free(s->views[i]->topic);
        rn_free(s->views[i]->part);
        rn_free(s->views[i]);
    }
    rn_free(s->views);
    rn_free(s->batch);
    rn_free(s->atopics);
    rn_free(s->aparts);
    rn_free(s);
}

static void view_close(rn_reader_t *r)
{
    split_view_t *v = (split_view_t *)r;
    split_t *s = v->s;
    if (v->closed) return;
    v->closed = true;
    if (--s->open > 0) return;
    split_sync_hooks(s);
    s->under->close(s->under);
    split_free(s);
}

rn_err_t rn_reader_split(rn_reader_t *under, const char *const *topics, int n, rn_reader_t **views)
{
    split_t *s = rn_calloc(1, sizeof *s);
    if (!s || !(s->views = rn_calloc((size_t)(n > 0 ? n : 1), sizeof *s->views))) {
        rn_free(s);
        return RN_ERR_NOMEM;
    }
    s->under = under;
    s->n = n;
    for (int i = 0; i < n; i++) {
        split_view_t *v = s->views[i] = rn_calloc(1, sizeof *v);
        if (!v || !(v->topic = rn_strdup(topics[i]))) {
            split_free(s);
            return RN_ERR_NOMEM;
        }
        v->s = s;
        v->idx = i;
        v->base.next = view_next;
        v->base.ended = view_ended;
        v->base.close = view_close;
        v->base.where = under->where;
        v->base.wait_ms = under->wait_ms;
        v->base.commit = under->commit ? view_commit : NULL;
        v->base.dead_letter = under->dead_letter ? view_dead_letter : NULL;
        v->base.assignment = under->assignment ? view_assignment : NULL;
        v->base.assignment_version = under->assignment_version;
        v->base.position = under->position ? view_position : NULL;
        v->base.lag = under->lag ? view_lag : NULL;
        v->base.pause = under->pause ? view_pause : NULL;
        v->base.at_end = under->at_end ? view_at_end : NULL;
        v->base.under = under;
    }
    s->open = n;
    for (int i = 0; i < n; i++) views[i] = &s->views[i]->base;
    return RN_OK;
}
