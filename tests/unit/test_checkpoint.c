/*
 * test_checkpoint.c - unit tests for checkpoint files (state/checkpoint.h):
 * a round trip through a directory that does not exist yet, sections
 * appended in place, a file made by an independent encoder (the format
 * pinned), every truncation and every single-bit flip of a file
 * refused with RN_ERR_DECODE and the right reason, a foreign file, a newer
 * format, trailing bytes, a lying section count, a crash between the tmp
 * write and the rename, missing and unreadable files, builder misuse and
 * allocation failures, file names and prefixes refused, listing newest
 * first and pruning to the newest K (keeping the named files, other
 * processes' files and young .tmp files).
 */
#include "core/fs.h"
#include "core/hash.h"
#include "core/mem.h"
#include "state/checkpoint.h"
#include "state/snapshot.h"
#include "rn_test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------- */

static char tmproot[] = "/tmp/runnel-test-ckpt-XXXXXX";

static void rm_rf(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
            rm_rf(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* A fresh directory path under tmproot (not created), in a static buffer
 * the next call overwrites. */
static const char *fresh_dir(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmproot, name);
    return path;
}

static bool exists(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static bool write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    bool ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

/* The sample checkpoint: id 42, a fingerprint, three sections, the second
 * appended in place the way an operator's snapshot would be. */
static const char FP[] = "1 GroupAggregate keys=[user] aggs=[COUNT(*)]";

static rn_err_t build_sample(rn_ckpt_builder_t *b, uint64_t id)
{
    rn_err_t err = rn_ckpt_begin(b, id, FP, strlen(FP));
    if (err) return err;
    err = rn_ckpt_add_section(b, "positions/0", "\x01\x02\x03", 3);
    if (err) return err;
    rn_buf_t *out = rn_ckpt_section_open(b, "op/1/part/0");
    if (!out) return b->err;
    rn_snap_put_u32(out, 7);
    rn_snap_put_bytes(out, "alice", 5);
    rn_snap_put_u64(out, 123456789012345ULL);
    err = rn_ckpt_section_close(b);
    if (err) return err;
    return rn_ckpt_add_section(b, "empty", NULL, 0);
}

/* The sample's bytes (a heap copy, caller frees) and their length. */
static unsigned char *sample_bytes(size_t *len)
{
    rn_ckpt_builder_t b;
    const void *data = NULL;
    unsigned char *copy = NULL;
    *len = 0;
    if (build_sample(&b, 42) == RN_OK && rn_ckpt_finish(&b, &data, len) == RN_OK) {
        copy = malloc(*len);
        if (copy) memcpy(copy, data, *len);
    }
    rn_ckpt_builder_free(&b);
    return copy;
}

/* Checks that ckpt holds the sample. */
static void check_sample(const rn_ckpt_t *c, uint64_t id)
{
    RN_CHECK(rn_ckpt_id(c) == id);
    size_t fplen = 0;
    const void *fp = rn_ckpt_fingerprint(c, &fplen);
    RN_CHECK(fplen == strlen(FP) && memcmp(fp, FP, fplen) == 0);
    RN_CHECK_EQ_INT(rn_ckpt_section_count(c), 3);
    const char *names[] = {"positions/0", "op/1/part/0", "empty"};
    for (uint32_t i = 0; i < 3; i++) {
        const rn_ckpt_section_t *s = rn_ckpt_section_at(c, i);
        RN_REQUIRE(s != NULL);
        RN_CHECK(s->name_len == strlen(names[i]) && memcmp(s->name, names[i], s->name_len) == 0);
        RN_CHECK(rn_ckpt_find(c, names[i]) == s);
    }
    RN_CHECK(rn_ckpt_section_at(c, 3) == NULL);
    RN_CHECK(rn_ckpt_find(c, "positions") == NULL);
    RN_CHECK(rn_ckpt_find(c, "positions/01") == NULL);
    const rn_ckpt_section_t *s = rn_ckpt_find(c, "positions/0");
    RN_REQUIRE(s != NULL);
    RN_CHECK(s->len == 3 && memcmp(s->data, "\x01\x02\x03", 3) == 0);
    RN_CHECK_EQ_INT(rn_ckpt_find(c, "empty")->len, 0);
    s = rn_ckpt_find(c, "op/1/part/0");
    RN_REQUIRE(s != NULL);
    rn_snap_reader_t r;
    rn_snap_reader_init(&r, s->data, s->len);
    RN_CHECK_EQ_INT(rn_snap_u32(&r), 7);
    uint32_t n;
    const void *p = rn_snap_bytes(&r, &n);
    RN_CHECK(n == 5 && p && memcmp(p, "alice", 5) == 0);
    RN_CHECK(rn_snap_u64(&r) == 123456789012345ULL);
    RN_CHECK(rn_snap_done(&r));
}

/* ---- round trip ------------------------------------------------------------ */

static void test_round_trip_creates_dir(void)
{
    const char *dir = fresh_dir("rt/a/b"); /* two levels missing */
    rn_ckpt_builder_t b;
    RN_REQUIRE(build_sample(&b, 42) == RN_OK);
    char name[64], err[512] = "";
    RN_REQUIRE(rn_ckpt_file_name(name, sizeof name, "host1", 42) == RN_OK);
    RN_CHECK_EQ_STR(name, "ckpt-host1-00000000000000000042.rnck");
    RN_CHECK_EQ_INT(rn_ckpt_write(&b, dir, name, err, sizeof err), RN_OK);
    /* The file holds exactly the builder's bytes, and no .tmp is left. */
    const void *bytes;
    size_t len;
    RN_REQUIRE(rn_ckpt_finish(&b, &bytes, &len) == RN_OK);
    char path[1024], tmp[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    RN_CHECK(access(tmp, F_OK) != 0);
    struct stat st;
    RN_REQUIRE(stat(path, &st) == 0);
    RN_CHECK((size_t)st.st_size == len);
    /* Sealed: no more sections. */
    RN_CHECK_EQ_INT(rn_ckpt_add_section(&b, "late", "x", 1), RN_ERR_FATAL);
    rn_ckpt_builder_free(&b);

    rn_ckpt_t *c = NULL;
    RN_REQUIRE(rn_ckpt_read(path, &c, err, sizeof err) == RN_OK);
    check_sample(c, 42);
    rn_ckpt_free(c);

    /* The same from memory, and a checkpoint without fingerprint or sections. */
    size_t slen;
    unsigned char *sb = sample_bytes(&slen);
    RN_REQUIRE(sb != NULL);
    RN_REQUIRE(rn_ckpt_parse(sb, slen, "mem", &c, err, sizeof err) == RN_OK);
    check_sample(c, 42);
    rn_ckpt_free(c);
    free(sb);

    RN_REQUIRE(rn_ckpt_begin(&b, UINT64_MAX, NULL, 0) == RN_OK);
    RN_REQUIRE(rn_ckpt_write(&b, dir, "bare", err, sizeof err) == RN_OK);
    rn_ckpt_builder_free(&b);
    snprintf(path, sizeof path, "%s/bare", dir);
    RN_REQUIRE(rn_ckpt_read(path, &c, err, sizeof err) == RN_OK);
    RN_CHECK(rn_ckpt_id(c) == UINT64_MAX);
    size_t fplen = 99;
    rn_ckpt_fingerprint(c, &fplen);
    RN_CHECK_EQ_INT(fplen, 0);
    RN_CHECK_EQ_INT(rn_ckpt_section_count(c), 0);
    RN_CHECK(rn_ckpt_find(c, "x") == NULL);
    rn_ckpt_free(c);
}

/* Overwriting a checkpoint replaces it whole. */
static void test_rewrite_replaces(void)
{
    const char *dir = fresh_dir("rewrite");
    char err[512] = "", path[1024];
    rn_ckpt_builder_t b;
    for (uint64_t id = 1; id <= 2; id++) {
        RN_REQUIRE(build_sample(&b, id) == RN_OK);
        RN_CHECK_EQ_INT(rn_ckpt_write(&b, dir, "latest.rnck", err, sizeof err), RN_OK);
        rn_ckpt_builder_free(&b);
    }
    snprintf(path, sizeof path, "%s/latest.rnck", dir);
    rn_ckpt_t *c = NULL;
    RN_REQUIRE(rn_ckpt_read(path, &c, err, sizeof err) == RN_OK);
    check_sample(c, 2);
    rn_ckpt_free(c);
}

/* The format is pinned: a file written by an independent encoder (the
 * fuzz seed tests/fuzz/fuzz_checkpoint/sample.rnck, made by hand from the
 * layout in checkpoint.h) reads back as what it was written with. */
static void test_reads_golden_file(void)
{
    char path[1024], err[512] = "";
    const char *src = getenv("RUNNEL_SOURCE_DIR"); /* set by CTest */
    if (src) {
        snprintf(path, sizeof path, "%s/tests/fuzz/fuzz_checkpoint/sample.rnck", src);
    } else { /* run by hand: next to this file */
        snprintf(path, sizeof path, "%s", __FILE__);
        char *unit = strstr(path, "tests/unit/");
        RN_REQUIRE(unit != NULL);
        snprintf(unit, sizeof path - (size_t)(unit - path), "tests/fuzz/fuzz_checkpoint/sample.rnck");
    }
    rn_ckpt_t *c = NULL;
    RN_REQUIRE(rn_ckpt_read(path, &c, err, sizeof err) == RN_OK);
    RN_CHECK(rn_ckpt_id(c) == 42);
    size_t fplen;
    const char *fp = rn_ckpt_fingerprint(c, &fplen);
    const char want_fp[] = "1 GroupAggregate keys=[user] aggs=[COUNT(*)]\n2 Window TUMBLE(ts, 1 min)";
    RN_CHECK(fplen == strlen(want_fp) && memcmp(fp, want_fp, fplen) == 0);
    RN_CHECK_EQ_INT(rn_ckpt_section_count(c), 3);
    const rn_ckpt_section_t *s = rn_ckpt_find(c, "positions/0");
    RN_CHECK(s && s->len == 3 && memcmp(s->data, "\x01\x02\x03", 3) == 0);
    s = rn_ckpt_find(c, "op/1/part/0");
    RN_REQUIRE(s != NULL);
    rn_snap_reader_t r;
    rn_snap_reader_init(&r, s->data, s->len);
    RN_CHECK_EQ_INT(rn_snap_u32(&r), 7);
    uint32_t n;
    const void *p = rn_snap_bytes(&r, &n);
    RN_CHECK(n == 5 && p && memcmp(p, "alice", 5) == 0);
    RN_CHECK(rn_snap_u64(&r) == 123456789012345ULL);
    RN_CHECK(rn_snap_done(&r));
    s = rn_ckpt_find(c, "empty");
    RN_CHECK(s && s->len == 0);
    /* And the builder writes those very bytes. */
    rn_ckpt_builder_t b;
    const void *bytes;
    size_t len;
    RN_REQUIRE(rn_ckpt_begin(&b, 42, want_fp, strlen(want_fp)) == RN_OK);
    for (uint32_t i = 0; i < rn_ckpt_section_count(c); i++) {
        const rn_ckpt_section_t *t = rn_ckpt_section_at(c, i);
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)t->name_len, t->name);
        RN_CHECK_EQ_INT(rn_ckpt_add_section(&b, name, t->data, t->len), RN_OK);
    }
    RN_REQUIRE(rn_ckpt_finish(&b, &bytes, &len) == RN_OK);
    FILE *f = fopen(path, "rb");
    RN_REQUIRE(f != NULL);
    unsigned char file[512];
    size_t flen = fread(file, 1, sizeof file, f);
    fclose(f);
    RN_CHECK(flen == len && memcmp(file, bytes, len) == 0);
    rn_ckpt_builder_free(&b);
    rn_ckpt_free(c);
}

/* ---- damaged files ---------------------------------------------------------- */

/* Every proper prefix of a file is refused as truncated at its length. */
static void test_every_truncation_fails(void)
{
    size_t len;
    unsigned char *full = sample_bytes(&len);
    RN_REQUIRE(full != NULL);
    for (size_t cut = 0; cut < len; cut++) {
        unsigned char *p = malloc(cut ? cut : 1); /* exact size: ASan sees any overread */
        RN_REQUIRE(p != NULL);
        memcpy(p, full, cut);
        rn_ckpt_t *c = (rn_ckpt_t *)p; /* must be reset to NULL */
        char err[256] = "", want[64];
        RN_CHECK_EQ_INT(rn_ckpt_parse(p, cut, "f.rnck", &c, err, sizeof err), RN_ERR_DECODE);
        RN_CHECK(c == NULL);
        snprintf(want, sizeof want, "f.rnck: truncated at byte %zu ", cut);
        if (strncmp(err, want, strlen(want)) != 0) {
            fprintf(stderr, "cut %zu: %s\n", cut, err);
            RN_CHECK(!"truncation reported");
        }
        free(p);
    }
    /* Through a file, the message names it. */
    const char *dir = fresh_dir("trunc");
    RN_REQUIRE(rn_mkdir_p(dir) == 0);
    RN_REQUIRE(write_file(dir, "cut.rnck", full, len - 1));
    char path[1024], err[512] = "";
    snprintf(path, sizeof path, "%s/cut.rnck", dir);
    rn_ckpt_t *c = NULL;
    RN_CHECK_EQ_INT(rn_ckpt_read(path, &c, err, sizeof err), RN_ERR_DECODE);
    RN_CHECK(strstr(err, path) == err && strstr(err, "truncated at byte"));
    free(full);
}

/* The offsets of the sample's length and count fields (a flip there may
 * read as a truncation rather than a checksum mismatch). */
static void sample_length_fields(const unsigned char *p, size_t len, bool *is_len)
{
    memset(is_len, 0, len);
    size_t off = 16; /* magic, version, id */
    uint32_t fplen = (uint32_t)p[off] | (uint32_t)p[off + 1] << 8;
    for (int i = 0; i < 4; i++) is_len[off + i] = true;
    off += 4 + fplen;
    for (int i = 0; i < 4; i++) is_len[off + i] = true; /* count */
    uint32_t n = p[off];
    off += 4;
    for (uint32_t s = 0; s < 2 * n; s++) { /* name, data */
        uint32_t l = (uint32_t)p[off] | (uint32_t)p[off + 1] << 8;
        for (int i = 0; i < 4; i++) is_len[off + i] = true;
        off += 4 + l;
    }
}

/* Every single-bit flip is refused: in the magic as a foreign file, in a
 * length as a truncation or a checksum mismatch, anywhere else (version,
 * id, fingerprint, names, data, the CRC itself) as a checksum mismatch. */
static void test_every_bit_flip_fails(void)
{
    size_t len;
    unsigned char *p = sample_bytes(&len);
    RN_REQUIRE(p != NULL);
    bool is_len[512];
    RN_REQUIRE(len <= sizeof is_len);
    sample_length_fields(p, len, is_len);
    int mismatches = 0;
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            p[i] ^= (unsigned char)(1u << bit);
            rn_ckpt_t *c = NULL;
            char err[256] = "";
            rn_err_t rc = rn_ckpt_parse(p, len, "f", &c, err, sizeof err);
            bool ok;
            if (i < 4) ok = strstr(err, "not a checkpoint file") != NULL;
            else if (is_len[i])
                ok = strstr(err, "checksum mismatch") || strstr(err, "truncated at byte");
            else ok = strstr(err, "checksum mismatch") != NULL;
            if (rc != RN_ERR_DECODE || c != NULL || !ok) {
                fprintf(stderr, "byte %zu bit %d: rc %d: %s\n", i, bit, rc, err);
                RN_CHECK(!"bit flip refused for the right reason");
            }
            mismatches += strstr(err, "checksum mismatch") != NULL;
            rn_ckpt_free(c);
            p[i] ^= (unsigned char)(1u << bit);
        }
    }
    RN_CHECK(mismatches > (int)len * 8 / 2);
    /* Unflipped, it still reads. */
    rn_ckpt_t *c = NULL;
    RN_CHECK_EQ_INT(rn_ckpt_parse(p, len, "f", &c, NULL, 0), RN_OK);
    rn_ckpt_free(c);
    free(p);
}

