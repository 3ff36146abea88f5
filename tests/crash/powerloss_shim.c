/* Power-loss simulator: an LD_PRELOAD shim for the crash test (tests/crash/powerloss.py).
 *
 * Loaded into a process with PL_ROOT=<data dir> (an absolute, symlink-free path) and
 * PL_SHADOW=<shadow dir> (outside PL_ROOT, on the same filesystem), it records what a power
 * loss would leave of PL_ROOT:
 *   - fsync/fdatasync of a regular file under PL_ROOT copies the file's content into
 *     PL_SHADOW/files/<inode> (the first time in this process: a full copy, written to a
 *     temporary file and renamed; later: the 4 KiB blocks written since the previous fsync,
 *     in place, so an fsync cut short by the kill leaves a torn mix of old and new blocks of
 *     that file, as a disk may);
 *   - fsync of a directory under PL_ROOT (or of PL_ROOT) writes its entries
 *     ("<f|d|o> <inode> <hex name>" lines) to PL_SHADOW/dirs/<inode>;
 *   - writes are tracked per inode (write, pwrite, writev, pwritev, pwritev2, ftruncate,
 *     truncate, fallocate, copy_file_range, sendfile, splice) so that later fsyncs know the
 *     blocks to copy;
 *   - a file that is about to lose a name under PL_ROOT (unlink, rename over it) is first
 *     hard-linked into PL_SHADOW/graveyard, and an empty directory removed there is moved
 *     into it, so that no inode number is reused while the shadow is keyed by inode;
 *   - whatever it cannot model is written to PL_SHADOW/log as an "UNSUPPORTED" line (sync,
 *     syncfs, msync, O_SYNC/O_DSYNC opens, shared writable mmaps of anything but SQLite's
 *     -shm, raw syscalls of the file-writing kind), its own failures as "ERROR" lines and,
 *     with PL_VERIFY_EVERY=n, a block copy that differs from the file at every n-th fsync of
 *     an inode as "MISMATCH" lines. The test fails on any of them.
 * The real fsync is skipped (the shadow is the disk) unless PL_REAL_FSYNC=1.
 * Build: gcc -shared -fPIC -O2 -o powerloss_shim.so powerloss_shim.c -ldl -lpthread */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define BLOCK 4096
#define COPY_BUF (1 << 20)
#define NBUCKET 65536

static int enabled;
static char root[PATH_MAX];
static size_t root_len;
static char shadow[PATH_MAX];
static dev_t root_dev;
static unsigned long verify_every;
static int real_fsync_too;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned long counter;
static char *copy_buf, *copy_buf2;

static int (*r_open)(const char *, int, ...);
static int (*r_open64)(const char *, int, ...);
static int (*r_openat)(int, const char *, int, ...);
static int (*r_openat64)(int, const char *, int, ...);
static int (*r_creat)(const char *, mode_t);
static int (*r_creat64)(const char *, mode_t);
static ssize_t (*r_write)(int, const void *, size_t);
static ssize_t (*r_writev)(int, const struct iovec *, int);
static ssize_t (*r_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*r_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*r_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*r_pwritev64)(int, const struct iovec *, int, off_t);
static ssize_t (*r_pwritev2)(int, const struct iovec *, int, off_t, int);
static ssize_t (*r_pwritev64v2)(int, const struct iovec *, int, off_t, int);
static int (*r_ftruncate)(int, off_t);
static int (*r_ftruncate64)(int, off_t);
static int (*r_truncate)(const char *, off_t);
static int (*r_truncate64)(const char *, off_t);
static int (*r_fallocate)(int, int, off_t, off_t);
static int (*r_fallocate64)(int, int, off_t, off_t);
static ssize_t (*r_copy_file_range)(int, off_t *, int, off_t *, size_t, unsigned int);
static ssize_t (*r_sendfile)(int, int, off_t *, size_t);
static ssize_t (*r_sendfile64)(int, int, off_t *, size_t);
static ssize_t (*r_splice)(int, off_t *, int, off_t *, size_t, unsigned int);
static int (*r_fsync)(int);
static int (*r_fdatasync)(int);
static int (*r_syncfs)(int);
static void (*r_sync)(void);
static int (*r_msync)(void *, size_t, int);
static void *(*r_mmap)(void *, size_t, int, int, int, off_t);
static void *(*r_mmap64)(void *, size_t, int, int, int, off_t);
static int (*r_rename)(const char *, const char *);
static int (*r_renameat)(int, const char *, int, const char *);
static int (*r_renameat2)(int, const char *, int, const char *, unsigned int);
static int (*r_unlink)(const char *);
static int (*r_unlinkat)(int, const char *, int);
static int (*r_rmdir)(const char *);
static long (*r_syscall)(long, ...);

