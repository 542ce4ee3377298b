/*
 * t_epoll_et - edge-triggered epoll, reading a 1 MiB reply 7 bytes at a time.
 *
 * The socket is registered EPOLLIN|EPOLLOUT|EPOLLET with its own epoll_data.
 * A 1 MiB value is SET (written on EPOLLOUT edges until EAGAIN), then GET
 * twice; on every EPOLLIN edge the program reads 7 bytes per read() until
 * EAGAIN, as edge-triggered code must.  Any data left behind by the
 * transport without a new edge would hang the program (caught by the 5 s
 * wait timeout).
 *
 * Checks: the replies (+OK and two 1 MiB bulk strings) byte-exact; every
 * event carries the socket's epoll_data; no EPOLLERR/EPOLLHUP; after the
 * last reply, with the registration modified to EPOLLIN|EPOLLET, no event
 * arrives within 200 ms.
 */
#include <sys/epoll.h>

#include "torture.h"

#define TAG 0xed6e7a66edULL
#define VALUE_LEN (1u << 20)

int main(int argc, char **argv)
{
	struct tbuf cmd = { 0 }, exp = { 0 };
	struct epoll_event ev, evs[4];
	struct tpipe p;
	char key[128];
	char *v = malloc(VALUE_LEN);
	unsigned wakeups = 0, empty = 0;
	int fd, ep;

	t_init(argc, argv);
	t_key(key, sizeof(key), "1MiB");
	t_fill(v, VALUE_LEN, 1234);
	{
		const char *a[] = { "SET", key, v };
		size_t l[] = { 3, strlen(key), VALUE_LEN };

		resp_cmdv(&cmd, 3, a, l);
	}
	resp_cmd(&cmd, "GET", key, NULL);
	resp_cmd(&cmd, "GET", key, NULL);
	resp_cmd(&cmd, "DEL", key, NULL);
	tbuf_add(&exp, "+OK\r\n", 5);
	resp_bulk(&exp, v, VALUE_LEN);
	resp_bulk(&exp, v, VALUE_LEN);
	tbuf_add(&exp, ":1\r\n", 4);

	ep = epoll_create1(0);
	if (ep < 0)
		die_errno("epoll_create1");
	fd = t_connect();
	t_set_nonblock(fd, 1);
	ev = (struct epoll_event){ .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u64 = TAG };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		die_errno("epoll_ctl(ADD, EPOLLIN|EPOLLOUT|EPOLLET)");
	tpipe_init(&p, fd, &cmd, &exp, "epoll ET 1 MiB replies");

	while (!tpipe_done(&p)) {
		int n = epoll_wait(ep, evs, 4, 5000);

		if (n < 0)
			die_errno("epoll_wait");
		if (n == 0)
			die("epoll_wait timed out after 5s (an edge was lost); %zu of %zu request "
			    "bytes sent, %zu of %zu reply bytes read", p.out_off, p.out_len,
			    p.in.pos, p.in.len);
		if (n != 1)
			die("epoll_wait returned %d events for one registered fd", n);
		if (evs[0].data.u64 != TAG)
			die("event carries epoll_data 0x%llx, registered 0x%llx",
			    (unsigned long long)evs[0].data.u64, (unsigned long long)TAG);
		if (evs[0].events & (EPOLLERR | EPOLLHUP))
			die("socket events 0x%x at reply byte %zu", evs[0].events, p.in.pos);
		if (evs[0].events & EPOLLOUT)
			tpipe_on_writable(&p, 1);
		if (evs[0].events & EPOLLIN) {
			/* 7 bytes per read(), until EAGAIN */
			char buf[7];

			for (size_t got = 0;; got += 7) {
				size_t left = p.in.len - p.in.pos;
				ssize_t r = read(fd, buf, left < 7 && left > 0 ? left : 7);

				if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
					empty += got == 0;
					break;
				}
				if (r < 0)
					die_errno("read(7) at reply byte %zu", p.in.pos);
				if (r == 0)
					die("EOF at reply byte %zu of %zu", p.in.pos, p.in.len);
				texp_feed(&p.in, buf, (size_t)r);
				p.reads++;
			}
		}
		wakeups++;
	}

	ev.events = EPOLLIN | EPOLLET;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) < 0)
		die_errno("epoll_ctl(MOD, EPOLLIN|EPOLLET)");
	if (epoll_wait(ep, evs, 4, 200) != 0)
		die("an event (0x%x) after the last reply was read", evs[0].events);
	t_checked();
	printf("epoll ET: %zu reply bytes in %u wake-ups (%u found nothing to read), %u reads\n",
	       p.in.len, wakeups, empty, p.reads);
	close(fd);
	close(ep);
	free(v);
	tbuf_free(&cmd);
	tbuf_free(&exp);
	t_done();
}
