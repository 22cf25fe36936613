/*
 * redis_conn.c - a Redis connection over TCP or TLS; see redis_conn.h.
 *
 * The socket is blocking with SO_RCVTIMEO/SO_SNDTIMEO as the reply
 * timeout; only connect() runs non-blocking, to bound it. TLS is OpenSSL
 * on that socket: TLS 1.2 at least, the CA file or the system's trust
 * store, SNI (for a host name, not an address literal) and the server's
 * name or address checked against its certificate (SSL_set1_host /
 * X509_VERIFY_PARAM_set1_ip_asc), unless 'tls.insecure-skip-verify'.
 *
 * Writing to a socket the server has closed raises SIGPIPE, which would
 * kill the process: plain sends use MSG_NOSIGNAL, and TLS writes (OpenSSL
 * calls write() itself) run with SIGPIPE blocked in this thread, a
 * SIGPIPE they cause being consumed before it is unblocked (as libpq
 * does).
 */
#include "connectors/redis_conn.h"
#include "core/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct rn_redis_conn {
    int fd;                     /* connected socket */
    SSL_CTX *ctx;               /* TLS only, else NULL */
    SSL *ssl;                   /* TLS only, else NULL */
    redisReader *reader;        /* parses what the server sends */
    char *out;                  /* queued commands (RESP), rn_malloc'd */
    size_t outlen, outcap;
    bool tls;
    bool answered;              /* a reply has come on this connection */
    bool has_cert;              /* TLS with a client certificate */
    char where[300];            /* "redis host:port" */
};

/* Whether the last OpenSSL error is a TLS alert the server sent (other
 * than close_notify): it refuses the connection, e.g. a client
 * certificate it requires or does not trust. Trying again cannot help. */
static bool server_alert(void)
{
    unsigned long e = ERR_peek_last_error();
    return e && ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) > SSL_AD_REASON_OFFSET;
}

/* The last OpenSSL error as text, or fallback; clears the error queue. */
static const char *ssl_errstr(char *buf, size_t size, const char *fallback)
{
    unsigned long e = ERR_peek_last_error();
    if (e) ERR_error_string_n(e, buf, size);
    else snprintf(buf, size, "%s", fallback);
    ERR_clear_error();
    return buf;
}

/* Connects fd-less c to one address of host:port within timeout_s.
 * RN_ERR_RETRY with the reason in errbuf when no address answers. */
static rn_err_t tcp_connect(rn_redis_conn_t *c, const char *host, int port, int timeout_s, char *errbuf,
                            size_t errbuf_size)
{
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    int gai = getaddrinfo(host, portstr, &hints, &ai);
    if (gai) {
        snprintf(errbuf, errbuf_size, "cannot connect to %s: %s", c->where, gai_strerror(gai));
        return RN_ERR_RETRY;
    }
    int err = 0;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int fl = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        int r = connect(fd, a->ai_addr, a->ai_addrlen);
        if (r != 0 && errno == EINPROGRESS) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int pr;
            do pr = poll(&p, 1, timeout_s * 1000);
            while (pr < 0 && errno == EINTR);
            socklen_t l = sizeof err;
            if (pr == 0) err = ETIMEDOUT;
            else if (pr < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0) err = errno;
            r = err ? -1 : 0;
        } else if (r != 0) {
            err = errno;
        }
        if (r == 0) {
            fcntl(fd, F_SETFL, fl);
            struct timeval tv = {timeout_s, 0};
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            c->fd = fd;
            freeaddrinfo(ai);
            return RN_OK;
        }
        close(fd);
    }
    freeaddrinfo(ai);
    snprintf(errbuf, errbuf_size, "cannot connect to %s: %s", c->where, strerror(err ? err : ECONNREFUSED));
    return RN_ERR_RETRY;
}

typedef enum io_op { IO_CONNECT, IO_READ, IO_WRITE } io_op_t;

/* SSL_connect, SSL_read or SSL_write with SIGPIPE blocked in this thread;
 * a SIGPIPE the call raised is consumed. Answers what the call does. */
static int ssl_io(SSL *ssl, void *buf, int len, io_op_t op)
{
    sigset_t pipe, old;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, &old);
    sigset_t pending;
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);
    int r = op == IO_CONNECT ? SSL_connect(ssl) : op == IO_WRITE ? SSL_write(ssl, buf, len) : SSL_read(ssl, buf, len);
    if (!was_pending) {
        int saved = errno;
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe, NULL, &zero) == SIGPIPE) {}
        errno = saved;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r;
}

/* The TLS handshake on c->fd. RN_ERR_FATAL for a configuration the server
 * will never accept (files, verification), RN_ERR_RETRY for a handshake
 * cut short. */
