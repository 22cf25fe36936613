/*
 * gen_nexmark.c - Nexmark persons, auctions and bids; see gen_nexmark.h
 * and docs/generator.md.
 *
 * Design. Nexmark's generator is stateless per event: event n's kind, id,
 * time and the ids it refers to are arithmetic on n (lastBase0PersonId,
 * lastBase0AuctionId of nexmark-flink), and only the free choices (hot or
 * not, prices, strings) draw from one random stream. So there is no queue
 * and no actor here, unlike gen.c: next() is one event, rendered straight
 * into the caller's buffer.
 *
 * Randomness is SplitMix64, the algorithm of Java's SplittableRandom that
 * nexmark-flink draws from (not its exact sequence: the bytes differ from
 * Java's, the distributions do not). Bounded integers use multiply-shift.
 * Prices are round(100 * 10^(6u)) as in PriceGenerator; 10^x is computed
 * with a fixed Taylor series in plain IEEE double operations, never libm,
 * and no product is added to in floating point (a fused multiply-add would
 * round differently), so the bytes depend on the seed and options alone
 * (the rule of gen.c).
 * Per-channel URLs derive from a stateless hash of (seed, channel), so the
 * 10,000-entry channel table of nexmark-flink needs no memory.
 */
#include "gen/gen_nexmark.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/mem.h"

/* nexmark-flink's defaults (NexmarkConfiguration, GeneratorConfig, the
 * *Generator classes). */
#define NX_PERSON_PROPORTION 1
#define NX_AUCTION_PROPORTION 3
#define NX_TOTAL_PROPORTION 50 /* with 46 bids */
#define NX_FIRST_PERSON_ID 1000
#define NX_FIRST_AUCTION_ID 1000
#define NX_FIRST_CATEGORY_ID 10
#define NX_NUM_CATEGORIES 5
#define NX_NUM_ACTIVE_PEOPLE 1000
#define NX_NUM_IN_FLIGHT_AUCTIONS 100
#define NX_PERSON_ID_LEAD 10
#define NX_AUCTION_ID_LEAD 10
#define NX_HOT_SELLERS_RATIO 4    /* 3 of 4 auctions by a hot seller */
#define NX_HOT_AUCTION_RATIO 2    /* 1 of 2 bids on a hot auction */
#define NX_HOT_BIDDERS_RATIO 4    /* 3 of 4 bids by a hot bidder */
#define NX_HOT_BATCH 100          /* hot ids: the first (second) of the last 100 */
#define NX_HOT_CHANNELS_RATIO 2   /* 1 of 2 bids through a hot channel */
#define NX_CHANNELS 10000         /* other channels: "channel-0".."channel-9999" */
#define NX_AVG_PERSON_BYTES 200
#define NX_AVG_AUCTION_BYTES 500
#define NX_AVG_BID_BYTES 100
#define NX_DEFAULT_RATE 10000.0   /* events per second of event time */
#define NX_EXTRA_POOL 65536       /* random letters `extra` is cut from */
#define NX_REC_MAX 1536           /* upper bound of one rendered event */

enum { NX_PERSON, NX_AUCTION, NX_BID };

const char *const rn_nexmark_topics[RN_NEXMARK_NTOPICS] = {"person", "auction", "bid"};

static const char *const nx_states[] = {"AZ", "CA", "ID", "OR", "WA", "WY"};
static const char *const nx_cities[] = {"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland",
                                        "Bend",    "Redmond",     "Seattle",       "Kent",  "Cheyenne"};
static const char *const nx_first[] = {"Peter", "Paul",  "Luke", "John",  "Saul",  "Vicky",
                                       "Kate",  "Julie", "Sarah", "Deiter", "Walter"};
static const char *const nx_last[] = {"Shultz", "Abrams", "Spencer", "White", "Bartels",
                                      "Walton", "Smith",  "Jones",   "Noris"};
static const char *const nx_hot_channels[] = {"Google", "Facebook", "Baidu", "Apple"};
#define NX_LEN(a) (sizeof(a) / sizeof((a)[0]))

enum { NX_TAG_HOT_URL = 1, NX_TAG_CHANNEL, NX_TAG_EXTRA };

