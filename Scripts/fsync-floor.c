// What one audit append costs on this machine's disk, without Swift around it: the same
// system calls AuditLogWriter makes per record (flock, fstat, a 300-byte append, fsync or
// fdatasync, unlock), then in-place writes into preallocated blocks with O_DSYNC and
// O_DIRECT, the floor of any "durable before the answer" design.
//
//   cc -O2 Scripts/fsync-floor.c -o /tmp/fsync-floor && /tmp/fsync-floor /tmp/fsync-floor.dat
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { N = 2000 };

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *name, double *v) {
    qsort(v, N, sizeof(double), by_value);
    printf("%-34s p50 %.3f ms  p90 %.3f  p99 %.3f\n", name, v[N / 2], v[N * 9 / 10], v[N * 99 / 100]);
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s FILE (on the disk to measure)\n", argv[0]); return 2; }
    const char *path = argv[1];
    char record[300];
    memset(record, 'x', sizeof record);
    double v[N];
    struct stat st;
    for (int datasync = 0; datasync < 2; datasync++) {
        int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_APPEND, 0600);
        for (int i = 0; i < N; i++) {
            double t = now_ms();
            flock(fd, LOCK_EX);
            fstat(fd, &st);
            if (write(fd, record, sizeof record) != sizeof record) return 1;
            if (datasync) fdatasync(fd); else fsync(fd);
            flock(fd, LOCK_UN);
            v[i] = now_ms() - t;
        }
        close(fd);
        report(datasync ? "flock+append+fdatasync (audit)" : "flock+append+fsync", v);
    }
    // Preallocated, zero-filled blocks overwritten in place.
    int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
    char *zeros = calloc(1, 1 << 20);
    for (int i = 0; i < 4; i++) if (write(fd, zeros, 1 << 20) != 1 << 20) return 1;
    fsync(fd);
    close(fd);
    fd = open(path, O_RDWR | O_DSYNC);
    for (int i = 0; i < N; i++) {
        double t = now_ms();
        if (pwrite(fd, record, sizeof record, (off_t)i * sizeof record) != sizeof record) return 1;
        v[i] = now_ms() - t;
    }
    close(fd);
    report("O_DSYNC overwrite (preallocated)", v);
    fd = open(path, O_RDWR | O_DIRECT | O_DSYNC);
    void *block;
    if (posix_memalign(&block, 4096, 4096) != 0) return 1;
    memset(block, 'y', 4096);
    for (int i = 0; i < N; i++) {
        double t = now_ms();
        if (pwrite(fd, block, 4096, (off_t)(i % 256) * 4096) != 4096) return 1;
        v[i] = now_ms() - t;
    }
    close(fd);
    report("O_DIRECT|O_DSYNC 4 KiB block", v);
    unlink(path);
    return 0;
}
