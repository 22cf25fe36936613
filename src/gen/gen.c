/*
 * gen.c - deterministic, realistic data for the five scenarios; see gen.h
 * and docs/generator.md.
 *
 * Design. Two clocks and two heaps:
 *
 *  - Actors (users, for s4 a "campaign desk") each hold a short script: the
 *    timed steps of their current session. The actor heap, keyed by the time
 *    of each actor's next step, picks who acts next, so event time (g->now)
 *    only moves forward. When a script runs out, the scenario's plan hook
 *    writes the next session after a gap. This is what gives s1 its login /
 *    purchase timing, s5 its sessions with > 20 s gaps, s3 its 1..10 events
 *    per user.
 *  - Every record an actor produces goes into the send heap, keyed by its
 *    send time (>= g->now when pushed) and a sequence number. A record is
 *    sent when its send time is not after g->now. Most records are sent at
 *    their event time; delayed ones (out-of-order events, late purchases,
 *    late or replacement user records) wait in the heap while later events
 *    overtake them. After the last main-topic record the heap is drained.
 *
 * Nexmark ("nexmark") is not driven by actors: its events follow from
 * their numbers (gen_nexmark.c), and rn_gen_* only hand over to it.
 *
 * Records are stored unrendered (a kind and a few integers) and turned into
 * JSON only when sent, by straight-line appends into a reserved buffer.
 * Randomness is xoshiro256** seeded through splitmix64; distributions use
 * integer arithmetic only and floats are formatted by hand, so the bytes
 * depend on the seed and options alone, never on libm, locale or platform.
 */
#include "gen/gen.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "gen/gen_data.h"
#include "gen/gen_nexmark.h"

#define GEN_SEC 1000LL
#define GEN_MIN (60 * GEN_SEC)
#define GEN_HOUR (60 * GEN_MIN)
#define GEN_DAY (24 * GEN_HOUR)
#define GEN_MAX_STEPS 24         /* longest session script */
#define GEN_DEFAULT_START 1714557600000LL /* 2024-05-01T10:00:00Z */
#define GEN_REC_MAX 2048         /* upper bound of one rendered record */

/* ------------------------------------------------------------------ */
/* PRNG                                                                */

static uint64_t gen_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A stateless hash of (seed, tag, n): names, ids and e-mails derived from
 * it stay the same for a given entity however often they are rendered. */
static uint64_t gen_hash3(uint64_t seed, uint64_t tag, uint64_t n)
{
    uint64_t x = seed ^ (tag * 0xd1b54a32d192ed03ULL);
    (void)gen_splitmix(&x);
    x += n * 0x9e3779b97f4a7c15ULL;
    return gen_splitmix(&x);
}

static inline uint64_t gen_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* ------------------------------------------------------------------ */
/* Types                                                               */

enum gen_kind {
    K_S1,          /* v0 user, v1 action */
    K_S2,          /* v0 user, v1 action, v2 page */
    K_S3_USER,     /* v0 user index, v1 variant (0 first, 1 replacement) */
    K_S3_EVENT,    /* v0 user index, v1 page, v2 event */
    K_S4_SUB,      /* v0 row id, v1 client index, v2 restaurant */
    K_S4_CAMPAIGN, /* v0 campaign index, v1 restaurant, v2 text, v3 start s, v4 end s */
    K_S5_EVENT,    /* v0 event type, v1 user, v2 page */
    K_S5_PURCHASE  /* v0 amount, v1 user, v2 page */
};

/* One record waiting to be sent. */
typedef struct gen_rec {
    int64_t st;    /* send time, ms: the heap key */
    uint64_t seq;  /* push order: breaks send-time ties first-in first-out */
    int64_t et;    /* event time written into the record, ms */
    int64_t v[5];  /* kind-specific values, see enum gen_kind */
    int32_t kind;  /* enum gen_kind */
    int32_t topic; /* index into the scenario's topics */
} gen_rec_t;

/* One timed step of an actor's script. */
typedef struct gen_step {
    int64_t t;    /* event time of the step, ms */
    int32_t kind; /* scenario-specific action */
    int32_t arg;  /* scenario-specific argument (a page, ...) */
} gen_step_t;

/* A user (or campaign desk) and its current session script. */
typedef struct gen_actor {
    int64_t aux;                    /* scenario-specific: s3 user index */
    int32_t id;                     /* user id (1-based) */
    int32_t n;                      /* steps in the script */
    int32_t pos;                    /* next step to perform */
    int32_t flags;                  /* scenario-specific */
    gen_step_t step[GEN_MAX_STEPS]; /* the script, sorted by t */
} gen_actor_t;

typedef struct gen_scenario gen_scenario_t;

struct rn_gen {
    const gen_scenario_t *sc;  /* scenario table entry */
    rn_gen_opts_t opts;        /* copy of the caller's options */
    uint64_t s[4];             /* xoshiro256** state */
    int64_t now;               /* generator event time, ms; never decreases */
    int64_t main_made;         /* main-topic records produced so far */
    int64_t next_index;        /* s3 users / s4 campaigns created so far */
    uint64_t seq;              /* next gen_rec_t.seq */
    bool done;                 /* count reached: draining the send heap */
    bool oom;                  /* a push failed for lack of memory */
    gen_rec_t *heap;           /* send heap (min by st, seq) */
    size_t nheap, capheap;     /* used / allocated send heap entries */
    gen_actor_t *actors;       /* all actors */
    int32_t *aheap;            /* actor heap of indexes into actors */
    int nactors;               /* number of actors */
    rn_nexmark_t *nexmark;     /* "nexmark": its generator, which does all the work */
};

