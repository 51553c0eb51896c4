// Hand-written: neither SQLCipher nor another SQLite encryption is among the project's packages. A VFS shim over the
// default (unix) VFS: it transforms page bytes on their way to and from the file and passes everything else through.
#include "sqlite_seal.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE MILLSTREAM_SEAL_PAGE
#define TRAILER MILLSTREAM_SEAL_TRAILER
#define WAL_HEADER 32
#define FRAME_HEADER 24

static sqlite3_vfs vfs;
static sqlite3_vfs *base;
static millstream_seal_fn seal_page;
static millstream_open_fn open_page;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char **paths;
static int path_count;
static __thread char last_error[512];

enum kind { PLAIN, MAIN_DB, WAL };

typedef struct {
    sqlite3_file base;
    enum kind kind;
    const char *name;
    char *database;  // the database's path (a WAL's without -wal), for the callbacks
    sqlite3_file *real;
} sealed_file;

const char *millstream_seal_last_error(void) { return last_error; }

void millstream_seal_path(const char *path) {
    pthread_mutex_lock(&lock);
    for (int i = 0; i < path_count; i++) {
        if (strcmp(paths[i], path) == 0) {
            pthread_mutex_unlock(&lock);
            return;
        }
    }
    paths = realloc(paths, sizeof(char *) * (path_count + 1));
    paths[path_count++] = strdup(path);
    pthread_mutex_unlock(&lock);
}

static int is_sealed_path(const char *name, size_t length) {
    int found = 0;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < path_count && !found; i++) {
        found = strlen(paths[i]) == length && strncmp(paths[i], name, length) == 0;
    }
    pthread_mutex_unlock(&lock);
    return found;
}

// Where the sealed regions of a file are: [start, start + PAGE) for region `index`, or -1 past none.
static int64_t region_start(enum kind kind, int64_t index) {
    return kind == MAIN_DB ? index * PAGE : WAL_HEADER + index * (FRAME_HEADER + PAGE) + FRAME_HEADER;
}

static int64_t first_region(enum kind kind, int64_t offset) {
    if (kind == MAIN_DB) return offset / PAGE;
    if (offset < WAL_HEADER + FRAME_HEADER) return 0;
    return (offset - WAL_HEADER - FRAME_HEADER) / (FRAME_HEADER + PAGE);
}

