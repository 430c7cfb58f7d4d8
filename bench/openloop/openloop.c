// openloop: an open-loop HTTP/1.1 load generator for the http-latency
// benchmark (wrk2's idea, in one small file). Requests are scheduled at a
// fixed rate whatever the server does; each one's latency is counted from its
// scheduled send time, not from when a connection was free to send it, so a
// server that stalls is charged for every request that waited (coordinated
// omission corrected). One thread, epoll, a timerfd for the schedule, up to
// --connections keep-alive connections with one request in flight each.
//
// usage: openloop --port P [--host 127.0.0.1] [--path /] --rate R --seconds S
//                 [--warmup W] [--connections C] [--header 'K: V']...
// prints one JSON line: scheduled, completed, errors, unfinished, achieved
// rate and p50/p90/p99/p99.9/max latency in microseconds over the measured
// seconds (the warm-up's requests are sent but not counted).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define BUF_SIZE (64 * 1024)
#define DRAIN_NS (5LL * 1000000000LL)

// Latency histogram in microseconds: exact below 2048 us, then 1024
// sub-buckets per power of two (0.1 % precision) up to 2^40 us.
#define SUB 1024
#define LINEAR 2048
#define NBUCKETS (LINEAR + 30 * SUB)
static uint64_t hist[NBUCKETS];
static uint64_t recorded, max_us;

static int bucket_of(uint64_t us) {
  if (us < LINEAR) return (int)us;
  int e = 63 - __builtin_clzll(us) - 10; // us >> e lands in [1024, 2048)
  int i = LINEAR + (e - 1) * SUB + (int)((us >> e) - SUB);
  return i < NBUCKETS ? i : NBUCKETS - 1;
}
static uint64_t value_of(int i) {
  if (i < LINEAR) return (uint64_t)i;
  int e = (i - LINEAR) / SUB + 1;
  return ((uint64_t)((i - LINEAR) % SUB) + SUB) << e;
}
static void record(uint64_t us) {
  hist[bucket_of(us)]++;
  recorded++;
  if (us > max_us) max_us = us;
}
static uint64_t percentile(double p) {
  if (recorded == 0) return 0;
  uint64_t rank = (uint64_t)(p / 100.0 * (double)recorded + 0.999999);
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (int i = 0; i < NBUCKETS; i++) {
    seen += hist[i];
    if (seen >= rank) return value_of(i);
  }
  return max_us;
}

typedef struct {
  int fd;
  int busy;          // a request is in flight
  int64_t intended;  // its scheduled send time (ns)
  size_t len;        // bytes of the answer read so far
  char buf[BUF_SIZE];
} conn_t;

static conn_t conns[MAX_CONNS];
static int idle[MAX_CONNS], nidle;
static const char *host = "127.0.0.1";
static int port;
static char request[8192];
static size_t request_len;
static uint64_t errors, completed_measured;
static int first_error_status; // the first non-2xx/3xx status seen (0: none; -1: not HTTP, or the connection was lost)
static int64_t last_done; // when the last measured answer arrived

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "openloop: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int open_conn(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
    fprintf(stderr, "openloop: --host must be an IPv4 address, got %s\n", host);
    exit(2);
  }
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// Returns 1 when buf holds one whole answer (Content-Length or chunked), 0
// when more is needed, -1 when it cannot be read as HTTP/1.1. *status gets
// the status code, *closing whether the server closes after it.
static int answer_complete(const char *buf, size_t len, int *status, int *closing) {
  const char *end = memmem(buf, len, "\r\n\r\n", 4);
  if (!end) return len >= BUF_SIZE ? -1 : 0;
  if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0) return -1;
  *status = atoi(buf + 9);
  size_t head = (size_t)(end - buf) + 4;
  long long length = -1;
  int chunked = 0;
  for (const char *line = buf; line < end;) {
    const char *eol = memmem(line, (size_t)(end - line) + 2, "\r\n", 2);
    if (!eol) break;
    size_t n = (size_t)(eol - line);
    if (strncasecmp(line, "connection:", 11) == 0 && memmem(line, n, "close", 5)) *closing = 1;
    if (strncasecmp(line, "content-length:", 15) == 0) length = strtoll(line + 15, NULL, 10);
    if (strncasecmp(line, "transfer-encoding:", 18) == 0 && memmem(line, n, "chunked", 7)) chunked = 1;
    line = eol + 2;
  }
  if (chunked) return len >= head + 5 && memcmp(buf + len - 5, "0\r\n\r\n", 5) == 0;
  if (length >= 0) return len >= head + (size_t)length;
  return *status == 204 || *status == 304;
}

