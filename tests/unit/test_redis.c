/*
 * test_redis.c - the 'redis' sink against a fake server: a thread in this
 * process that accepts connections on 127.0.0.1, parses RESP command
 * arrays, records each as one line ("HSET h:a x 1") and answers +OK, or
 * an error reply for a chosen command, or drops the connection once
 * without answering (to make the sink retry). A connection whose first
 * byte does not start a RESP array (a TLS ClientHello) is closed at once,
 * as a plain Redis port does with garbage. The server records a
 * command before it answers, and a flush waits for every answer, so after
 * a flush returns the log holds everything sent: no sleeps.
 */
#include "connectors/connector.h"
#include "core/arena.h"
#include "core/clock.h"
#include "rn_test.h"
#include "rn_test_rows.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct fake_server {
    int lfd;                    /* listening socket */
    int port;
    pthread_t thread;
    pthread_mutex_t mu;
    char log[8192];             /* one line per command received */
    size_t loglen;
    int connections;            /* accepted so far */
    const char *fail_cmd;       /* answer this command with -WRONGTYPE, or NULL */
    int drop_first;             /* n > 0: the first connection is closed, unanswered,
                                 * when its n-th command arrives (0 = never) */
} fake_server_t;

/* Reads one line ending in \r\n from fd into buf; false at EOF. */
static bool read_line(int fd, char *buf, size_t size)
{
    size_t n = 0;
    while (n + 1 < size) {
        char c;
        if (read(fd, &c, 1) != 1) return false;
        if (c == '\n' && n && buf[n - 1] == '\r') {
            buf[n - 1] = 0;
            return true;
        }
        buf[n++] = c;
    }
    return false;
}

static void *fake_main(void *arg)
{
    fake_server_t *fs = arg;
    for (;;) {
        int fd = accept(fs->lfd, NULL, NULL);
        if (fd < 0) return NULL; /* closed by fake_stop */
        pthread_mutex_lock(&fs->mu);
        int conn = ++fs->connections;
        pthread_mutex_unlock(&fs->mu);
        int seen = 0;
        char line[1024], first;
        if (recv(fd, &first, 1, MSG_PEEK) != 1 || first != '*') goto done;
        while (read_line(fd, line, sizeof line) && line[0] == '*') {
            int argc = atoi(line + 1);
            char cmd[1024] = "";
            size_t cl = 0;
            for (int i = 0; i < argc; i++) {
                if (!read_line(fd, line, sizeof line) || line[0] != '$') goto done;
                size_t len = (size_t)atoi(line + 1);
                char arg[512];
                if (len + 2 > sizeof arg || read(fd, arg, len + 2) != (ssize_t)(len + 2)) goto done;
                cl += (size_t)snprintf(cmd + cl, sizeof cmd - cl, "%s%.*s", i ? " " : "", (int)len, arg);
            }
            seen++;
            if (conn == 1 && fs->drop_first && seen == fs->drop_first) goto done;
            pthread_mutex_lock(&fs->mu);
            fs->loglen += (size_t)snprintf(fs->log + fs->loglen, sizeof fs->log - fs->loglen, "%s\n", cmd);
            pthread_mutex_unlock(&fs->mu);
            const char *reply = "+OK\r\n";
            if (fs->fail_cmd && !strncmp(cmd, fs->fail_cmd, strlen(fs->fail_cmd)))
                reply = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
            if (write(fd, reply, strlen(reply)) < 0) goto done;
        }
    done:
        close(fd);
    }
}

/* Listens on port (0: a free one). */
static void fake_start_on(fake_server_t *fs, int port)
{
    memset(fs, 0, sizeof *fs);
    pthread_mutex_init(&fs->mu, NULL);
    fs->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fs->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)port)};
    socklen_t al = sizeof a;
    if (fs->lfd < 0 || bind(fs->lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fs->lfd, 4) != 0 ||
        getsockname(fs->lfd, (struct sockaddr *)&a, &al) != 0) {
        perror("fake redis server");
        abort();
    }
    fs->port = ntohs(a.sin_port);
}

static void fake_start(fake_server_t *fs) { fake_start_on(fs, 0); }

static void fake_run(fake_server_t *fs) { pthread_create(&fs->thread, NULL, fake_main, fs); }

