/* A client's QUIC v1 Initial sealed for tests (RFC 9001 5.3, 5.4): the
 * header of RFC 9001 A.2 (its connection id, a 4-byte packet number),
 * frames padded to A.2's 1162-byte payload, protected with libcrypto.
 * For the unit tests and fuzz targets, which need Initials with
 * contents of their choosing that open. */
#ifndef PS_TESTS_QUIC_SEAL_H
#define PS_TESTS_QUIC_SEAL_H

#include <string.h>

#include <openssl/evp.h>

#include "pipeline/quic.h"
#include "rfc9001.h"

/* out: 1200 bytes; frames: n <= RFC9001_PAYLOAD_LEN bytes */
static inline size_t seal_initial(uint8_t *out, uint32_t pn, const uint8_t *frames, size_t n)
{
	struct quic_keys k;
	uint8_t nonce[12], mask[16];
	size_t hl = 0, payload = 1162;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int outl;

	quic_client_initial_keys((const uint8_t *)RFC9001_DCID, 8, &k);
	memcpy(out, RFC9001_CLIENT_HEADER, 22);
	hl = 22;
	out[18] = (uint8_t)(pn >> 24), out[19] = (uint8_t)(pn >> 16), out[20] = (uint8_t)(pn >> 8),
	out[21] = (uint8_t)pn;
	memset(out + hl, 0, payload);
	memcpy(out + hl, frames, n);
	memcpy(nonce, k.iv, 12);
	for (int i = 0; i < 4; i++)
		nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
	EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, k.key, nonce);
	EVP_EncryptUpdate(c, NULL, &outl, out, (int)hl);
	EVP_EncryptUpdate(c, out + hl, &outl, out + hl, (int)payload);
	EVP_EncryptFinal_ex(c, out + hl + payload, &outl);
	EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + hl + payload);
	EVP_CIPHER_CTX_free(c);
	c = EVP_CIPHER_CTX_new();
	EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), NULL, k.hp, NULL);
	EVP_EncryptUpdate(c, mask, &outl, out + 18 + 4, 16);
	EVP_CIPHER_CTX_free(c);
	out[0] ^= mask[0] & 0x0f;
	for (int i = 0; i < 4; i++)
		out[18 + i] ^= mask[1 + i];
	return hl + payload + 16;
}

#endif
