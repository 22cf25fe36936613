/*
 * checkpoint.h - checkpoint files: a process's state, written so that a
 * crash at any instant leaves either the old file or the new one, and read
 * back so that no file, however damaged, is taken for a good one.
 *
 * What a checkpoint holds is the caller's business (docs/checkpoints.md:
 * per task, the positions, watermarks and each stateful operator's
 * snapshot): this module sees a checkpoint id, an opaque fingerprint (the
 * caller's description of the pipeline, compared by the caller) and named
 * sections of bytes.
 *
 * File format, version 1, little-endian, byte strings length-prefixed
 * with a u32 (the codec of state/snapshot.h):
 *
 *     "RNCK"                      magic, 4 bytes
 *     u32   format version        1
 *     u64   checkpoint id
 *     bytes fingerprint
 *     u32   section count
 *     count x (bytes name, bytes data)
 *     u32   CRC-32C of every byte before it (core/hash.h)
 *
 * Later versions keep the first eight bytes and the trailing CRC, so a
 * reader can tell a newer file ("written by a newer runnel (format N)")
 * from a corrupt one. The layout is self-delimiting: every prefix of a
 * file is recognised as truncated, and the CRC catches every flip of up
 * to 32 bits anywhere else.
 *
 * Writing is atomic and durable: the bytes go to `<dir>/.<file>.tmp`, which
 * is fsync()ed, renamed over `<dir>/<file>`, and the directory fsync()ed.
 * Without the file fsync a crash after the rename could leave the new name
 * pointing at blocks never written (an empty or zero-filled file, as ext4
 * and XFS may show after a power cut); without the rename a crash midway
 * through writing would leave half a file under the final name; without
 * the directory fsync the rename itself may not survive the crash, and the
 * offsets committed to Kafka next (which name the file) would point at a
 * file that is not there. A crash at any step leaves the previous file
 * intact and at worst a stray `.tmp`, which rn_ckpt_prune removes later.
 *
 * File names (rn_ckpt_file_name): `ckpt-<tag>-<id>.rnck`, the id written
 * as 20 decimal digits with leading zeros, so that names sort as ids do;
 * <tag> names the process (several processes share the directory), and
 * each process lists and prunes only the files under its own prefix
 * `ckpt-<tag>-`. The listing orders by the id in the name, never opening
 * the files.
 */
#ifndef RN_CHECKPOINT_H
#define RN_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "runnel.h"

#define RN_CKPT_MAGIC "RNCK"
#define RN_CKPT_VERSION 1u        /* the format this runnel writes and reads */
#define RN_CKPT_SUFFIX ".rnck"    /* file names' suffix (rn_ckpt_file_name) */
#define RN_CKPT_NAME_MAX 200      /* longest file name accepted (the .tmp name adds 5) */
#define RN_CKPT_TMP_AGE_S 60      /* rn_ckpt_prune removes stray .tmp files older than this */

/* ---- writing -------------------------------------------------------------- */

/* Builds a checkpoint in memory: rn_ckpt_begin, sections (whole with
 * rn_ckpt_add_section, or appended straight into the builder's buffer
 * between rn_ckpt_section_open and rn_ckpt_section_close), then
 * rn_ckpt_write. Failures are sticky: after one, every later call returns
 * the same code and rn_ckpt_write reports it. */
typedef struct rn_ckpt_builder {
    rn_buf_t buf;               /* the file's bytes so far */
    size_t count_at;            /* offset of the section count field; sections follow it */
    uint32_t nsections;         /* sections added (closed) */
    size_t open_at;             /* offset of the open section's data length field; 0: none open */
    bool sealed;                /* the count is patched and the CRC appended (rn_ckpt_finish) */
    rn_err_t err;               /* first failure, RN_OK if none */
    char why[160];              /* what that failure was */
} rn_ckpt_builder_t;

