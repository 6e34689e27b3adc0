/* Loading the sensor: every hook is described once in `hooks` with what it
 * needs from the kernel and what is not seen without it.  Tracepoint hooks
 * are probed in the kernel's BTF before load, so an older kernel loses
 * exactly the optional hooks it lacks.  Other attach kinds (fentry,
 * kprobes) for other kernels slot in as further table entries. */
#include "sensor/sensor.h"

#include "sensor/cgroup_root.h"
#include "util/strutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "sensor.skel.h"

enum hook_kind { HOOK_CGROUP, HOOK_TP_BTF, HOOK_ITER, HOOK_FENTRY };

/* Each hook serves a feature.  A feature may have alternatives for
 * different kernels (alt 0, 1, ...): the first whose hooks this kernel
 * offers, as its BTF says, is loaded; hooks of one alternative load
 * together.  A hook the kernel still refuses at load time drops its
 * alternative, and the next one is tried. */
struct hook {
	const char *prog;	/* program in bpf/sensor.bpf.c */
	enum hook_kind kind;
	const char *target;	/* tracepoint (HOOK_TP_BTF) or function (HOOK_FENTRY) */
	int nargs;		/* HOOK_TP_BTF: the tracepoint's argument count, 0: any;
				 * negative: at least that many */
	const char *feature;	/* what the hook is for; alternatives share it */
	int alt;
	bool required;
	const char *lost;	/* what is not seen without the feature */
	bool twin_covers;	/* events it misses when busy go to a twin program */
};

static const struct hook hooks[] = {
	{ "ps_egress", HOOK_TP_BTF, "net_dev_queue", 0, "egress", 0, true, "all traffic sent" },
	{ "ps_tcp_drain", HOOK_ITER, NULL, 0, "tcp-drain", 0, true,
	  "TCP traffic of open connections (counted at close only)" },
	{ "ps_ingress", HOOK_CGROUP, NULL, 0, "ingress", 0, true, "all IP traffic received" },
	{ "ps_tcp_state", HOOK_TP_BTF, "inet_sock_set_state", 0, "tcp-state", 0, true,
	  "TCP connections opening and closing, and TCP listeners", .twin_covers = true },
	{ "ps_tcp_state_twin", HOOK_TP_BTF, "inet_sock_set_state", 0, "tcp-state-twin", 0, true,
	  "TCP state changes in interrupts of another state change", .twin_covers = true },
	{ "ps_tcp_egress", HOOK_CGROUP, NULL, 0, "tcp-egress", 0, false,
	  "DNS queries over TCP (their answers are not used) and TLS server names" },
	{ "ps_sock_create", HOOK_CGROUP, NULL, 0, "sock-create", 0, false,
	  "the creator of a socket that receives before it sends" },
	{ "ps_post_bind4", HOOK_CGROUP, NULL, 0, "bind4", 0, false, "the owner of a bound IPv4 socket" },
	{ "ps_post_bind6", HOOK_CGROUP, NULL, 0, "bind6", 0, false, "the owner of a bound IPv6 socket" },
	{ "ps_sock_release", HOOK_CGROUP, NULL, 0, "sock-release", 0, false,
	  "the closing of UDP and raw sockets (their flows are kept until restart)" },
	/* the datagram became an argument of this tracepoint (and IPv6 came to
	 * pass it) between 6.1 and 6.12; without it, ingress keeps the last
	 * datagram it counted and kfree_skb takes it back when the socket's
	 * queue refuses it */
	{ "ps_udp_drop", HOOK_TP_BTF, "udp_fail_queue_rcv_skb", 3, "udp-drop", 0, false,
	  "UDP datagrams dropped on a full receive buffer (they count as received)" },
	{ "ps_udp_drop_skb", HOOK_TP_BTF, "kfree_skb", -3, "udp-drop", 1, false,
	  "UDP datagrams dropped on a full receive buffer (they count as received)" },
	{ "ps_rcvqueue_full", HOOK_TP_BTF, "sock_rcvqueue_full", 0, "raw-drop", 0, false,
	  "raw datagrams dropped on a full receive buffer (they count as received)" },
	/* the tracepoint came with 6.3; before, a trampoline on the function
	 * AF_PACKET sockets wake their readers with */
	{ "ps_packet_recv", HOOK_TP_BTF, "sk_data_ready", 0, "packet-recv", 0, false,
	  "frames received on AF_PACKET sockets" },
	{ "ps_packet_recv_fentry", HOOK_FENTRY, "sock_def_readable", 0, "packet-recv", 1, false,
	  "frames received on AF_PACKET sockets" },
	{ "ps_exec", HOOK_TP_BTF, "sched_process_exec", 0, "exec", 0, false,
	  "the path of processes that exit before /proc can be read" },
	{ "ps_fork", HOOK_TP_BTF, "sched_process_fork", 0, "fork", 0, false,
	  "the path of forked processes that exit before /proc can be read" },
};

