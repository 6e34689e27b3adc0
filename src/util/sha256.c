/* SHA-256 of a file's contents, with libcrypto (the CPU's SHA extensions
 * where it has them). */
#include "util/sha256.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/evp.h>

#define HASH_CHUNK (1 << 20)

int sha256_fd(int fd, char out[65])
{
	return digests_fd(fd, out, NULL);
}

int digests_fd(int fd, char out[65], char md5[33])
{
	unsigned char md[32], *buf, m5[16];
	unsigned int mdlen = 0, m5len = 0;
	EVP_MD_CTX *ctx = NULL, *ctx5 = NULL;
	off_t off = 0;
	int r = 0;

	buf = malloc(HASH_CHUNK);
	if (out)
		ctx = EVP_MD_CTX_new();
	if (md5)
		ctx5 = EVP_MD_CTX_new();
	if (!buf || (out && (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))) ||
	    (md5 && (!ctx5 || !EVP_DigestInit_ex(ctx5, EVP_md5(), NULL)))) {
		EVP_MD_CTX_free(ctx);
		EVP_MD_CTX_free(ctx5);
		free(buf);
		return -ENOMEM;
	}
	for (;;) {
		/* pread: the descriptor is shared, its offset is not ours */
		ssize_t n = pread(fd, buf, HASH_CHUNK, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		if (ctx)
			EVP_DigestUpdate(ctx, buf, n);
		if (ctx5)
			EVP_DigestUpdate(ctx5, buf, n);
		off += n;
	}
	if (r == 0 && ctx && !EVP_DigestFinal_ex(ctx, md, &mdlen))
		r = -EIO;
	if (r == 0 && ctx5 && !EVP_DigestFinal_ex(ctx5, m5, &m5len))
		r = -EIO;
	EVP_MD_CTX_free(ctx);
	EVP_MD_CTX_free(ctx5);
	free(buf);
	if (r < 0)
		return r;
	for (unsigned int i = 0; out && i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	for (unsigned int i = 0; md5 && i < m5len; i++)
		snprintf(md5 + 2 * i, 3, "%02x", m5[i]);
	return 0;
}