/* A scenario: its topics and the hooks that drive its actors. */
struct gen_scenario {
    const char *name;       /* "s1".."s5" */
    int ntopics;            /* number of topics */
    const char *topics[2];  /* topic names, fixed by SCENARIOS.md */
    int main_topic;         /* index of the topic opts.count counts */
    int nactors;            /* actors to create */
    /* Writes a's next script, starting after time `after` (first: at the
     * very start, spread the actors out). */
    void (*plan)(rn_gen_t *g, gen_actor_t *a, int64_t after, bool first);
    /* Performs one step: pushes its records into the send heap. */
    void (*act)(rn_gen_t *g, gen_actor_t *a, const gen_step_t *s);
};

/* ------------------------------------------------------------------ */
/* Random helpers                                                      */

static uint64_t gen_u64(rn_gen_t *g)
{
    uint64_t *s = g->s;
    uint64_t r = gen_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = gen_rotl(s[3], 45);
    return r;
}

/* Uniform integer in [lo, hi] (hi - lo < 2^32). */
static int64_t gen_range(rn_gen_t *g, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (int64_t)(((gen_u64(g) >> 32) * span) >> 32);
}

/* True with probability p. */
static bool gen_chance(rn_gen_t *g, double p)
{
    return (double)(gen_u64(g) >> 11) * 0x1p-53 < p;
}

/* A page index 0..99, skewed towards the front of the table ("/home" and
 * the catalog are visited far more than "/terms"). */
static int gen_page(rn_gen_t *g)
{
    int64_t r = gen_range(g, 0, 9999);
    return (int)(r * r / 1000000);
}

/* ------------------------------------------------------------------ */
/* Send heap                                                           */

static bool gen_rec_less(const gen_rec_t *a, const gen_rec_t *b)
{
    return a->st < b->st || (a->st == b->st && a->seq < b->seq);
}

/* Pushes a record to be sent at st (raised to g->now if earlier). Returns
 * a pointer to its values, valid until the next push or pop, or NULL on
 * OOM (then g->oom is set and the step is reported as failed). */
static gen_rec_t *gen_push(rn_gen_t *g, int64_t st, int topic, int kind, int64_t et)
{
    if (g->nheap == g->capheap) {
        size_t cap = g->capheap ? g->capheap * 2 : 256;
        gen_rec_t *h = rn_realloc(g->heap, cap * sizeof *h);
        if (!h) {
            g->oom = true;
            return NULL;
        }
        g->heap = h;
        g->capheap = cap;
    }
    gen_rec_t r;
    memset(&r, 0, sizeof r);
    r.st = st < g->now ? g->now : st;
    r.seq = g->seq++;
    r.et = et;
    r.kind = kind;
    r.topic = topic;
    if (topic == g->sc->main_topic) g->main_made++;
    size_t i = g->nheap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!gen_rec_less(&r, &g->heap[p])) break;
        g->heap[i] = g->heap[p];
        i = p;
    }
    g->heap[i] = r;
    return &g->heap[i];
}

static void gen_pop(rn_gen_t *g, gen_rec_t *out)
{
    *out = g->heap[0];
    gen_rec_t last = g->heap[--g->nheap];
    size_t n = g->nheap, i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && gen_rec_less(&g->heap[c + 1], &g->heap[c])) c++;
        if (!gen_rec_less(&g->heap[c], &last)) break;
        g->heap[i] = g->heap[c];
        i = c;
    }
    if (n) g->heap[i] = last;
}

/* Send time of a main-topic event at et: et, or for a fraction
 * opts.out_of_order of events 1..5 s later, so later events overtake it. */
static int64_t gen_send_time(rn_gen_t *g, int64_t et)
{
    if (g->opts.out_of_order > 0 && gen_chance(g, g->opts.out_of_order))
        return et + gen_range(g, 1000, 5000);
    return et;
}

/* ------------------------------------------------------------------ */
/* Actor heap                                                          */

static int64_t gen_actor_key(const rn_gen_t *g, int32_t i)
{
    const gen_actor_t *a = &g->actors[i];
    return a->step[a->pos].t;
}

static bool gen_actor_less(const rn_gen_t *g, int32_t a, int32_t b)
{
    int64_t ka = gen_actor_key(g, a), kb = gen_actor_key(g, b);
    return ka < kb || (ka == kb && a < b);
}

static void gen_actor_down(rn_gen_t *g, int i)
{
    int n = g->nactors;
    int32_t x = g->aheap[i];
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && gen_actor_less(g, g->aheap[c + 1], g->aheap[c])) c++;
        if (!gen_actor_less(g, g->aheap[c], x)) break;
        g->aheap[i] = g->aheap[c];
        i = c;
    }
    g->aheap[i] = x;
}

