/*
 * t_threadexit - a process whose last thread ends without exit() ends.
 *
 * POSIX: when main() calls pthread_exit(), the process lives on while
 * other threads do, and exits with status 0 when the last one ends.  Each
 * case runs in a child (forked before it connects, so the watchdog thread
 * is not there to keep it alive); the parent waits for it at most
 * CHILD_WAIT_S seconds and kills it if it is still there.  Children:
 *   1. connects, starts a worker, and main() calls pthread_exit(); the
 *      worker waits a little, runs SET and GET on the connection, returns;
 *   2. the same, the worker ending with pthread_exit() instead;
 *   3. two workers, one connection each, both outliving main();
 *   4. connects, runs a command, and main() calls pthread_exit() as the
 *      only thread;
 *   5. main() calls pthread_exit(); a worker starts a non-blocking
 *      connect() and ends at once (the shim's thread, started by that
 *      connect, may first run after the worker is gone), NB_RUNS times.
 * Checks: every reply byte-exact (a worker that fails exits 1 through
 * die()), each child's status 0, and each gone within the bound.
 */
#include <sys/wait.h>

#include "torture.h"

#define CHILD_WAIT_S 10
#define NB_RUNS 20

enum { ONE_RETURNS, ONE_EXITS, TWO_WORKERS, MAIN_ALONE, NB_CONNECT, NCASES };

static const char *const case_name[NCASES] = {
	"main pthread_exit()s, a worker uses the connection and returns",
	"main pthread_exit()s, a worker uses the connection and pthread_exit()s",
	"main pthread_exit()s, two workers with a connection each",
	"main uses the connection and pthread_exit()s alone",
	"main pthread_exit()s, a worker starts a non-blocking connect and ends",
};

/* The worker of case 5: a non-blocking connect under way, nothing more. */
static void *nb_worker(void *arg)
{
	struct addrinfo *ai = t_resolve();
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK, ai->ai_protocol);

	(void)arg;
	if (fd < 0)
		_exit(21);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS)
		_exit(22);
	freeaddrinfo(ai);
	return NULL;
}

struct work {
	int fd;
	int how; /* ONE_EXITS: end with pthread_exit() */
	const char *name;
};

static void roundtrip(int fd, const char *name)
{
	char key[128], exp[160];

	t_key(key, sizeof(key), name);
	t_cmd_expect(fd, "+OK\r\n", "SET", key, "after main", NULL);
	snprintf(exp, sizeof(exp), "$%zu\r\nafter main\r\n", strlen("after main"));
	t_cmd_expect(fd, exp, "GET", key, NULL);
	t_cmd_expect(fd, ":1\r\n", "DEL", key, NULL);
}

static void *worker(void *arg)
{
	struct work *w = arg;

	t_sleep_ms(100); /* main() is gone by now */
	roundtrip(w->fd, w->name);
	if (w->how == ONE_EXITS)
		pthread_exit(NULL);
	return NULL;
}

static void child(int kind)
{
	static struct work w[2];
	pthread_t t;
	int n = kind == TWO_WORKERS ? 2 : 1;

	if (kind == NB_CONNECT) {
		if (pthread_create(&t, NULL, nb_worker, NULL) != 0)
			_exit(20);
		pthread_exit(NULL);
	}
	for (int i = 0; i < n; i++) {
		w[i].fd = t_connect();
		w[i].how = kind;
		w[i].name = i ? "w1" : "w0";
	}
	if (kind == MAIN_ALONE) {
		roundtrip(w[0].fd, "alone");
		pthread_exit(NULL);
	}
	for (int i = 0; i < n; i++)
		if (pthread_create(&t, NULL, worker, &w[i]) != 0)
			_exit(20);
	pthread_exit(NULL);
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	for (int run = 0; run < NCASES - 1 + NB_RUNS; run++) {
		int k = run < NCASES - 1 ? run : NB_CONNECT, status;
		pid_t pid, got = 0;
		double end;

		t_phase = case_name[k];
		pid = fork();
		if (pid < 0)
			die_errno("fork");
		if (pid == 0)
			child(k);
		end = t_now_ms() + CHILD_WAIT_S * 1000.0;
		while ((got = waitpid(pid, &status, WNOHANG)) == 0 && t_now_ms() < end)
			t_sleep_ms(10);
		if (got == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			die("%s: the child was still there %d s after its threads ended",
			    case_name[k], CHILD_WAIT_S);
		}
		if (got < 0)
			die_errno("waitpid");
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			die("%s: the child ended with status %d (signal %d), not 0", case_name[k],
			    WIFEXITED(status) ? WEXITSTATUS(status) : -1,
			    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
		t_checked();
	}
	t_done();
}
