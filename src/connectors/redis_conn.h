/*
 * redis_conn.h - one connection to a Redis server for the 'redis' sink,
 * over plain TCP or TLS (OpenSSL), whatever the hiredis version: hiredis
 * 0.14 (Debian 12) has no TLS, so the socket and TLS are ours and hiredis
 * only formats commands (redisFormatCommandArgv) and parses replies (its
 * standalone redisReader). Commands are appended to an output buffer and
 * sent on the first reply asked for, so a run of appends is one pipelined
 * write.
 *
 * Errors: RN_ERR_RETRY where the server cannot be reached or the
 * connection is lost (an outage: trying again later may work),
 * RN_ERR_FATAL where trying again cannot help (the server's certificate
 * fails verification, an unreadable CA or client certificate file), each
 * with one line naming host:port.
 */
#ifndef RN_CONNECTORS_REDIS_CONN_H
#define RN_CONNECTORS_REDIS_CONN_H

#include "runnel.h"

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

typedef struct rn_redis_tls {
    bool on;                    /* connect with TLS */
    const char *ca_file;        /* PEM CA bundle; NULL = the system's trust store */
    const char *cert_file;      /* client certificate chain (PEM), or NULL */
    const char *key_file;       /* its private key (PEM), or NULL (= in cert_file) */
    bool insecure;              /* skip certificate and host name verification */
} rn_redis_tls_t;

typedef struct rn_redis_conn rn_redis_conn_t;

/* Connects to host:port (TCP, then the TLS handshake with SNI and host
 * name verification when tls->on), waiting at most timeout_s for each
 * step; replies are waited for at most timeout_s too. where names the
 * server in messages ("redis localhost:6379"). On RN_OK *out is a new
 * connection, owned by the caller (rn_redis_conn_close); else *out is NULL
 * and errbuf says why. */
rn_err_t rn_redis_conn_open(const char *host, int port, const rn_redis_tls_t *tls, int timeout_s,
                            const char *where, rn_redis_conn_t **out /* out */, char *errbuf,
                            size_t errbuf_size);

/* Queues one command (argv[i] of lens[i] bytes); nothing is sent yet.
 * RN_ERR_NOMEM only. */
rn_err_t rn_redis_conn_append(rn_redis_conn_t *c, int argc, const char **argv, const size_t *lens);

/* Sends whatever is queued, then reads the next reply into *reply (owned
 * by the caller: freeReplyObject). An error reply is a reply (RN_OK).
 * RN_ERR_RETRY when the connection is lost or times out (then the
 * connection is useless: close it), with errbuf saying so. */
rn_err_t rn_redis_conn_reply(rn_redis_conn_t *c, redisReply **reply /* out */, char *errbuf,
                             size_t errbuf_size);

/* Closes c (NULL is allowed). */
void rn_redis_conn_close(rn_redis_conn_t *c);

#endif