#define RESOLVE(name) r_##name = dlsym(RTLD_NEXT, #name)

static void plog(const char *fmt, ...) {
    char line[PATH_MAX * 2 + 128], path[PATH_MAX + 16];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n > sizeof line - 2) n = sizeof line - 2;
    line[n++] = '\n';
    snprintf(path, sizeof path, "%s/log", shadow);
    int fd = r_open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return;
    if (r_write(fd, line, n) < 0) { /* nothing left to report to */ }
    close(fd);
}

static void resolve_all(void) {
    RESOLVE(open); RESOLVE(open64); RESOLVE(openat); RESOLVE(openat64); RESOLVE(creat);
    RESOLVE(creat64); RESOLVE(write); RESOLVE(writev); RESOLVE(pwrite); RESOLVE(pwrite64);
    RESOLVE(pwritev); RESOLVE(pwritev64); RESOLVE(pwritev2); RESOLVE(pwritev64v2);
    RESOLVE(ftruncate); RESOLVE(ftruncate64); RESOLVE(truncate); RESOLVE(truncate64);
    RESOLVE(fallocate); RESOLVE(fallocate64); RESOLVE(copy_file_range); RESOLVE(sendfile);
    RESOLVE(sendfile64); RESOLVE(splice); RESOLVE(fsync); RESOLVE(fdatasync); RESOLVE(syncfs);
    RESOLVE(sync); RESOLVE(msync); RESOLVE(mmap); RESOLVE(mmap64); RESOLVE(rename);
    RESOLVE(renameat); RESOLVE(renameat2); RESOLVE(unlink); RESOLVE(unlinkat); RESOLVE(rmdir);
    RESOLVE(syscall); /* last: once it is set, all are */
}

/* A hook called before the constructor ran (from another library's initialisation)
 * resolves the real functions itself. */
#define ENSURE()                       \
    do {                               \
        if (!r_syscall) resolve_all(); \
    } while (0)

__attribute__((constructor)) static void init(void) {
    resolve_all();
    const char *r = getenv("PL_ROOT"), *s = getenv("PL_SHADOW"), *v = getenv("PL_VERIFY_EVERY");
    if (!r || !s || !*r || !*s) return;
    snprintf(root, sizeof root, "%s", r);
    root_len = strlen(root);
    while (root_len > 1 && root[root_len - 1] == '/') root[--root_len] = 0;
    snprintf(shadow, sizeof shadow, "%s", s);
    struct stat st;
    if (stat(root, &st) != 0) {
        plog("ERROR PL_ROOT %s: %s", root, strerror(errno));
        return;
    }
    root_dev = st.st_dev;
    verify_every = v ? strtoul(v, NULL, 10) : 0;
    real_fsync_too = getenv("PL_REAL_FSYNC") && !strcmp(getenv("PL_REAL_FSYNC"), "1");
    copy_buf = malloc(COPY_BUF);
    copy_buf2 = malloc(COPY_BUF);
    if (!copy_buf || !copy_buf2) return;
    enabled = 1;
}

/* ---- paths ---- */

static int under_root(const char *p) {
    return strncmp(p, root, root_len) == 0 && (p[root_len] == 0 || p[root_len] == '/');
}

static int fd_path(int fd, char *out) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, PATH_MAX - 1);
    if (n < 0) return -1;
    out[n] = 0;
    return 0;
}