#define NHOOKS (sizeof(hooks) / sizeof(hooks[0]))
#define BATCH 1024
#ifndef ENOTSUPP
#define ENOTSUPP 524	/* kernel-internal "operation not supported" */
#endif

struct sensor {
	struct sensor_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *links[NHOOKS];
	struct bpf_link *tcp_drain;	/* one of links */
	struct ps_dgram_slot *slots;	/* dgram_slots, mapped; NULL: not used */
	int cgroup_fd;
	struct sensor_opts opts;
	struct ps_flow_key *keys;
	struct ps_flow_count *vals;	/* BATCH x ncpu */
	int ncpu;
};

/* libbpf's messages: kept at debug level, but the last ones are kept to
 * explain a failed load. */
static char libbpf_tail[8192];

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char *line = NULL;
	size_t n, have;

	/* a verifier log arrives as one message: keep its end, where the
	 * reason is */
	if (vasprintf(&line, fmt, ap) < 0)
		return 0;
	if (getenv("PICOSNITCH_DEBUG"))
		fputs(line, stderr);
	if (level == LIBBPF_DEBUG) {
		free(line);
		return 0;
	}
	n = strlen(line);
	if (n >= sizeof(libbpf_tail)) {
		memmove(line, line + n - (sizeof(libbpf_tail) - 1), sizeof(libbpf_tail));
		n = sizeof(libbpf_tail) - 1;
	}
	have = strlen(libbpf_tail);
	if (have + n >= sizeof(libbpf_tail)) {
		size_t drop = have + n - sizeof(libbpf_tail) + 1;

		if (drop > have)
			drop = have;
		memmove(libbpf_tail, libbpf_tail + drop, have - drop + 1);
	}
	strncat(libbpf_tail, line, sizeof(libbpf_tail) - strlen(libbpf_tail) - 1);
	free(line);
	return 0;
}

/* The number of arguments of a tracepoint, from its btf_trace_<name>
 * typedef (a pointer to a prototype whose first parameter is the context),
 * or -1 when this kernel does not have it. */
static int tracepoint_nargs(const struct btf *vmlinux, const char *tp)
{
	const struct btf_type *t;
	char name[128];
	int id;

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	id = btf__find_by_name_kind(vmlinux, name, BTF_KIND_TYPEDEF);
	if (id < 0)
		return -1;
	t = btf__type_by_id(vmlinux, id);
	while (t && (btf_is_typedef(t) || btf_is_ptr(t)))
		t = btf__type_by_id(vmlinux, t->type);
	if (!t || !btf_is_func_proto(t) || btf_vlen(t) < 1)
		return -1;
	return btf_vlen(t) - 1;
}

/* PICOSNITCH_SKIP_HOOKS=ps_packet_recv,ps_exec leaves optional hooks out,
 * for diagnosing a misbehaving hook or measuring what each one costs. */
static bool hook_skipped(const char *prog)
{
	const char *list = getenv("PICOSNITCH_SKIP_HOOKS");
	size_t n = strlen(prog);

	for (const char *p = list; p && *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] ? 1 : 0)) {
		if (!strncmp(p, prog, n) && (p[n] == ',' || p[n] == '\0'))
			return true;
	}
	return false;
}