/* Sorts a script by time (insertion sort: scripts are short). */
static void gen_sort_steps(gen_actor_t *a)
{
    for (int i = 1; i < a->n; i++) {
        gen_step_t x = a->step[i];
        int j = i;
        while (j > 0 && a->step[j - 1].t > x.t) {
            a->step[j] = a->step[j - 1];
            j--;
        }
        a->step[j] = x;
    }
}

static void gen_add_step(gen_actor_t *a, int64_t t, int kind, int arg)
{
    if (a->n >= GEN_MAX_STEPS) return;
    a->step[a->n].t = t;
    a->step[a->n].kind = kind;
    a->step[a->n].arg = arg;
    a->n++;
}

/* ------------------------------------------------------------------ */
/* s1: logins                                                          */

enum { S1_LOGIN, S1_PURCHASE, S1_VIEW, S1_LOGOUT };
static const char *const s1_actions[] = {"login", "purchase", "view", "logout"};

/* A session: a login, 0..8 views within 12 minutes; for half the sessions
 * a purchase within 9.5 minutes of the login, for some of the rest one
 * only after the 10-minute timer; usually a logout at the end. */
static void s1_plan(rn_gen_t *g, gen_actor_t *a, int64_t after, bool first)
{
    int64_t t0 = after + (first ? gen_range(g, 0, 10 * GEN_MIN) : gen_range(g, 30 * GEN_SEC, 15 * GEN_MIN));
    a->n = a->pos = 0;
    gen_add_step(a, t0, S1_LOGIN, 0);
    int views = (int)gen_range(g, 0, 8);
    for (int i = 0; i < views; i++) gen_add_step(a, t0 + gen_range(g, 5 * GEN_SEC, 12 * GEN_MIN), S1_VIEW, 0);
    if (gen_chance(g, 0.5))
        gen_add_step(a, t0 + gen_range(g, 20 * GEN_SEC, 9 * GEN_MIN + 30 * GEN_SEC), S1_PURCHASE, 0);
    else if (gen_chance(g, 0.15))
        gen_add_step(a, t0 + gen_range(g, 10 * GEN_MIN + 30 * GEN_SEC, 20 * GEN_MIN), S1_PURCHASE, 0);
    gen_sort_steps(a);
    if (gen_chance(g, 0.7))
        gen_add_step(a, a->step[a->n - 1].t + gen_range(g, 5 * GEN_SEC, 3 * GEN_MIN), S1_LOGOUT, 0);
}

static void s1_act(rn_gen_t *g, gen_actor_t *a, const gen_step_t *s)
{
    gen_rec_t *r = gen_push(g, gen_send_time(g, s->t), 0, K_S1, s->t);
    if (!r) return;
    r->v[0] = a->id;
    r->v[1] = s->kind;
}

/* ------------------------------------------------------------------ */
/* s2: activity                                                        */

enum { S2_VIEW, S2_CLICK, S2_PURCHASE };
static const char *const s2_actions[] = {"view", "click", "purchase"};

/* A visit of 3..30 events 1..30 s apart; views move to a new page, clicks
 * and purchases happen on the current one. Visits are 1..15 min apart. */
static void s2_plan(rn_gen_t *g, gen_actor_t *a, int64_t after, bool first)
{
    int64_t t = after + (first ? gen_range(g, 0, 5 * GEN_MIN) : gen_range(g, GEN_MIN, 15 * GEN_MIN));
    int n = (int)gen_range(g, 3, 30);
    int page = gen_page(g);
    a->n = a->pos = 0;
    for (int i = 0; i < n; i++) {
        int64_t r = gen_range(g, 0, 99);
        int kind = i == 0 || r < 70 ? S2_VIEW : r < 92 ? S2_CLICK : S2_PURCHASE;
        if (kind == S2_VIEW) page = gen_page(g);
        gen_add_step(a, t, kind, page);
        t += gen_range(g, GEN_SEC, 30 * GEN_SEC);
    }
}

static void s2_act(rn_gen_t *g, gen_actor_t *a, const gen_step_t *s)
{
    gen_rec_t *r = gen_push(g, gen_send_time(g, s->t), 0, K_S2, s->t);
    if (!r) return;
    r->v[0] = a->id;
    r->v[1] = s->kind;
    r->v[2] = s->arg;
}

/* ------------------------------------------------------------------ */
/* s3: corp users x clickstream                                        */

static const char *const s3_events[] = {"click", "scroll", "submit", "download", "focus"};
#define S3_LATE_USER 1 /* actor flag: this user's record is sent late */

/* A new user with 1..10 events 0.2..10 s apart. */
static void s3_plan(rn_gen_t *g, gen_actor_t *a, int64_t after, bool first)
{
    int64_t t = after + (first ? gen_range(g, 0, 30 * GEN_SEC) : gen_range(g, 100, 20 * GEN_SEC));
    int n = (int)gen_range(g, 1, 10);
    a->aux = g->next_index++;
    a->n = a->pos = 0;
    a->flags = gen_chance(g, 0.1) ? S3_LATE_USER : 0;
    for (int i = 0; i < n; i++) {
        int64_t r = gen_range(g, 0, 99);
        int ev = r < 40 ? 0 : r < 70 ? 1 : r < 80 ? 2 : r < 85 ? 3 : 4;
        gen_add_step(a, t, ev, gen_page(g));
        t += gen_range(g, 200, 10 * GEN_SEC);
    }
}