static void test_foreign_file(void)
{
    const char *dir = fresh_dir("foreign");
    RN_REQUIRE(rn_mkdir_p(dir) == 0);
    const char text[] = "{\"this\": \"is JSON, not a checkpoint\"}\n";
    RN_REQUIRE(write_file(dir, "x.json", text, strlen(text)));
    char path[1024], err[512] = "", want[1100];
    snprintf(path, sizeof path, "%s/x.json", dir);
    rn_ckpt_t *c = NULL;
    RN_CHECK_EQ_INT(rn_ckpt_read(path, &c, err, sizeof err), RN_ERR_DECODE);
    snprintf(want, sizeof want, "%s: not a checkpoint file (no RNCK magic)", path);
    RN_CHECK_EQ_STR(err, want);
    RN_CHECK(c == NULL);
    /* Shorter than the magic, and not its prefix. */
    RN_CHECK_EQ_INT(rn_ckpt_parse("RX", 2, "m", &c, err, sizeof err), RN_ERR_DECODE);
    RN_CHECK(strstr(err, "not a checkpoint file") != NULL);
}

/* Sets p's version and rewrites its CRC, as a writer of that format would. */
static void set_version(unsigned char *p, size_t len, uint32_t version)
{
    for (int i = 0; i < 4; i++) p[4 + i] = (unsigned char)(version >> (8 * i));
    uint32_t crc = rn_crc32c(p, len - 4);
    for (int i = 0; i < 4; i++) p[len - 4 + i] = (unsigned char)(crc >> (8 * i));
}