/* Starts a checkpoint with id and the fingerprint's fplen bytes (copied; fp
 * may be NULL when fplen is 0). b needs no initialisation before; whatever
 * this returns, release it with rn_ckpt_builder_free. Returns RN_OK,
 * RN_ERR_NOMEM, or RN_ERR_FATAL for a fingerprint over 4 GiB. */
rn_err_t rn_ckpt_begin(rn_ckpt_builder_t *b, uint64_t id, const void *fp, size_t fplen);

/* Adds a section named name (a non-empty C string, unique in the
 * checkpoint) holding a copy of data[0..len). Returns RN_OK, RN_ERR_NOMEM,
 * or RN_ERR_FATAL (a section is open, the name is empty or taken, len is
 * over 4 GiB, or the checkpoint was finished: caller bugs). */
rn_err_t rn_ckpt_add_section(rn_ckpt_builder_t *b, const char *name, const void *data, size_t len);

/* Opens a section named name and returns the buffer its data is to be
 * appended to (e.g. an operator's snapshot(op, out, parts)), or NULL after
 * a failure (the same as rn_ckpt_add_section's). The caller may only
 * append to the buffer, never clear or shorten it, and must call
 * rn_ckpt_section_close before anything else on b. The buffer belongs to b. */
rn_buf_t *rn_ckpt_section_open(rn_ckpt_builder_t *b, const char *name);

/* Closes the open section: its data is whatever was appended since
 * rn_ckpt_section_open. Returns RN_OK, RN_ERR_NOMEM (an append ran out of
 * memory) or RN_ERR_FATAL (no section open, or its data is over 4 GiB). */
rn_err_t rn_ckpt_section_close(rn_ckpt_builder_t *b);

/* Seals the checkpoint (no more sections) and returns the whole file's
 * bytes in *data and *len (owned by b, valid until rn_ckpt_builder_free).
 * Returns RN_OK or the builder's failure. rn_ckpt_write calls it. */
rn_err_t rn_ckpt_finish(rn_ckpt_builder_t *b, const void **data /* out */, size_t *len /* out */);

/* Seals the checkpoint and writes it as <dir>/<file_name> atomically and
 * durably (see the head note), creating dir and its parents if missing.
 * file_name must be a plain name: not empty, no '/', no leading '.', at
 * most RN_CKPT_NAME_MAX bytes. Returns RN_OK; RN_ERR_CONFIG for a refused
 * name; RN_ERR_IO with errbuf naming the path, the call that failed and
 * strerror (the .tmp file is removed, the previous <file_name>, if any, is
 * intact); or the builder's failure. b stays valid (a failed write may be
 * retried) and is still the caller's to free. */
rn_err_t rn_ckpt_write(rn_ckpt_builder_t *b, const char *dir, const char *file_name, char *errbuf,
                       size_t errbuf_size);

/* Releases the builder's memory; b may then be begun again. */
void rn_ckpt_builder_free(rn_ckpt_builder_t *b);

/* ---- reading -------------------------------------------------------------- */

typedef struct rn_ckpt rn_ckpt_t;

/* One section of a checkpoint read back; points into the checkpoint. */
typedef struct rn_ckpt_section {
    const char *name;           /* the name's bytes (not NUL-terminated) */
    uint32_t name_len;          /* their count */
    const void *data;           /* the section's data */
    uint32_t len;               /* its length */
} rn_ckpt_section_t;

/* Loads the file at path whole and validates it. On success returns RN_OK
 * and a checkpoint in *ckpt, which the caller frees with rn_ckpt_free. On
 * failure *ckpt is NULL and errbuf names the file and what is wrong:
 * RN_ERR_IO when it cannot be opened or read ("<path>: open: <strerror>"),
 * with errno left at the failing call's value, so ENOENT tells a missing
 * file from an unreadable one; RN_ERR_DECODE when its bytes are not a
 * checkpoint this runnel can read: "not a checkpoint file", "truncated at
 * byte X", "checksum mismatch", "N trailing bytes after the checksum",
 * "written by a newer runnel (format N)"; RN_ERR_NOMEM. */