struct rn_nexmark {
    uint64_t rng;                /* SplitMix64 state of the event stream */
    uint64_t seed;               /* opts.seed, for the stateless hashes */
    int64_t count;               /* events to make; < 0: endless */
    int64_t n;                   /* number of the next event */
    int64_t start_ms;            /* event time of event 0 */
    double delay_us;             /* event-time microseconds between events */
    char hot_urls[4][96];        /* the hot channels' URLs */
    char extra[NX_EXTRA_POOL];   /* letters `extra` values are cut from */
};

/* ------------------------------------------------------------------ */
/* Randomness                                                          */

static uint64_t nx_mix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n), n >= 1 and < 2^32. */
static int64_t nx_int(uint64_t *x, int64_t n) { return (int64_t)(((nx_mix(x) >> 32) * (uint64_t)n) >> 32); }

/* Uniform in [0, n), n >= 1 (modulo: the bias is below 2^-30 for the
 * ranges used here). */
static int64_t nx_long(uint64_t *x, int64_t n) { return (int64_t)(nx_mix(x) % (uint64_t)n); }

static double nx_unit(uint64_t *x) { return (double)(nx_mix(x) >> 11) * 0x1p-53; }

/* 10^x for 0 <= x < 6: 10^floor(x) times exp(frac * ln 10) by its Taylor
 * series (30 terms: the remainder is below 1e-20 for arguments < 2.31). */
static double nx_pow10(double x)
{
    int k = (int)x;
    double y = (x - k) * 2.302585092994045684, term = 1, sum = 1;
    for (int i = 1; i <= 30; i++) {
        term = term * y / i;
        sum += term;
    }
    while (k-- > 0) sum *= 10;
    return sum;
}

/* PriceGenerator.nextPrice: log-uniform over 1..1,000,000 dollars, in cents
 * rounded to the nearest (the rounding in integers, so that no compiler can
 * fuse a multiply and an add into one differently rounded instruction). */
static int64_t nx_price(uint64_t *x)
{
    int64_t mills = (int64_t)(nx_pow10(nx_unit(x) * 6.0) * 1000.0);
    return (mills + 5) / 10;
}

/* ------------------------------------------------------------------ */
/* Ids: arithmetic on the event number                                 */

/* The last person id (base 0) made at or before event `id`. */
static int64_t nx_last_person(int64_t id)
{
    int64_t epoch = id / NX_TOTAL_PROPORTION, off = id % NX_TOTAL_PROPORTION;
    if (off >= NX_PERSON_PROPORTION) off = NX_PERSON_PROPORTION - 1;
    return epoch * NX_PERSON_PROPORTION + off;
}

/* The last auction id (base 0) made at or before event `id`. */
static int64_t nx_last_auction(int64_t id)
{
    int64_t epoch = id / NX_TOTAL_PROPORTION, off = id % NX_TOTAL_PROPORTION;
    if (off < NX_PERSON_PROPORTION) {
        epoch--;
        off = NX_AUCTION_PROPORTION - 1;
    } else if (off >= NX_PERSON_PROPORTION + NX_AUCTION_PROPORTION) {
        off = NX_AUCTION_PROPORTION - 1;
    } else {
        off -= NX_PERSON_PROPORTION;
    }
    return epoch * NX_AUCTION_PROPORTION + off;
}

/* A random person among the 1000 most recent, or up to 10 ahead of the
 * last one (base 0). */
static int64_t nx_next_person(uint64_t *x, int64_t id)
{
    int64_t people = nx_last_person(id) + 1;
    int64_t active = people < NX_NUM_ACTIVE_PEOPLE ? people : NX_NUM_ACTIVE_PEOPLE;
    return people - active + nx_long(x, active + NX_PERSON_ID_LEAD);
}

/* A random auction among the 100 most recent, or up to 10 ahead (base 0). */
static int64_t nx_next_auction(uint64_t *x, int64_t id)
{
    int64_t last = nx_last_auction(id), min = last - NX_NUM_IN_FLIGHT_AUCTIONS;
    if (min < 0) min = 0;
    return min + nx_long(x, last - min + 1 + NX_AUCTION_ID_LEAD);
}

static int64_t nx_time(const rn_nexmark_t *nx, int64_t n)
{
    return nx->start_ms + (int64_t)((double)n * nx->delay_us) / 1000;
}

/* ------------------------------------------------------------------ */
/* Rendering                                                           */

#define NX_LIT(p, s) (memcpy((p), (s), sizeof(s) - 1), (p) += sizeof(s) - 1)