/* The absolute path of (dirfd, path), without normalisation; out holds 2 * PATH_MAX. */
static int resolve(int dirfd, const char *path, char *out) {
    char base[PATH_MAX];
    if (path[0] == '/') {
        snprintf(out, 2 * PATH_MAX, "%s", path);
        return 0;
    }
    if (dirfd == AT_FDCWD) {
        if (!getcwd(base, sizeof base)) return -1;
    } else if (fd_path(dirfd, base) != 0) {
        return -1;
    }
    snprintf(out, 2 * PATH_MAX, "%s/%s", base, path);
    return 0;
}

static int path_under_root(int dirfd, const char *path) {
    char full[2 * PATH_MAX];
    return path && resolve(dirfd, path, full) == 0 && under_root(full);
}

static int fd_under_root(int fd) {
    char p[PATH_MAX];
    return fd >= 0 && fd_path(fd, p) == 0 && under_root(p);
}

/* ---- dirty blocks, per inode ---- */

typedef struct ent {
    dev_t dev;
    ino_t ino;
    unsigned char *bits;
    size_t nbytes;
    int synced; /* the shadow holds this inode's content as of an fsync of this process */
    unsigned long fsyncs;
    struct ent *next;
} ent;
static ent *buckets[NBUCKET];

static ent *lookup(dev_t dev, ino_t ino) {
    size_t h = (size_t)(ino * 2654435761u) % NBUCKET;
    for (ent *e = buckets[h]; e; e = e->next)
        if (e->ino == ino && e->dev == dev) return e;
    ent *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->dev = dev;
    e->ino = ino;
    e->next = buckets[h];
    buckets[h] = e;
    return e;
}

static void mark_ino(dev_t dev, ino_t ino, off_t off, off_t len) {
    if (off < 0 || len <= 0) return;
    pthread_mutex_lock(&mu);
    ent *e = lookup(dev, ino);
    if (e) {
        size_t first = off / BLOCK, last = (off + len - 1) / BLOCK;
        if (last / 8 + 1 > e->nbytes) {
            size_t n = last / 8 + 1 + e->nbytes;
            unsigned char *b = realloc(e->bits, n);
            if (b) {
                memset(b + e->nbytes, 0, n - e->nbytes);
                e->bits = b;
                e->nbytes = n;
            }
        }
        if (last / 8 < e->nbytes)
            for (size_t i = first; i <= last; i++) e->bits[i / 8] |= 1 << (i % 8);
        else
            plog("ERROR out of memory tracking inode %lu", (unsigned long)ino);
    }
    pthread_mutex_unlock(&mu);
}

/* A regular file on the data dir's filesystem: its writes are tracked. */
static int tracked(int fd, struct stat *st) {
    return enabled && fd >= 0 && fstat(fd, st) == 0 && S_ISREG(st->st_mode) &&
           st->st_dev == root_dev;
}

/* Where a write at the file position of fd lands. */
static off_t position(int fd, const struct stat *st) {
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && (fl & O_APPEND)) return st->st_size;
    return lseek(fd, 0, SEEK_CUR);
}

static size_t iov_total(const struct iovec *iov, int n) {
    size_t t = 0;
    for (int i = 0; i < n; i++) t += iov[i].iov_len;
    return t;
}

/* Marks before the write (an fsync racing with it may see its bytes) and after it (an fsync
 * in between cleared the marks, yet the bytes may have landed after its copy). */
#define POSITIONAL_WRITE(fd, call, count)                                          \
    struct stat st_;                                                               \
    int t_ = tracked(fd, &st_);                                                    \
    if (t_) mark_ino(st_.st_dev, st_.st_ino, position(fd, &st_), (off_t)(count)); \
    ssize_t r_ = call;                                                             \
    if (t_ && r_ > 0) {                                                            \
        int e_ = errno;                                                            \
        off_t after_ = lseek(fd, 0, SEEK_CUR);                                     \
        if (after_ >= r_) mark_ino(st_.st_dev, st_.st_ino, after_ - r_, r_);       \
        errno = e_;                                                                \
    }                                                                              \
    return r_;