rn_err_t rn_ckpt_read(const char *path, rn_ckpt_t **ckpt /* out */, char *errbuf, size_t errbuf_size);

/* rn_ckpt_read over bytes in memory (copied): what the file at `what` (used
 * only in messages) would give. Never reads outside data[0..len). */
rn_err_t rn_ckpt_parse(const void *data, size_t len, const char *what, rn_ckpt_t **ckpt /* out */,
                       char *errbuf, size_t errbuf_size);

void rn_ckpt_free(rn_ckpt_t *ckpt);

uint64_t rn_ckpt_id(const rn_ckpt_t *ckpt);

/* The fingerprint's bytes (owned by ckpt) and their count in *len. */
const void *rn_ckpt_fingerprint(const rn_ckpt_t *ckpt, size_t *len /* out */);

uint32_t rn_ckpt_section_count(const rn_ckpt_t *ckpt);

/* Section i (0 <= i < rn_ckpt_section_count), in the order written. */
const rn_ckpt_section_t *rn_ckpt_section_at(const rn_ckpt_t *ckpt, uint32_t i);

/* The section named name, or NULL if there is none. */
const rn_ckpt_section_t *rn_ckpt_find(const rn_ckpt_t *ckpt, const char *name);

/* ---- the directory -------------------------------------------------------- */

/* Whether name may be a checkpoint file's name: not empty, at most
 * RN_CKPT_NAME_MAX bytes, no '/', no leading '.' (so never "." or "..", nor
 * a .tmp name). */
bool rn_ckpt_name_ok(const char *name);

/* Writes "ckpt-<tag>-<id as 20 digits>.rnck" into out. Returns RN_OK, or
 * RN_ERR_CONFIG if tag is empty, holds a '/' or the name does not fit in
 * out or in RN_CKPT_NAME_MAX. */
rn_err_t rn_ckpt_file_name(char *out, size_t out_size, const char *tag, uint64_t id);

/* One checkpoint file found in a directory. */
typedef struct rn_ckpt_entry {
    char *name;                 /* file name (owned by the list) */
    uint64_t id;                /* the id its name carries */
} rn_ckpt_entry_t;

typedef struct rn_ckpt_list {
    rn_ckpt_entry_t *entries;   /* newest (highest id) first */
    size_t n;                   /* their count */
} rn_ckpt_list_t;

/* Lists the files in dir named prefix + 20 digits + ".rnck" (prefix being
 * e.g. "ckpt-<tag>-", a plain name), newest first. A missing dir is an
 * empty list. Returns RN_OK (release the list with rn_ckpt_list_free),
 * RN_ERR_CONFIG for a prefix that is not a plain name, RN_ERR_IO (errbuf
 * names dir) or RN_ERR_NOMEM; on failure the list is empty. */
rn_err_t rn_ckpt_list(const char *dir, const char *prefix, rn_ckpt_list_t *list /* out */,
                      char *errbuf, size_t errbuf_size);

void rn_ckpt_list_free(rn_ckpt_list_t *list);

/* Deletes the files of rn_ckpt_list(dir, prefix) beyond the newest keep,
 * except those named in keep_names[0..nkeep_names) (e.g. every file that a
 * committed offset still names, also for partitions handed to another
 * process that has not checkpointed them yet), and the stray temporary
 * files of that prefix (".<prefix>*.tmp") last modified more than
 * RN_CKPT_TMP_AGE_S seconds ago (younger ones may be a write in
 * progress). Files that vanish meanwhile are not errors. Returns RN_OK,
 * with the number of files deleted in *removed (may be NULL), or the
 * first failure (RN_ERR_IO naming the file, RN_ERR_CONFIG, RN_ERR_NOMEM)
 * after trying every file. */
rn_err_t rn_ckpt_prune(const char *dir, const char *prefix, size_t keep, const char *const *keep_names,
                       size_t nkeep_names, size_t *removed /* out */, char *errbuf, size_t errbuf_size);

#endif