/* Whether this kernel offers what a hook attaches to; if not, why in `why`. */
static bool hook_offered(const struct btf *vmlinux, const struct hook *h, char *why, size_t len)
{
	int n;

	switch (h->kind) {
	case HOOK_TP_BTF:
		n = tracepoint_nargs(vmlinux, h->target);
		if (n < 0) {
			snprintf(why, len, "this kernel has no tracepoint '%s'", h->target);
			return false;
		}
		if ((h->nargs > 0 && n != h->nargs) || (h->nargs < 0 && n < -h->nargs)) {
			snprintf(why, len, "tracepoint '%s' has %d arguments here, not %s%d", h->target,
				 n, h->nargs < 0 ? "at least " : "", h->nargs < 0 ? -h->nargs : h->nargs);
			return false;
		}
		return true;
	case HOOK_FENTRY:
		if (btf__find_by_name_kind(vmlinux, h->target, BTF_KIND_FUNC) < 0) {
			snprintf(why, len, "this kernel has no function '%s' to attach to", h->target);
			return false;
		}
		return true;
	default:
		return true;
	}
}

static int fail(char *err, size_t errlen, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	n = strlen(err);
	snprintf(err + n, errlen - n, ": %s", strerror(-r));
	return r;
}

/* The program libbpf last said it failed to load, from its messages. */
static bool refused_program(char *name, size_t len)
{
	const char *p = libbpf_tail, *hit = NULL, *q;

	while ((q = strstr(p, "prog '"))) {
		const char *end = strchr(q + 6, '\'');

		if (end && (!strncmp(end, "': failed to load", 17) ||
			    !strncmp(end, "': BPF program load failed", 26)))
			hit = q + 6;
		p = q + 6;
	}
	if (!hit)
		return false;
	q = strchr(hit, '\'');
	snprintf(name, len, "%.*s", (int)(q - hit), hit);
	return true;
}

/* Why the kernel refused program `name`, from libbpf's messages: the
 * verifier's last line before its summary when it wrote a log, else the
 * error. */
static void refusal_reason(const char *name, char *buf, size_t len)
{
	const char *p = strstr(libbpf_tail, "-- BEGIN PROG LOAD LOG --");
	const char *best = NULL, *q;
	char pat[128];

	snprintf(buf, len, "no reason given (PICOSNITCH_DEBUG=1 shows libbpf's messages)");
	snprintf(pat, sizeof(pat), "prog '%s': BPF program load failed: ", name);
	q = strstr(libbpf_tail, pat);
	if (q) {
		q += strlen(pat);
		snprintf(buf, len, "%.*s", (int)strcspn(q, "\n"), q);
	}
	if (!p)
		return;
	/* the verifier's own summary lines come after the error */
	for (q = p; (q = strchr(q, '\n')) && strncmp(q + 1, "-- END", 6); q++)
		if (q[1] && q[1] != '\n' && strncmp(q + 1, "processed ", 10) &&
		    strncmp(q + 1, "verification time", 17) && strncmp(q + 1, "stack depth", 11))
			best = q + 1;
	if (best)
		snprintf(buf, len, "%.*s", (int)strcspn(best, "\n"), best);
}

struct choice {
	int alt[NHOOKS];		/* per hook: the chosen alternative of its feature, -1: none */
	bool refused[NHOOKS];		/* refused by the kernel at load */
	char why[NHOOKS][320];		/* why a hook is not loaded */
};

/* Choose, for every feature, the first alternative whose hooks are all
 * offered and none refused or skipped. */
