#ifndef CMICROHTTPD_SHIM_H
#define CMICROHTTPD_SHIM_H

/* Swift's view of libmicrohttpd: the library header plus prefixed
 * replacements for what Swift cannot import (function-like / cast macros
 * and variadic functions). */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <microhttpd.h>

/* Body size for responses whose length is not known up front: MHD then uses
 * chunked transfer encoding on HTTP/1.1. (The macro is a cast Swift can't import.) */
static const uint64_t CMHD_SIZE_UNKNOWN = MHD_SIZE_UNKNOWN;

/* Return values of a content-reader callback. */
static const ssize_t CMHD_CONTENT_READER_END_OF_STREAM = MHD_CONTENT_READER_END_OF_STREAM;
static const ssize_t CMHD_CONTENT_READER_END_WITH_ERROR = MHD_CONTENT_READER_END_WITH_ERROR;

/* Everything needed to start the daemon, as plain fields instead of
 * MHD_start_daemon's variadic option list. */
struct CMHDDaemonConfig {
    /* Already bound and listening socket (MHD_OPTION_LISTEN_SOCKET). */
    int listen_fd;
    /* Non-zero if listen_fd is an AF_INET6 socket. */
    int ipv6;
    unsigned int connection_limit;        /* MHD_OPTION_CONNECTION_LIMIT */
    unsigned int per_ip_connection_limit; /* MHD_OPTION_PER_IP_CONNECTION_LIMIT, 0 = none */
    unsigned int connection_timeout;      /* MHD_OPTION_CONNECTION_TIMEOUT (s), 0 = none */
    size_t connection_memory_limit;       /* MHD_OPTION_CONNECTION_MEMORY_LIMIT (bytes) */
    MHD_AccessHandlerCallback access_handler;
    void *access_handler_cls;
    MHD_RequestCompletedCallback completed_handler;
    void *completed_handler_cls;
    MHD_NotifyConnectionCallback connection_handler; /* MHD_OPTION_NOTIFY_CONNECTION */
    void *connection_handler_cls;
};

/* Starts a daemon with one thread per connection (see MHDBridge.swift for
 * why) and MHD_USE_ITC so that MHD_quiesce_daemon works. NULL on failure. */
struct MHD_Daemon *cmhd_start_daemon(const struct CMHDDaemonConfig *config);

/* The connection's socket (MHD_CONNECTION_INFO_CONNECTION_FD), or -1. */
int cmhd_connection_fd(struct MHD_Connection *connection);

/* The peer's numeric address (MHD_CONNECTION_INFO_CLIENT_ADDRESS) written
 * into buf as a C string, without port. Returns 0 on success, -1 otherwise. */
int cmhd_client_address(struct MHD_Connection *connection, char *buf, size_t buf_len);

/* Restarts the connection's idle timer (no-op when timeout_s is 0). MHD
 * counts time spent blocked in our own callbacks as idleness; this undoes
 * that before MHD next checks. */
void cmhd_restart_idle_timer(struct MHD_Connection *connection, unsigned int timeout_s);

/* Every header of the request, with the value's full length (a value with
 * a NUL byte in it is longer than its C string). Calls `visit` once per
 * header; stops early when it returns MHD_NO. */
int cmhd_visit_headers(struct MHD_Connection *connection, MHD_KeyValueIteratorN visit, void *cls);

#endif
