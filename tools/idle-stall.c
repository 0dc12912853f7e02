// tools/idle-stall.c: does this machine stall a process that touches its memory again after
// being idle? Touches 200 MB, sleeps N seconds, then times 2,000 chunks of 2,000 random
// reads and prints the slowest chunk. Nothing to do with herd: it explains tail latencies
// measured right after a quiet period (docs/benchmarks/README.md, "Idle memory").
//   cc -O2 tools/idle-stall.c -o /tmp/idle-stall && /tmp/idle-stall 0 && /tmp/idle-stall 20
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
static double now() {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}
int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: idle-stall SECONDS\n");
    return 2;
  }
  size_t n = 200u << 20;
  unsigned char* m = malloc(n);
  if (!m) return 1;
  for (size_t i = 0; i < n; i += 64) m[i] = i;  // 200 MB touched
  sleep(atoi(argv[1]));
  double worst = 0, t0 = now();
  unsigned long x = 1, sum = 0;
  for (int k = 0; k < 2000; k++) {
    double a = now();
    for (int j = 0; j < 2000; j++) {
      x = x * 6364136223846793005ul + 1;
      sum += m[(x >> 20) % n];
    }
    double d = now() - a;
    if (d > worst) worst = d;
  }
  printf("idle %s s: 2000 chunks of 2000 random reads in %.1f ms, worst chunk %.2f ms (%lu)\n",
         argv[1], now() - t0, worst, sum & 1);
}
