/* The hash of the hash tables keyed by text that a process or the network
 * chose (paths, command lines, addresses): seeded with a random value of
 * the table's own, so that no one can make texts that collide in it and
 * turn its lookups quadratic.  FNV-1a's steps over 8 bytes at a time, then
 * a multiply to spread them into the low bits a table masks. */
#ifndef PICOSNITCH_UTIL_HASH_H
#define PICOSNITCH_UTIL_HASH_H

#include <stdint.h>
#include <string.h>
#include <sys/random.h>

static inline uint64_t hash_text(uint64_t seed, const void *p, size_t len)
{
	const unsigned char *t = p;
	uint64_t h = (0xcbf29ce484222325ULL ^ seed) + len;
	uint64_t w;

	for (; len >= 8; t += 8, len -= 8) {
		memcpy(&w, t, 8);
		h = (h ^ w) * 0x100000001b3ULL;
		h ^= h >> 32;
	}
	w = 0;
	if (len)
		memcpy(&w, t, len);
	h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 29);
}

/* A seed for hash_text: random (the address of `salt` mixed in if the
 * kernel has none to give yet). */
static inline uint64_t hash_seed(const void *salt)
{
	uint64_t seed;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
		seed = (uint64_t)(uintptr_t)salt * 0x9e3779b97f4a7c15ULL;
	return seed;
}

#endif