static rn_err_t tls_handshake(rn_redis_conn_t *c, const char *host, const rn_redis_tls_t *tls, int timeout_s,
                              char *errbuf, size_t errbuf_size)
{
    char why[256];
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx) {
        snprintf(errbuf, errbuf_size, "%s: TLS: %s", c->where, ssl_errstr(why, sizeof why, "cannot set up"));
        return RN_ERR_FATAL;
    }
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    if (tls->ca_file ? SSL_CTX_load_verify_locations(c->ctx, tls->ca_file, NULL) != 1
                     : SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
        snprintf(errbuf, errbuf_size, "%s: TLS: cannot load the CA certificates%s%s: %s", c->where,
                 tls->ca_file ? " from " : "", tls->ca_file ? tls->ca_file : "",
                 ssl_errstr(why, sizeof why, "?"));
        return RN_ERR_FATAL;
    }
    if (tls->cert_file) {
        const char *key = tls->key_file ? tls->key_file : tls->cert_file;
        if (SSL_CTX_use_certificate_chain_file(c->ctx, tls->cert_file) != 1 ||
            SSL_CTX_use_PrivateKey_file(c->ctx, key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(c->ctx) != 1) {
            snprintf(errbuf, errbuf_size, "%s: TLS: cannot use the client certificate %s with key %s: %s",
                     c->where, tls->cert_file, key, ssl_errstr(why, sizeof why, "?"));
            return RN_ERR_FATAL;
        }
    }
    SSL_CTX_set_verify(c->ctx, tls->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    c->ssl = SSL_new(c->ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
        snprintf(errbuf, errbuf_size, "%s: TLS: %s", c->where, ssl_errstr(why, sizeof why, "cannot set up"));
        return RN_ERR_FATAL;
    }
    unsigned char addr[16];
    bool literal = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
    if (!literal) SSL_set_tlsext_host_name(c->ssl, host);
    if (!tls->insecure) {
        int ok = literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), host)
                         : SSL_set1_host(c->ssl, host);
        if (ok != 1) {
            snprintf(errbuf, errbuf_size, "%s: TLS: cannot verify the name '%s'", c->where, host);
            return RN_ERR_FATAL;
        }
    }
    ERR_clear_error();
    int r = ssl_io(c->ssl, NULL, 0, IO_CONNECT);
    if (r == 1) return RN_OK;
    long vr = SSL_get_verify_result(c->ssl);
    if (vr != X509_V_OK) {
        char ca[300] = "";
        if (tls->ca_file) snprintf(ca, sizeof ca, " = '%s'", tls->ca_file);
        snprintf(errbuf, errbuf_size,
                 "%s: TLS: the server's certificate is not trusted: %s (option 'tls.ca-file'%s)", c->where,
                 X509_verify_cert_error_string(vr), ca);
        ERR_clear_error();
        return RN_ERR_FATAL;
    }
    int e = errno;
    int se = SSL_get_error(c->ssl, r);
    if (se == SSL_ERROR_SSL && server_alert()) {
        snprintf(errbuf, errbuf_size, "%s: TLS: the server refused the connection: %s%s", c->where,
                 ssl_errstr(why, sizeof why, "?"),
                 tls->cert_file ? "" : " (does it require a client certificate? 'tls.cert-file')");
        return RN_ERR_FATAL;
    }
    char fb[128];
    if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE)
        snprintf(fb, sizeof fb, "no answer within %d s (is this the server's TLS port?)", timeout_s);
    else if (se == SSL_ERROR_SYSCALL && e && e != ECONNRESET)
        snprintf(fb, sizeof fb, "%s", strerror(e));
    else if (se == SSL_ERROR_SYSCALL && e)
        snprintf(fb, sizeof fb, "%s (is this the server's TLS port?)", strerror(e));
    else
        snprintf(fb, sizeof fb, "the server closed the connection (is this the server's TLS port?)");
    snprintf(errbuf, errbuf_size, "%s: TLS handshake failed: %s", c->where, ssl_errstr(why, sizeof why, fb));
    return RN_ERR_RETRY;
}

rn_err_t rn_redis_conn_open(const char *host, int port, const rn_redis_tls_t *tls, int timeout_s,
                            const char *where, rn_redis_conn_t **out /* out */, char *errbuf,
                            size_t errbuf_size)
{
    *out = NULL;
    rn_redis_conn_t *c = rn_calloc(1, sizeof *c);
    if (!c) return RN_ERR_NOMEM;
    c->fd = -1;
    c->tls = tls && tls->on;
    c->has_cert = c->tls && tls->cert_file;
    snprintf(c->where, sizeof c->where, "%s", where);
    c->reader = redisReaderCreate();
    if (!c->reader) {
        rn_free(c);
        return RN_ERR_NOMEM;
    }
    rn_err_t err = tcp_connect(c, host, port, timeout_s, errbuf, errbuf_size);
    if (err == RN_OK && c->tls) err = tls_handshake(c, host, tls, timeout_s, errbuf, errbuf_size);
    if (err != RN_OK) {
        rn_redis_conn_close(c);
        return err;
    }
    *out = c;
    return RN_OK;
}