static char *nx_put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static char *nx_put_i64(char *p, int64_t v)
{
    char tmp[24], *q = tmp + sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--q = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *--q = '-';
    size_t n = (size_t)(tmp + sizeof tmp - q);
    memcpy(p, q, n);
    return p + n;
}

static char *nx_put_digits(char *p, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--, v /= 10) p[i] = (char)('0' + v % 10);
    return p + width;
}

/* "YYYY-MM-DD HH:MM:SS.mmm" (UTC) for epoch ms >= 0, as Flink's JSON
 * format writes a TIMESTAMP(3) ('json.timestamp-format.standard' = 'SQL',
 * its default); days to civil date after H. Hinnant's algorithm. */
static char *nx_put_time(char *p, int64_t ms)
{
    int64_t days = ms / 86400000, rem = ms % 86400000;
    int64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    unsigned d = (unsigned)(doy - (153 * mp + 2) / 5 + 1), m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    if (m <= 2) y++;
    p = nx_put_digits(p, (unsigned)y, 4);
    *p++ = '-';
    p = nx_put_digits(p, m, 2);
    *p++ = '-';
    p = nx_put_digits(p, d, 2);
    *p++ = ' ';
    p = nx_put_digits(p, (unsigned)(rem / 3600000), 2);
    *p++ = ':';
    p = nx_put_digits(p, (unsigned)(rem / 60000 % 60), 2);
    *p++ = ':';
    p = nx_put_digits(p, (unsigned)(rem / 1000 % 60), 2);
    *p++ = '.';
    return nx_put_digits(p, (unsigned)(rem % 1000), 3);
}

/* StringsGenerator.nextString: 3..max-1 characters, a-z with 1 in 13 the
 * `special` one, trimmed of spaces, written at p. Returns its end. */
static char *nx_put_word(uint64_t *x, char *p, int max, char special)
{
    int len = 3 + (int)nx_int(x, max - 3);
    char *s = p;
    for (int i = 0; i < len; i++) s[i] = nx_int(x, 13) == 0 ? special : (char)('a' + nx_int(x, 26));
    char *e = s + len;
    if (special == ' ') {
        char *b = s;
        while (b < e && *b == ' ') b++;
        while (e > b && e[-1] == ' ') e--;
        memmove(s, b, (size_t)(e - b));
        e = s + (e - b);
    }
    return e;
}

/* StringsGenerator.nextExtra: padding that brings the event to about avg
 * bytes (+-20%), cut from the pool of random letters. */
static char *nx_put_extra(rn_nexmark_t *nx, char *p, int current, int avg)
{
    if (current > avg) return p;
    int want = avg - current, delta = (want + 2) / 5; /* round(want * 0.2) */
    int size = want - delta + (delta ? (int)nx_int(&nx->rng, 2 * delta) : 0);
    int64_t off = nx_int(&nx->rng, NX_EXTRA_POOL - size);
    memcpy(p, nx->extra + off, (size_t)size);
    return p + size;
}

/* BidGenerator's base URL: https://www.nexmark.com/<w>/<w>/<w>/item.htm?query=1. */
static char *nx_put_base_url(uint64_t *x, char *p)
{
    NX_LIT(p, "https://www.nexmark.com/");
    for (int i = 0; i < 3; i++) {
        p = nx_put_word(x, p, 5, '_');
        *p++ = '/';
    }
    NX_LIT(p, "item.htm?query=1");
    return p;
}

static char *nx_render_person(rn_nexmark_t *nx, char *p, int64_t id, int64_t ts)
{
    uint64_t *x = &nx->rng;
    char *s0;
    int size = 8;
    NX_LIT(p, "{\"id\":");
    p = nx_put_i64(p, nx_last_person(id) + NX_FIRST_PERSON_ID);
    NX_LIT(p, ",\"name\":\"");
    s0 = p;
    p = nx_put_str(p, nx_first[nx_int(x, NX_LEN(nx_first))]);
    *p++ = ' ';
    p = nx_put_str(p, nx_last[nx_int(x, NX_LEN(nx_last))]);
    size += (int)(p - s0);
    NX_LIT(p, "\",\"emailAddress\":\"");
    s0 = p;
    p = nx_put_word(x, p, 7, ' ');
    *p++ = '@';
    p = nx_put_word(x, p, 5, ' ');
    NX_LIT(p, ".com");
    size += (int)(p - s0);
    NX_LIT(p, "\",\"creditCard\":\"");
    for (int i = 0; i < 4; i++) {
        if (i) *p++ = ' ';
        p = nx_put_digits(p, (unsigned)nx_int(x, 10000), 4);
    }
    size += 19;
    NX_LIT(p, "\",\"city\":\"");
    s0 = p;
    p = nx_put_str(p, nx_cities[nx_int(x, NX_LEN(nx_cities))]);
    NX_LIT(p, "\",\"state\":\"");
    p = nx_put_str(p, nx_states[nx_int(x, NX_LEN(nx_states))]);
    size += (int)(p - s0) - 11;
    NX_LIT(p, "\",\"dateTime\":\"");
    p = nx_put_time(p, ts);
    NX_LIT(p, "\",\"extra\":\"");
    p = nx_put_extra(nx, p, size, NX_AVG_PERSON_BYTES);
    NX_LIT(p, "\"}");
    return p;
}