/* The number of connections accepted, once it reaches want or 5 s pass:
 * a client that gives up right after connecting may be counted only after
 * its open() returned, since the kernel completes the handshake first. */
static int fake_await_connections(fake_server_t *fs, int want)
{
    for (int i = 0;; i++) {
        pthread_mutex_lock(&fs->mu);
        int n = fs->connections;
        pthread_mutex_unlock(&fs->mu);
        if (n >= want || i == 500) return n;
        usleep(10 * 1000);
    }
}

static void fake_stop(fake_server_t *fs)
{
    shutdown(fs->lfd, SHUT_RDWR);
    close(fs->lfd);
    pthread_join(fs->thread, NULL);
    pthread_mutex_destroy(&fs->mu);
}

/* Opens a redis sink with opts (plus host and port of fs). */
static rn_err_t open_sink(int port, rn_option_t *opts, int n, rn_arena_t *arena,
                          void **conf, rn_sink_io_t **io, char *err, size_t errsz)
{
    const rn_connector_t *c = rn_connector_find("redis");
    if (!c) return RN_ERR_CONFIG;
    char portbuf[16];
    snprintf(portbuf, sizeof portbuf, "%d", port);
    opts[n++] = (rn_option_t){"host", "127.0.0.1"};
    opts[n++] = (rn_option_t){"port", rn_arena_strndup(arena, portbuf, strlen(portbuf))};
    *conf = rn_arena_calloc(arena, 1, c->conf_size);
    int bad;
    rn_err_t e = rn_options_apply(c, opts, n, *conf, arena, &bad, err, errsz);
    if (e == RN_OK && c->validate) e = c->validate(*conf, err, errsz);
    if (e != RN_OK) return e;
    rn_open_ctx_t ctx = {.pipeline = "p", .table = "t"};
    return c->open_sink(*conf, &ctx, io, err, errsz);
}

/* A batch of (k STRING, f STRING, v BIGINT) rows with kinds. */
static rn_batch_t *rows3(rn_arena_t *arena, const rn_schema_t *s, int n, const char *const *k,
                         const char *const *f, const int64_t *v, const rn_rowkind_t *kinds)
{
    rn_batch_t *b = rn_batch_new(arena, s, n);
    for (int r = 0; r < n; r++) {
        b->cols[0][r] = S(k[r]);
        b->cols[1][r] = S(f[r]);
        b->cols[2][r] = I(v[r]);
        b->kinds[r] = (uint8_t)kinds[r];
    }
    b->nrows = n;
    return b;
}

static void test_hset_auth_select_coalesce(void)
{
    fake_server_t fs;
    fake_start(&fs);
    fake_run(&fs);
    rn_arena_t arena;
    rn_arena_init(&arena, 4096);
    rn_option_t opts[16] = {{"command", "HSET"}, {"key", "h:{k}"}, {"field.column", "f"},
                            {"value.column", "v"}, {"password", "pw"}, {"username", "u"},
                            {"database", "2"}, {"ttl", "1 min"}};
    void *conf;
    rn_sink_io_t *io = NULL;
    char err[512] = "";
    rn_err_t e = open_sink(fs.port, opts, 8, &arena, &conf, &io, err, sizeof err);
    RN_CHECK_EQ_STR(err, "");
    RN_REQUIRE(e == RN_OK);
    rn_schema_t *s = schema_of(3, "k:STRING", "f:STRING", "v:BIGINT");
    /* x: +I 1, -U 1, +U 2 -> one HSET of 2; y: +I 5 then -D -> HDEL; z in key b */
    const char *k[] = {"a", "a", "a", "a", "a", "b"};
    const char *f[] = {"x", "x", "x", "y", "y", "z"};
    int64_t v[] = {1, 1, 2, 5, 5, 7};
    rn_rowkind_t kinds[] = {RN_ROW_INSERT, RN_ROW_UPDATE_BEFORE, RN_ROW_UPDATE_AFTER, RN_ROW_INSERT,
                            RN_ROW_DELETE, RN_ROW_INSERT};
    rn_batch_t *b = rows3(&arena, s, 6, k, f, v, kinds);
    int rows[] = {0, 1, 2, 3, 4, 5};
    rn_sink_layout_t layout = {.schema = s, .mode = RN_SINK_CHANGELOG, .nvalue = 3};
    RN_CHECK(io->write_rows(io, b, rows, 6, &layout, err, sizeof err) == RN_OK);
    RN_CHECK(io->flush(io, err, sizeof err) == RN_OK);
    pthread_mutex_lock(&fs.mu);
    RN_CHECK_EQ_STR(fs.log, "AUTH u pw\nSELECT 2\nHSET h:a x 2\nHDEL h:a y\nHSET h:b z 7\n"
                            "EXPIRE h:a 60\nEXPIRE h:b 60\n");
    fs.loglen = 0;
    fs.log[0] = 0;
    pthread_mutex_unlock(&fs.mu);
    /* a flush with nothing pending sends nothing */
    RN_CHECK(io->flush(io, err, sizeof err) == RN_OK);
    RN_CHECK_EQ_STR(fs.log, "");
    io->close(io);
    fake_stop(&fs);
    rn_schema_unref(s);
    rn_arena_free(&arena);
}