static void s3_act(rn_gen_t *g, gen_actor_t *a, const gen_step_t *s)
{
    if (a->pos == 0) {
        /* The user record: normally sent just before the first event; for
         * late users after one of the user's events (after the first one
         * when the user has a single event). */
        int64_t st = s->t;
        if (a->flags & S3_LATE_USER) {
            st = a->n > 1 ? a->step[gen_range(g, 1, a->n - 1)].t + 1 : s->t + gen_range(g, 1000, 3000);
        }
        int64_t et = s->t - gen_range(g, 0, 5 * GEN_SEC);
        gen_rec_t *r = gen_push(g, st, 0, K_S3_USER, et);
        if (!r) return;
        r->v[0] = a->aux;
        r->v[1] = 0;
        if (gen_chance(g, 0.05)) {
            /* A replacement record (changed name / e-mail) a while later. */
            int64_t rt = a->step[a->n - 1].t + gen_range(g, 2 * GEN_SEC, 2 * GEN_MIN);
            if (rt <= st) rt = st + 1000;
            r = gen_push(g, rt, 0, K_S3_USER, rt);
            if (!r) return;
            r->v[0] = a->aux;
            r->v[1] = 1;
        }
    }
    gen_rec_t *r = gen_push(g, gen_send_time(g, s->t), 1, K_S3_EVENT, s->t);
    if (!r) return;
    r->v[0] = a->aux;
    r->v[1] = s->arg;
    r->v[2] = s->kind;
}

/* ------------------------------------------------------------------ */
/* s4: campaigns                                                       */

#define S4_NREST 20    /* restaurants */
#define S4_NCLIENTS 400 /* client pool subscribers are drawn from */

/* The campaign desk: campaigns 0.2..30 s apart, planned in batches. */
static void s4_plan(rn_gen_t *g, gen_actor_t *a, int64_t after, bool first)
{
    int64_t t = after + (first ? 0 : gen_range(g, 200, 30 * GEN_SEC));
    a->n = a->pos = 0;
    for (int i = 0; i < GEN_MAX_STEPS; i++) {
        gen_add_step(a, t, 0, 0);
        t += gen_range(g, 200, 30 * GEN_SEC);
    }
}

/* Most campaigns run across both their creation time and opts.start_ms;
 * about 12% have already ended and 13% start in the future. */
static void s4_act(rn_gen_t *g, gen_actor_t *a, const gen_step_t *s)
{
    int64_t created = s->t / 1000, base = g->opts.start_ms / 1000;
    int64_t lo = created < base ? created : base, hi = created > base ? created : base;
    int64_t start, end, r = gen_range(g, 0, 99);
    if (r < 75) {
        start = lo - gen_range(g, 0, 3 * 86400);
        end = hi + gen_range(g, 86400, 10 * 86400);
    } else if (r < 87) {
        end = lo - gen_range(g, 3600, 30 * 86400);
        start = end - gen_range(g, 86400, 10 * 86400);
    } else {
        start = hi + gen_range(g, 3600, 30 * 86400);
        end = start + gen_range(g, 86400, 10 * 86400);
    }
    gen_rec_t *rec = gen_push(g, gen_send_time(g, s->t), 0, K_S4_CAMPAIGN, s->t);
    if (!rec) return;
    rec->v[0] = g->next_index++;
    rec->v[1] = gen_range(g, 0, S4_NREST - 1);
    rec->v[2] = gen_range(g, 0, (int64_t)rn_gen_campaign_texts_n - 1);
    rec->v[3] = start;
    rec->v[4] = end;
}

/* Pushes the subscribers_restaurants rows, all sent before any campaign.
 * Each restaurant gets 0..30 distinct clients; the last one gets none. */
static rn_err_t s4_subscribers(rn_gen_t *g)
{
    int64_t id = 1;
    for (int rest = 0; rest < S4_NREST; rest++) {
        int64_t n = rest == S4_NREST - 1 ? 0 : gen_range(g, 0, 30);
        int64_t base = gen_range(g, 0, S4_NCLIENTS - 1);
        for (int64_t j = 0; j < n; j++) {
            gen_rec_t *r = gen_push(g, g->opts.start_ms - 1, 1, K_S4_SUB, g->opts.start_ms);
            if (!r) return RN_ERR_NOMEM;
            r->v[0] = id++;
            r->v[1] = (base + j * 7) % S4_NCLIENTS; /* 7 is coprime with 400: distinct */
            r->v[2] = rest;
        }
    }
    return RN_OK;
}

/* ------------------------------------------------------------------ */
/* s5: sessions                                                        */

enum { S5_PAGE_VIEW, S5_CLICK, S5_PURCHASE };
static const char *const s5_types[] = {"page-view", "click", "purchase"};

/* A session 21 s..2 min after the previous one: events 0.2..8 s apart;
 * 20% of sessions have 6..14 events (more than 5), 15% have no page-view.
 * Purchases within a session are >= 22 s apart (see s5_act). */
