/*
 * sup_probe.h - how a preloaded shim asks redis-tls-ctl's supervisor, when
 * the process runs under one, whether it will do the TLS of a connect
 * itself: getsockopt(fd, SUP_PROBE_LEVEL, ADDRLEN, ADDR, &len).  The
 * supervisor's filter hands that call to the supervisor, which answers 1
 * when its configuration wraps (or refuses) ADDR, 0 when it passes it by;
 * without a supervisor the kernel fails it (-1: no such level), and no
 * kernel getsockopt returns 1.  The shim then adds no TLS of its own to a
 * connection the supervisor wraps (TLS inside TLS, which the supervisor
 * refuses), and still wraps the ones only its own configuration names.
 */
#ifndef SHIM_SUP_PROBE_H
#define SHIM_SUP_PROBE_H

#define SUP_PROBE_LEVEL 0x52544c53 /* "RTLS": no protocol level */

#endif