static void test_newer_version(void)
{
    size_t len;
    unsigned char *p = sample_bytes(&len);
    RN_REQUIRE(p != NULL);
    rn_ckpt_t *c = NULL;
    char err[256] = "";
    set_version(p, len, 2);
    RN_CHECK_EQ_INT(rn_ckpt_parse(p, len, "f", &c, err, sizeof err), RN_ERR_DECODE);
    RN_CHECK_EQ_STR(err, "f: written by a newer runnel (format 2); this runnel reads format 1");
    set_version(p, len, 0);
    RN_CHECK_EQ_INT(rn_ckpt_parse(p, len, "f", &c, err, sizeof err), RN_ERR_DECODE);
    RN_CHECK_EQ_STR(err, "f: unknown checkpoint format 0");
    /* A newer format's file that is also damaged: the checksum speaks. */
    set_version(p, len, 7);
    p[len - 10] ^= 0x40;
    RN_CHECK_EQ_INT(rn_ckpt_parse(p, len, "f", &c, err, sizeof err), RN_ERR_DECODE);
    RN_CHECK(strstr(err, "checksum mismatch (the header says format 7") != NULL);
    RN_CHECK(c == NULL);
    free(p);
}

static void test_trailing_bytes(void)
{
    size_t len;
    unsigned char *p = sample_bytes(&len);
    RN_REQUIRE(p != NULL);
    unsigned char *q = malloc(len + 3);
    RN_REQUIRE(q != NULL);
    memcpy(q, p, len);
    memcpy(q + len, "xyz", 3);
    rn_ckpt_t *c = NULL;
    char err[256] = "", want[128];
    RN_CHECK_EQ_INT(rn_ckpt_parse(q, len + 3, "f", &c, err, sizeof err), RN_ERR_DECODE);
    snprintf(want, sizeof want, "f: 3 trailing bytes after the checksum at byte %zu", len - 4);
    RN_CHECK_EQ_STR(err, want);
    free(q);
    free(p);
}