#define OFFSET_WRITE(fd, call, off, count)                                 \
    struct stat st_;                                                       \
    int t_ = tracked(fd, &st_);                                            \
    if (t_) mark_ino(st_.st_dev, st_.st_ino, off, (off_t)(count));         \
    ssize_t r_ = call;                                                     \
    if (t_ && r_ > 0) mark_ino(st_.st_dev, st_.st_ino, off, r_);           \
    return r_;

ssize_t write(int fd, const void *buf, size_t n) {
    ENSURE();
    POSITIONAL_WRITE(fd, r_write(fd, buf, n), n)
}
ssize_t writev(int fd, const struct iovec *iov, int cnt) {
    ENSURE();
    POSITIONAL_WRITE(fd, r_writev(fd, iov, cnt), iov_total(iov, cnt))
}
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
    ENSURE();
    OFFSET_WRITE(fd, r_pwrite(fd, buf, n, off), off, n)
}
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
    ENSURE();
    OFFSET_WRITE(fd, r_pwrite64(fd, buf, n, off), off, n)
}
ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off) {
    ENSURE();
    OFFSET_WRITE(fd, r_pwritev(fd, iov, cnt, off), off, iov_total(iov, cnt))
}
ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off) {
    ENSURE();
    OFFSET_WRITE(fd, r_pwritev64(fd, iov, cnt, off), off, iov_total(iov, cnt))
}
ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags) {
    ENSURE();
    if (off == -1 || (flags & RWF_APPEND)) {
        POSITIONAL_WRITE(fd, r_pwritev2(fd, iov, cnt, off, flags), iov_total(iov, cnt))
    }
    OFFSET_WRITE(fd, r_pwritev2(fd, iov, cnt, off, flags), off, iov_total(iov, cnt))
}
ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt, off_t off, int flags) {
    ENSURE();
    if (off == -1 || (flags & RWF_APPEND)) {
        POSITIONAL_WRITE(fd, r_pwritev64v2(fd, iov, cnt, off, flags), iov_total(iov, cnt))
    }
    OFFSET_WRITE(fd, r_pwritev64v2(fd, iov, cnt, off, flags), off, iov_total(iov, cnt))
}

/* A size change dirties the blocks between the old and the new size. */
static void mark_resize(const struct stat *st, off_t len) {
    off_t lo = st->st_size < len ? st->st_size : len, hi = st->st_size < len ? len : st->st_size;
    mark_ino(st->st_dev, st->st_ino, lo, hi - lo);
}

#define FTRUNCATE(fd, call, len)                  \
    struct stat st_;                              \
    int t_ = tracked(fd, &st_);                   \
    if (t_) mark_resize(&st_, len);               \
    int r_ = call;                                \
    if (t_ && r_ == 0) mark_resize(&st_, len);    \
    return r_;

int ftruncate(int fd, off_t len) {
    ENSURE();
    FTRUNCATE(fd, r_ftruncate(fd, len), len)
}
int ftruncate64(int fd, off_t len) {
    ENSURE();
    FTRUNCATE(fd, r_ftruncate64(fd, len), len)
}

#define TRUNCATE(path, call, len)                                                       \
    struct stat st_;                                                                    \
    int t_ = enabled && stat(path, &st_) == 0 && S_ISREG(st_.st_mode) &&                \
             st_.st_dev == root_dev;                                                    \
    if (t_) mark_resize(&st_, len);                                                     \
    int r_ = call;                                                                      \
    if (t_ && r_ == 0) mark_resize(&st_, len);                                          \
    return r_;

int truncate(const char *p, off_t len) {
    ENSURE();
    TRUNCATE(p, r_truncate(p, len), len)
}
int truncate64(const char *p, off_t len) {
    ENSURE();
    TRUNCATE(p, r_truncate64(p, len), len)
}

#define FALLOCATE(fd, call, off, len)                                  \
    struct stat st_;                                                   \
    int t_ = tracked(fd, &st_);                                        \
    if (t_) mark_ino(st_.st_dev, st_.st_ino, off, len);                \
    int r_ = call;                                                     \
    if (t_ && r_ == 0) mark_ino(st_.st_dev, st_.st_ino, off, len);     \
    return r_;