static int choose(const struct btf *vmlinux, struct choice *c, const struct sensor_opts *opts,
		  char *err, size_t errlen)
{
	for (size_t i = 0; i < NHOOKS; i++)
		c->alt[i] = -1;
	for (size_t i = 0; i < NHOOKS; i++) {
		const struct hook *h = &hooks[i];
		bool done = false;

		if (c->alt[i] != -1 || (i > 0 && !strcmp(hooks[i - 1].feature, h->feature)))
			continue;	/* a feature is decided at its first hook */
		for (int alt = 0; !done; alt++) {
			bool any = false, all = true;

			for (size_t j = i; j < NHOOKS && !strcmp(hooks[j].feature, h->feature); j++) {
				if (hooks[j].alt != alt)
					continue;
				any = true;
				if (c->refused[j]) {
					all = false;
				} else if (hook_skipped(hooks[j].prog)) {
					snprintf(c->why[j], sizeof(c->why[j]),
						 "left out by PICOSNITCH_SKIP_HOOKS");
					all = false;
				} else if (!hook_offered(vmlinux, &hooks[j], c->why[j],
							 sizeof(c->why[j]))) {
					all = false;
				}
			}
			if (!any)
				break;
			if (!all)
				continue;
			for (size_t j = i; j < NHOOKS && !strcmp(hooks[j].feature, h->feature); j++)
				c->alt[j] = alt;
			done = true;
		}
		if (!done) {
			/* the reason of the feature's first alternative */
			const char *why = c->why[i][0] ? c->why[i] : "not offered";

			if (h->required) {
				/* every alternative's reason */
				char all[700] = "";

				for (size_t j = i; j < NHOOKS && !strcmp(hooks[j].feature, h->feature);
				     j++) {
					size_t n = strlen(all);

					if (c->why[j][0] && !strstr(all, c->why[j]))
						snprintf(all + n, sizeof(all) - n, "%s%s", n ? "; " : "",
							 c->why[j]);
				}
				return fail(err, errlen, -EOPNOTSUPP, "picosnitch needs '%s' (%s)",
					    h->target ? h->target : h->prog, all[0] ? all : why);
			}
			for (size_t j = i; j < NHOOKS && !strcmp(hooks[j].feature, h->feature); j++)
				c->alt[j] = -2;	/* the whole feature is missing */
		}
	}
	return 0;
}

static bool hook_chosen(const struct choice *c, size_t i)
{
	return c->alt[i] == hooks[i].alt;
}

/* Open the skeleton and set what the daemon decides before load. */
static int configure(struct sensor *s, const struct sensor_opts *opts, const struct choice *c,
		     char *err, size_t errlen)
{
	int r;

	s->skel = sensor_bpf__open();
	if (!s->skel)
		return fail(err, errlen, -errno, "cannot open the BPF object");
	r = bpf_map__set_max_entries(s->skel->maps.events, opts->ringbuf_bytes);
	if (r < 0)
		return fail(err, errlen, r, "cannot size the ring buffer to %u bytes",
			    opts->ringbuf_bytes);
	if (opts->flow_capacity) {
		bpf_map__set_max_entries(s->skel->maps.flows, opts->flow_capacity);
		bpf_map__set_max_entries(s->skel->maps.counts, opts->flow_capacity);
	}
	if (opts->closed_capacity)
		bpf_map__set_max_entries(s->skel->maps.closed, opts->closed_capacity);
	if (opts->listener_capacity)
		bpf_map__set_max_entries(s->skel->maps.listeners, opts->listener_capacity);
	s->skel->rodata->cfg_every_exe = opts->every_exe;
	s->skel->rodata->cfg_self_tgid = getpid();
	s->skel->rodata->cfg_no_rdonly_cast = getenv("PICOSNITCH_NO_RDONLY_CAST") != NULL;
	{
		struct stat st;

		if (stat("/proc/self/ns/net", &st) == 0)
			s->skel->rodata->cfg_own_netns = (uint32_t)st.st_ino;
	}
	for (size_t i = 0; i < NHOOKS; i++) {
		struct bpf_program *p = bpf_object__find_program_by_name(s->skel->obj, hooks[i].prog);

		if (!p)
			return fail(err, errlen, -ENOENT, "BPF program '%s' is missing", hooks[i].prog);
		bpf_program__set_autoload(p, hook_chosen(c, i));
		/* ingress keeps its last datagram only for this alternative */
		if (!strcmp(hooks[i].prog, "ps_udp_drop_skb"))
			s->skel->rodata->cfg_drop_stash = hook_chosen(c, i);
	}
	return 0;
}

/* Report each feature that is missing, once, with why. */
static void report_missing(const struct sensor_opts *opts, const struct choice *c)
{
	for (size_t i = 0; i < NHOOKS; i++) {
		const struct hook *h = &hooks[i];
		char what[700];

		if (c->alt[i] != -2 || (i > 0 && !strcmp(hooks[i - 1].feature, h->feature)))
			continue;
		if (!opts->on_missing)
			continue;
		/* why each alternative could not be used */
		what[0] = '\0';
		for (size_t j = i; j < NHOOKS && !strcmp(hooks[j].feature, h->feature); j++) {
			size_t n = strlen(what);

			if (c->why[j][0] && !strstr(what, c->why[j]))
				snprintf(what + n, sizeof(what) - n, "%s%s", n ? "; " : "", c->why[j]);
		}
		if (!what[0])
			snprintf(what, sizeof(what), "not offered");
		/* a hook left out on purpose is named as the program */
		opts->on_missing(opts->ctx,
				 h->target && !str_has_prefix(what, "left out") ? h->target : h->prog,
				 h->lost, what);
	}
}