static void s5_plan(rn_gen_t *g, gen_actor_t *a, int64_t after, bool first)
{
    int64_t t = after + (first ? gen_range(g, 0, 60 * GEN_SEC) : gen_range(g, 21 * GEN_SEC, 120 * GEN_SEC));
    int n = gen_chance(g, 0.2) ? (int)gen_range(g, 6, 14) : (int)gen_range(g, 1, 5);
    bool no_views = gen_chance(g, 0.15);
    int page = (int)gen_range(g, 1, 100);
    int64_t last_purchase = INT64_MIN / 2;
    a->n = a->pos = 0;
    for (int i = 0; i < n; i++) {
        int64_t r = gen_range(g, 0, 99);
        int kind;
        if (no_views) kind = r < 75 ? S5_CLICK : S5_PURCHASE;
        else if (i == 0) kind = S5_PAGE_VIEW;
        else kind = r < 50 ? S5_PAGE_VIEW : r < 88 ? S5_CLICK : S5_PURCHASE;
        if (kind == S5_PURCHASE && t - last_purchase < 22 * GEN_SEC) kind = S5_CLICK;
        if (kind == S5_PURCHASE) last_purchase = t;
        if (kind == S5_PAGE_VIEW && i > 0) page = (int)gen_range(g, 1, 100);
        gen_add_step(a, t, kind, page);
        t += gen_range(g, 200, 8 * GEN_SEC);
    }
}

static void s5_act(rn_gen_t *g, gen_actor_t *a, const gen_step_t *s)
{
    gen_rec_t *r = gen_push(g, gen_send_time(g, s->t), 0, K_S5_EVENT, s->t);
    if (!r) return;
    r->v[0] = s->kind;
    r->v[1] = a->id;
    r->v[2] = s->arg;
    if (s->kind != S5_PURCHASE) return;
    /* Its payment record: within +-4.5 s, or for a fraction late_fraction
     * 6..15 s later. Purchases of a user are >= 22 s apart and sessions
     * >= 21 s apart, so a +-5 s interval join pairs every on-time record
     * with its own event and finds no partner for a late one. */
    int64_t ts = g->opts.late_fraction > 0 && gen_chance(g, g->opts.late_fraction)
                     ? s->t + gen_range(g, 6 * GEN_SEC, 15 * GEN_SEC)
                     : s->t + gen_range(g, -4500, 4500);
    int64_t amount = gen_range(g, 1, 50) * 100 - (gen_chance(g, 0.3) ? 1 : 0);
    r = gen_push(g, ts, 1, K_S5_PURCHASE, ts);
    if (!r) return;
    r->v[0] = amount < 100 ? 100 : amount;
    r->v[1] = a->id;
    r->v[2] = s->arg;
}

/* ------------------------------------------------------------------ */
/* Scenario table                                                      */

static const gen_scenario_t gen_scenarios[] = {
    {"s1", 1, {"user_actions", NULL}, 0, 1000, s1_plan, s1_act},
    {"s2", 1, {"user-activity", NULL}, 0, 1000, s2_plan, s2_act},
    {"s3", 2, {"CorpAppsTopic", "test"}, 1, 200, s3_plan, s3_act},
    {"s4", 2, {"campaigns", "subscribers_restaurants"}, 0, 1, s4_plan, s4_act},
    {"s5", 2, {"user-events", "purchases"}, 0, 20, s5_plan, s5_act},
};
#define GEN_NSCENARIOS (int)(sizeof gen_scenarios / sizeof gen_scenarios[0])

/* ------------------------------------------------------------------ */
/* Lifecycle                                                           */

void rn_gen_opts_default(rn_gen_opts_t *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->seed = 1;
    opts->count = 100000;
    opts->out_of_order = 0.1;
    opts->late_fraction = 0.2;
    opts->start_ms = GEN_DEFAULT_START;
    opts->event_rate = 10000;
}

rn_gen_t *rn_gen_new(const char *scenario, const rn_gen_opts_t *opts, char *errbuf,
                     size_t errbuf_size)
{
    if (scenario && !strcmp(scenario, "nexmark")) {
        rn_gen_t *g = rn_calloc(1, sizeof *g);
        if (g) {
            if (opts) g->opts = *opts;
            else rn_gen_opts_default(&g->opts);
            g->nexmark = rn_nexmark_new(&g->opts);
        }
        if (!g || !g->nexmark) {
            snprintf(errbuf, errbuf_size, "out of memory creating generator nexmark");
            rn_free(g);
            return NULL;
        }
        return g;
    }
    const gen_scenario_t *sc = NULL;
    for (int i = 0; i < GEN_NSCENARIOS; i++)
        if (scenario && !strcmp(scenario, gen_scenarios[i].name)) sc = &gen_scenarios[i];
    if (!sc) {
        snprintf(errbuf, errbuf_size, "unknown scenario '%s' (expected s1, s2, s3, s4, s5 or nexmark)",
                 scenario ? scenario : "(null)");
        return NULL;
    }
    rn_gen_t *g = rn_calloc(1, sizeof *g);
    if (!g) goto oom;
    g->sc = sc;
    if (opts) g->opts = *opts;
    else rn_gen_opts_default(&g->opts);
    uint64_t x = g->opts.seed;
    for (int i = 0; i < 4; i++) g->s[i] = gen_splitmix(&x);
    g->now = g->opts.start_ms;
    g->nactors = sc->nactors;
    g->actors = rn_calloc((size_t)sc->nactors, sizeof *g->actors);
    g->aheap = rn_calloc((size_t)sc->nactors, sizeof *g->aheap);
    if (!g->actors || !g->aheap) goto oom;
    if (sc->act == s4_act && s4_subscribers(g) != RN_OK) goto oom;
    for (int i = 0; i < g->nactors; i++) {
        g->actors[i].id = i + 1;
        sc->plan(g, &g->actors[i], g->opts.start_ms, true);
        g->aheap[i] = i;
    }
    for (int i = g->nactors / 2 - 1; i >= 0; i--) gen_actor_down(g, i);
    return g;
oom:
    snprintf(errbuf, errbuf_size, "out of memory creating generator %s", sc->name);
    rn_gen_free(g);
    return NULL;
}