int fallocate(int fd, int mode, off_t off, off_t len) {
    ENSURE();
    FALLOCATE(fd, r_fallocate(fd, mode, off, len), off, len)
}
int fallocate64(int fd, int mode, off_t off, off_t len) {
    ENSURE();
    FALLOCATE(fd, r_fallocate64(fd, mode, off, len), off, len)
}

/* Writes into fd_out at *off_out, or at its file position when off_out is NULL. */
#define COPY_INTO(fd_out, off_out, call, count)                                          \
    struct stat st_;                                                                     \
    int t_ = tracked(fd_out, &st_);                                                      \
    off_t at_ = t_ ? ((off_out) ? *(off_out) : position(fd_out, &st_)) : 0;              \
    if (t_) mark_ino(st_.st_dev, st_.st_ino, at_, (off_t)(count));                       \
    ssize_t r_ = call;                                                                   \
    if (t_ && r_ > 0) {                                                                  \
        int e_ = errno;                                                                  \
        off_t end_ = (off_out) ? *(off_out) : lseek(fd_out, 0, SEEK_CUR);                \
        if (end_ >= r_) mark_ino(st_.st_dev, st_.st_ino, end_ - r_, r_);                 \
        errno = e_;                                                                      \
    }                                                                                    \
    return r_;

ssize_t copy_file_range(int in, off_t *oin, int out, off_t *oout, size_t n, unsigned int fl) {
    ENSURE();
    COPY_INTO(out, oout, r_copy_file_range(in, oin, out, oout, n, fl), n)
}
ssize_t splice(int in, off_t *oin, int out, off_t *oout, size_t n, unsigned int fl) {
    ENSURE();
    COPY_INTO(out, oout, r_splice(in, oin, out, oout, n, fl), n)
}
ssize_t sendfile(int out, int in, off_t *off, size_t n) {
    ENSURE();
    COPY_INTO(out, (off_t *)NULL, r_sendfile(out, in, off, n), n)
}
ssize_t sendfile64(int out, int in, off_t *off, size_t n) {
    ENSURE();
    COPY_INTO(out, (off_t *)NULL, r_sendfile64(out, in, off, n), n)
}

/* ---- fsync: the shadow ---- */

static int copy_range(int in, int out, off_t off, size_t len) {
    while (len > 0) {
        size_t want = len < COPY_BUF ? len : COPY_BUF;
        ssize_t n = pread(in, copy_buf, want, off);
        if (n <= 0) return n == 0 ? 0 : -1;
        for (ssize_t done = 0; done < n;) {
            ssize_t w = r_pwrite(out, copy_buf + done, n - done, off + done);
            if (w <= 0) return -1;
            done += w;
        }
        off += n;
        len -= n;
    }
    return 0;
}

/* The whole content, to a temporary file renamed over the shadow: a kill in the middle leaves
 * the previous shadow intact. */
static int full_copy(int in, const char *dst, ino_t ino) {
    char tmp[PATH_MAX + 64];
    struct stat st;
    snprintf(tmp, sizeof tmp, "%s/files/.tmp-%lu", shadow, (unsigned long)ino);
    int out = r_open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) return -1;
    int rc = fstat(in, &st) == 0 ? copy_range(in, out, 0, st.st_size) : -1;
    close(out);
    return rc == 0 ? r_rename(tmp, dst) : -1;
}

/* Whether the shadow holds the file's content, but in the blocks marked written at this fsync
 * (`dirty`, nbytes of bits): a write begun before the fsync (its blocks marked first) may land
 * after the fsync copied them, as it may on a disk; only an unmarked block that differs is a
 * missed write. */