/* A section count no file of that size could hold (with a valid CRC, as a
 * buggy writer would make it) is refused before anything is allocated. */
static void test_lying_section_count(void)
{
    rn_buf_t b;
    rn_buf_init(&b);
    rn_buf_append(&b, "RNCK", 4);
    rn_snap_put_u32(&b, 1);
    rn_snap_put_u64(&b, 5);
    rn_snap_put_bytes(&b, "fp", 2);
    rn_snap_put_u32(&b, 0xFFFFFFFFu);
    rn_snap_put_u32(&b, rn_crc32c(b.data, b.len));
    RN_REQUIRE(!b.oom);
    size_t before = rn_mem_used();
    rn_mem_fail_after(2); /* the copy and the handle: a sections array would fail */
    rn_ckpt_t *c = NULL;
    char err[256] = "";
    rn_err_t rc = rn_ckpt_parse(b.data, b.len, "f", &c, err, sizeof err);
    rn_mem_fail_after(-1);
    RN_CHECK_EQ_INT(rc, RN_ERR_DECODE);
    RN_CHECK(strstr(err, "f: truncated at byte 30 (expected at least 34359738386 bytes)") == err);
    RN_CHECK(rn_mem_used() == before);
    rn_buf_free(&b);
}

/* ---- files and the directory ------------------------------------------------ */