void rn_gen_free(rn_gen_t *g)
{
    if (!g) return;
    rn_nexmark_free(g->nexmark);
    rn_free(g->heap);
    rn_free(g->actors);
    rn_free(g->aheap);
    rn_free(g);
}

int rn_gen_ntopics(const rn_gen_t *g) { return g->nexmark ? RN_NEXMARK_NTOPICS : g->sc->ntopics; }

const char *rn_gen_topic(const rn_gen_t *g, int i)
{
    if (g->nexmark) return i >= 0 && i < RN_NEXMARK_NTOPICS ? rn_nexmark_topics[i] : NULL;
    return i >= 0 && i < g->sc->ntopics ? g->sc->topics[i] : NULL;
}

/* Lets the next actor perform one step. Returns RN_ERR_NOMEM if a record
 * could not be queued. */
static rn_err_t gen_step(rn_gen_t *g)
{
    int32_t ai = g->aheap[0];
    gen_actor_t *a = &g->actors[ai];
    gen_step_t s = a->step[a->pos];
    if (s.t > g->now) g->now = s.t;
    g->sc->act(g, a, &s);
    if (g->oom) return RN_ERR_NOMEM;
    if (++a->pos >= a->n) g->sc->plan(g, a, a->step[a->n - 1].t, false);
    gen_actor_down(g, 0);
    return RN_OK;
}

/* Takes the next record to send into *out. Returns RN_OK, RN_ERR_EOF or
 * RN_ERR_NOMEM. */
static rn_err_t gen_next_rec(rn_gen_t *g, gen_rec_t *out)
{
    for (;;) {
        if (g->nheap && (g->done || g->heap[0].st <= g->now)) {
            gen_pop(g, out);
            return RN_OK;
        }
        if (g->done) return RN_ERR_EOF;
        if (g->opts.count >= 0 && g->main_made >= g->opts.count) {
            g->done = true;
            continue;
        }
        rn_err_t err = gen_step(g);
        if (err != RN_OK) return err;
    }
}

/* ------------------------------------------------------------------ */
/* Rendering                                                           */

#define PUT_LIT(p, s) (memcpy((p), (s), sizeof(s) - 1), (p) += sizeof(s) - 1)

static char *gen_put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static char *gen_put_u64(char *p, uint64_t u)
{
    char tmp[24];
    char *q = tmp + sizeof tmp;
    do {
        *--q = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t n = (size_t)(tmp + sizeof tmp - q);
    memcpy(p, q, n);
    return p + n;
}

static char *gen_put_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return gen_put_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return gen_put_u64(p, (uint64_t)v);
}

static char *gen_put_2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