int sensor_open(const struct sensor_opts *opts, struct sensor **ret, char *err, size_t errlen)
{
	struct sensor *s = calloc(1, sizeof(*s));
	struct choice *c = calloc(1, sizeof(*c));
	struct btf *vmlinux = NULL;
	char *cgroot = NULL;
	int r;

	snprintf(err, errlen, "out of memory");	/* replaced by the real cause below */
	if (!s || !c) {
		free(s);
		free(c);
		return -ENOMEM;
	}
	s->opts = *opts;
	s->cgroup_fd = -1;
	libbpf_set_print(libbpf_print);

	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux) {
		r = fail(err, errlen, -errno,
			 "cannot read the kernel's BTF type information (/sys/kernel/btf/vmlinux)");
		goto fail;
	}
	/* Load, dropping one refused optional alternative at a time: libbpf
	 * loads the object whole, so each retry reopens it. */
	for (size_t attempt = 0;; attempt++) {
		char name[64], reason[200];
		size_t i;

		r = choose(vmlinux, c, opts, err, errlen);
		if (r < 0)
			goto fail;
		r = configure(s, opts, c, err, errlen);
		if (r < 0)
			goto fail;
		libbpf_tail[0] = '\0';
		r = sensor_bpf__load(s->skel);
		if (r == 0)
			break;
		if (!refused_program(name, sizeof(name)) || attempt >= NHOOKS) {
			fail(err, errlen, r, "the kernel refused the BPF programs (%.3000s)", libbpf_tail);
			goto fail;
		}
		for (i = 0; i < NHOOKS && strcmp(hooks[i].prog, name); i++)
			;
		refusal_reason(name, reason, sizeof(reason));
		if (i == NHOOKS) {
			fail(err, errlen, r, "the kernel refused the BPF program %s (%s)", name, reason);
			goto fail;
		}
		/* a required feature without another alternative fails in choose() */
		c->refused[i] = true;
		snprintf(c->why[i], sizeof(c->why[i]), "the kernel refused %s: %s", name, reason);
		sensor_bpf__destroy(s->skel);
		s->skel = NULL;
	}
	report_missing(opts, c);
	btf__free(vmlinux);
	vmlinux = NULL;

	/* without the mapping the slots stay unread: the sensor is told not to
	 * use them, and counts every datagram in `counts` */
	s->slots = mmap(NULL, sizeof(*s->slots) * PS_DGRAM_SLOTS, PROT_READ | PROT_WRITE,
			MAP_SHARED, bpf_map__fd(s->skel->maps.dgram_slots), 0);
	if (s->slots == MAP_FAILED)
		s->slots = NULL;
	else
		s->skel->bss->dgram_slots_on = 1;

	r = cgroup2_root(&cgroot);
	if (r < 0) {
		fail(err, errlen, r, "cannot find or mount the cgroup2 hierarchy");
		goto fail;
	}
	s->cgroup_fd = open(cgroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->cgroup_fd < 0) {
		r = fail(err, errlen, -errno, "cannot open %s", cgroot);
		goto fail;
	}
	for (size_t i = 0; i < NHOOKS; i++) {
		const struct hook *h = &hooks[i];
		struct bpf_program *p = bpf_object__find_program_by_name(s->skel->obj, h->prog);

		if (!bpf_program__autoload(p))
			continue;
		if (h->kind == HOOK_CGROUP) {
			s->links[i] = bpf_program__attach_cgroup(p, s->cgroup_fd);
		} else if (h->kind == HOOK_ITER) {
			s->links[i] = bpf_program__attach_iter(p, NULL);
			s->tcp_drain = s->links[i];
		} else {
			s->links[i] = bpf_program__attach(p);
		}
		if (!s->links[i]) {
			r = -errno;
			if (h->required) {
				fail(err, errlen, r, "cannot attach %s to %s", h->prog,
				     h->kind == HOOK_CGROUP ? cgroot :
				     h->kind == HOOK_ITER   ? "the TCP socket iterator" :
							      h->target);
				goto fail;
			}
			if (opts->on_missing) {
				char why[160];

				snprintf(why, sizeof(why), "cannot attach %s: %s", h->prog, strerror(-r));
				opts->on_missing(opts->ctx, h->target ? h->target : h->prog, h->lost, why);
			}
		}
	}

	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events),
				 (ring_buffer_sample_fn)opts->on_event, opts->ctx, NULL);
	if (!s->rb) {
		r = fail(err, errlen, -errno, "cannot map the ring buffer");
		goto fail;
	}
	s->ncpu = libbpf_num_possible_cpus();
	if (s->ncpu <= 0) {
		r = fail(err, errlen, s->ncpu ? s->ncpu : -EINVAL, "cannot count the CPUs");
		goto fail;
	}
	s->keys = calloc(BATCH, sizeof(*s->keys));
	s->vals = calloc((size_t)BATCH * s->ncpu, sizeof(*s->vals));
	if (!s->keys || !s->vals) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	free(cgroot);
	free(c);
	*ret = s;
	return 0;
