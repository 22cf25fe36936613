/*
 * http.h - the dashboard's HTTP server: the page, the JSON API, server-sent
 * events and /metrics (docs/dashboard.md), read-only, over a hub of
 * published snapshots (http/hub.h).
 *
 * Built on libmicrohttpd in thread-per-connection mode with a connection
 * limit and an idle timeout, so a slow or hostile client holds one server
 * thread and never a pipeline thread.
 */
#ifndef RN_HTTP_HTTP_H
#define RN_HTTP_HTTP_H

#include <stddef.h>

#include "http/hub.h"
#include "runnel.h"

#define RN_HTTP_MAX_CONNECTIONS 64  /* at once; more are refused */
#define RN_HTTP_TIMEOUT_S 30        /* an idle (or stalled) connection is closed after it */
#define RN_HTTP_STREAM_MS 1000      /* /api/stream: one status event (and tables event) per period */

typedef struct rn_http rn_http_t;

/* Starts serving hub on listen ("HOST:PORT"; port 0 picks a free one).
 * token (may be NULL or "") is required from every request when given;
 * a HOST that is not a loopback address requires one. Writes the URL
 * ("http://127.0.0.1:PORT/") to url. Returns RN_OK and the server in
 * *out, or RN_ERR_CONFIG (bad address, missing token) / RN_ERR_IO
 * (cannot bind) with the reason in errbuf. hub must outlive the server. */
rn_err_t rn_http_start(rn_http_hub_t *hub, const char *listen, const char *token, rn_http_t **out,
                       char *url, size_t urlsz, char *errbuf, size_t errbuf_size);
/* Stops the server: open streams end, connection threads are joined. */
void rn_http_stop(rn_http_t *h);

#endif
