// zlib (Debian: zlib1g-dev), used to inflate gzip-compressed IDX files.
#include <zlib.h>
