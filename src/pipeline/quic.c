/* QUIC v1 Initial packets opened (quic.h): initial secrets from the
 * Destination Connection ID (RFC 9001 5.2), header protection removed
 * (5.4), the payload opened with AES-128-GCM (5.3), its frames walked. */
#include "pipeline/quic.h"

#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

static const uint8_t initial_salt_v1[20] = {
	0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
	0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a,
};

size_t quic_varint(const uint8_t *p, size_t len, uint64_t *v)
{
	size_t n;

	if (len < 1)
		return 0;
	n = (size_t)1 << (p[0] >> 6);
	if (len < n)
		return 0;
	*v = p[0] & 0x3f;
	for (size_t i = 1; i < n; i++)
		*v = *v << 8 | p[i];
	return n;
}

/* HKDF (RFC 5869) in one of its two halves, through libcrypto */
static int hkdf(int mode, const uint8_t *key, size_t key_len, const uint8_t *salt_or_info,
		size_t sl_len, uint8_t *out, size_t out_len)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[5], *p = params;
	int r = -EIO;

	if (!ctx)
		goto out;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, key_len);
	*p++ = OSSL_PARAM_construct_octet_string(mode == EVP_KDF_HKDF_MODE_EXTRACT_ONLY
							 ? OSSL_KDF_PARAM_SALT
							 : OSSL_KDF_PARAM_INFO,
						 (void *)salt_or_info, sl_len);
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, out, out_len, params) == 1)
		r = 0;
out:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return r;
}

/* HKDF-Expand-Label (RFC 8446 7.1) with an empty context */
static int expand_label(const uint8_t secret[32], const char *label, uint8_t *out, size_t len)
{
	uint8_t info[2 + 1 + 6 + 32 + 1];
	size_t ll = strlen(label), n = 0;

	info[n++] = (uint8_t)(len >> 8);
	info[n++] = (uint8_t)len;
	info[n++] = (uint8_t)(6 + ll);
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, ll);
	n += ll;
	info[n++] = 0;
	return hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, secret, 32, info, n, out, len);
}

int quic_client_initial_keys(const uint8_t *dcid, size_t dcid_len, struct quic_keys *k)
{
	uint8_t initial[32], client[32];
	int r;

	if (dcid_len > QUIC_CID_MAX)
		return -EINVAL;
	if ((r = hkdf(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, dcid, dcid_len, initial_salt_v1,
		      sizeof(initial_salt_v1), initial, sizeof(initial))) < 0 ||
	    (r = expand_label(initial, "client in", client, sizeof(client))) < 0 ||
	    (r = expand_label(client, "quic key", k->key, sizeof(k->key))) < 0 ||
	    (r = expand_label(client, "quic iv", k->iv, sizeof(k->iv))) < 0 ||
	    (r = expand_label(client, "quic hp", k->hp, sizeof(k->hp))) < 0)
		return r;
	return 0;
}

static int hp_mask(const uint8_t hp[16], const uint8_t sample[16], uint8_t mask[16])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int outl = 0, r = -EIO;

	if (c && EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), NULL, hp, NULL) == 1 &&
	    EVP_CIPHER_CTX_set_padding(c, 0) == 1 &&
	    EVP_EncryptUpdate(c, mask, &outl, sample, 16) == 1 && outl == 16)
		r = 0;
	EVP_CIPHER_CTX_free(c);
	return r;
}

/* AES-128-GCM: ct (n bytes, then its 16-byte tag) into pt */
static int open_payload(const struct quic_keys *k, uint64_t pn, const uint8_t *aad, size_t aad_len,
			const uint8_t *ct, size_t n, uint8_t *pt)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t nonce[12];
	int outl = 0, fin = 0, r = -EIO;

	memcpy(nonce, k->iv, sizeof(nonce));
	for (int i = 0; i < 8; i++)
		nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
	if (!c || EVP_DecryptInit_ex(c, EVP_aes_128_gcm(), NULL, k->key, nonce) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &outl, aad, (int)aad_len) != 1 ||
	    (n > 0 && EVP_DecryptUpdate(c, pt, &outl, ct, (int)n) != 1) ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)(ct + n)) != 1)
		goto out;
	r = EVP_DecryptFinal_ex(c, pt + (n > 0 ? outl : 0), &fin) == 1 ? 0 : -EKEYREJECTED;
out:
	EVP_CIPHER_CTX_free(c);
	return r;
}