static char *nx_render_auction(rn_nexmark_t *nx, char *p, int64_t id, int64_t ts)
{
    uint64_t *x = &nx->rng;
    int64_t seller;
    if (nx_int(x, NX_HOT_SELLERS_RATIO) > 0) /* the first of the batch of the last 100 people */
        seller = nx_last_person(id) / NX_HOT_BATCH * NX_HOT_BATCH;
    else
        seller = nx_next_person(x, id);
    int64_t category = NX_FIRST_CATEGORY_ID + nx_int(x, NX_NUM_CATEGORIES);
    int64_t initial = nx_price(x);
    /* AuctionGenerator.nextAuctionLengthMs: on average the time until
     * 100 auctions later, so about 100 auctions are open at a time. */
    int64_t ahead = (int64_t)NX_NUM_IN_FLIGHT_AUCTIONS * NX_TOTAL_PROPORTION / NX_AUCTION_PROPORTION;
    int64_t horizon = nx_time(nx, nx->n + ahead) - ts;
    int64_t expires = ts + 1 + nx_long(x, horizon * 2 > 1 ? horizon * 2 : 1);
    NX_LIT(p, "{\"id\":");
    p = nx_put_i64(p, nx_last_auction(id) + NX_FIRST_AUCTION_ID);
    NX_LIT(p, ",\"itemName\":\"");
    char *s0 = p;
    p = nx_put_word(x, p, 20, ' ');
    int size = 8 + (int)(p - s0) + 40;
    NX_LIT(p, "\",\"description\":\"");
    s0 = p;
    p = nx_put_word(x, p, 100, ' ');
    size += (int)(p - s0);
    NX_LIT(p, "\",\"initialBid\":");
    p = nx_put_i64(p, initial);
    NX_LIT(p, ",\"reserve\":");
    p = nx_put_i64(p, initial + nx_price(x));
    NX_LIT(p, ",\"dateTime\":\"");
    p = nx_put_time(p, ts);
    NX_LIT(p, "\",\"expires\":\"");
    p = nx_put_time(p, expires);
    NX_LIT(p, "\",\"seller\":");
    p = nx_put_i64(p, seller + NX_FIRST_PERSON_ID);
    NX_LIT(p, ",\"category\":");
    p = nx_put_i64(p, category);
    NX_LIT(p, ",\"extra\":\"");
    p = nx_put_extra(nx, p, size, NX_AVG_AUCTION_BYTES);
    NX_LIT(p, "\"}");
    return p;
}

/* Integer.reverse then Math.abs on a Java int (abs(MIN_VALUE) stays
 * negative there, and here). */
static int64_t nx_channel_id(int32_t i)
{
    uint32_t v = (uint32_t)i, r = 0;
    for (int b = 0; b < 32; b++, v >>= 1) r = (r << 1) | (v & 1);
    int32_t s = (int32_t)r;
    return s < 0 && s != INT32_MIN ? -(int64_t)s : (int64_t)s;
}