static int64_t gen_floordiv(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

/* "YYYY-MM-DD<sep>HH:MM:SS" (UTC, whole seconds) for epoch ms; days to
 * civil date after H. Hinnant's algorithm. */
static char *gen_put_datetime(char *p, int64_t ms, char sep)
{
    int64_t secs = gen_floordiv(ms, 1000);
    int64_t days = gen_floordiv(secs, 86400);
    int64_t sod = secs - days * 86400;
    int64_t z = days + 719468;
    int64_t era = gen_floordiv(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    unsigned d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    unsigned m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    if (m <= 2) y++;
    if (y >= 0 && y <= 9999) {
        p = gen_put_2(p, (unsigned)(y / 100));
        p = gen_put_2(p, (unsigned)(y % 100));
    } else {
        p = gen_put_i64(p, y);
    }
    *p++ = '-';
    p = gen_put_2(p, m);
    *p++ = '-';
    p = gen_put_2(p, d);
    *p++ = sep;
    p = gen_put_2(p, (unsigned)(sod / 3600));
    *p++ = ':';
    p = gen_put_2(p, (unsigned)(sod / 60 % 60));
    *p++ = ':';
    return gen_put_2(p, (unsigned)(sod % 60));
}

/* Epoch seconds with exactly three decimals: 1714557600.123. */
static char *gen_put_epoch3(char *p, int64_t ms)
{
    int64_t s = gen_floordiv(ms, 1000), f = ms - s * 1000;
    p = gen_put_i64(p, s);
    *p++ = '.';
    *p++ = (char)('0' + f / 100);
    return gen_put_2(p, (unsigned)(f % 100));
}

/* uuid-like: 8-4-4-4-12 lowercase hex from two hashes of (tag, n). */
static char *gen_put_uuid(char *p, uint64_t seed, uint64_t tag, uint64_t n)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t h[2] = {gen_hash3(seed, tag, n), gen_hash3(seed, tag + 1000, n)};
    for (int i = 0; i < 32; i++) {
        if (i == 8 || i == 12 || i == 16 || i == 20) *p++ = '-';
        int nib = (int)((h[i / 16] >> (4 * (i % 16))) & 15);
        if (i == 12) nib = 4; /* looks like a version-4 uuid */
        if (i == 16) nib = 8 | (nib & 3);
        *p++ = hex[nib];
    }
    return p;
}

/* A person derived from a hash: gender, first and last name indexes and
 * the e-mail style. */
typedef struct gen_person {
    const char *first_ru, *first_lat; /* first name */
    const char *last_ru, *last_lat;   /* surname, in the person's gender */
    unsigned style;                   /* e-mail login pattern 0..4 */
    unsigned num;                     /* digits used by some patterns */
    const char *domain;               /* e-mail domain */
} gen_person_t;

static void gen_person(uint64_t h, uint64_t h2, gen_person_t *pp)
{
    bool female = h & 1;
    const rn_gen_first_t *f = female ? &rn_gen_female_first[(h >> 8) % rn_gen_female_first_n]
                                     : &rn_gen_male_first[(h >> 8) % rn_gen_male_first_n];
    size_t li = (size_t)((h >> 20) % rn_gen_last_n);
    if (h2) li = (li + 1 + (size_t)(h2 % (rn_gen_last_n - 1))) % rn_gen_last_n;
    uint64_t e = h2 ? h2 : h;
    const rn_gen_last_t *l = &rn_gen_last[li];
    pp->first_ru = f->ru;
    pp->first_lat = f->lat;
    pp->last_ru = female ? l->ru_f : l->ru_m;
    pp->last_lat = female ? l->lat_f : l->lat_m;
    pp->style = (unsigned)((e >> 36) % 5);
    pp->num = (unsigned)((e >> 44) % 100);
    pp->domain = rn_gen_email_domains[(e >> 52) % rn_gen_email_domains_n];
}

static char *gen_put_name(char *p, const gen_person_t *pp)
{
    p = gen_put_str(p, pp->first_ru);
    *p++ = ' ';
    return gen_put_str(p, pp->last_ru);
}

static char *gen_put_email(char *p, const gen_person_t *pp)
{
    switch (pp->style) {
    case 0: /* ivan.petrov */
        p = gen_put_str(p, pp->first_lat);
        *p++ = '.';
        p = gen_put_str(p, pp->last_lat);
        break;
    case 1: /* i.petrov */
        *p++ = pp->first_lat[0];
        *p++ = '.';
        p = gen_put_str(p, pp->last_lat);
        break;
    case 2: /* petrov.ivan85 */
        p = gen_put_str(p, pp->last_lat);
        *p++ = '.';
        p = gen_put_str(p, pp->first_lat);
        p = gen_put_2(p, pp->num);
        break;
    case 3: /* ivanpetrov1985 */
        p = gen_put_str(p, pp->first_lat);
        p = gen_put_str(p, pp->last_lat);
        p = gen_put_u64(p, 1960 + pp->num % 45);
        break;
    default: /* petrov_i */
        p = gen_put_str(p, pp->last_lat);
        *p++ = '_';
        *p++ = pp->first_lat[0];
        break;
    }
    *p++ = '@';
    return gen_put_str(p, pp->domain);
}

enum { TAG_S3_USER = 1, TAG_S3_ID, TAG_S4_REST, TAG_S4_CLIENT, TAG_S4_CAMPAIGN, TAG_S4_OWNER };

static char *gen_render_rec(const rn_gen_t *g, const gen_rec_t *r, char *p)
{
    uint64_t seed = g->opts.seed;
    gen_person_t pp;
    switch (r->kind) {
    case K_S1:
        PUT_LIT(p, "{\"user_id\":");
        p = gen_put_i64(p, r->v[0]);
        PUT_LIT(p, ",\"action\":\"");
        p = gen_put_str(p, s1_actions[r->v[1]]);
        PUT_LIT(p, "\",\"timestamp\":\"");
        p = gen_put_datetime(p, r->et, 'T');
        PUT_LIT(p, "\"}");
        break;
    case K_S2:
        PUT_LIT(p, "{\"user_id\":");
        p = gen_put_i64(p, r->v[0]);
        PUT_LIT(p, ",\"action\":\"");
        p = gen_put_str(p, s2_actions[r->v[1]]);
        PUT_LIT(p, "\",\"page\":\"");
        p = gen_put_str(p, rn_gen_url_paths[r->v[2]]);
        PUT_LIT(p, "\",\"timestamp\":\"");
        p = gen_put_datetime(p, r->et, 'T');
        PUT_LIT(p, "Z\"}");
        break;
    case K_S3_USER:
        PUT_LIT(p, "{\"event_timestamp\":\"");
        p = gen_put_datetime(p, r->et, ' ');
        PUT_LIT(p, "\",\"user_id\":\"");
        p = gen_put_i64(p, (int64_t)gen_hash3(seed, TAG_S3_ID, (uint64_t)r->v[0]));
        PUT_LIT(p, "\",\"email\":\"");
        gen_person(gen_hash3(seed, TAG_S3_USER, (uint64_t)r->v[0]),
                   r->v[1] ? gen_hash3(seed, TAG_S3_USER + 100, (uint64_t)r->v[0]) | 1 : 0, &pp);
        p = gen_put_email(p, &pp);
        PUT_LIT(p, "\",\"name\":\"");
        p = gen_put_name(p, &pp);
        PUT_LIT(p, "\"}");
        break;
    case K_S3_EVENT:
        PUT_LIT(p, "{\"event_timestamp\":\"");
        p = gen_put_datetime(p, r->et, ' ');
        PUT_LIT(p, "\",\"user_id\":\"");
        p = gen_put_i64(p, (int64_t)gen_hash3(seed, TAG_S3_ID, (uint64_t)r->v[0]));
        PUT_LIT(p, "\",\"page\":\"https://");
        p = gen_put_str(p, rn_gen_url_hosts[r->v[1] % (int64_t)rn_gen_url_hosts_n]);
        p = gen_put_str(p, rn_gen_url_paths[r->v[1]]);
        PUT_LIT(p, "\",\"event\":\"");
        p = gen_put_str(p, s3_events[r->v[2]]);
        PUT_LIT(p, "\"}");
        break;
    case K_S4_SUB:
        PUT_LIT(p, "{\"id\":");
        p = gen_put_i64(p, r->v[0]);
        PUT_LIT(p, ",\"client_id\":\"");
        p = gen_put_uuid(p, seed, TAG_S4_CLIENT, (uint64_t)r->v[1]);
        PUT_LIT(p, "\",\"restaurant_id\":\"");
        p = gen_put_uuid(p, seed, TAG_S4_REST, (uint64_t)r->v[2]);
        PUT_LIT(p, "\"}");
        break;
    case K_S4_CAMPAIGN: {
        int64_t rest = r->v[1];
        PUT_LIT(p, "{\"restaurant_id\":\"");
        p = gen_put_uuid(p, seed, TAG_S4_REST, (uint64_t)rest);
        PUT_LIT(p, "\",\"adv_campaign_id\":\"");
        p = gen_put_uuid(p, seed, TAG_S4_CAMPAIGN, (uint64_t)r->v[0]);
        PUT_LIT(p, "\",\"adv_campaign_content\":\"«");
        p = gen_put_str(p, rn_gen_restaurants[rest % (int64_t)rn_gen_restaurants_n]);
        PUT_LIT(p, "»: ");
        p = gen_put_str(p, rn_gen_campaign_texts[r->v[2]]);
        /* Each restaurant has two marketing managers who take turns. */
        gen_person(gen_hash3(seed, TAG_S4_OWNER, (uint64_t)(rest * 2 + (r->v[0] & 1))), 0, &pp);
        PUT_LIT(p, "\",\"adv_campaign_owner\":\"");
        p = gen_put_name(p, &pp);
        PUT_LIT(p, "\",\"adv_campaign_owner_contact\":\"");
        p = gen_put_email(p, &pp);
        PUT_LIT(p, "\",\"adv_campaign_datetime_start\":");
        p = gen_put_i64(p, r->v[3]);
        PUT_LIT(p, ",\"adv_campaign_datetime_end\":");
        p = gen_put_i64(p, r->v[4]);
        PUT_LIT(p, ",\"datetime_created\":");
        p = gen_put_i64(p, gen_floordiv(r->et, 1000));
        *p++ = '}';
        break;
    }
    case K_S5_EVENT:
        PUT_LIT(p, "{\"event_type\":\"");
        p = gen_put_str(p, s5_types[r->v[0]]);
        PUT_LIT(p, "\",\"user_id\":");
        p = gen_put_i64(p, r->v[1]);
        PUT_LIT(p, ",\"page_id\":");
        p = gen_put_i64(p, r->v[2]);
        PUT_LIT(p, ",\"timestamp\":");
        p = gen_put_epoch3(p, r->et);
        *p++ = '}';
        break;
    case K_S5_PURCHASE:
        PUT_LIT(p, "{\"amount\":");
        p = gen_put_i64(p, r->v[0]);
        PUT_LIT(p, ",\"user_id\":");
        p = gen_put_i64(p, r->v[1]);
        PUT_LIT(p, ",\"page_id\":");
        p = gen_put_i64(p, r->v[2]);
        PUT_LIT(p, ",\"timestamp\":");
        p = gen_put_epoch3(p, r->et);
        *p++ = '}';
        break;
    }
    return p;
}

/* Appends the rendered record to b. Returns RN_OK or RN_ERR_NOMEM. */
static rn_err_t gen_render(const rn_gen_t *g, const gen_rec_t *r, rn_buf_t *b)
{
    if (rn_buf_reserve(b, GEN_REC_MAX) != 0) return RN_ERR_NOMEM;
    char *end = gen_render_rec(g, r, b->data + b->len);
    b->len = (size_t)(end - b->data);
    b->data[b->len] = '\0';
    return RN_OK;
}

rn_err_t rn_gen_next(rn_gen_t *g, int *topic, rn_buf_t *line)
{
    if (g->nexmark) return rn_nexmark_next(g->nexmark, topic, line);
    gen_rec_t r;
    rn_err_t err = gen_next_rec(g, &r);
    if (err != RN_OK) return err;
    *topic = r.topic;
    return gen_render(g, &r, line);
}