/* A crash after the .tmp is written and before the rename leaves the old
 * file as it was; the next write replaces the stale .tmp. */
static void test_crash_before_rename_keeps_old(void)
{
    const char *dir = fresh_dir("crash");
    char err[512] = "", path[1024], name[64];
    RN_REQUIRE(rn_ckpt_file_name(name, sizeof name, "p", 9) == RN_OK);
    rn_ckpt_builder_t b;
    RN_REQUIRE(build_sample(&b, 1) == RN_OK);
    RN_REQUIRE(rn_ckpt_write(&b, dir, name, err, sizeof err) == RN_OK);
    rn_ckpt_builder_free(&b);

    /* The crash: half of checkpoint 2 in the .tmp, no rename. */
    RN_REQUIRE(build_sample(&b, 2) == RN_OK);
    const void *bytes;
    size_t len;
    RN_REQUIRE(rn_ckpt_finish(&b, &bytes, &len) == RN_OK);
    char tmpname[128];
    snprintf(tmpname, sizeof tmpname, ".%s.tmp", name);
    RN_REQUIRE(write_file(dir, tmpname, bytes, len / 2));

    snprintf(path, sizeof path, "%s/%s", dir, name);
    rn_ckpt_t *c = NULL;
    RN_REQUIRE(rn_ckpt_read(path, &c, err, sizeof err) == RN_OK);
    check_sample(c, 1);
    rn_ckpt_free(c);
    /* The directory still lists only checkpoint 1's file. */
    rn_ckpt_list_t list;
    RN_REQUIRE(rn_ckpt_list(dir, "ckpt-p-", &list, err, sizeof err) == RN_OK);
    RN_CHECK(list.n == 1 && list.entries[0].id == 9);
    rn_ckpt_list_free(&list);

    /* After the restart, writing again succeeds over the stale .tmp. */
    RN_REQUIRE(rn_ckpt_write(&b, dir, name, err, sizeof err) == RN_OK);
    rn_ckpt_builder_free(&b);
    RN_CHECK(!exists(dir, tmpname));
    RN_REQUIRE(rn_ckpt_read(path, &c, err, sizeof err) == RN_OK);
    check_sample(c, 2);
    rn_ckpt_free(c);
}

static void test_io_errors(void)
{
    char err[512] = "", path[1024];
    rn_ckpt_t *c = (rn_ckpt_t *)err;
    char dir[512];
    snprintf(dir, sizeof dir, "%s", fresh_dir("io"));
    RN_REQUIRE(rn_mkdir_p(dir) == 0);

    snprintf(path, sizeof path, "%s/missing.rnck", dir);
    errno = 0;
    RN_CHECK_EQ_INT(rn_ckpt_read(path, &c, err, sizeof err), RN_ERR_IO);
    RN_CHECK_EQ_INT(errno, ENOENT);
    RN_CHECK(c == NULL);
    RN_CHECK(strstr(err, path) == err && strstr(err, strerror(ENOENT)));

    errno = 0;
    RN_CHECK_EQ_INT(rn_ckpt_read(dir, &c, err, sizeof err), RN_ERR_IO);
    RN_CHECK_EQ_INT(errno, EISDIR);
    RN_CHECK(strstr(err, "not a regular file") != NULL);

    /* A directory that cannot be created: a regular file is in the way. */
    RN_REQUIRE(write_file(dir, "plain", "x", 1));
    char below[1024];
    snprintf(below, sizeof below, "%s/plain/sub", dir);
    rn_ckpt_builder_t b;
    RN_REQUIRE(build_sample(&b, 1) == RN_OK);
    RN_CHECK_EQ_INT(rn_ckpt_write(&b, below, "c.rnck", err, sizeof err), RN_ERR_IO);
    RN_CHECK(strstr(err, below) && strstr(err, strerror(ENOTDIR)));
    rn_ckpt_builder_free(&b);

    /* Listing: a missing directory is empty, a file in its place an error. */
    rn_ckpt_list_t list;
    RN_CHECK_EQ_INT(rn_ckpt_list(fresh_dir("io/none"), "ckpt-a-", &list, err, sizeof err), RN_OK);
    RN_CHECK(list.n == 0 && list.entries == NULL);
    snprintf(path, sizeof path, "%s/plain", dir);
    RN_CHECK_EQ_INT(rn_ckpt_list(path, "ckpt-a-", &list, err, sizeof err), RN_ERR_IO);
    RN_CHECK(strstr(err, path) != NULL);
}

