// SPDX-License-Identifier: GPL-2.0
/* What every net backend shares: -n parsing, the backend table, poll sets, checksums. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "util.h"

const char *net_mode_name(enum net_mode mode)
{
	switch (mode) {
	case NET_MODE_USER:
		return "user";
	case NET_MODE_TAP:
		return "tap";
	default:
		return "none";
	}
}

const struct net_backend_ops *net_backend_ops(enum net_mode mode)
{
	switch (mode) {
	case NET_MODE_USER:
		return &net_user_ops;
	case NET_MODE_TAP:
		return &net_tap_ops;
	default:
		return &net_none_ops;
	}
}

/* a decimal port 1..65535, digits only */
static int net_parse_port(const char *s, uint16_t *port)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* "[ADDR:]PORT" into *addr (kept when ADDR is absent or empty) and *port; s is modified */
static int net_parse_endpoint(char *s, struct in_addr *addr, uint16_t *port)
{
	char *colon = strrchr(s, ':');

	if (colon) {
		*colon = 0;
		if (*s && inet_pton(AF_INET, s, addr) != 1)
			return -1;
		s = colon + 1;
	}
	return net_parse_port(s, port);
}

int net_parse_hostfwd(const char *rule, struct net_hostfwd *f)
{
	char buf[128], *s = buf, *dash;

	if (strlen(rule) >= sizeof(buf))
		return -1;
	strcpy(buf, rule);
	memset(f, 0, sizeof(*f));
	f->host_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->guest_addr.s_addr = htonl(0x0a00020f); /* 10.0.2.15 */
	if (!strncmp(s, "tcp:", 4)) {
		s += 4;
	} else if (!strncmp(s, "udp:", 4)) {
		f->udp = true;
		s += 4;
	} else if (*s == ':') {
		s++;
	} else {
		return -1;
	}
	dash = strchr(s, '-');
	if (!dash)
		return -1;
	*dash = 0;
	if (net_parse_endpoint(s, &f->host_addr, &f->host_port) ||
	    net_parse_endpoint(dash + 1, &f->guest_addr, &f->guest_port))
		return -1;
	return 0;
}

static unsigned int net_hexval(char c)
{
	return isdigit((unsigned char)c) ? (unsigned int)(c - '0') :
					   (unsigned int)(tolower((unsigned char)c) - 'a' + 10);
}

/* "52:54:00:12:34:56": six pairs of hex digits */
static int net_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int i;

	for (i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1]))
			return -1;
		mac[i] = (uint8_t)(net_hexval(s[0]) << 4 | net_hexval(s[1]));
		s += 2;
		if (i < 5 && *s++ != ':')
			return -1;
	}
	return *s ? -1 : 0;
}

static int net_parse_host_ip(const char *v, struct net_opts *o)
{
	char buf[32], *slash;
	unsigned long len = 24;

	if (strlen(v) >= sizeof(buf))
		return -1;
	strcpy(buf, v);
	slash = strchr(buf, '/');
	if (slash) {
		char *end;

		*slash = 0;
		if (!isdigit((unsigned char)slash[1]))
			return -1;
		len = strtoul(slash + 1, &end, 10);
		if (*end || len < 1 || len > 30)
			return -1;
	}
	if (inet_pton(AF_INET, buf, &o->host_ip) != 1)
		return -1;
	o->host_prefix = (unsigned int)len;
	o->host_ip_set = true;
	return 0;
}

static bool net_ifname_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (!n || n >= NET_IFNAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == ':' || isspace((unsigned char)s[i]))
			return false;
	return true;
}

int net_parse_spec(const char *spec, struct net_opts *o, struct lkvm_err *e)
{
	char *s = strdup(spec), *tok, *save = NULL;
	int r = -1;

	memset(o, 0, sizeof(*o));
	o->mode = NET_MODE_USER;
	if (!s)
		return err_set(e, "out of memory");
	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *v = strchr(tok, '=');

		if (!v) {
			err_set(e, "-n %s: '%s' is not KEY=VALUE", spec, tok);
			goto out;
		}
		*v++ = 0;
		if (!strcmp(tok, "mode")) {
			if (!strcmp(v, "user")) {
				o->mode = NET_MODE_USER;
			} else if (!strcmp(v, "tap")) {
				o->mode = NET_MODE_TAP;
			} else if (!strcmp(v, "none")) {
				o->mode = NET_MODE_NONE;
			} else {
				err_set(e, "-n %s: unknown mode '%s' (user, tap, none)", spec, v);
				goto out;
			}
		} else if (!strcmp(tok, "guest_mac")) {
			if (net_parse_mac(v, o->guest_mac) || (o->guest_mac[0] & 1)) {
				err_set(e, "-n %s: guest_mac '%s' is not a unicast MAC (like 52:54:00:12:34:56)",
					spec, v);
				goto out;
			}
			o->mac_set = true;
		} else if (!strcmp(tok, "tapif")) {
			if (!net_ifname_ok(v)) {
				err_set(e, "-n %s: tapif '%s' is not an interface name (1 to %d characters, no '/', ':' or blanks)",
					spec, v, NET_IFNAME_MAX - 1);
				goto out;
			}
			strcpy(o->tapif, v);
		} else if (!strcmp(tok, "host_ip")) {
			if (net_parse_host_ip(v, o)) {
				err_set(e, "-n %s: host_ip '%s' is not an IPv4 address[/1..30]", spec, v);
				goto out;
			}
		} else if (!strcmp(tok, "hostfwd")) {
			if (o->nr_fwd >= NET_MAX_HOSTFWD) {
				err_set(e, "-n %s: too many hostfwd rules (max %d)", spec, NET_MAX_HOSTFWD);
				goto out;
			}
			if (net_parse_hostfwd(v, &o->fwd[o->nr_fwd])) {
				err_set(e, "-n %s: hostfwd '%s' is not tcp|udp:[HOSTADDR:]HOSTPORT-[GUESTADDR]:GUESTPORT",
					spec, v);
				goto out;
			}
			o->nr_fwd++;
		} else {
			err_set(e, "-n %s: unknown option '%s' (mode, guest_mac, tapif, host_ip, hostfwd)",
				spec, tok);
			goto out;
		}
	}
	if (o->mode != NET_MODE_TAP && (o->tapif[0] || o->host_ip_set)) {
		err_set(e, "-n %s: tapif= and host_ip= are for mode=tap", spec);
		goto out;
	}
	if (o->mode != NET_MODE_USER && o->nr_fwd) {
		err_set(e, "-n %s: hostfwd= is for mode=user", spec);
		goto out;
	}
	r = 0;
