/* Little-endian fields of on-disk structures (partition tables, superblocks). */
#ifndef ICENET_LE_H
#define ICENET_LE_H

#include <stdint.h>

static inline uint32_t get16(const unsigned char *p) { return p[0] | p[1] << 8; }
static inline uint32_t get32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static inline uint64_t get64(const unsigned char *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }
static inline void put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = v >> (8 * i); }
static inline void put64(unsigned char *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, v >> 32); }

#endif
