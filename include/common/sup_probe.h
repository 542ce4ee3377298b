/*
 * sup_probe.h - how a preloaded shim asks redis-tls-ctl's supervisor, when
 * the process runs under one, whether it will do the TLS of a connect
 * itself: getsockopt(fd, SUP_PROBE_LEVEL, ADDRLEN, ADDR, &len).  The
 * supervisor's filter hands that call to the supervisor, which answers
 * SUP_PROBE_WRAPS when its configuration wraps (or refuses) ADDR, 0 when
 * it passes it by; without a supervisor the kernel fails it (-1: no such
 * level).  After that connect, getsockopt(fd, SUP_PROBE_LEVEL, 0, NULL,
 * &len): SUP_PROBE_HOLDS if the socket is the supervisor's.  The shim then adds no TLS of its own to a
 * connection the supervisor wraps (TLS inside TLS, which the supervisor
 * refuses), and still wraps the ones only its own configuration names.
 */
#ifndef SHIM_SUP_PROBE_H
#define SHIM_SUP_PROBE_H

#define SUP_PROBE_LEVEL 0x52544c53 /* "RTLS": no protocol level */

/*
 * The supervisor's yes, to each question: not 1, which a tracer's fault
 * injection (strace -e inject=getsockopt:retval=1) or an interposer gives
 * every getsockopt; a preloaded program without a supervisor must not take
 * it for one and leave its connect in clear.  Anything else is no.
 */
#define SUP_PROBE_WRAPS 0x52544c57 /* "RTLW": the supervisor wraps ADDR */
#define SUP_PROBE_HOLDS 0x52544c48 /* "RTLH": the socket is the supervisor's */

#endif
