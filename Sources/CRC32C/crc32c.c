// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as used by Kafka record batches and Millstream's log.
#include "crc32c.h"

#include <string.h>

static uint32_t table[8][256];
static int table_ready = 0;

static void build_table(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = table[0][n];
        for (int s = 1; s < 8; s++) {
            c = table[0][c & 0xff] ^ (c >> 8);
            table[s][n] = c;
        }
    }
    __atomic_store_n(&table_ready, 1, __ATOMIC_RELEASE);
}

uint32_t millstream_crc32c_portable(uint32_t crc, const void *bytes, size_t length) {
    if (!__atomic_load_n(&table_ready, __ATOMIC_ACQUIRE)) build_table();  // idempotent: racing builders write equal values
    const uint8_t *p = bytes;
    crc = ~crc;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        word ^= crc;  // little-endian hosts only (x86_64, aarch64)
        crc = table[7][word & 0xff] ^ table[6][(word >> 8) & 0xff] ^ table[5][(word >> 16) & 0xff] ^
              table[4][(word >> 24) & 0xff] ^ table[3][(word >> 32) & 0xff] ^ table[2][(word >> 40) & 0xff] ^
              table[1][(word >> 48) & 0xff] ^ table[0][word >> 56];
        p += 8;
        length -= 8;
    }
    while (length--) crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

#if defined(__x86_64__)
// The crc32 instruction takes three cycles and starts one a cycle: one chain of them over a buffer waits on each
// result, three independent chains keep it busy. So long buffers (a log's batch of records is hundreds of KB) go in
// chunks of three blocks, each block's CRC register computed on its own chain, the second and third from zero. The
// CRC register is linear: the register after A then B is reg(A)·x^(8|B|) + reg'(B) mod P, where reg'(B) starts from
// zero; so a chunk's register is ((a·X) + b)·X + c with X = x^(8·BLOCK) mod P. (In the pipeline's profile the
// single chain was 2 % of the samples.)
#define BLOCK 4096

// a·b mod P, both in the CRC register's reflected form: bit 31 holds the coefficient of x^0, bit 0 that of x^31.
static uint32_t multiply_mod_p(uint32_t a, uint32_t b) {
    uint32_t product = 0;
    for (int i = 31; i >= 0; i--) {
        product ^= b & (0u - ((a >> i) & 1u));  // a's x^(31-i) term times b·x^(31-i) (held in b)
        b = (b >> 1) ^ (0x82F63B78u & (0u - (b & 1u)));  // b·x
    }
    return product;
}

// x^(8·BLOCK) mod P, reflected (x^0 is 0x80000000; multiplying by x is one step of the bitwise CRC).
static uint32_t block_shift(void) {
    static uint32_t shift = 0;  // never 0 once computed (P does not divide a power of x)
    uint32_t s = __atomic_load_n(&shift, __ATOMIC_RELAXED);
    if (s == 0) {
        s = 0x80000000u;
        for (int k = 0; k < 8 * BLOCK; k++) s = (s >> 1) ^ (0x82F63B78u & (0u - (s & 1u)));
        __atomic_store_n(&shift, s, __ATOMIC_RELAXED);  // racing callers store the same value
    }
    return s;
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t crc, const void *bytes, size_t length) {
    const uint8_t *p = bytes;
    uint64_t c = ~crc;
    if (length >= 3 * BLOCK) {
        const uint32_t x = block_shift();
        while (length >= 3 * BLOCK) {
            uint64_t a = c, b = 0, d = 0;
            for (size_t k = 0; k < BLOCK; k += 8) {
                uint64_t wa, wb, wd;
                memcpy(&wa, p + k, 8);
                memcpy(&wb, p + BLOCK + k, 8);
                memcpy(&wd, p + 2 * BLOCK + k, 8);
                a = __builtin_ia32_crc32di(a, wa);
                b = __builtin_ia32_crc32di(b, wb);
                d = __builtin_ia32_crc32di(d, wd);
            }
            c = multiply_mod_p(multiply_mod_p((uint32_t)a, x) ^ (uint32_t)b, x) ^ (uint32_t)d;
            p += 3 * BLOCK;
            length -= 3 * BLOCK;
        }
    }
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = __builtin_ia32_crc32di(c, word);
        p += 8;
        length -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (length--) c32 = __builtin_ia32_crc32qi(c32, *p++);
    return ~c32;
}

int millstream_crc32c_hardware(void) { return __builtin_cpu_supports("sse4.2") ? 1 : 0; }

uint32_t millstream_crc32c(uint32_t crc, const void *bytes, size_t length) {
    static int hw = -1;
    int h = __atomic_load_n(&hw, __ATOMIC_RELAXED);
    if (h < 0) {
        h = millstream_crc32c_hardware();
        __atomic_store_n(&hw, h, __ATOMIC_RELAXED);
    }
    return h ? crc32c_sse42(crc, bytes, length) : millstream_crc32c_portable(crc, bytes, length);
}
#else
int millstream_crc32c_hardware(void) { return 0; }
uint32_t millstream_crc32c(uint32_t crc, const void *bytes, size_t length) {
    return millstream_crc32c_portable(crc, bytes, length);
}
#endif
