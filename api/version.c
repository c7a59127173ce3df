/*
 * weft_version: the library's own version, to compare with the header's.
 */
#include "weft.h"

int weft_version(void)
{
    return WEFT_VERSION_MAJOR * 10000 + WEFT_VERSION_MINOR * 100 + WEFT_VERSION_PATCH;
}