static int same_content(int in, const char *dst, const unsigned char *dirty, size_t nbytes) {
    struct stat a, b;
    int sfd = r_open(dst, O_RDONLY | O_CLOEXEC);
    if (sfd < 0) return 0;
    int same = fstat(in, &a) == 0 && fstat(sfd, &b) == 0;
    off_t end = a.st_size > b.st_size ? a.st_size : b.st_size;
    for (off_t off = 0; same && off < end; off += COPY_BUF) {
        ssize_t n = pread(in, copy_buf, COPY_BUF, off);
        ssize_t m = pread(sfd, copy_buf2, COPY_BUF, off);
        if (n < 0 || m < 0) same = 0;
        for (ssize_t at = 0; same && at < (n > m ? n : m); at += BLOCK) {
            size_t block = (size_t)((off + at) / BLOCK);
            if (block / 8 < nbytes && (dirty[block / 8] & (1 << (block % 8)))) continue;
            ssize_t len_n = n - at < BLOCK ? n - at : BLOCK, len_m = m - at < BLOCK ? m - at : BLOCK;
            same = len_n == len_m && len_n > 0 && memcmp(copy_buf + at, copy_buf2 + at, len_n) == 0;
        }
    }
    close(sfd);
    return same;
}

static void shadow_file(int fd, const struct stat *st, const char *path) {
    char src[64], dst[PATH_MAX + 64];
    snprintf(src, sizeof src, "/proc/self/fd/%d", fd);
    snprintf(dst, sizeof dst, "%s/files/%lu", shadow, (unsigned long)st->st_ino);
    pthread_mutex_lock(&mu);
    ent *e = lookup(st->st_dev, st->st_ino);
    int in = r_open(src, O_RDONLY | O_CLOEXEC); /* works for write-only descriptors too */
    if (!e || in < 0) {
        plog("ERROR fsync %s: cannot read it back", path);
    } else if (!e->synced) {
        if (full_copy(in, dst, st->st_ino) != 0) plog("ERROR fsync %s: copy failed", path);
    } else {
        struct stat now;
        int out = r_open(dst, O_RDWR | O_CLOEXEC);
        int rc = out >= 0 && fstat(in, &now) == 0 ? r_ftruncate(out, now.st_size) : -1;
        for (size_t i = 0; rc == 0 && i < e->nbytes * 8; i++) {
            off_t off = (off_t)i * BLOCK;
            if (!(e->bits[i / 8] & (1 << (i % 8))) || off >= now.st_size) continue;
            size_t len = now.st_size - off < BLOCK ? (size_t)(now.st_size - off) : BLOCK;
            rc = copy_range(in, out, off, len);
        }
        if (out >= 0) close(out);
        if (rc != 0) plog("ERROR fsync %s: block copy failed", path);
    }
    if (e && in >= 0) {
        unsigned char *dirty = NULL;
        size_t ndirty = 0;
        e->synced = 1;
        e->fsyncs++;
        int verify = verify_every && e->fsyncs % verify_every == 0;
        if (verify && e->bits && (dirty = malloc(e->nbytes)) != NULL) {
            memcpy(dirty, e->bits, e->nbytes);
            ndirty = e->nbytes;
        }
        if (e->bits) memset(e->bits, 0, e->nbytes);
        if (verify && !same_content(in, dst, dirty, ndirty)) {
            plog("MISMATCH %s (inode %lu): the shadow differs from the file after fsync %lu",
                 path, (unsigned long)st->st_ino, e->fsyncs);
            full_copy(in, dst, st->st_ino);
        }
        free(dirty);
    }
    if (in >= 0) close(in);
    pthread_mutex_unlock(&mu);
}