rn_err_t rn_redis_conn_append(rn_redis_conn_t *c, int argc, const char **argv, const size_t *lens)
{
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
    if (len < 0) return RN_ERR_NOMEM;
    if (c->outlen + (size_t)len > c->outcap) {
        size_t cap = c->outcap ? c->outcap : 4096;
        while (cap < c->outlen + (size_t)len) cap *= 2;
        char *n = rn_realloc(c->out, cap);
        if (!n) {
            redisFreeCommand(cmd);
            return RN_ERR_NOMEM;
        }
        c->out = n;
        c->outcap = cap;
    }
    memcpy(c->out + c->outlen, cmd, (size_t)len);
    c->outlen += (size_t)len;
    redisFreeCommand(cmd);
    return RN_OK;
}

/* Says why an I/O call on c failed, for "connection lost" messages, and
 * answers RN_ERR_RETRY, or RN_ERR_FATAL where the server refused the TLS
 * connection with an alert (with TLS 1.3 a client certificate is refused
 * after the client's side of the handshake, at the first command). */
static rn_err_t io_error(rn_redis_conn_t *c, int r, const char *what, char *errbuf, size_t errbuf_size)
{
    char why[256];
    const char *reason;
    int e = errno;
    if (c->ssl && server_alert()) {
        snprintf(errbuf, errbuf_size, "%s: TLS: the server refused the connection: %s%s", c->where,
                 ssl_errstr(why, sizeof why, "?"),
                 c->has_cert ? "" : " (does it require a client certificate? 'tls.cert-file')");
        return RN_ERR_FATAL;
    }
    if (c->ssl) {
        int se = SSL_get_error(c->ssl, r);
        reason = se == SSL_ERROR_ZERO_RETURN || (se == SSL_ERROR_SYSCALL && !e && !ERR_peek_last_error())
                     ? "the server closed the connection"
                 : se == SSL_ERROR_SYSCALL && !ERR_peek_last_error()
                     ? (e == EAGAIN || e == EWOULDBLOCK ? "timed out" : strerror(e))
                     : ssl_errstr(why, sizeof why, "TLS error");
    } else if (r == 0) {
        reason = "the server closed the connection";
    } else {
        reason = e == EAGAIN || e == EWOULDBLOCK ? "timed out" : strerror(e);
    }
    /* a TLS port drops a plain-text client at its first bytes */
    bool maybe_tls_port = !c->tls && !c->answered && (r == 0 || e == ECONNRESET);
    snprintf(errbuf, errbuf_size, "%s: %s %s%s", c->where, what, reason,
             maybe_tls_port ? " (a TLS port? then set 'tls' = 'true' or use a rediss:// url)" : "");
    ERR_clear_error();
    return RN_ERR_RETRY;
}

rn_err_t rn_redis_conn_reply(rn_redis_conn_t *c, redisReply **reply /* out */, char *errbuf,
                             size_t errbuf_size)
{
    *reply = NULL;
    size_t sent = 0;
    while (sent < c->outlen) {
        size_t chunk = c->outlen - sent;
        if (chunk > (1u << 30)) chunk = 1u << 30;
        ssize_t r;
        do r = c->ssl ? ssl_io(c->ssl, c->out + sent, (int)chunk, IO_WRITE)
                      : send(c->fd, c->out + sent, chunk, MSG_NOSIGNAL);
        while (r < 0 && errno == EINTR && !c->ssl);
        if (r <= 0 && c->ssl && !c->answered) {
            /* a server that refuses us sends an alert before it closes:
             * read it, to say why */
            char alert[256];
            int saved = errno;
            ERR_clear_error();
            int rr = ssl_io(c->ssl, alert, sizeof alert, IO_READ);
            if (rr <= 0 && server_alert()) return io_error(c, rr, "sending:", errbuf, errbuf_size);
            ERR_clear_error();
            errno = saved;
        }
        if (r <= 0) return io_error(c, (int)r, "sending:", errbuf, errbuf_size);
        sent += (size_t)r;
    }
    c->outlen = 0;
    for (;;) {
        void *rep = NULL;
        if (redisReaderGetReply(c->reader, &rep) != REDIS_OK) {
            snprintf(errbuf, errbuf_size, "%s: bad reply: %s", c->where, c->reader->errstr);
            return RN_ERR_RETRY;
        }
        if (rep) {
            c->answered = true;
            *reply = rep;
            return RN_OK;
        }
        char buf[16384];
        ssize_t r;
        do r = c->ssl ? ssl_io(c->ssl, buf, sizeof buf, IO_READ) : recv(c->fd, buf, sizeof buf, 0);
        while (r < 0 && errno == EINTR && !c->ssl);
        if (r <= 0) return io_error(c, (int)r, "reading a reply:", errbuf, errbuf_size);
        if (redisReaderFeed(c->reader, buf, (size_t)r) != REDIS_OK) {
            snprintf(errbuf, errbuf_size, "%s: bad reply: %s", c->where, c->reader->errstr);
            return RN_ERR_RETRY;
        }
    }
}

void rn_redis_conn_close(rn_redis_conn_t *c)
{
    if (!c) return;
    if (c->ssl) SSL_free(c->ssl); /* no close_notify: the socket may be dead, and nothing is owed */
    if (c->ctx) SSL_CTX_free(c->ctx);
    if (c->fd >= 0) close(c->fd);
    if (c->reader) redisReaderFree(c->reader);
    rn_free(c->out);
    rn_free(c);
}