static void reconnect(int epfd, conn_t *c) {
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->fd = open_conn();
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
}

static void usage(void) {
  fprintf(stderr, "usage: openloop --port P [--host IPV4] [--path /] --rate R --seconds S [--warmup W] [--connections C] [--header 'K: V']...\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *path = "/";
  double rate = 0, seconds = 0, warmup = 1;
  int nconns = 64;
  char headers[4096] = "";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (i + 1 >= argc) usage();
    const char *v = argv[++i];
    if (!strcmp(a, "--host")) host = v;
    else if (!strcmp(a, "--port")) port = atoi(v);
    else if (!strcmp(a, "--path")) path = v;
    else if (!strcmp(a, "--rate")) rate = atof(v);
    else if (!strcmp(a, "--seconds")) seconds = atof(v);
    else if (!strcmp(a, "--warmup")) warmup = atof(v);
    else if (!strcmp(a, "--connections")) nconns = atoi(v);
    else if (!strcmp(a, "--header")) {
      if (strlen(headers) + strlen(v) + 3 >= sizeof headers) usage();
      strcat(headers, v);
      strcat(headers, "\r\n");
    } else usage();
  }
  if (port <= 0 || rate <= 0 || seconds <= 0 || warmup < 0 || nconns < 1 || nconns > MAX_CONNS) usage();
  request_len = (size_t)snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: %s:%d\r\n%s\r\n", path, host, port, headers);

  int epfd = epoll_create1(0);
  if (epfd < 0) die("epoll_create1");
  for (int i = 0; i < nconns; i++) {
    conns[i].fd = open_conn();
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, conns[i].fd, &ev) < 0) die("epoll_ctl");
    idle[nidle++] = i;
  }
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  if (tfd < 0) die("timerfd_create");
  struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &tev) < 0) die("epoll_ctl");

  const double interval = 1e9 / rate;
  const int64_t start = now_ns() + 1000000; // 1 ms from now
  const uint64_t total = (uint64_t)((warmup + seconds) * rate);
  const uint64_t first_measured = (uint64_t)(warmup * rate);
  const int64_t deadline = start + (int64_t)((warmup + seconds) * 1e9) + DRAIN_NS;
  uint64_t next = 0; // the next request to send
  int armed_for = -1;
  struct epoll_event events[256];

  for (;;) {
    int64_t t = now_ns();
    // Every request whose time has come goes out on an idle connection; the
    // others wait, and their wait counts in their latency.
    while (next < total && nidle > 0) {
      int64_t due = start + (int64_t)((double)next * interval);
      if (due > t) break;
      conn_t *c = &conns[idle[--nidle]];
      c->busy = 1;
      c->len = 0;
      // A warm-up request carries its time negated: answered, not recorded.
      c->intended = next >= first_measured ? due : -due;
      if (write(c->fd, request, request_len) != (ssize_t)request_len) {
        errors++;
        if (!first_error_status) first_error_status = -1;
        reconnect(epfd, c);
        c->busy = 0;
        idle[nidle++] = (int)(c - conns);
      }
      next++;
    }
    if (next >= total && nidle == nconns) break;
    if (t > deadline) break;
    // Wake for the next scheduled send (when a connection is free for it),
    // or for the drain deadline.
    if (next < total && nidle > 0 && armed_for != (int)(next & 0x7fffffff)) {
      int64_t due = start + (int64_t)((double)next * interval);
      struct itimerspec its = {.it_value = {.tv_sec = due / 1000000000LL, .tv_nsec = due % 1000000000LL}};
      timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
      armed_for = (int)(next & 0x7fffffff);
    }
    int64_t left_ms = (deadline - t) / 1000000 + 1;
    int n = epoll_wait(epfd, events, 256, (int)(left_ms > 1000 ? 1000 : left_ms));
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int i = 0; i < n; i++) {
      conn_t *c = events[i].data.ptr;
      if (!c) {
        uint64_t expirations;
        if (read(tfd, &expirations, sizeof expirations) < 0 && errno != EAGAIN) die("read timerfd");
        armed_for = -1;
        continue;
      }
      ssize_t r = read(c->fd, c->buf + c->len, BUF_SIZE - c->len);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        if (c->busy) {
          errors++;
          if (!first_error_status) first_error_status = -1;
        }
        reconnect(epfd, c);
        if (c->busy) {
          c->busy = 0;
          idle[nidle++] = (int)(c - conns);
        }
        continue;
      }
      if (!c->busy) continue; // stray bytes: ignore
      c->len += (size_t)r;
      int status = 0, closing = 0;
      int done = answer_complete(c->buf, c->len, &status, &closing);
      if (done == 0 && c->len < BUF_SIZE) continue;
      int64_t finished = now_ns();
      if (done <= 0 || status < 200 || status >= 400) {
        errors++;
        if (!first_error_status) first_error_status = done <= 0 ? -1 : status;
      }
      else if (c->intended >= 0) {
        record((uint64_t)((finished - c->intended) / 1000));
        completed_measured++;
        last_done = finished;
      }
      // Not HTTP, an answer over 64 KiB (not for this tool), or the server's last on this connection.
      if (done <= 0 || closing) reconnect(epfd, c);
      c->busy = 0;
      c->len = 0;
      idle[nidle++] = (int)(c - conns);
    }
  }

  // What never came back within the drain is counted at the deadline (a
  // lower bound of its latency), so a stalled server cannot look fast.
  int64_t end = now_ns();
  // Answers per second over the time they took: below the rate when the
  // server could not keep up.
  double measured_s = (double)(last_done - (start + (int64_t)((double)first_measured * interval))) / 1e9;
  if (measured_s < seconds) measured_s = seconds;
  uint64_t unfinished = 0;
  for (int i = 0; i < nconns; i++)
    if (conns[i].busy) {
      unfinished++;
      if (conns[i].intended >= 0) record((uint64_t)((end - conns[i].intended) / 1000));
    }
  for (uint64_t k = next < first_measured ? first_measured : next; k < total; k++) {
    unfinished++;
    record((uint64_t)((end - (start + (int64_t)((double)k * interval))) / 1000));
  }
  printf("{\"rate\":%.0f,\"seconds\":%.1f,\"scheduled\":%llu,\"completed\":%llu,\"errors\":%llu,\"first_error_status\":%d,\"unfinished\":%llu,"
         "\"achieved_rate\":%.0f,\"p50_us\":%llu,\"p90_us\":%llu,\"p99_us\":%llu,\"p999_us\":%llu,\"max_us\":%llu}\n",
         rate, seconds, (unsigned long long)(total - first_measured), (unsigned long long)completed_measured,
         (unsigned long long)errors, first_error_status, (unsigned long long)unfinished, (double)completed_measured / measured_s,
         (unsigned long long)percentile(50), (unsigned long long)percentile(90), (unsigned long long)percentile(99),
         (unsigned long long)percentile(99.9), (unsigned long long)max_us);
  return 0;
}