static void shadow_dir(int fd, const struct stat *st, const char *path) {
    char tmp[PATH_MAX + 64], dst[PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s/dirs/.tmp-%lu", shadow, (unsigned long)st->st_ino);
    snprintf(dst, sizeof dst, "%s/dirs/%lu", shadow, (unsigned long)st->st_ino);
    pthread_mutex_lock(&mu);
    int dfd = r_openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    int out = r_open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int ok = d && out >= 0;
    struct dirent *de;
    while (ok && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char kind = de->d_type == DT_DIR ? 'd' : de->d_type == DT_REG ? 'f' : 'o';
        if (de->d_type == DT_UNKNOWN) {
            struct stat es;
            if (fstatat(dirfd(d), de->d_name, &es, AT_SYMLINK_NOFOLLOW) == 0)
                kind = S_ISDIR(es.st_mode) ? 'd' : S_ISREG(es.st_mode) ? 'f' : 'o';
        }
        char line[3 * 256 + 64];
        int n = snprintf(line, sizeof line, "%c %lu ", kind, (unsigned long)de->d_ino);
        for (const unsigned char *c = (const unsigned char *)de->d_name; *c; c++)
            n += snprintf(line + n, sizeof line - n, "%02x", *c);
        line[n++] = '\n';
        ok = r_write(out, line, n) == n;
    }
    if (d) closedir(d);
    else if (dfd >= 0) close(dfd);
    if (out >= 0) close(out);
    if (!ok || r_rename(tmp, dst) != 0) plog("ERROR fsync of directory %s failed", path);
    pthread_mutex_unlock(&mu);
}

/* Returns 1 when fd is under the data dir and its durable state was recorded. */
static int capture(int fd) {
    char path[PATH_MAX];
    struct stat st;
    if (!enabled || fd_path(fd, path) != 0 || !under_root(path) || fstat(fd, &st) != 0) return 0;
    if (S_ISDIR(st.st_mode)) shadow_dir(fd, &st, path);
    else if (S_ISREG(st.st_mode)) shadow_file(fd, &st, path);
    else return 0;
    return 1;
}

int fsync(int fd) {
    ENSURE();
    return capture(fd) && !real_fsync_too ? 0 : r_fsync(fd);
}
int fdatasync(int fd) {
    ENSURE();
    return capture(fd) && !real_fsync_too ? 0 : r_fdatasync(fd);
}

void sync(void) {
    ENSURE();
    if (enabled) plog("UNSUPPORTED sync()");
    r_sync();
}
int syncfs(int fd) {
    ENSURE();
    if (enabled && fd_under_root(fd)) plog("UNSUPPORTED syncfs() on the data dir");
    return r_syncfs(fd);
}
int msync(void *addr, size_t len, int flags) {
    ENSURE();
    if (enabled) plog("UNSUPPORTED msync()");
    return r_msync(addr, len, flags);
}

/* ---- what the shim cannot see ---- */

static void check_mmap(int prot, int flags, int fd) {
    char p[PATH_MAX];
    if (!enabled || fd < 0 || !(prot & PROT_WRITE) || !(flags & MAP_SHARED)) return;
    if (fd_path(fd, p) != 0 || !under_root(p)) return;
    size_t n = strlen(p);
    if (n >= 4 && !strcmp(p + n - 4, "-shm")) return; /* SQLite's WAL index: never fsynced */
    plog("UNSUPPORTED shared writable mmap of %s", p);
}
void *mmap(void *a, size_t len, int prot, int flags, int fd, off_t off) {
    ENSURE();
    check_mmap(prot, flags, fd);
    return r_mmap(a, len, prot, flags, fd, off);
}
void *mmap64(void *a, size_t len, int prot, int flags, int fd, off_t off) {
    ENSURE();
    check_mmap(prot, flags, fd);
    return r_mmap64(a, len, prot, flags, fd, off);
}

static int check_open(int fd, int flags) {
    if (enabled && fd >= 0 && (flags & (O_SYNC | O_DSYNC)) && fd_under_root(fd)) {
        char p[PATH_MAX];
        fd_path(fd, p);
        plog("UNSUPPORTED O_SYNC/O_DSYNC open of %s", p);
    }
    return fd;
}
static mode_t mode_arg(int flags, va_list ap) {
    return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}
int open(const char *p, int flags, ...) {
    ENSURE();
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    return check_open(r_open(p, flags, m), flags);
}
int open64(const char *p, int flags, ...) {
    ENSURE();
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    return check_open(r_open64(p, flags, m), flags);
}
int openat(int dfd, const char *p, int flags, ...) {
    ENSURE();
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    return check_open(r_openat(dfd, p, flags, m), flags);
}
int openat64(int dfd, const char *p, int flags, ...) {
    ENSURE();
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    return check_open(r_openat64(dfd, p, flags, m), flags);
}
int creat(const char *p, mode_t m) {
    ENSURE();
    return r_creat(p, m);
}
int creat64(const char *p, mode_t m) {
    ENSURE();
    return r_creat64(p, m);
}

/* ---- keeping inode numbers unique: the graveyard ---- */

static void bury_file(int dirfd, const char *path) {
    struct stat st;
    char g[PATH_MAX + 64];
    if (!enabled || !path_under_root(dirfd, path)) return;
    if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        plog("UNSUPPORTED replacing directory %s", path);
        return;
    }
    snprintf(g, sizeof g, "%s/graveyard/%d-%lu", shadow, getpid(),
             __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
    if (linkat(dirfd, path, AT_FDCWD, g, 0) != 0)
        plog("ERROR keeping %s in the graveyard: %s", path, strerror(errno));
}

/* rmdir: an empty directory under the data dir is moved into the graveyard instead.
 * Returns -2 when the directory is not the shim's business. */
static int bury_dir(int dirfd, const char *path) {
    char g[PATH_MAX + 64];
    struct stat st;
    if (!enabled || !path_under_root(dirfd, path)) return -2;
    if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) return -2;
    int dfd = r_openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) return -2;
    int empty = 1;
    struct dirent *de;
    while (empty && (de = readdir(d)))
        empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
    closedir(d);
    if (!empty) {
        errno = ENOTEMPTY;
        return -1;
    }
    snprintf(g, sizeof g, "%s/graveyard/d%d-%lu", shadow, getpid(),
             __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
    return r_renameat(dirfd, path, AT_FDCWD, g);
}