static void test_names_refused(void)
{
    const char *dir = fresh_dir("names");
    const char *bad[] = {"", "a/b", "/abs", ".hidden", ".", "..", "../up", "x/"};
    char err[512];
    rn_ckpt_builder_t b;
    RN_REQUIRE(build_sample(&b, 1) == RN_OK);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        RN_CHECK(!rn_ckpt_name_ok(bad[i]));
        RN_CHECK_EQ_INT(rn_ckpt_write(&b, dir, bad[i], err, sizeof err), RN_ERR_CONFIG);
        RN_CHECK(strstr(err, "refused") != NULL);
    }
    char longname[RN_CKPT_NAME_MAX + 2];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    RN_CHECK_EQ_INT(rn_ckpt_write(&b, dir, longname, err, sizeof err), RN_ERR_CONFIG);
    longname[RN_CKPT_NAME_MAX] = '\0'; /* the longest accepted */
    RN_CHECK(rn_ckpt_name_ok(longname));
    RN_CHECK(rn_ckpt_name_ok("ckpt-a-00000000000000000001.rnck"));
    /* Nothing was written for the refused names, not even the directory. */
    RN_CHECK(access(dir, F_OK) != 0);
    rn_ckpt_builder_free(&b);

    char name[64];
    RN_CHECK_EQ_INT(rn_ckpt_file_name(name, sizeof name, "", 1), RN_ERR_CONFIG);
    RN_CHECK_EQ_INT(rn_ckpt_file_name(name, sizeof name, "a/b", 1), RN_ERR_CONFIG);
    RN_CHECK_EQ_INT(rn_ckpt_file_name(name, 10, "a", 1), RN_ERR_CONFIG); /* does not fit */
    RN_CHECK_EQ_STR(name, "");
    RN_CHECK_EQ_INT(rn_ckpt_file_name(name, sizeof name, "a", UINT64_MAX), RN_OK);
    RN_CHECK_EQ_STR(name, "ckpt-a-18446744073709551615.rnck");
    rn_ckpt_list_t list;
    RN_CHECK_EQ_INT(rn_ckpt_list(tmproot, "../ckpt-", &list, err, sizeof err), RN_ERR_CONFIG);
    RN_CHECK_EQ_INT(rn_ckpt_list(tmproot, ".ckpt-", &list, err, sizeof err), RN_ERR_CONFIG);
    RN_CHECK_EQ_INT(rn_ckpt_prune(tmproot, "a/", 1, NULL, 0, NULL, err, sizeof err), RN_ERR_CONFIG);
}

/* Misuse of the builder is a sticky RN_ERR_FATAL that rn_ckpt_write reports. */
static void test_builder_misuse(void)
{
    char err[512] = "";
    rn_ckpt_builder_t b;
    RN_REQUIRE(rn_ckpt_begin(&b, 1, NULL, 0) == RN_OK);
    RN_CHECK_EQ_INT(rn_ckpt_add_section(&b, "a", "1", 1), RN_OK);
    RN_CHECK_EQ_INT(rn_ckpt_add_section(&b, "a", "2", 1), RN_ERR_FATAL);
    RN_CHECK_EQ_INT(rn_ckpt_add_section(&b, "b", "3", 1), RN_ERR_FATAL); /* sticky */
    RN_CHECK_EQ_INT(rn_ckpt_write(&b, fresh_dir("misuse"), "c.rnck", err, sizeof err), RN_ERR_FATAL);
    RN_CHECK(strstr(err, "section \"a\" added twice") != NULL);
    RN_CHECK(!exists(fresh_dir("misuse"), "c.rnck"));
    rn_ckpt_builder_free(&b);

    RN_REQUIRE(rn_ckpt_begin(&b, 1, NULL, 0) == RN_OK);
    RN_REQUIRE(rn_ckpt_section_open(&b, "open") != NULL);
    RN_CHECK(rn_ckpt_section_open(&b, "nested") == NULL);
    rn_ckpt_builder_free(&b);

    RN_REQUIRE(rn_ckpt_begin(&b, 1, NULL, 0) == RN_OK);
    RN_REQUIRE(rn_ckpt_section_open(&b, "open") != NULL);
    const void *data;
    size_t len;
    RN_CHECK_EQ_INT(rn_ckpt_finish(&b, &data, &len), RN_ERR_FATAL);
    RN_CHECK(data == NULL && len == 0);
    rn_ckpt_builder_free(&b);

    RN_REQUIRE(rn_ckpt_begin(&b, 1, NULL, 0) == RN_OK);
    RN_CHECK_EQ_INT(rn_ckpt_section_close(&b), RN_ERR_FATAL);
    rn_ckpt_builder_free(&b);

    RN_REQUIRE(rn_ckpt_begin(&b, 1, NULL, 0) == RN_OK);
    RN_CHECK_EQ_INT(rn_ckpt_add_section(&b, "", "x", 1), RN_ERR_FATAL);
    rn_ckpt_builder_free(&b);
}