fail:
	btf__free(vmlinux);
	free(cgroot);
	free(c);
	sensor_close(s);
	return r;
}

void sensor_close(struct sensor *s)
{
	if (!s)
		return;
	ring_buffer__free(s->rb);
	for (size_t i = 0; i < NHOOKS; i++)
		bpf_link__destroy(s->links[i]);
	if (s->slots)
		munmap(s->slots, sizeof(*s->slots) * PS_DGRAM_SLOTS);
	sensor_bpf__destroy(s->skel);
	if (s->cgroup_fd >= 0)
		close(s->cgroup_fd);
	free(s->keys);
	free(s->vals);
	free(s);
}

int sensor_poll_fd(struct sensor *s)
{
	return ring_buffer__epoll_fd(s->rb);
}

int sensor_consume(struct sensor *s)
{
	int r = ring_buffer__consume(s->rb);

	return r < 0 ? r : 0;
}

/* The slot a socket holds (the one its id maps to), or NULL. */
static struct ps_dgram_slot *slot_held(const struct sensor *s, uint64_t sock_id)
{
	struct ps_dgram_slot *slot;

	if (!s->slots)
		return NULL;
	slot = &s->slots[sock_id & (PS_DGRAM_SLOTS - 1)];
	return __atomic_load_n(&slot->sock_id, __ATOMIC_ACQUIRE) == sock_id ? slot : NULL;
}

/* The slot of a socket's cached flow, if it is this flow's. */
static struct ps_dgram_slot *slot_of(const struct sensor *s, const struct ps_flow_key *k)
{
	struct ps_dgram_slot *slot;

	if (k->proto != IPPROTO_UDP && k->proto != IPPROTO_UDPLITE)
		return NULL;
	slot = slot_held(s, k->sock_id);
	if (!slot || !__atomic_load_n(&slot->ready, __ATOMIC_ACQUIRE) ||
	    memcmp(&slot->key, k, sizeof(*k)) != 0)
		return NULL;
	return slot;
}

/* A flow's counters: summed over CPUs, plus its socket's slot if the flow
 * is the one the socket caches. */
static void sum_cpus(const struct sensor *s, const struct ps_flow_key *k,
		     const struct ps_flow_count *percpu, struct ps_flow_count *ret)
{
	const struct ps_dgram_slot *slot = slot_of(s, k);

	ret->sent = ret->recv = 0;
	for (int c = 0; c < s->ncpu; c++) {
		ret->sent += percpu[c].sent;
		ret->recv += percpu[c].recv;
	}
	if (slot) {
		ret->sent += __atomic_load_n(&slot->sent, __ATOMIC_RELAXED);
		ret->recv += __atomic_load_n(&slot->recv, __ATOMIC_RELAXED);
	}
}

static int for_each_flow_slow(struct sensor *s,
			      int (*fn)(void *, const struct ps_flow_key *, const struct ps_flow_count *),
			      void *ctx)
{
	int fd = bpf_map__fd(s->skel->maps.counts);
	struct ps_flow_key key, next;
	struct ps_flow_count sum;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (bpf_map_lookup_elem(fd, &next, s->vals) == 0) {
			int r;

			sum_cpus(s, &next, s->vals, &sum);
			r = fn(ctx, &next, &sum);
			if (r)
				return r;
		}
		key = next;
		prev = &key;
	}
	return 0;
}