static void test_error_reply_is_fatal(void)
{
    fake_server_t fs;
    fake_start(&fs);
    fs.fail_cmd = "ZADD";
    fake_run(&fs);
    rn_arena_t arena;
    rn_arena_init(&arena, 4096);
    rn_option_t opts[16] = {{"command", "ZADD"}, {"key", "top"}, {"field.column", "f"}, {"value.column", "v"}};
    void *conf;
    rn_sink_io_t *io = NULL;
    char err[512] = "";
    RN_REQUIRE(open_sink(fs.port, opts, 4, &arena, &conf, &io, err, sizeof err) == RN_OK);
    rn_schema_t *s = schema_of(3, "k:STRING", "f:STRING", "v:BIGINT");
    const char *k[] = {"a"}, *f[] = {"/home"};
    int64_t v[] = {3};
    rn_rowkind_t kinds[] = {RN_ROW_INSERT};
    rn_batch_t *b = rows3(&arena, s, 1, k, f, v, kinds);
    int rows[] = {0};
    rn_sink_layout_t layout = {.schema = s, .mode = RN_SINK_CHANGELOG, .nvalue = 3};
    RN_CHECK(io->write_rows(io, b, rows, 1, &layout, err, sizeof err) == RN_OK);
    RN_CHECK(io->flush(io, err, sizeof err) == RN_ERR_FATAL);
    RN_CHECK(strstr(err, "WRONGTYPE") != NULL);
    RN_CHECK(strstr(err, "127.0.0.1") != NULL);
    io->close(io);
    fake_stop(&fs);
    rn_schema_unref(s);
    rn_arena_free(&arena);
}

static void test_lost_connection_retried(void)
{
    fake_server_t fs;
    fake_start(&fs);
    fs.drop_first = 2; /* the first connection dies at the second SET of the pipeline */
    fake_run(&fs);
    rn_arena_t arena;
    rn_arena_init(&arena, 4096);
    rn_option_t opts[16] = {{"command", "SET"}, {"key", "{k}:{f}"}, {"value.column", "v"}};
    void *conf;
    rn_sink_io_t *io = NULL;
    char err[512] = "";
    RN_REQUIRE(open_sink(fs.port, opts, 3, &arena, &conf, &io, err, sizeof err) == RN_OK);
    rn_schema_t *s = schema_of(3, "k:STRING", "f:STRING", "v:BIGINT");
    const char *k[] = {"a", "b"}, *f[] = {"x", "y"};
    int64_t v[] = {1, 2};
    rn_rowkind_t kinds[] = {RN_ROW_INSERT, RN_ROW_INSERT};
    rn_batch_t *b = rows3(&arena, s, 2, k, f, v, kinds);
    int rows[] = {0, 1};
    rn_sink_layout_t layout = {.schema = s, .mode = RN_SINK_CHANGELOG, .nvalue = 3};
    RN_CHECK(io->write_rows(io, b, rows, 2, &layout, err, sizeof err) == RN_OK);
    RN_CHECK(io->flush(io, err, sizeof err) == RN_OK);
    /* the first connection recorded SET a:x only; the second got both again */
    RN_CHECK_EQ_STR(fs.log, "SET a:x 1\nSET a:x 1\nSET b:y 2\n");
    RN_CHECK_EQ_INT(fs.connections, 2);
    io->close(io);
    fake_stop(&fs);
    rn_schema_unref(s);
    rn_arena_free(&arena);
}