/* Every allocation failure while building or reading fails cleanly (and,
 * under ASan, without leaks); with enough allocations it succeeds. */
static void test_allocation_failures(void)
{
    size_t len;
    unsigned char *p = sample_bytes(&len);
    RN_REQUIRE(p != NULL);
    bool built = false, parsed = false;
    for (long n = 0; n < 64 && !(built && parsed); n++) {
        size_t before = rn_mem_used();
        rn_ckpt_builder_t b;
        rn_mem_fail_after(n);
        rn_err_t rc = build_sample(&b, 42);
        const void *data = NULL;
        size_t blen = 0;
        if (rc == RN_OK) rc = rn_ckpt_finish(&b, &data, &blen);
        rn_mem_fail_after(-1);
        RN_CHECK(rc == RN_OK || rc == RN_ERR_NOMEM);
        if (rc == RN_OK) {
            built = true;
            RN_CHECK(blen == len && memcmp(data, p, len) == 0);
        }
        rn_ckpt_builder_free(&b);

        rn_ckpt_t *c = NULL;
        char err[256] = "";
        rn_mem_fail_after(n);
        rc = rn_ckpt_parse(p, len, "f", &c, err, sizeof err);
        rn_mem_fail_after(-1);
        RN_CHECK(rc == RN_OK || (rc == RN_ERR_NOMEM && c == NULL && strstr(err, "out of memory")));
        if (rc == RN_OK) {
            parsed = true;
            check_sample(c, 42);
        }
        rn_ckpt_free(c);
        RN_CHECK(rn_mem_used() == before);
    }
    RN_CHECK(built && parsed);
    free(p);
}

/* Writes an empty-section checkpoint named for tag and id into dir. */
static bool put(const char *dir, const char *tag, uint64_t id)
{
    char name[128], err[256];
    rn_ckpt_builder_t b;
    bool ok = rn_ckpt_file_name(name, sizeof name, tag, id) == RN_OK &&
              rn_ckpt_begin(&b, id, NULL, 0) == RN_OK &&
              rn_ckpt_write(&b, dir, name, err, sizeof err) == RN_OK;
    rn_ckpt_builder_free(&b);
    return ok;
}

/* Sets dir/name's modification time to age_s seconds ago. */
static bool age(const char *dir, const char *name, int age_s)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct timespec ts[2];
    ts[0].tv_sec = ts[1].tv_sec = time(NULL) - age_s;
    ts[0].tv_nsec = ts[1].tv_nsec = 0;
    return utimensat(AT_FDCWD, path, ts, 0) == 0;
}

static void test_list_newest_first(void)
{
    const char *dir = fresh_dir("list");
    const uint64_t ids[] = {5, 100, 1, 99, 10000000000ULL, 7};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) RN_REQUIRE(put(dir, "w1", ids[i]));
    RN_REQUIRE(put(dir, "w1-x", 1000)); /* another process whose tag extends ours */
    RN_REQUIRE(put(dir, "w2", 1000));
    RN_REQUIRE(write_file(dir, "ckpt-w1-123.rnck", "", 0));                 /* too few digits */
    RN_REQUIRE(write_file(dir, "ckpt-w1-99999999999999999999.rnck", "", 0)); /* over UINT64_MAX */
    RN_REQUIRE(write_file(dir, "ckpt-w1-0000000000000000000a.rnck", "", 0));
    RN_REQUIRE(write_file(dir, "ckpt-w1-00000000000000000003.rnck.bak", "", 0));
    RN_REQUIRE(write_file(dir, ".ckpt-w1-00000000000000000004.rnck.tmp", "", 0));
    rn_ckpt_list_t list;
    char err[256];
    RN_REQUIRE(rn_ckpt_list(dir, "ckpt-w1-", &list, err, sizeof err) == RN_OK);
    const uint64_t want[] = {10000000000ULL, 100, 99, 7, 5, 1};
    RN_CHECK_EQ_INT(list.n, 6);
    for (size_t i = 0; i < list.n && i < 6; i++) {
        RN_CHECK(list.entries[i].id == want[i]);
        char name[64];
        rn_ckpt_file_name(name, sizeof name, "w1", want[i]);
        RN_CHECK_EQ_STR(list.entries[i].name, name);
    }
    rn_ckpt_list_free(&list);
    RN_CHECK(list.n == 0 && list.entries == NULL);
}