static int all_zero(const uint8_t *p, int n) {
    for (int i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

// Decrypts one region read from disk in place; a region of zeros (never written) stays zeros.
static int open_region(sealed_file *f, uint8_t *region, int64_t position) {
    if (all_zero(region, PAGE)) return SQLITE_OK;
    uint8_t plain[PAGE];
    if (open_page(f->database, f->kind == WAL, region, PAGE - TRAILER, position, region + PAGE - TRAILER, plain) !=
        0) {
        snprintf(last_error, sizeof last_error, "%s: the page at byte %lld does not decrypt", f->name,
                 (long long)position);
        return SQLITE_IOERR_READ;
    }
    memcpy(region, plain, PAGE - TRAILER);
    memset(region + PAGE - TRAILER, 0, TRAILER);
    return SQLITE_OK;
}

static int read_region(sealed_file *f, uint8_t *region, int64_t position) {
    int rc = f->real->pMethods->xRead(f->real, region, PAGE, position);
    if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) return rc;
    return open_region(f, region, position);
}

static int sealed_read(sqlite3_file *file, void *buffer, int amount, sqlite3_int64 offset) {
    sealed_file *f = (sealed_file *)file;
    int rc = f->real->pMethods->xRead(f->real, buffer, amount, offset);
    if (f->kind == PLAIN || (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ)) return rc;
    for (int64_t i = first_region(f->kind, offset);; i++) {
        int64_t start = region_start(f->kind, i);
        if (start >= offset + amount) break;
        if (start + PAGE <= offset) continue;
        uint8_t region[PAGE];
        int inside = start >= offset && start + PAGE <= offset + amount;
        if (inside) {
            memcpy(region, (uint8_t *)buffer + (start - offset), PAGE);
            int e = open_region(f, region, start);
            if (e != SQLITE_OK) return e;
        } else {
            int e = read_region(f, region, start);
            if (e != SQLITE_OK) return e;
        }
        int64_t from = start > offset ? start : offset;
        int64_t to = start + PAGE < offset + amount ? start + PAGE : offset + amount;
        memcpy((uint8_t *)buffer + (from - offset), region + (from - start), to - from);
    }
    return rc;
}

// Seals one region's plaintext and writes it; refuses a page whose reserved bytes hold data (they would be lost).
static int write_region(sealed_file *f, const uint8_t *plain, int64_t position) {
    if (!all_zero(plain + PAGE - TRAILER, TRAILER)) {
        snprintf(last_error, sizeof last_error, "%s: a page at byte %lld uses the bytes reserved for encryption",
                 f->name, (long long)position);
        return SQLITE_IOERR_WRITE;
    }
    if (f->kind == MAIN_DB && position == 0 && (plain[16] != (PAGE >> 8) || plain[17] != (PAGE & 0xff) ||
                                                plain[20] != TRAILER)) {
        snprintf(last_error, sizeof last_error, "%s: not a database of %d-byte pages with %d reserved bytes", f->name,
                 PAGE, TRAILER);
        return SQLITE_IOERR_WRITE;
    }
    uint8_t sealed[PAGE];
    if (seal_page(f->database, f->kind == WAL, plain, PAGE - TRAILER, position, sealed, sealed + PAGE - TRAILER) !=
        0) {
        snprintf(last_error, sizeof last_error, "%s: no key to encrypt with", f->name);
        return SQLITE_IOERR_WRITE;
    }
    return f->real->pMethods->xWrite(f->real, sealed, PAGE, position);
}

static int sealed_write(sqlite3_file *file, const void *buffer, int amount, sqlite3_int64 offset) {
    sealed_file *f = (sealed_file *)file;
    if (f->kind == PLAIN) return f->real->pMethods->xWrite(f->real, buffer, amount, offset);
    const uint8_t *bytes = buffer;
    int64_t done = offset;  // bytes before `done` are written
    for (int64_t i = first_region(f->kind, offset); done < offset + amount; i++) {
        int64_t start = region_start(f->kind, i);
        int64_t clear_end = start < offset + amount ? start : offset + amount;
        if (clear_end > done) {  // headers between regions: as they are
            int rc = f->real->pMethods->xWrite(f->real, bytes + (done - offset), (int)(clear_end - done), done);
            if (rc != SQLITE_OK) return rc;
            done = clear_end;
        }
        if (start >= offset + amount) break;
        if (start + PAGE <= offset) continue;
        uint8_t region[PAGE];
        if (start >= offset && start + PAGE <= offset + amount) {
            memcpy(region, bytes + (start - offset), PAGE);
        } else {  // a part of a page: read it, change the part, seal it again
            int rc = read_region(f, region, start);
            if (rc != SQLITE_OK) return rc;
            int64_t from = start > offset ? start : offset;
            int64_t to = start + PAGE < offset + amount ? start + PAGE : offset + amount;
            memcpy(region + (from - start), bytes + (from - offset), to - from);
        }
        int rc = write_region(f, region, start);
        if (rc != SQLITE_OK) return rc;
        done = start + PAGE < offset + amount ? start + PAGE : offset + amount;
    }
    return SQLITE_OK;
}

static int sealed_close(sqlite3_file *file) {
    sealed_file *f = (sealed_file *)file;
    int rc = f->real->pMethods ? f->real->pMethods->xClose(f->real) : SQLITE_OK;
    free(f->database);
    f->database = NULL;
    return rc;
}

#define FORWARD(name, signature, call) \
    static int sealed_##name signature { sealed_file *f = (sealed_file *)file; return f->real->pMethods->call; }

FORWARD(truncate, (sqlite3_file * file, sqlite3_int64 size), xTruncate(f->real, size))
FORWARD(sync, (sqlite3_file * file, int flags), xSync(f->real, flags))
FORWARD(file_size, (sqlite3_file * file, sqlite3_int64 *size), xFileSize(f->real, size))
FORWARD(lock, (sqlite3_file * file, int level), xLock(f->real, level))
FORWARD(unlock, (sqlite3_file * file, int level), xUnlock(f->real, level))
FORWARD(check_reserved_lock, (sqlite3_file * file, int *out), xCheckReservedLock(f->real, out))
FORWARD(file_control, (sqlite3_file * file, int op, void *arg), xFileControl(f->real, op, arg))
FORWARD(sector_size, (sqlite3_file * file), xSectorSize(f->real))
FORWARD(device_characteristics, (sqlite3_file * file), xDeviceCharacteristics(f->real))
FORWARD(shm_map, (sqlite3_file * file, int page, int size, int extend, void volatile **out),
        xShmMap(f->real, page, size, extend, out))
FORWARD(shm_lock, (sqlite3_file * file, int offset, int n, int flags), xShmLock(f->real, offset, n, flags))
FORWARD(shm_unmap, (sqlite3_file * file, int delete_flag), xShmUnmap(f->real, delete_flag))

static void sealed_shm_barrier(sqlite3_file *file) {
    sealed_file *f = (sealed_file *)file;
    f->real->pMethods->xShmBarrier(f->real);
}

// Version 2: shared memory for WAL, but no xFetch, so SQLite never maps pages past the decryption.
static const sqlite3_io_methods methods = {
    2, sealed_close, sealed_read, sealed_write, sealed_truncate, sealed_sync, sealed_file_size, sealed_lock,
    sealed_unlock, sealed_check_reserved_lock, sealed_file_control, sealed_sector_size, sealed_device_characteristics,
    sealed_shm_map, sealed_shm_lock, sealed_shm_barrier, sealed_shm_unmap, NULL, NULL,
};

static int sealed_open(sqlite3_vfs *v, const char *name, sqlite3_file *file, int flags, int *out_flags) {
    sealed_file *f = (sealed_file *)file;
    f->real = (sqlite3_file *)(f + 1);
    f->name = name ? name : "(temporary)";
    f->kind = PLAIN;
    f->database = NULL;
    if (name && (flags & SQLITE_OPEN_MAIN_DB) && is_sealed_path(name, strlen(name))) {
        f->kind = MAIN_DB;
        f->database = strdup(name);
    }
    if (name && (flags & SQLITE_OPEN_WAL)) {
        size_t n = strlen(name);
        if (n > 4 && strcmp(name + n - 4, "-wal") == 0 && is_sealed_path(name, n - 4)) {
            f->kind = WAL;
            f->database = strndup(name, n - 4);
        }
    }
    int rc = base->xOpen(base, name, f->real, flags, out_flags);
    f->base.pMethods = rc == SQLITE_OK ? &methods : NULL;
    if (rc != SQLITE_OK) {
        free(f->database);
        f->database = NULL;
    }
    return rc;
}

int millstream_seal_register(millstream_seal_fn seal, millstream_open_fn open) {
    pthread_mutex_lock(&lock);
    if (base) {
        pthread_mutex_unlock(&lock);
        return SQLITE_OK;
    }
    seal_page = seal;
    open_page = open;
    base = sqlite3_vfs_find(NULL);
    vfs = *base;
    vfs.zName = "millstream-sealed";
    vfs.szOsFile = (int)sizeof(sealed_file) + base->szOsFile;
    vfs.xOpen = sealed_open;
    int rc = sqlite3_vfs_register(&vfs, 1);
    pthread_mutex_unlock(&lock);
    return rc;
}

int millstream_seal_reserve(void *db) {
    int reserve = TRAILER;
    return sqlite3_file_control((sqlite3 *)db, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve);
}