/* The server gone (its connection dropped, nobody listening): the flush
 * reconnects once, then answers RN_ERR_RETRY at once with the writes kept
 * (the backoff is the sink operator's); a server back on the port gets
 * them at the next flush. */
static void test_server_gone_keeps_writes(void)
{
    fake_server_t fs;
    fake_start(&fs);
    fs.drop_first = 1; /* the connection made at open dies at the first SET */
    fake_run(&fs);
    rn_arena_t arena;
    rn_arena_init(&arena, 4096);
    rn_option_t opts[16] = {{"command", "SET"}, {"key", "{k}:{f}"}, {"value.column", "v"}};
    void *conf;
    rn_sink_io_t *io = NULL;
    char err[512] = "";
    RN_REQUIRE(open_sink(fs.port, opts, 3, &arena, &conf, &io, err, sizeof err) == RN_OK);
    rn_schema_t *s = schema_of(3, "k:STRING", "f:STRING", "v:BIGINT");
    const char *k[] = {"a", "b"}, *f[] = {"x", "y"};
    int64_t v[] = {1, 2};
    rn_rowkind_t kinds[] = {RN_ROW_INSERT, RN_ROW_INSERT};
    rn_batch_t *b = rows3(&arena, s, 2, k, f, v, kinds);
    int rows[] = {0, 1};
    rn_sink_layout_t layout = {.schema = s, .mode = RN_SINK_CHANGELOG, .nvalue = 3};
    RN_CHECK(io->write_rows(io, b, rows, 2, &layout, err, sizeof err) == RN_OK);
    int port = fs.port;
    shutdown(fs.lfd, SHUT_RDWR); /* nobody listens any more */
    close(fs.lfd);
    int64_t t0 = rn_clock_wall_ms();
    RN_CHECK(io->flush(io, err, sizeof err) == RN_ERR_RETRY);
    RN_CHECK(rn_clock_wall_ms() - t0 < 2000); /* no waiting in the writer */
    RN_CHECK(strstr(err, "2 pending writes kept") != NULL);
    pthread_join(fs.thread, NULL);
    pthread_mutex_destroy(&fs.mu);
    RN_CHECK(io->flush(io, err, sizeof err) == RN_ERR_RETRY); /* still down */
    fake_server_t fs2;
    fake_start_on(&fs2, port);
    fake_run(&fs2);
    RN_CHECK(io->flush(io, err, sizeof err) == RN_OK);
    RN_CHECK_EQ_STR(fs2.log, "SET a:x 1\nSET b:y 2\n");
    RN_CHECK(io->flush(io, err, sizeof err) == RN_OK); /* nothing pending: nothing sent */
    RN_CHECK_EQ_STR(fs2.log, "SET a:x 1\nSET b:y 2\n");
    io->close(io);
    fake_stop(&fs2);
    rn_schema_unref(s);
    rn_arena_free(&arena);
}

static void test_connection_refused_names_endpoint(void)
{
    fake_server_t fs;
    fake_start(&fs); /* a port that was free: close it again, nobody listens */
    int port = fs.port;
    close(fs.lfd);
    pthread_mutex_destroy(&fs.mu);
    rn_arena_t arena;
    rn_arena_init(&arena, 4096);
    rn_option_t opts[16] = {{"command", "SET"}, {"key", "k"}, {"password", "hunter2"}};
    void *conf;
    rn_sink_io_t *io = NULL;
    char err[512] = "", want[64];
    RN_CHECK(open_sink(port, opts, 3, &arena, &conf, &io, err, sizeof err) == RN_ERR_IO);
    snprintf(want, sizeof want, "127.0.0.1:%d", port);
    RN_CHECK(strstr(err, want) != NULL);
    RN_CHECK(strstr(err, "hunter2") == NULL);
    RN_CHECK(io == NULL);
    rn_arena_free(&arena);
}

/* The 'tls.*' options without TLS, or a key without a certificate, are
 * refused before anything connects. */