static void test_prune_keeps_newest(void)
{
    const char *dir = fresh_dir("prune");
    for (uint64_t id = 1; id <= 6; id++) RN_REQUIRE(put(dir, "a", id));
    RN_REQUIRE(put(dir, "b", 1));
    RN_REQUIRE(put(dir, "b", 2));
    RN_REQUIRE(write_file(dir, "notes.txt", "x", 1));
    const char *old_tmp = ".ckpt-a-00000000000000000007.rnck.tmp";
    const char *young_tmp = ".ckpt-a-00000000000000000008.rnck.tmp";
    const char *other_tmp = ".ckpt-b-00000000000000000003.rnck.tmp";
    RN_REQUIRE(write_file(dir, old_tmp, "RN", 2) && age(dir, old_tmp, 2 * RN_CKPT_TMP_AGE_S));
    RN_REQUIRE(write_file(dir, young_tmp, "RN", 2) && age(dir, young_tmp, RN_CKPT_TMP_AGE_S / 2));
    RN_REQUIRE(write_file(dir, other_tmp, "RN", 2) && age(dir, other_tmp, 2 * RN_CKPT_TMP_AGE_S));

    /* Keep the newest 3 and checkpoint 2 (say, one that offsets still name). */
    char keep[64], err[256] = "";
    RN_REQUIRE(rn_ckpt_file_name(keep, sizeof keep, "a", 2) == RN_OK);
    const char *keeps[] = {"ckpt-b-00000000000000000001.rnck", keep, NULL};
    size_t removed = 99;
    RN_CHECK_EQ_INT(rn_ckpt_prune(dir, "ckpt-a-", 3, keeps, 3, &removed, err, sizeof err), RN_OK);
    RN_CHECK_EQ_INT(removed, 3); /* checkpoints 1 and 3, the old .tmp */
    rn_ckpt_list_t list;
    RN_REQUIRE(rn_ckpt_list(dir, "ckpt-a-", &list, err, sizeof err) == RN_OK);
    const uint64_t want[] = {6, 5, 4, 2};
    RN_CHECK_EQ_INT(list.n, 4);
    for (size_t i = 0; i < list.n && i < 4; i++) RN_CHECK(list.entries[i].id == want[i]);
    rn_ckpt_list_free(&list);
    RN_CHECK(!exists(dir, old_tmp));
    RN_CHECK(exists(dir, young_tmp));
    RN_CHECK(exists(dir, other_tmp));
    RN_CHECK(exists(dir, "notes.txt"));
    RN_CHECK(exists(dir, "ckpt-b-00000000000000000001.rnck"));
    RN_CHECK(exists(dir, "ckpt-b-00000000000000000002.rnck"));

    /* Pruning again changes nothing; keep 0 leaves only the kept file. */
    RN_CHECK_EQ_INT(rn_ckpt_prune(dir, "ckpt-a-", 3, keeps, 3, &removed, err, sizeof err), RN_OK);
    RN_CHECK_EQ_INT(removed, 0);
    RN_CHECK_EQ_INT(rn_ckpt_prune(dir, "ckpt-a-", 0, keeps + 1, 1, &removed, err, sizeof err), RN_OK);
    RN_CHECK_EQ_INT(removed, 3);
    RN_REQUIRE(rn_ckpt_list(dir, "ckpt-a-", &list, err, sizeof err) == RN_OK);
    RN_CHECK(list.n == 1 && list.entries[0].id == 2);
    rn_ckpt_list_free(&list);
    /* A missing directory has nothing to prune. */
    RN_CHECK_EQ_INT(rn_ckpt_prune(fresh_dir("prune/none"), "ckpt-a-", 1, NULL, 0, &removed, err, sizeof err),
                    RN_OK);
    RN_CHECK_EQ_INT(removed, 0);
}

int main(void)
{
    if (!mkdtemp(tmproot)) {
        perror("mkdtemp");
        return 1;
    }
    RN_RUN(test_round_trip_creates_dir);
    RN_RUN(test_rewrite_replaces);
    RN_RUN(test_reads_golden_file);
    RN_RUN(test_every_truncation_fails);
    RN_RUN(test_every_bit_flip_fails);
    RN_RUN(test_foreign_file);
    RN_RUN(test_newer_version);
    RN_RUN(test_trailing_bytes);
    RN_RUN(test_lying_section_count);
    RN_RUN(test_crash_before_rename_keeps_old);
    RN_RUN(test_io_errors);
    RN_RUN(test_names_refused);
    RN_RUN(test_builder_misuse);
    RN_RUN(test_allocation_failures);
    RN_RUN(test_list_newest_first);
    RN_RUN(test_prune_keeps_newest);
    rm_rf(tmproot);
    return rn_test_summary();
}