int quic_open_initial(const uint8_t *d, size_t len, const uint8_t *keys_dcid, size_t keys_dcid_len,
		      struct quic_initial *out)
{
	uint8_t header[QUIC_DGRAM_MAX], mask[16];	/* up to the packet number */
	struct quic_keys k;
	uint64_t token_len, length;
	size_t off, n, pn_off, pn_len, scid_len;
	int r;

	if (len < 7 || (d[0] & 0xc0) != 0xc0 || (d[0] & 0x30) != 0 ||
	    ((uint32_t)d[1] << 24 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 8 | d[4]) != QUIC_V1)
		return -ENOMSG;
	off = 5;
	out->dcid_len = d[off++];
	if (out->dcid_len > QUIC_CID_MAX || len - off < out->dcid_len + 1)
		return -EBADMSG;
	memcpy(out->dcid, d + off, out->dcid_len);
	off += out->dcid_len;
	scid_len = d[off++];
	if (scid_len > QUIC_CID_MAX || len - off < scid_len)
		return -EBADMSG;
	off += scid_len;
	if (!(n = quic_varint(d + off, len - off, &token_len)) || token_len > len - off - n)
		return -EBADMSG;
	off += n + token_len;
	if (!(n = quic_varint(d + off, len - off, &length)) || length > len - off - n)
		return -EBADMSG;
	off += n;
	pn_off = off;
	/* the sample lies 4 bytes after the packet number's start; the
	 * payload ends with a 16-byte tag */
	if (length < 4 + 16 || pn_off + 4 > sizeof(header))
		return -EBADMSG;
	out->packet_len = pn_off + length;
	if (!keys_dcid) {
		keys_dcid = out->dcid;
		keys_dcid_len = out->dcid_len;
	}
	if ((r = quic_client_initial_keys(keys_dcid, keys_dcid_len, &k)) < 0 ||
	    (r = hp_mask(k.hp, d + pn_off + 4, mask)) < 0)
		return r;
	memcpy(header, d, pn_off + 4);
	header[0] ^= mask[0] & 0x0f;
	pn_len = (header[0] & 0x03) + 1;
	out->packet_number = 0;
	for (size_t i = 0; i < pn_len; i++) {
		header[pn_off + i] ^= mask[1 + i];
		out->packet_number = out->packet_number << 8 | header[pn_off + i];
	}
	if (length < pn_len + 16)
		return -EBADMSG;
	out->payload_len = length - pn_len - 16;
	if (out->payload_len > sizeof(out->payload))
		return -EBADMSG;
	return open_payload(&k, out->packet_number, header, pn_off + pn_len,
			    d + pn_off + pn_len, out->payload_len, out->payload);
}

int quic_crypto_frames(const uint8_t *p, size_t len,
		       void (*fn)(void *ctx, uint64_t offset, const uint8_t *data, size_t n),
		       void *ctx)
{
	size_t off = 0;

	while (off < len) {
		uint64_t type, v[4];
		size_t n = quic_varint(p + off, len - off, &type);

		if (!n)
			return -EBADMSG;
		off += n;
		switch (type) {
		case 0x00:	/* PADDING */
		case 0x01:	/* PING */
			break;
		case 0x02:	/* ACK */
		case 0x03: {	/* ACK with ECN counts */
			uint64_t ranges;

			for (int i = 0; i < 4; i++) {	/* largest, delay, count, first range */
				if (!(n = quic_varint(p + off, len - off, &v[i])))
					return -EBADMSG;
				off += n;
			}
			ranges = v[2];
			if (ranges > len - off)	/* each takes 2 bytes at least */
				return -EBADMSG;
			for (uint64_t i = 0; i < 2 * ranges + (type == 0x03 ? 3 : 0); i++) {
				if (!(n = quic_varint(p + off, len - off, &v[0])))
					return -EBADMSG;
				off += n;
			}
			break;
		}
		case 0x06: {	/* CRYPTO: offset, length, data */
			if (!(n = quic_varint(p + off, len - off, &v[0])))
				return -EBADMSG;
			off += n;
			if (!(n = quic_varint(p + off, len - off, &v[1])) || v[1] > len - off - n)
				return -EBADMSG;
			off += n;
			fn(ctx, v[0], p + off, (size_t)v[1]);
			off += v[1];
			break;
		}
		case 0x1c:	/* CONNECTION_CLOSE: code, frame type, reason */
			for (int i = 0; i < 3; i++) {
				if (!(n = quic_varint(p + off, len - off, &v[i])))
					return -EBADMSG;
				off += n;
			}
			if (v[2] > len - off)
				return -EBADMSG;
			off += v[2];
			break;
		default:
			return -EBADMSG;
		}
	}
	return 0;
}