static void test_tls_options_checked(void)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 4096);
    void *conf;
    rn_sink_io_t *io = NULL;
    char err[512] = "";
    rn_option_t opts[16] = {{"command", "SET"}, {"key", "k"}, {"tls.ca-file", "/nonexistent/ca.crt"}};
    RN_CHECK(open_sink(1, opts, 3, &arena, &conf, &io, err, sizeof err) == RN_ERR_CONFIG);
    RN_CHECK(strstr(err, "'tls' = 'true'") != NULL);
    rn_option_t opts2[16] = {{"command", "SET"}, {"key", "k"}, {"tls", "true"}, {"tls.key-file", "k.pem"}};
    RN_CHECK(open_sink(1, opts2, 4, &arena, &conf, &io, err, sizeof err) == RN_ERR_CONFIG);
    RN_CHECK(strstr(err, "'tls.cert-file'") != NULL);
    RN_CHECK(io == NULL);
    rn_arena_free(&arena);
}

/* TLS to a plain server: the handshake fails at open with one message
 * naming the server; an unreadable CA file is fatal, naming the file. */
static void test_tls_to_plain_server(void)
{
    fake_server_t fs;
    fake_start(&fs);
    fake_run(&fs);
    rn_arena_t arena;
    rn_arena_init(&arena, 4096);
    void *conf;
    rn_sink_io_t *io = NULL;
    char err[512] = "", want[64];
    rn_option_t opts[16] = {{"command", "SET"}, {"key", "k"}, {"tls", "true"},
                            {"tls.insecure-skip-verify", "true"}};
    RN_CHECK(open_sink(fs.port, opts, 4, &arena, &conf, &io, err, sizeof err) == RN_ERR_IO);
    snprintf(want, sizeof want, "redis 127.0.0.1:%d: TLS handshake failed", fs.port);
    RN_CHECK(strstr(err, want) != NULL);
    RN_CHECK(strstr(err, "TLS port?") != NULL);
    RN_CHECK(io == NULL);
    rn_option_t opts2[16] = {{"command", "SET"}, {"key", "k"}, {"tls", "true"},
                             {"tls.ca-file", "/nonexistent/ca.crt"}};
    RN_CHECK(open_sink(fs.port, opts2, 4, &arena, &conf, &io, err, sizeof err) == RN_ERR_FATAL);
    RN_CHECK(strstr(err, "/nonexistent/ca.crt") != NULL);
    RN_CHECK(io == NULL);
    RN_CHECK_EQ_INT(fake_await_connections(&fs, 2), 2);
    fake_stop(&fs);
    rn_arena_free(&arena);
}

/* Plain text to a server that drops the connection at the first command
 * (as a TLS port does): one message naming the server, hinting at TLS. */
static void test_plain_to_tls_port_hints(void)
{
    fake_server_t fs;
    fake_start(&fs);
    fs.drop_first = 1; /* AUTH, at open */
    fake_run(&fs);
    rn_arena_t arena;
    rn_arena_init(&arena, 4096);
    void *conf;
    rn_sink_io_t *io = NULL;
    char err[512] = "", want[64];
    rn_option_t opts[16] = {{"command", "SET"}, {"key", "k"}, {"password", "hunter2"}};
    RN_CHECK(open_sink(fs.port, opts, 3, &arena, &conf, &io, err, sizeof err) == RN_ERR_IO);
    snprintf(want, sizeof want, "redis 127.0.0.1:%d", fs.port);
    RN_CHECK(strstr(err, want) != NULL);
    RN_CHECK(strstr(err, "a TLS port? then set 'tls' = 'true'") != NULL);
    RN_CHECK(strstr(err, "hunter2") == NULL);
    RN_CHECK(io == NULL);
    fake_stop(&fs);
    rn_arena_free(&arena);
}

int main(void)
{
    RN_RUN(test_hset_auth_select_coalesce);
    RN_RUN(test_error_reply_is_fatal);
    RN_RUN(test_lost_connection_retried);
    RN_RUN(test_server_gone_keeps_writes);
    RN_RUN(test_connection_refused_names_endpoint);
    RN_RUN(test_tls_options_checked);
    RN_RUN(test_tls_to_plain_server);
    RN_RUN(test_plain_to_tls_port_hints);
    return rn_test_summary();
}
