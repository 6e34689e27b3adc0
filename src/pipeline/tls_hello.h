/* The server name (SNI, RFC 6066) of a TLS ClientHello, read from the
 * first bytes a client sends: over TCP as TLS records, over QUIC as the
 * handshake message itself (CRYPTO frames).  The bytes are the network's
 * and hostile: every length is checked against what is there, and a name
 * is used only if it is a host name (letters, digits, '-', '_', dots; at
 * most DNS_NAME_MAX characters, labels of 1 to 63), in lower case and
 * without a final dot.  What was not all seen yet is read as far as it
 * goes: a name found in the first part is used. */
#ifndef PS_PIPELINE_TLS_HELLO_H
#define PS_PIPELINE_TLS_HELLO_H

#include <stddef.h>
#include <stdint.h>

#include "pipeline/domains.h"

#define TLS_RECORD_MAX 16384	/* a plaintext record's payload (RFC 8446 5.1) */

/* From the start of a handshake message (type, 3-byte length, body):
 *   1        a server name was found: name holds it
 *   -EAGAIN  no name in the bytes so far, and more of the message is due
 *   -ENOMSG  not a ClientHello
 *   -ENOENT  a whole ClientHello without a server name
 *   -EBADMSG a ClientHello that breaks its own lengths, or whose server
 *            name is not a host name */
int tls_handshake_sni(const uint8_t *hs, size_t len, char name[DNS_NAME_MAX + 1]);

/* The same from the start of a TLS stream (records of type handshake;
 * a message may span records).  -ENOMSG also for streams that do not
 * begin with a TLS handshake record. */
int tls_records_sni(const uint8_t *data, size_t len, char name[DNS_NAME_MAX + 1]);

/* Whether s (n bytes) is a host name as above; copies it into name in
 * lower case without its final dot. */
int host_name_copy(const uint8_t *s, size_t n, char name[DNS_NAME_MAX + 1]);

#endif