/* A walk over a hash map a batch of entries per system call. */
struct batch_walk {
	uint64_t in_tok, out_tok;
	bool started;
};

/* The next batch of at most *count entries into keys and vals (*count is
 * set to what came).  1: there may be more; 0: that was the last batch;
 * -EOPNOTSUPP: this kernel has no batch lookups (known at the first call
 * only); else -errno. */
static int batch_next(int fd, struct batch_walk *w, void *keys, void *vals, __u32 *count)
{
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);
	int r = bpf_map_lookup_batch(fd, w->started ? &w->in_tok : NULL, &w->out_tok, keys, vals,
				     count, &opts);

	if (r < 0 && errno == ENOENT)
		return 0;
	if (r < 0) {
		if (!w->started && (errno == EINVAL || errno == ENOTSUPP || errno == EOPNOTSUPP))
			return -EOPNOTSUPP;
		return -errno;
	}
	w->in_tok = w->out_tok;
	w->started = true;
	return 1;
}

int sensor_for_each_flow(struct sensor *s,
			 int (*fn)(void *ctx, const struct ps_flow_key *k, const struct ps_flow_count *c),
			 void *ctx)
{
	int fd = bpf_map__fd(s->skel->maps.counts);
	struct batch_walk w = { 0 };
	struct ps_flow_count sum;
	int more;

	do {
		__u32 count = BATCH;

		more = batch_next(fd, &w, s->keys, s->vals, &count);
		if (more == -EOPNOTSUPP)
			return for_each_flow_slow(s, fn, ctx);
		if (more < 0)
			return more;
		for (__u32 i = 0; i < count; i++) {
			int rr;

			sum_cpus(s, &s->keys[i], s->vals + (size_t)i * s->ncpu, &sum);
			rr = fn(ctx, &s->keys[i], &sum);
			if (rr)
				return rr;
		}
	} while (more);
	return 0;
}

static int run_tcp_iter(struct bpf_link *link)
{
	char buf[64];
	ssize_t n;
	int fd = bpf_iter_create(bpf_link__fd(link));

	if (fd < 0)
		return -errno;
	/* the program prints nothing: reading runs it over every socket */
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	n = n < 0 ? -errno : 0;
	close(fd);
	return (int)n;
}

int sensor_count_tcp(struct sensor *s)
{
	if (!s->tcp_drain)
		return -ENOENT;
	return run_tcp_iter(s->tcp_drain);
}

int sensor_flow_info(struct sensor *s, const struct ps_flow_key *k, struct ps_flow_info *ret)
{
	return bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.flows), k, ret) < 0 ? -errno : 0;
}

/* Kernels without batch lookups: one call per key. */
static int closed_sockets_slow(struct sensor *s, uint64_t **ret, size_t *ret_n)
{
	int fd = bpf_map__fd(s->skel->maps.closed);
	uint64_t key, next, *list = NULL;
	size_t n = 0, cap = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (n == cap) {
			uint64_t *p = realloc(list, (cap = cap ? cap * 2 : 256) * sizeof(*list));

			if (!p) {
				free(list);
				return -ENOMEM;
			}
			list = p;
		}
		list[n++] = next;
		key = next;
		prev = &key;
	}
	*ret = list;
	*ret_n = n;
	return 0;
}

/* Delete n keys from a map, a batch per system call.  A key already gone
 * ends a batch early (the kernel stops at it): it is skipped.  Kernels
 * without batch operations get one call per key. */
static int delete_keys(int fd, const void *keys, size_t ksize, size_t n)
{
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);
	const char *k = keys;
	size_t done = 0;
	int ret = 0;

	while (done < n) {
		__u32 count = n - done > BATCH ? BATCH : (__u32)(n - done);

		if (bpf_map_delete_batch(fd, k + done * ksize, &count, &opts) == 0) {
			done += count;
			continue;
		}
		if (errno == EINVAL || errno == ENOTSUPP || errno == EOPNOTSUPP) {
			for (; done < n; done++) {
				if (bpf_map_delete_elem(fd, k + done * ksize) < 0 && errno != ENOENT)
					ret = -errno;
			}
			break;
		}
		if (errno != ENOENT)
			ret = -errno;
		done += count + 1;	/* past the key that stopped it */
	}
	return ret;
}