int unlink(const char *p) {
    ENSURE();
    bury_file(AT_FDCWD, p);
    return r_unlink(p);
}
int unlinkat(int dfd, const char *p, int flags) {
    ENSURE();
    if (flags & AT_REMOVEDIR) {
        int r = bury_dir(dfd, p);
        if (r != -2) return r;
    } else {
        bury_file(dfd, p);
    }
    return r_unlinkat(dfd, p, flags);
}
int rmdir(const char *p) {
    ENSURE();
    int r = bury_dir(AT_FDCWD, p);
    return r != -2 ? r : r_rmdir(p);
}
int rename(const char *a, const char *b) {
    ENSURE();
    bury_file(AT_FDCWD, b);
    return r_rename(a, b);
}
int renameat(int da, const char *a, int db, const char *b) {
    ENSURE();
    bury_file(db, b);
    return r_renameat(da, a, db, b);
}
int renameat2(int da, const char *a, int db, const char *b, unsigned int flags) {
    ENSURE();
    bury_file(db, b);
    return r_renameat2(da, a, db, b, flags);
}

/* Raw syscalls that would bypass the shim are reported when they touch the data dir. */
long syscall(long n, ...) {
    ENSURE();
    va_list ap;
    long a[6];
    va_start(ap, n);
    for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
    va_end(ap);
    if (enabled) {
        int fd = -1;
        const char *path = NULL;
        int dirfd = AT_FDCWD;
        switch (n) {
        case SYS_sync: plog("UNSUPPORTED raw syscall sync"); break;
        case SYS_fsync: case SYS_fdatasync: case SYS_syncfs: case SYS_sync_file_range:
        case SYS_write: case SYS_pwrite64: case SYS_writev: case SYS_pwritev: case SYS_pwritev2:
        case SYS_ftruncate: case SYS_fallocate: fd = (int)a[0]; break;
        case SYS_copy_file_range: case SYS_splice: fd = (int)a[2]; break;
        case SYS_sendfile: fd = (int)a[0]; break;
        case SYS_rename: case SYS_unlink: case SYS_rmdir: case SYS_truncate:
            path = (const char *)a[0]; break;
        case SYS_renameat: case SYS_renameat2: case SYS_unlinkat:
            dirfd = (int)a[0]; path = (const char *)a[1]; break;
        }
        if ((fd >= 0 && fd_under_root(fd)) || (path && path_under_root(dirfd, path)))
            plog("UNSUPPORTED raw syscall %ld on the data dir", n);
    }
    return r_syscall(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}
