#include "shim.h"

#include <arpa/inet.h>
#include <netinet/in.h>

struct MHD_Daemon *cmhd_start_daemon(const struct CMHDDaemonConfig *c) {
    unsigned int flags = MHD_USE_THREAD_PER_CONNECTION
        | MHD_USE_INTERNAL_POLLING_THREAD
        | MHD_USE_POLL
        | MHD_USE_ITC;
    if (c->ipv6) {
        flags |= MHD_USE_IPv6;
    }
    /* The port argument is ignored because MHD_OPTION_LISTEN_SOCKET is given. */
    return MHD_start_daemon(
        flags, 0,
        NULL, NULL,
        c->access_handler, c->access_handler_cls,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)c->listen_fd,
        MHD_OPTION_NOTIFY_COMPLETED, c->completed_handler, c->completed_handler_cls,
        MHD_OPTION_NOTIFY_CONNECTION, c->connection_handler, c->connection_handler_cls,
        MHD_OPTION_CONNECTION_LIMIT, c->connection_limit,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, c->per_ip_connection_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, c->connection_timeout,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, c->connection_memory_limit,
        MHD_OPTION_END);
}

int cmhd_connection_fd(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info == NULL ? -1 : (int)info->connect_fd;
}

int cmhd_client_address(struct MHD_Connection *connection, char *buf, size_t buf_len) {
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (info == NULL || info->client_addr == NULL || buf_len == 0) {
        return -1;
    }
    const struct sockaddr *addr = info->client_addr;
    const void *raw;
    if (addr->sa_family == AF_INET) {
        raw = &((const struct sockaddr_in *)addr)->sin_addr;
    } else if (addr->sa_family == AF_INET6) {
        raw = &((const struct sockaddr_in6 *)addr)->sin6_addr;
    } else {
        return -1;
    }
    return inet_ntop(addr->sa_family, raw, buf, (socklen_t)buf_len) == NULL ? -1 : 0;
}

void cmhd_restart_idle_timer(struct MHD_Connection *connection, unsigned int timeout_s) {
    if (timeout_s == 0) {
        return;
    }
    /* MHD resets the timer only when a timeout is set on a connection that
     * had none, hence the detour through 0. */
    MHD_set_connection_option(connection, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    MHD_set_connection_option(connection, MHD_CONNECTION_OPTION_TIMEOUT, timeout_s);
}

int cmhd_visit_headers(struct MHD_Connection *connection, MHD_KeyValueIteratorN visit, void *cls) {
    return MHD_get_connection_values_n(connection, MHD_HEADER_KIND, visit, cls);
}