out:
	free(s);
	return r;
}

int net_pollset_add(struct net_pollset *ps, int fd, short events)
{
	if (ps->n == ps->cap) {
		unsigned int cap = ps->cap ? ps->cap * 2 : 16;
		struct pollfd *p = realloc(ps->fds, cap * sizeof(*p));

		if (!p)
			return -1;
		ps->fds = p;
		ps->cap = cap;
	}
	ps->fds[ps->n] = (struct pollfd){ .fd = fd, .events = events };
	return (int)ps->n++;
}

void net_pollset_free(struct net_pollset *ps)
{
	free(ps->fds);
	memset(ps, 0, sizeof(*ps));
}

/* The ones' complement sum of p[0, len) added to sum (big-endian 16-bit words). */
static uint32_t net_sum(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (i < len)
		sum += (uint32_t)p[i] << 8;
	return sum;
}

static uint16_t net_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void net_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t net_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

bool net_csum_complete(uint8_t *frame, size_t len, const struct net_hdr *hdr)
{
	size_t start = hdr->csum_start, off = hdr->csum_offset;
	uint16_t c;

	if (start >= len || off > len - start || len - start - off < 2)
		return false;
	c = net_fold(net_sum(0, frame + start, len - start));
	/* as Linux's skb_checksum_help: 0 goes out as 0xffff (UDP: "no checksum" otherwise) */
	net_put16(frame + start + off, c ? c : 0xffff);
	return true;
}

#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_CWR 0x80

int net_tso4_segment(const uint8_t *frame, size_t len, const struct net_hdr *hdr, uint8_t *seg,
		     void (*emit)(void *opaque, const uint8_t *f, size_t len), void *opaque)
{
	const uint8_t *ip = frame + 14, *tcp;
	size_t ihl, thl, h, payload, mss = hdr->gso_size, off = 0;
	uint32_t seq;
	uint16_t id;
	int n = 0;

	if (len < 14 + 20 + 20 || net_get16(frame + 12) != 0x0800 || ip[0] >> 4 != 4 || ip[9] != 6)
		return -1;
	ihl = (size_t)(ip[0] & 15) * 4;
	if (ihl < 20 || len < 14 + ihl + 20)
		return -1;
	tcp = ip + ihl;
	thl = (size_t)(tcp[12] >> 4) * 4;
	h = 14 + ihl + thl;
	/* a guest asking for tiny segments gets its frame dropped, not 64 Ki of them */
	if (thl < 20 || len < h || mss < NET_TSO_MIN_MSS || mss > NET_MAX_FRAME - h)
		return -1;
	payload = len - h;
	id = net_get16(ip + 4);
	seq = (uint32_t)net_get16(tcp + 4) << 16 | net_get16(tcp + 6);
	do {
		size_t c = MIN(mss, payload - off);
		bool last = off + c >= payload;
		uint8_t *sip = seg + 14, *st = sip + ihl, pseudo[12];
		uint32_t s;

		memcpy(seg, frame, h);
		memcpy(seg + h, frame + h + off, c);
		net_put16(sip + 2, (uint16_t)(ihl + thl + c));
		net_put16(sip + 4, (uint16_t)(id + n));
		net_put16(sip + 10, 0);
		net_put16(sip + 10, net_fold(net_sum(0, sip, ihl)));
		net_put16(st + 4, (uint16_t)((seq + off) >> 16));
		net_put16(st + 6, (uint16_t)(seq + off));
		/* FIN and PSH end the last segment; CWR starts the first (as Linux's tcp_gso_segment) */
		if (!last)
			st[13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
		if (n)
			st[13] &= (uint8_t)~TCP_CWR;
		memcpy(pseudo, sip + 12, 8);
		pseudo[8] = 0;
		pseudo[9] = 6;
		net_put16(pseudo + 10, (uint16_t)(thl + c));
		net_put16(st + 16, 0);
		s = net_sum(net_sum(0, pseudo, sizeof(pseudo)), st, thl + c);
		net_put16(st + 16, net_fold(s));
		emit(opaque, seg, h + c);
		off += c;
		n++;
	} while (off < payload);
	return n;
}