static char *nx_render_bid(rn_nexmark_t *nx, char *p, int64_t id, int64_t ts)
{
    uint64_t *x = &nx->rng;
    int64_t auction, bidder;
    if (nx_int(x, NX_HOT_AUCTION_RATIO) > 0) /* the first of the batch of the last 100 auctions */
        auction = nx_last_auction(id) / NX_HOT_BATCH * NX_HOT_BATCH;
    else
        auction = nx_next_auction(x, id);
    if (nx_int(x, NX_HOT_BIDDERS_RATIO) > 0) /* the second of the batch: not a hot seller */
        bidder = nx_last_person(id) / NX_HOT_BATCH * NX_HOT_BATCH + 1;
    else
        bidder = nx_next_person(x, id);
    int64_t price = nx_price(x);
    NX_LIT(p, "{\"auction\":");
    p = nx_put_i64(p, auction + NX_FIRST_AUCTION_ID);
    NX_LIT(p, ",\"bidder\":");
    p = nx_put_i64(p, bidder + NX_FIRST_PERSON_ID);
    NX_LIT(p, ",\"price\":");
    p = nx_put_i64(p, price);
    NX_LIT(p, ",\"channel\":\"");
    if (nx_int(x, NX_HOT_CHANNELS_RATIO) > 0) {
        int64_t h = nx_int(x, NX_LEN(nx_hot_channels));
        p = nx_put_str(p, nx_hot_channels[h]);
        NX_LIT(p, "\",\"url\":\"");
        p = nx_put_str(p, nx->hot_urls[h]);
    } else {
        int64_t c = nx_int(x, NX_CHANNELS);
        NX_LIT(p, "channel-");
        p = nx_put_i64(p, c);
        NX_LIT(p, "\",\"url\":\"");
        /* The channel's fixed URL, 9 in 10 with a channel_id. */
        uint64_t cx = nx->seed ^ ((uint64_t)NX_TAG_CHANNEL << 56) ^ (uint64_t)c * 0xd1b54a32d192ed03ULL;
        (void)nx_mix(&cx);
        p = nx_put_base_url(&cx, p);
        if (nx_int(&cx, 10) > 0) {
            NX_LIT(p, "&channel_id=");
            p = nx_put_i64(p, nx_channel_id((int32_t)c));
        }
    }
    NX_LIT(p, "\",\"dateTime\":\"");
    p = nx_put_time(p, ts);
    NX_LIT(p, "\",\"extra\":\"");
    p = nx_put_extra(nx, p, 32, NX_AVG_BID_BYTES);
    NX_LIT(p, "\"}");
    return p;
}

/* ------------------------------------------------------------------ */
/* Lifecycle                                                           */

rn_nexmark_t *rn_nexmark_new(const rn_gen_opts_t *opts)
{
    rn_nexmark_t *nx = rn_calloc(1, sizeof *nx);
    if (!nx) return NULL;
    nx->seed = opts->seed;
    nx->rng = opts->seed;
    (void)nx_mix(&nx->rng);
    nx->count = opts->count;
    nx->start_ms = opts->start_ms;
    nx->delay_us = 1e6 / (opts->event_rate > 0 ? opts->event_rate : NX_DEFAULT_RATE);
    uint64_t x = opts->seed ^ ((uint64_t)NX_TAG_HOT_URL << 56);
    for (int i = 0; i < 4; i++) *nx_put_base_url(&x, nx->hot_urls[i]) = '\0';
    x = opts->seed ^ ((uint64_t)NX_TAG_EXTRA << 56);
    for (int i = 0; i < NX_EXTRA_POOL; i++) nx->extra[i] = (char)('a' + nx_int(&x, 26));
    return nx;
}

void rn_nexmark_free(rn_nexmark_t *nx) { rn_free(nx); }

rn_err_t rn_nexmark_next(rn_nexmark_t *nx, int *topic, rn_buf_t *line)
{
    if (nx->count >= 0 && nx->n >= nx->count) return RN_ERR_EOF;
    if (rn_buf_reserve(line, NX_REC_MAX) != 0) return RN_ERR_NOMEM;
    int64_t id = nx->n, ts = nx_time(nx, id), rem = id % NX_TOTAL_PROPORTION;
    char *p = line->data + line->len;
    if (rem < NX_PERSON_PROPORTION) {
        *topic = NX_PERSON;
        p = nx_render_person(nx, p, id, ts);
    } else if (rem < NX_PERSON_PROPORTION + NX_AUCTION_PROPORTION) {
        *topic = NX_AUCTION;
        p = nx_render_auction(nx, p, id, ts);
    } else {
        *topic = NX_BID;
        p = nx_render_bid(nx, p, id, ts);
    }
    line->len = (size_t)(p - line->data);
    line->data[line->len] = '\0';
    nx->n++;
    return RN_OK;
}