int sensor_delete_flows(struct sensor *s, const struct ps_flow_key *keys, size_t n)
{
	/* counters first: a flow with counters always has its identity */
	int r = delete_keys(bpf_map__fd(s->skel->maps.counts), keys, sizeof(*keys), n);
	int r2 = delete_keys(bpf_map__fd(s->skel->maps.flows), keys, sizeof(*keys), n);

	return r < 0 ? r : r2;
}

int sensor_closed_sockets(struct sensor *s, uint64_t **ret, size_t *ret_n)
{
	int fd = bpf_map__fd(s->skel->maps.closed);
	uint64_t *list = NULL, vals[BATCH];
	struct batch_walk w = { 0 };
	size_t n = 0, cap = 0;
	int more;

	do {
		__u32 count = BATCH;

		if (n + BATCH > cap) {
			uint64_t *p = realloc(list, (cap = cap ? cap * 2 : BATCH * 2) * sizeof(*list));

			if (!p) {
				free(list);
				return -ENOMEM;
			}
			list = p;
		}
		more = batch_next(fd, &w, list + n, vals, &count);
		if (more < 0) {
			free(list);
			return more == -EOPNOTSUPP ? closed_sockets_slow(s, ret, ret_n) : more;
		}
		n += count;
	} while (more);
	*ret = list;
	*ret_n = n;
	return 0;
}

int sensor_forget_closed(struct sensor *s, const uint64_t *ids, size_t n)
{
	int r = delete_keys(bpf_map__fd(s->skel->maps.closed), ids, sizeof(*ids), n);

	/* free the sockets' slots: their last counts were read with their flows */
	for (size_t i = 0; i < n; i++) {
		struct ps_dgram_slot *slot = slot_held(s, ids[i]);

		if (slot) {
			__atomic_store_n(&slot->ready, 0, __ATOMIC_RELAXED);
			__atomic_store_n(&slot->sent, 0, __ATOMIC_RELAXED);
			__atomic_store_n(&slot->recv, 0, __ATOMIC_RELAXED);
			__atomic_store_n(&slot->sock_id, 0, __ATOMIC_RELEASE);
		}
	}
	return r;
}

int sensor_stats(struct sensor *s, uint64_t ret[PS_STAT_MAX])
{
	int fd = bpf_map__fd(s->skel->maps.stats);
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;

	if (ncpu <= 0)
		return -EINVAL;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (__u32 i = 0; i < PS_STAT_MAX; i++) {
		ret[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, vals) < 0)
			continue;
		for (int c = 0; c < ncpu; c++)
			ret[i] += vals[c];
	}
	free(vals);
	/* the kernel's own count of events it did not hand to a program.
	 * Twins run the same work for every event, so an event is lost only
	 * when both missed it: at most the smaller of their counts (0 proves
	 * none was) */
	uint64_t twin_min = UINT64_MAX;
	int twins = 0;

	for (size_t i = 0; i < NHOOKS; i++) {
		struct bpf_program *p = bpf_object__find_program_by_name(s->skel->obj, hooks[i].prog);
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);

		if (!p || !bpf_program__autoload(p) ||
		    bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len) < 0)
			continue;
		if (hooks[i].twin_covers) {
			twins++;
			if (info.recursion_misses < twin_min)
				twin_min = info.recursion_misses;
			continue;
		}
		ret[PS_STAT_HOOK_BUSY] += info.recursion_misses;
	}
	/* one twin alone (the other refused): its misses are all lost */
	ret[PS_STAT_TCP_STATE_MISSED] = twins ? twin_min : 0;
	return 0;
}

int sensor_execs_fd(struct sensor *s)
{
	return bpf_program__autoload(s->skel->progs.ps_exec) ? bpf_map__fd(s->skel->maps.execs) : -1;
}

int sensor_listeners_fd(struct sensor *s)
{
	return bpf_map__fd(s->skel->maps.listeners);
}

size_t sensor_flow_capacity(struct sensor *s)
{
	return bpf_map__max_entries(s->skel->maps.flows);
}
