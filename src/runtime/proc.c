/* src/runtime/proc.c: running helper commands (ip, nft, sysctl) and finding out whether a
 * recorded process is still the one we started. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/compiler.h"
#include "runtime/runtime.h"

uint64_t eg_rt_proc_starttime(pid_t pid)
{
	char path[64], buf[1024];
	const char *p;
	ssize_t n;
	int fd;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* the command name (field 2) may hold spaces and ')': count fields after the last ')' */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	/* field 3 (state) follows; a zombie has exited already */
	if (p[1] == ' ' && p[2] == 'Z')
		return 0;
	for (int field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

void eg_rt_kill_checked(pid_t pid, uint64_t starttime, int sig)
{
	if (pid <= 1 || starttime == 0 || eg_rt_proc_starttime(pid) != starttime)
		return;
	/* pods run in their own process group (the ip netns exec / setpriv chain execs, so
	 * the group holds egressd and anything it started) */
	if (kill(-pid, sig) < 0)
		(void)kill(pid, sig);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int eg_rt_run(char *const argv[], const char *input, int out_fd)
{
	int in[2] = {-1, -1}, status, r;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		(void)close(in[0]);
		(void)close(in[1]);
		return r;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		(void)dup2(in[0], 0);
		(void)dup2(out_fd >= 0 ? out_fd : null, 1);
		(void)dup2(out_fd >= 0 ? out_fd : null, 2);
		/* the caller's signal mask (the supervisor blocks SIGCHLD for its signalfd)
		 * must not leak into the command */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvp(argv[0], argv);
		dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	(void)close(in[0]);
	if (input)
		(void)write_all(in[1], input, strlen(input));
	(void)close(in[1]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}
