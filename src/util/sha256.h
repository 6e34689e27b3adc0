/* SHA-256 of what a descriptor reads. */
#ifndef PS_UTIL_SHA256_H
#define PS_UTIL_SHA256_H

/* SHA-256 of everything readable from fd (with pread, from offset 0),
 * lowercase hex, into out[65].  0 or negative errno. */
int sha256_fd(int fd, char out[65]);
/* The same, and in the same pass the MD5 (dpkg's md5sums use it) into
 * md5[33] unless it is NULL; out may be NULL for the MD5 alone. */
int digests_fd(int fd, char out[65], char md5[33]);

#endif
