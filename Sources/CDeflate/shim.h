// libdeflate (Debian: libdeflate-dev), used to inflate a PNG's image data in one call and check its CRCs.
#include <libdeflate.h>
