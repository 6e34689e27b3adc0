/* What storage errors mean, named the same way for every destination
 * (store.h). */
#include "storage/store.h"

#include <errno.h>
#include <string.h>

const char *store_fault_name(int err)
{
	switch (-err) {
	case ENOSPC:
		return "disk full";
	case EROFS:
		return "read-only file system";
	case EDQUOT:
		return "disk quota exceeded";
	case EIO:
		return "I/O error";
	case EBUSY:
		return "database locked";
	case EBADMSG:
		return "database corrupt";
	case ENOENT:
	case ESTALE:
		return "file deleted or replaced";
	case EACCES:
	case EPERM:
		return "permission denied";
	case ENOMEM:
		return "out of memory";
	default:
		return strerror(-err);
	}
}

bool store_fault_may_pass(int err)
{
	switch (-err) {
	case ENOSPC:
	case EROFS:
	case EDQUOT:
	case EIO:
	case EBUSY:
	case EBADMSG:
	case ENOENT:
	case ESTALE:
	case EACCES:
	case EPERM:
	case ENOMEM:
	case EAGAIN:
	case ETIMEDOUT:
	case ECONNREFUSED:
	case ECONNRESET:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EPIPE:
		return true;
	default:
		return false;
	}
}
