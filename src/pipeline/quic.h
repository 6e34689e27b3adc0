/* QUIC version 1 Initial packets (RFC 9000 17.2.2, RFC 9001 5): what a
 * client's first datagrams carry is protected with keys anyone can derive
 * from the packet's Destination Connection ID; opened here, the CRYPTO
 * frames inside hold the TLS ClientHello and its server name.  The crypto
 * is OpenSSL's libcrypto (HKDF-SHA256, AES-128-GCM, AES-128-ECB for the
 * header protection mask).  The bytes are the network's and hostile:
 * every length and variable-length integer is checked against the
 * datagram, and a packet whose authentication tag does not verify is
 * refused. */
#ifndef PS_PIPELINE_QUIC_H
#define PS_PIPELINE_QUIC_H

#include <stddef.h>
#include <stdint.h>

#define QUIC_V1 0x00000001u
#define QUIC_CID_MAX 20
#define QUIC_DGRAM_MAX 1500	/* the most of a datagram the sensor copies */

struct quic_keys {
	uint8_t key[16], iv[12], hp[16];
};

/* The client's Initial keys for a Destination Connection ID: 0, or
 * -EINVAL (an id over QUIC_CID_MAX), -EIO (libcrypto failed). */
int quic_client_initial_keys(const uint8_t *dcid, size_t dcid_len, struct quic_keys *k);

struct quic_initial {
	uint8_t dcid[QUIC_CID_MAX];	/* as in its header */
	size_t dcid_len;
	uint64_t packet_number;
	size_t packet_len;		/* the packet's bytes in the datagram */
	size_t payload_len;
	uint8_t payload[QUIC_DGRAM_MAX];
};

/* The first packet of a datagram, if it is a version 1 Initial: its
 * header read and its payload opened with the keys of keys_dcid (the
 * client's first Destination Connection ID; NULL: the packet's own).
 *   0        opened: out holds it
 *   -ENOMSG  not a version 1 Initial packet (a short header, another
 *            type or version, a version negotiation)
 *   -EBADMSG its header breaks its own lengths
 *   -EKEYREJECTED it did not open: its tag does not verify with these keys
 *   -EIO     libcrypto failed */
int quic_open_initial(const uint8_t *dgram, size_t len, const uint8_t *keys_dcid,
		      size_t keys_dcid_len, struct quic_initial *out);

/* Calls fn for each CRYPTO frame of an Initial packet's payload (its
 * offset in the handshake stream, its bytes).  0, or -EBADMSG: a frame
 * an Initial packet may not carry, or one that breaks its lengths. */
int quic_crypto_frames(const uint8_t *payload, size_t len,
		       void (*fn)(void *ctx, uint64_t offset, const uint8_t *data, size_t n),
		       void *ctx);

/* A variable-length integer (RFC 9000 16): its bytes, or 0 when cut. */
size_t quic_varint(const uint8_t *p, size_t len, uint64_t *v);

#endif
